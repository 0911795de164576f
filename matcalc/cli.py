"""The ``matcalc`` command: a thin layer over the API that prints and maps errors to exit codes.

Exit codes everywhere: 0 success or a positive verdict, 1 a negative verdict, 2 bad input,
3 an internal error.  Errors print one paragraph on stderr (with a caret under the input where
one applies), never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys

from .errors import InternalError, MatcalcError, VerificationError

EXAMPLES = """examples:
  matcalc derive "norm(W*x)^2" --wrt W
  matcalc derive "u'*f(W*x + b)" --wrt W,b --form both
  matcalc derive "x'*A*x" --wrt x --shape A=n,n --text
  matcalc derive "-y'*log_softmax(W*x)" --wrt W --assume y=onehot --latex
  matcalc derive "h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2" --wrt W2
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise MatcalcError(f"{self.prog}: {message} (see {self.prog} --help)")


def parse_shape(text: str) -> tuple[str, tuple]:
    """``W=n,m`` / ``x=m`` / ``lam=scalar`` → (name, dims)."""
    name, eq, dims = text.partition("=")
    name = name.strip()
    if not eq or not name.isidentifier():
        raise MatcalcError(f"--shape {text!r}: write NAME=DIMS, e.g. W=n,m or x=3 or lam=scalar")
    dims = dims.strip()
    if dims in ("scalar", "", "()"):
        return name, ()
    parts = []
    for d in dims.replace("x", ",").replace("×", ",").split(",") if not dims.isidentifier() else [dims]:
        d = d.strip()
        if d.isdigit() and int(d) >= 1:
            parts.append(int(d))
        elif d.isidentifier():
            parts.append(d)
        else:
            raise MatcalcError(f"--shape {text!r}: a dimension is a positive integer or a name")
    if len(parts) > 2:
        raise MatcalcError(f"--shape {text!r}: at most two dimensions (a matrix)")
    return name, tuple(parts)


def parse_assume(text: str) -> tuple[str, str]:
    name, eq, kind = text.partition("=")
    if not eq or not name.strip():
        raise MatcalcError(f"--assume {text!r}: write NAME=KIND, e.g. y=onehot or X=spd")
    return name.strip(), kind.strip()


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("expr", help="expression or program in the matcalc language (see LANGUAGE.md)")
    p.add_argument("--wrt", required=True, help="variable(s) to differentiate by: W or W,b")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS",
                   help="declare a shape: W=n,m  x=m  lam=scalar (repeatable)")
    p.add_argument("--assume", action="append", default=[], metavar="NAME=KIND",
                   help="symmetric, spd, invertible, positive, onehot, onehot_rows, probability, diagonal")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="matcalc", description="Symbolic matrix calculus with textbook output.",
                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    d = sub.add_parser("derive", help="gradient / Jacobian of an expression", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(d)
    d.add_argument("--form", choices=["gradient", "jacobian", "both"], default="gradient",
                   help="shape convention (default), Jacobian form (numerator layout), or both")
    out = d.add_mutually_exclusive_group()
    out.add_argument("--text", action="store_true", help="ASCII matcalc syntax that parses back")
    out.add_argument("--latex", action="store_true", help="LaTeX")
    out.add_argument("--json", action="store_true", help="JSON with every form")
    d.add_argument("--no-verify", action="store_true", help="skip the finite-difference cross-check")
    return p


def run_derive(args) -> int:
    from .api import derive
    shapes = dict(parse_shape(s) for s in args.shape)
    assume = dict(parse_assume(a) for a in args.assume)
    d = derive(args.expr, args.wrt, shapes=shapes or None, assume=assume or None)
    report = None
    if not args.no_verify:
        report = d.verify()
        if report.status == "mismatch":
            raise VerificationError("internal error: the derived result failed its finite-difference "
                                    f"check ({report.detail}); not printing it. Please report this expression.")
    forms = ["gradient", "jacobian"] if args.form == "both" else [args.form]
    if d.kind != "gradient":
        forms = ["jacobian"]
    if args.json:
        payload = {"expr": args.expr, "wrt": d.wrt, "kind": d.kind, "notes": d.notes,
                   "check": None if report is None else {"status": report.status, "errors": report.errors}}
        for f in forms:
            payload[f] = {"unicode": d.render("unicode", f), "text": d.render("text", f),
                          "latex": d.render("latex", f)}
        print(json.dumps(payload, ensure_ascii=False, indent=2))
        return 0
    style = "text" if args.text else "latex" if args.latex else "unicode"
    for i, f in enumerate(forms):
        if len(forms) > 1 and style != "text":
            print(f"{'Gradient (shape convention)' if f == 'gradient' else 'Jacobian form (numerator layout)'}:")
        print(d.render(style, f))
        if len(forms) > 1 and i + 1 < len(forms):
            print()
    if style == "unicode":
        for note in d.notes:
            print(f"note: {note}", file=sys.stderr)
        if report is not None and report.status == "skipped":
            print(f"note: numeric check skipped: {report.detail}", file=sys.stderr)
    return 0


COMMANDS = {"derive": run_derive}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not args.command:
            parser.print_help()
            return 2
        return COMMANDS[args.command](args)
    except SystemExit as e:                     # --help
        return int(e.code or 0)
    except MatcalcError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except RecursionError:
        print("error: expression nested too deeply", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - the last line of defence: no traceback for users
        print(f"internal error: {type(e).__name__}: {e}. Please report this input.", file=sys.stderr)
        return InternalError.exit_code


if __name__ == "__main__":
    sys.exit(main())
