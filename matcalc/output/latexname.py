"""Names of the language as valid LaTeX math (issue 10: ``--latex`` was invalid for ``x_``).

``W_out`` is W with subscript out and ``x12`` x with subscript 12, as a reader writes them; a
name with several, leading or trailing underscores keeps them, escaped; Greek letters become
macros and other non-ASCII letters go in ``\\text{}``.
"""
from __future__ import annotations

import unicodedata

_GREEK_LATEX = {"alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "kappa", "lambda", "mu",
                "nu", "xi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega", "zeta"}
_LATEX_ALIAS = {"lam": "lambda", "eps": "epsilon"}

_GREEK_CAPITAL_MACROS = {"Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"}

# accented letters as their math accents (ŷ is \hat{y}, x̄ \bar{x}): pdflatex's math mode has no
# glyph for the precomposed character, so \text{ŷ} failed to compile
_ACCENTS = {"\u0302": "hat", "\u0303": "tilde", "\u0304": "bar", "\u0307": "dot", "\u0308": "ddot",
            "\u0301": "acute", "\u0300": "grave", "\u030c": "check", "\u0306": "breve"}


def _accented(ch: str) -> str | None:
    """``\\hat{y}`` for ``ŷ``, else None."""
    parts = unicodedata.normalize("NFD", ch)
    if len(parts) == 2 and parts[0].isascii() and parts[0].isalpha() and parts[1] in _ACCENTS:
        return f"\\{_ACCENTS[parts[1]]}{{{parts[0]}}}"
    return None


def _latex_chars(s: str) -> str:
    """``s`` with each character valid in LaTeX math: Greek letters as macros, ``_`` escaped,
    other non-ASCII letters in ``\\text{}``."""
    out = []
    for ch in s:
        if ch == "_":
            out.append(r"\_")
        elif ord(ch) < 128:
            out.append(ch)
        else:
            uname = unicodedata.name(ch, "")
            word = uname.rsplit(" ", 1)[-1].lower() if uname.startswith("GREEK") and "LETTER" in uname else ""
            if uname.startswith("GREEK SMALL LETTER") and (word in _GREEK_LATEX or word in ("iota", "pi", "upsilon", "omicron")):
                out.append("o" if word == "omicron" else "\\" + word + " ")
            elif uname.startswith("GREEK CAPITAL LETTER") and word.capitalize() in _GREEK_CAPITAL_MACROS:
                out.append("\\" + word.capitalize() + " ")
            elif _accented(ch):
                out.append(_accented(ch))
            elif ch in _ACCENTS and out and len(out[-1]) == 1 and out[-1].isalpha():   # x + combining ̄
                out[-1] = f"\\{_ACCENTS[ch]}{{{out[-1]}}}"
            else:
                out.append(rf"\text{{{ch}}}")
    return "".join(out).rstrip()


def latex_name(name: str) -> str:
    """A name of the language as valid LaTeX math: ``W_out`` is W with subscript out, ``x1`` x
    with subscript 1; a name with several, leading or trailing underscores keeps them escaped
    (``x_`` is ``\\mathrm{x\\_}``), Greek letters become macros."""
    base, _, sub = name.partition("_")
    if name.count("_") > 1 or (name.count("_") == 1 and not (base and sub)):
        return rf"\mathrm{{{_latex_chars(name)}}}"
    if not sub:
        i = len(name)
        while i > 1 and name[i - 1].isdigit():
            i -= 1
        base, sub = name[:i], name[i:]
    base = _LATEX_ALIAS.get(base, base)
    if base in _GREEK_LATEX:
        base = "\\" + base
    elif len(base) > 1 and base.isascii():
        base = rf"\mathrm{{{base}}}"
    elif len(base) > 1:
        base = "{" + _latex_chars(base) + "}"
    else:
        base = _latex_chars(base)
    sub = _latex_chars(sub)
    return f"{base}_{{{sub}}}" if sub else base
