"""ASCII output: a faithful transliteration of matcalc's Unicode for terminals that cannot show it."""
from __future__ import annotations

import json
import sys

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


def cannot_show_unicode(stream) -> bool:
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


def use_ascii(argv: list[str]) -> tuple[list[str], bool]:
    """Strip ``--ascii`` (accepted anywhere on the line) and decide whether output must be ASCII."""
    wanted = "--ascii" in argv
    argv = [t for t in argv if t != "--ascii"]
    return argv, wanted or cannot_show_unicode(sys.stdout) or cannot_show_unicode(sys.stderr)
