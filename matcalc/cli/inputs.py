"""Where an expression comes from: the argument itself, ``-`` (standard input) or ``@FILE``.

``@`` cannot start an expression (it is the binary matrix product), so ``@FILE`` is never
ambiguous; a literal expression that starts with ``@`` is a parse error anyway.  Reading is
bounded: at most the parser's maximum length plus one character is read, so a huge or endless
input (``matcalc derive - < /dev/zero``) ends in the parser's "too long" message, not in
unbounded memory.  A trailing newline (what ``echo`` adds) is dropped.
"""
from __future__ import annotations

import sys

from matcalc.core.errors import MatcalcError
from matcalc.language.parser import MAX_LENGTH

FIELDS = ("expr", "answer")          # the arguments that may be -, @FILE or the text itself


def read_text(value: str, what: str) -> str:
    """``value`` itself, or the text of standard input (``-``) or of a file (``@FILE``)."""
    if value == "-":
        return _bounded(sys.stdin, "standard input", what)
    if value.startswith("@") and len(value) > 1:
        path = value[1:]
        try:
            with open(path, encoding="utf-8") as fh:
                return _bounded(fh, path, what)
        except FileNotFoundError:
            raise MatcalcError(f"cannot read the {what} from {path}: no such file") from None
        except IsADirectoryError:
            raise MatcalcError(f"cannot read the {what} from {path}: it is a folder") from None
        except PermissionError:
            raise MatcalcError(f"cannot read the {what} from {path}: permission denied") from None
    return value


def _bounded(stream, where: str, what: str) -> str:
    if stream is None:
        raise MatcalcError(f"no {what} on {where}: it is closed")
    try:
        text = stream.read(MAX_LENGTH + 1)
    except UnicodeDecodeError:
        raise MatcalcError(f"cannot read the {what} from {where}: it is not UTF-8 text") from None
    if text.endswith("\n"):
        text = text[:-1].removesuffix("\r")
    if not text.strip():
        raise MatcalcError(f"no {what} on {where}: it is empty")
    return text


def resolve_inputs(args) -> None:
    """Replace ``-`` / ``@FILE`` in the parsed arguments by the text they name (only one ``-``)."""
    from_stdin = [f for f in FIELDS if getattr(args, f, None) == "-"]
    if len(from_stdin) > 1:
        raise MatcalcError("only one argument can be read from standard input ('-'); use @FILE for the other")
    for field in FIELDS:
        value = getattr(args, field, None)
        if isinstance(value, str):
            setattr(args, field, read_text(value, "expression" if field == "expr" else "answer"))
