"""The ``matcalc`` command: a thin layer over the API that prints and maps errors to exit codes.

Exit codes everywhere: 0 success or a positive verdict, 1 a negative verdict, 2 bad input,
3 an internal error.  Errors print one paragraph on stderr (with a caret under the input where
one applies), never a traceback.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

from .errors import ClosedPipe, InternalError, MatcalcError

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


def parse_pairs(items, parse_one, flag: str) -> dict:
    """Repeated ``--shape``/``--assume`` values as one dict.  The same declaration twice is fine;
    two different ones for one name are contradictory input (exit 2), never "the last one wins"."""
    out: dict = {}
    for text in items or ():
        name, value = parse_one(text)
        if name in out and out[name] != value:
            raise MatcalcError(f"{flag}: {name} is declared twice, differently "
                               f"({_show(out[name])} and {_show(value)}); give one {flag} per name")
        out[name] = value
    return out


def _show(value) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "scalar"
    return str(value)


def parse_point(text: str) -> dict:
    """``--at`` values (see explain.parse_at), refused when a name repeats or a value is not finite:
    a NaN or infinite point makes every value and gradient printed there meaningless."""
    import re

    from .explain import parse_at
    names = re.findall(r"(?:^|,)\s*([^\W\d]\w*)\s*=", re.sub(r"\[[^\]]*\]", "[]", text))
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise MatcalcError(f"--at: {', '.join(repeated)} is given more than once")
    point = parse_at(text)
    for name, value in point.items():
        flat = value if isinstance(value, list) else [value]
        flat = [v for row in flat for v in (row if isinstance(row, list) else [row])]
        if not all(math.isfinite(v) for v in flat):
            raise MatcalcError(f"--at: {name} has a value that is not a finite number (nan or inf)")
    return point


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("expr", help="expression or program in the matcalc language (see LANGUAGE.md)")
    p.add_argument("--wrt", required=True, help="variable(s) to differentiate by: W or W,b")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS",
                   help="declare a shape: W=n,m  x=m  lam=scalar (repeatable)")
    p.add_argument("--assume", action="append", default=[], metavar="NAME=KIND",
                   help="symmetric, spd, invertible, positive, onehot, onehot_rows, probability, diagonal")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="matcalc", description="Symbolic matrix calculus with textbook output.",
                epilog=EXAMPLES + "\n" + ASCII_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ascii", action="store_true", help="ASCII output only (accepted after any subcommand "
                   "too; automatic when the terminal cannot encode Unicode): see below")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    d = sub.add_parser("derive", help="gradient / Jacobian of an expression", epilog=EXAMPLES + "\n" + ASCII_HELP,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(d)
    d.add_argument("--form", choices=["gradient", "jacobian", "both"], default="gradient",
                   help="shape convention (default), Jacobian form (numerator layout), or both")
    out = d.add_mutually_exclusive_group()
    out.add_argument("--text", action="store_true", help="ASCII matcalc syntax that parses back")
    out.add_argument("--latex", action="store_true", help="LaTeX")
    out.add_argument("--json", action="store_true", help="JSON with every form")
    out.add_argument("--markdown", action="store_true", help="Markdown (with --steps)")
    d.add_argument("--no-verify", action="store_true", help="skip the finite-difference cross-check")
    d.add_argument("--steps", action="store_true", help="explain: the graph and every chain-rule step")
    d.add_argument("--at", metavar="x=-2,y=5,z=-4", help="also print the value and each gradient at a point")
    from .picture import add_graph_command
    add_graph_command(sub)
    add_hessian_parser(sub)
    from .check_cli import add_check_parser
    add_check_parser(sub)
    add_codegen_parsers(sub)
    return p


def run_derive(args) -> int:
    from .api import derive
    shapes = dict(parse_shape(s) for s in args.shape)
    assume = dict(parse_assume(a) for a in args.assume)
    if getattr(args, "steps", False) or getattr(args, "at", None):
        from .explain import cli_steps
        print(cli_steps(args, shapes, assume))
        return 0
    # derive verifies (graph and printed text) and raises VerificationError itself: not twice here
    d = derive(args.expr, args.wrt, shapes=shapes or None, assume=assume or None, verify=not args.no_verify)
    report = d.check
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
    for note in d.notes:                  # a skipped check is said in every style (stderr)
        if style == "unicode" or "skipped" in note:
            print(f"note: {note}", file=sys.stderr)
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
            c.add_argument("-o", "--output", metavar="FILE", help="write the module here (default: stdout)")
            c.add_argument("--no-verify", action="store_true",
                           help="return the module without gradchecking it at small sizes first")
        else:
            c.add_argument("--seed", type=int, default=0)


def run_codegen(args) -> int:
    from .codegen import codegen
    from .codegen_hessian import codegen_hessian
    shapes = dict(parse_shape(s) for s in args.shape)
    assume = dict(parse_assume(a) for a in args.assume)
    generate = codegen_hessian if args.hessian else codegen
    src = generate(args.expr, args.wrt, shapes=shapes or None, assume=assume or None, dtype=args.dtype,
                   verify=not args.no_verify)
    if "\nVerification skipped: " in src:
        print("note: " + src.split("\nVerification skipped: ", 1)[1].split("\n", 1)[0], file=sys.stderr)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(src)
    else:
        sys.stdout.write(src)
    return 0


def run_gradcheck(args) -> int:
    from .gradcheck import gradcheck
    shapes = dict(parse_shape(s) for s in args.shape)
    assume = dict(parse_assume(a) for a in args.assume)
    report = gradcheck(args.expr, args.wrt, shapes=shapes or None, assume=assume or None, dtype=args.dtype,
                       seed=args.seed, hessian=args.hessian)
    print(report)
    return 0 if report.ok else 1


COMMANDS = {"derive": run_derive}
COMMANDS.update(codegen=run_codegen, gradcheck=run_gradcheck)


def run_check(args) -> int:
    from .check_cli import run_check as _run_check
    return _run_check(args)


COMMANDS["check"] = run_check


def run_graph(args) -> int:
    from .picture import run_graph as run
    return run(args)


COMMANDS["graph"] = run_graph


def add_hessian_parser(sub) -> None:
    h = sub.add_parser("hessian", help="Hessian (second derivative) of a scalar expression",
                       epilog='examples:\n  matcalc hessian "x\'*A*x" --wrt x\n  matcalc hessian "logsumexp(x)" --wrt x --text\n'
                              '  matcalc hessian "x\'*A*y" --wrt x,y\n  matcalc hessian "logdet(X)" --wrt X --assume X=spd',
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common(h)
    out = h.add_mutually_exclusive_group()
    out.add_argument("--text", action="store_true", help="ASCII matcalc syntax that parses back")
    out.add_argument("--latex", action="store_true", help="LaTeX")
    out.add_argument("--json", action="store_true", help="JSON with every form")
    h.add_argument("--no-verify", action="store_true", help="skip the finite-difference cross-check")


def run_hessian(args) -> int:
    from .hessian import hessian
    shapes = dict(parse_shape(s) for s in args.shape)
    assume = dict(parse_assume(a) for a in args.assume)
    h = hessian(args.expr, args.wrt, shapes=shapes or None, assume=assume or None, verify=not args.no_verify)
    report = h.check
    if args.json:
        print(json.dumps({"expr": args.expr, "wrt": h.wrt, "kind": "hessian", "forms": h.forms, "notes": h.notes,
                          "check": None if report is None else {"status": report.status, "errors": report.errors},
                          "hessian": {s: h.render(s) for s in ("unicode", "text", "latex")}},
                         ensure_ascii=False, indent=2))
        return 0
    style = "text" if args.text else "latex" if args.latex else "unicode"
    print(h.render(style))
    for note in h.notes:                  # a skipped check is said in every style (stderr)
        if style == "unicode" or "skipped" in note:
            print(f"note: {note}", file=sys.stderr)
    return 0


COMMANDS["hessian"] = run_hessian


def _protect_expressions(argv: list[str]) -> list[str]:
    """An expression such as ``-y'*log(p)`` starts with a dash but is no option: a leading space
    (which the grammar ignores) keeps argparse from reading it as one."""
    out = []
    for tok in argv:
        if tok.startswith("-") and not tok.startswith("--") and len(tok) > 2 and any(
                c in tok for c in "*'()+/^ .,@∘ᵀ−·×‖"):
            tok = " " + tok
        out.append(tok)
    return out


# ---------------------------------------------------------------------------- ASCII output
_SUPERSCRIPT = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺ⁱᵏᶻ", "0123456789-+ikz"))
_SUBSCRIPT = dict(zip("₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜᵢⱼᵣᵤᵥ", "0123456789+-=()aeoxhklmnpstijruv"))
_ASCII_WORDS = {"ᵀ": "'", "∘": ".*", "⊙": ".*", "⊘": "./", "∂": "d", "−": "-", "·": "*", "×": "x",
                "⊗": " kron ", "‖": "||", "𝟏": "ones", "𝟙": "ones", "∞": "inf", "≈": "~=", "≠": "!=",
                "≳": ">~", "→": "->", "↦": "|->", "⟨": "<", "⟩": ">", "—": "--", "…": "...", "½": "1/2",
                "Σ": "sum", "Π": "prod", "δ": "delta", "σ": "sigma"}
ASCII_HELP = ("--ascii (or a terminal whose encoding cannot show Unicode, e.g. PYTHONIOENCODING=ascii): "
              "derive and hessian print the --text form (matcalc syntax that parses back); any other "
              "output is transliterated (ᵀ→'  ∘→.*  ⊘→./  ∂→d  −→-  z₁→z_1  x²→x^2  x⁻¹→x^(-1)  𝟏→ones) "
              "and a character with no ASCII spelling is written as a \\uXXXX escape, never dropped; "
              "error messages (which quote the input) and --json use \\uXXXX escapes only.")


def to_ascii(text: str) -> str:
    """A faithful ASCII spelling of printed output: runs of superscripts become ``^c`` or ``^(...)``,
    runs of subscripts ``_...``, known symbols their matcalc spelling; anything else a ``\\uXXXX``
    escape (so nothing is silently dropped or replaced by a look-alike)."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        for table, lead in ((_SUPERSCRIPT, "^"), (_SUBSCRIPT, "_")):
            if ch in table:
                j = i
                while j < len(text) and text[j] in table:
                    j += 1
                run = "".join(table[c] for c in text[i:j])
                out.append(lead + (run if lead == "_" or len(run) == 1 else f"({run})"))
                i = j
                break
        else:
            out.append(_ASCII_WORDS.get(ch, ch if ord(ch) < 128 else ch.encode("ascii", "backslashreplace").decode()))
            i += 1
    return "".join(out)


class AsciiStream:
    """A text stream that writes :func:`to_ascii` of everything into ``inner``."""

    def __init__(self, inner):
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(to_ascii(text))
        return len(text)

    def __getattr__(self, name):               # flush, isatty, fileno, buffer, encoding ...
        return getattr(self.inner, name)


class EscapeStream(AsciiStream):
    """For stderr: messages quote the user's input (with a caret under it), so no character is
    respelled there; a non-ASCII character is written as a ``\\uXXXX`` escape."""

    def write(self, text: str) -> int:
        self.inner.write(text.encode("ascii", "backslashreplace").decode("ascii"))
        return len(text)


class JsonAsciiStream(AsciiStream):
    """For JSON output: every non-ASCII character as a JSON ``\\uXXXX`` escape (inside JSON
    strings, where alone they occur), so the parsed JSON is exactly the Unicode one."""

    def write(self, text: str) -> int:
        self.inner.write("".join(c if ord(c) < 128 else json.dumps(c)[1:-1] for c in text))
        return len(text)


def _cannot_show_unicode(stream) -> bool:
    """True for a stream with an encoding that lacks matcalc's symbols; an in-memory text stream
    (no encoding, e.g. io.StringIO) takes any text."""
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return False
    try:
        "∂ᵀ∘−₁²".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return True
    return False


def _use_ascii(argv: list[str]) -> tuple[list[str], bool]:
    """Strip ``--ascii`` (accepted anywhere on the line) and decide whether output must be ASCII."""
    wanted = "--ascii" in argv
    argv = [t for t in argv if t != "--ascii"]
    return argv, wanted or _cannot_show_unicode(sys.stdout) or _cannot_show_unicode(sys.stderr)


# ---------------------------------------------------------------------------- checks before running
def validate_args(args) -> None:
    """Checks that every subcommand shares (graph's and check's parsers live elsewhere): shapes and
    assumptions declared consistently, a finite ``--at`` point, an output file that can be created."""
    if isinstance(getattr(args, "shape", None), list):
        parse_pairs(args.shape, parse_shape, "--shape")
    if isinstance(getattr(args, "assume", None), list):
        parse_pairs(args.assume, parse_assume, "--assume")
    if getattr(args, "at", None):
        parse_point(args.at)
    output = getattr(args, "output", None)
    if isinstance(output, str) and output != "-":
        check_writable(output)


def check_writable(path: str) -> None:
    """Exit 2 before any work when ``path`` cannot be written: a missing folder, a folder itself."""
    if not path.strip():
        raise MatcalcError("-o: the output file name is empty")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise MatcalcError(f"cannot write {path}: the folder {os.path.dirname(path) or folder} does not exist")
    if os.path.isdir(path):
        raise MatcalcError(f"cannot write {path}: it is a folder")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise MatcalcError(f"cannot write {path}: permission denied")


def _utf8_stream(stream):
    """``stream`` writing UTF-8 (Python source's own encoding), whatever the terminal's encoding."""
    try:
        stream.reconfigure(encoding="utf-8")
    except (AttributeError, ValueError):
        pass
    return stream


def _quiet_broken_pipe() -> int:
    """The reader went away (``| head``): stop quietly; point stdout at /dev/null so that the
    interpreter's final flush cannot print a BrokenPipeError either."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else list(argv)
    raw, ascii_out = _use_ascii(raw)
    saved = sys.stdout, sys.stderr
    if ascii_out:
        sys.stdout, sys.stderr = AsciiStream(sys.stdout), EscapeStream(sys.stderr)
    try:
        return _run(raw, ascii_out)
    finally:
        sys.stdout, sys.stderr = saved


def _check_argv_text(argv: list[str]) -> None:
    """Bytes that are not valid in the locale's encoding reach Python as lone surrogates; refuse
    them with a message instead of letting them reach the parser or a printer."""
    for token in argv:
        try:
            token.encode("utf-8")
        except UnicodeEncodeError:
            shown = token.encode("utf-8", "surrogateescape").decode("ascii", "backslashreplace")
            raise MatcalcError(f"the argument '{shown}' is not valid UTF-8 text") from None


def _run(raw: list[str], ascii_out: bool) -> int:
    parser = build_parser()
    try:
        _check_argv_text(raw)
        args = parser.parse_args(_protect_expressions(raw))
        if not args.command:
            parser.print_help()
            return 2
        validate_args(args)
        if ascii_out and args.command == "codegen" and isinstance(sys.stdout, AsciiStream):
            sys.stdout = _utf8_stream(sys.stdout.inner)  # generated code: exact UTF-8 source, not transliterated
        if ascii_out and getattr(args, "json", False) and isinstance(sys.stdout, AsciiStream):
            sys.stdout = JsonAsciiStream(sys.stdout.inner)    # JSON: \\uXXXX escapes decode to the same text
        if ascii_out and args.command in ("derive", "hessian") and not any(
                getattr(args, f, False) for f in ("text", "latex", "json", "markdown")):
            args.text = True
        code = COMMANDS[args.command](args)
        sys.stdout.flush()
        return code
    except SystemExit as e:                     # --help
        return int(e.code or 0)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except ClosedPipe as e:                    # the verdict was decided: keep its exit code
        _quiet_broken_pipe()
        return e.exit_code
    except MatcalcError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except RecursionError:
        print("error: expression nested too deeply", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except OSError as e:                        # a file the user named could not be written or read
        if e.filename is None:
            print(f"internal error: {type(e).__name__}: {e}. Please report this input.", file=sys.stderr)
            return InternalError.exit_code
        print(f"error: cannot use {e.filename}: {e.strerror or e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - the last line of defence: no traceback for users
        print(f"internal error: {type(e).__name__}: {e}. Please report this input.", file=sys.stderr)
        return InternalError.exit_code

if __name__ == "__main__":
    sys.exit(main())
