"""The derive, hessian, codegen and gradcheck subcommands: parsers and what each prints.

The commands call the API through the ``matcalc`` package's lazy names, so ``derive`` loads the
derivation stage only (not code generation or the grader) and start-up stays short."""
from __future__ import annotations

import argparse
import json
import sys

import matcalc
from matcalc.cli.options import add_common, shapes_and_assumptions
from matcalc.cli.steps_command import cli_steps
from matcalc.core.errors import MatcalcError
from matcalc.derivation.payload import derivation_payload, hessian_payload
from matcalc.output.explain import parse_at


def add_styles(p: argparse.ArgumentParser, markdown: bool = False) -> None:
    """The output styles (one of --text, --latex, --json[, --markdown]) and --no-verify."""
    out = p.add_mutually_exclusive_group()
    out.add_argument("--text", action="store_true", help="ASCII matcalc syntax that parses back")
    out.add_argument("--latex", action="store_true", help="LaTeX")
    out.add_argument("--json", action="store_true", help="JSON with every form")
    if markdown:
        out.add_argument("--markdown", action="store_true", help="Markdown (with --steps)")
    p.add_argument("--no-verify", action="store_true", help="skip the finite-difference cross-check")


def print_notes(notes: list[str], style: str, guesses: list[str] = ()) -> None:
    """Notes go to stderr: every one in the unicode style; a skipped check and every guess of the
    language (a name retried as a scalar, a generic function: LANGUAGE.md v2) in every style."""
    for note in notes:
        if style == "unicode" or "skipped" in note or note in guesses:
            print(f"note: {note}", file=sys.stderr)


def add_derive_parser(sub, examples: str) -> None:
    """``derive``: the gradient or Jacobian, optionally with the steps or values at a point."""
    d = sub.add_parser("derive", help="gradient / Jacobian of an expression", epilog=examples,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(d)
    d.add_argument("--form", choices=["gradient", "jacobian", "both"], default="gradient",
                   help="shape convention (default), Jacobian form (numerator layout), or both")
    add_styles(d, markdown=True)
    d.add_argument("--steps", action="store_true", help="explain: the graph and every chain-rule step")
    d.add_argument("--index", action="store_true",
                   help="the steps in index notation (per-entry partials, sums, Kronecker deltas)")
    d.add_argument("--at", metavar="x=-2,y=5,z=-4", help="also print the value and each gradient at a point")


def run_derive(args) -> int:
    shapes, assume = shapes_and_assumptions(args)
    forms = ["gradient", "jacobian"] if args.form == "both" else [args.form]
    if args.json:                     # one document whatever the options (docs/json.md)
        d = matcalc.derive(args.expr, args.wrt, shapes=shapes or None, assume=assume or None,
                   steps=args.steps or args.index, verify=not args.no_verify)
        payload = derivation_payload(d, tuple(forms), steps=args.steps, at=parse_at(args.at) if args.at else None,
                                     index=args.index)
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        print_notes(d.notes, "json", d.typed.notes)
        return 0
    if getattr(args, "steps", False) or getattr(args, "at", None) or getattr(args, "index", False):
        print(cli_steps(args, shapes, assume))
        return 0
    # derive verifies (graph and printed text) and raises VerificationError itself: not twice here
    d = matcalc.derive(args.expr, args.wrt, shapes=shapes or None, assume=assume or None, verify=not args.no_verify)
    if d.kind != "gradient":
        forms = ["jacobian"]
    style = "text" if args.text else "latex" if args.latex else "unicode"
    for i, f in enumerate(forms):
        if len(forms) > 1 and style != "text":          # in LaTeX a comment, so each block pastes as math
            print(("% " if style == "latex" else "")
                  + f"{'Gradient (shape convention)' if f == 'gradient' else 'Jacobian form (numerator layout)'}:")
        print(d.render(style, f))
        if len(forms) > 1 and i + 1 < len(forms):
            print()
    print_notes(d.notes, style, d.typed.notes)
    return 0


def add_codegen_parsers(sub) -> None:
    """``codegen`` and ``gradcheck`` subcommands (matcalc.codegen / matcalc.gradcheck)."""
    for name, text in (("codegen", "NumPy forward/backward module"), ("gradcheck", "check generated code")):
        c = sub.add_parser(name, help=text)
        add_common(c)
        c.add_argument("--dtype", choices=["float64", "float32"], default="float64")
        c.add_argument("--hessian", action="store_true",
                       help="second order too: hessian(**inputs) and the Hessian-vector product hvp(cache, v)")
        if name == "codegen":
            c.add_argument("--target", choices=["numpy", "torch", "jax"], default="numpy",
                           help="numpy (default); torch: a torch.autograd.Function with the derived backward; "
                                "jax: a jax.custom_vjp function")
            c.add_argument("-o", "--output", metavar="FILE", help="write the module here (default: stdout)")
            c.add_argument("--no-verify", action="store_true",
                           help="return the module without gradchecking it at small sizes first")
        else:
            c.add_argument("--seed", type=int, default=0)


def run_codegen(args) -> int:
    shapes, assume = shapes_and_assumptions(args)
    if args.hessian and args.target != "numpy":
        raise MatcalcError("--hessian is NumPy only: drop --target or --hessian")
    options = {} if args.hessian else {"target": args.target}
    generate = matcalc.codegen_hessian if args.hessian else matcalc.codegen
    src = generate(args.expr, args.wrt, shapes=shapes or None, assume=assume or None, dtype=args.dtype,
                   verify=not args.no_verify, **options)
    if "\nVerification skipped: " in src:
        print("note: " + src.split("\nVerification skipped: ", 1)[1].split("\n", 1)[0], file=sys.stderr)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(src)
    else:
        sys.stdout.write(src)
    return 0


def run_gradcheck(args) -> int:
    shapes, assume = shapes_and_assumptions(args)
    report = matcalc.gradcheck(args.expr, args.wrt, shapes=shapes or None, assume=assume or None, dtype=args.dtype,
                       seed=args.seed, hessian=args.hessian)
    print(report)
    return 0 if report.ok else 1


def add_hessian_parser(sub) -> None:
    h = sub.add_parser("hessian", help="Hessian (second derivative) of a scalar expression",
                       epilog='examples:\n  matcalc hessian "x\'*A*x" --wrt x\n  matcalc hessian "logsumexp(x)" --wrt x --text\n'
                              '  matcalc hessian "x\'*A*y" --wrt x,y\n  matcalc hessian "logdet(X)" --wrt X --assume X=spd',
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(h)
    add_styles(h)


def run_hessian(args) -> int:
    shapes, assume = shapes_and_assumptions(args)
    h = matcalc.hessian(args.expr, args.wrt, shapes=shapes or None, assume=assume or None, verify=not args.no_verify)
    if args.json:
        print(json.dumps(hessian_payload(h), ensure_ascii=False, indent=2))
        return 0
    style = "text" if args.text else "latex" if args.latex else "unicode"
    print(h.render(style))
    print_notes(h.notes, style, h.typed.notes)
    return 0
