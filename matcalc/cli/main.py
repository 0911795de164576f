"""The ``matcalc`` command: a thin layer over the API that prints and maps errors to exit codes.

Exit codes everywhere: 0 success or a positive verdict, 1 a negative verdict, 2 bad input,
3 an internal error.  Errors print one paragraph on stderr (with a caret under the input where
one applies), never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap

from matcalc.cli.ascii import ASCII_HELP, AsciiStream, EscapeStream, JsonAsciiStream, use_ascii
from matcalc.cli.check_command import add_check_parser, run_check
from matcalc.cli.commands import (
    add_codegen_parsers,
    add_derive_parser,
    add_hessian_parser,
    run_codegen,
    run_derive,
    run_gradcheck,
    run_hessian,
)
from matcalc.cli.graph_command import add_graph_command, run_graph
from matcalc.cli.inputs import resolve_inputs
from matcalc.cli.options import Parser, validate_args
from matcalc.core.errors import ClosedPipe, InternalError, MatcalcError
from matcalc.core.optional import optional_module
from matcalc.core.rules import DIMENSIONS, FUNCTIONS
from matcalc.core.version import VERSION
from matcalc.derivation.payload import error_payload

EXAMPLES = """examples:
  matcalc derive "norm(W*x)^2" --wrt W
  matcalc derive "u'*f(W*x + b)" --wrt W,b --form both
  matcalc derive "x'*A*x" --wrt x --shape A=n,n --text
  matcalc derive "-y'*log_softmax(W*x)" --wrt W --assume y=onehot --latex
  matcalc derive "h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2" --wrt W2
  echo "norm(W*x)^2" | matcalc derive - --wrt W        (- reads standard input, @FILE a file)
  matcalc derive @loss.mc --wrt W1,W2 --json           (JSON schema: docs/json.md)
"""
SHELLS = ("bash", "zsh", "tcsh")


def language_help() -> str:
    """The functions the language knows (read from the rule table) and where the reference is."""
    names = sorted(set(FUNCTIONS) | set(DIMENSIONS))
    return "\n".join(textwrap.wrap("functions: " + ", ".join(names) + "; any other name applied like a "
                                    "function is a generic elementwise f with derivative f'. The language "
                                    "reference, every construct with an example: docs/language.md (in the "
                                    "source distribution).", 96))


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="matcalc", description="Symbolic matrix calculus with textbook output.",
               epilog=EXAMPLES + "\n" + language_help() + "\n\n" + ASCII_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ascii", action="store_true", help="ASCII output only (accepted after any subcommand "
                   "too; automatic when the terminal cannot encode Unicode): see below")
    p.add_argument("--version", action="version", version=f"matcalc {VERSION}")
    p.add_argument("--print-completion", choices=SHELLS, metavar="SHELL",
                   help="print a shell completion script (bash, zsh or tcsh), e.g. "
                        "matcalc --print-completion bash > ~/.local/share/bash-completion/completions/matcalc")
    sub = p.add_subparsers(dest="command", parser_class=Parser)
    add_derive_parser(sub, EXAMPLES + "\n" + language_help() + "\n\n" + ASCII_HELP)
    add_graph_command(sub)
    add_hessian_parser(sub)
    add_check_parser(sub)
    add_codegen_parsers(sub)
    return p


COMMANDS = {"derive": run_derive, "codegen": run_codegen, "gradcheck": run_gradcheck, "check": run_check,
            "graph": run_graph, "hessian": run_hessian}


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
    raw, ascii_out = use_ascii(raw)
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
        if args.print_completion:
            print(optional_module("shtab", "shell completion", "pip install shtab").complete(parser, shell=args.print_completion))
            return 0
        if not args.command:
            parser.print_help()
            return 2
        validate_args(args)
        resolve_inputs(args)
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
        return _report(e, f"error: {e}", e.exit_code, raw)
    except RecursionError as e:
        return _report(e, "error: expression nested too deeply", 2, raw)
    except KeyboardInterrupt:
        return 130
    except OSError as e:                        # a file the user named could not be written or read
        if e.filename is None:
            print(f"internal error: {type(e).__name__}: {e}. Please report this input.", file=sys.stderr)
            return InternalError.exit_code
        print(f"error: cannot use {e.filename}: {e.strerror or e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - the last line of defence: no traceback for users
        return _report(e, f"internal error: {type(e).__name__}: {e}. Please report this input.",
                       InternalError.exit_code, raw)


def _report(error: BaseException, message: str, exit_code: int, raw: list[str]) -> int:
    """An error: its message on stderr and, when ``--json`` was asked for, the same error as a
    JSON document on stdout (docs/json.md), so that a program reading stdout always gets JSON."""
    print(message, file=sys.stderr)
    if "--json" in raw:
        print(json.dumps(error_payload(error, exit_code), ensure_ascii=False, indent=2))
    return exit_code

if __name__ == "__main__":
    sys.exit(main())
