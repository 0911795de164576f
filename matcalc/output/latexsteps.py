"""Chain-rule steps laid out as LaTeX that compiles and reads like a textbook (issue 14).

``explain`` gathers a derivation's steps into ``Block``s — the forward graph, one block per node
of the backward pass, the result — each a title and labelled rows (``upstream``, ``local``,
``Jacobian``, ``gradient``, as the Unicode steps label them).  This module lays them out:

- ``document_body``: a LaTeX fragment for a document using amsmath: a paragraph per block and
  one ``alignat*`` per block, so a long derivation breaks across pages between nodes (a single
  display cannot), the labels in a column of their own and the equations aligned on ``=``; a
  simplified form goes on its own line (``&= …``) rather than widening the page;
- ``mathjax``: the same blocks as Markdown with ``$$\\begin{alignedat}…$$`` displays, for
  Jupyter (MathJax has no paragraphs);
- ``document``: a whole ``article`` around a body, what the tests compile with pdflatex.

Every title is prose given as Unicode and transliterated here (``∘`` is ``$\\circ$``), so the
output is ASCII and compiles with pdflatex.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field


@dataclass
class Row:
    """One labelled equation: ``label  lhs = forms[0] = forms[1] …  note`` (``lhs`` empty: a
    sub-heading such as ``to z₂:``)."""

    label: str
    lhs: str
    forms: list[str] = field(default_factory=list)
    relation: str = "="                    # "=" or the local rule's "\mapsto"
    note: str = ""                         # prose after the equation (Unicode)


@dataclass
class Block:
    """A titled group of rows: ``title`` is prose with ``math`` (LaTeX) after it."""

    title: str
    math: str = ""
    text: str = ""                         # prose after the math (a gate's sentence)
    rows: list[Row] = field(default_factory=list)


# ---------------------------------------------------------------------- prose as LaTeX text
_SYMBOLS = {"∘": r"\circ", "ᵀ": r"^\top", "⊗": r"\otimes", "⊘": r"\oslash", "‖": r"\|", "Σ": r"\Sigma",
            "Π": r"\Pi", "∂": r"\partial", "·": r"\cdot", "↦": r"\mapsto", "→": r"\to", "−": "-",
            "≠": r"\neq", "≤": r"\leq", "≥": r"\geq", "⟨": r"\langle", "⟩": r"\rangle", "𝟏": r"\mathbf{1}",
            "𝟙": r"\mathbf{1}", "⁻": "^{-}", "ᵢ": "_i", "ⁱ": "^i", "ᵏ": "^k", "δ": r"\delta", "σ": r"\sigma"}
_DASHES = {"—": "---", "–": "--", "…": r"\dots{}"}
_TEXT_ESCAPES = {"_": r"\_", "&": r"\&", "%": r"\%", "#": r"\#", "{": r"\{", "}": r"\}",
                 "^": r"\^{}", "~": r"\~{}", "\\": r"\textbackslash{}", "<": r"\textless{}", ">": r"\textgreater{}"}


_HADAMARD_POWER = re.compile(r"\b([A-Za-z]\w*)\.\^(\w+|\([^()]*\))")


def latex_text(s: str, math: bool = True) -> str:
    """Unicode prose as pdflatex-safe text: specials escaped, symbols as inline math, other
    non-ASCII letters by their ASCII base (``é`` → ``e``) or their Unicode name.  A ``$…$``
    segment is LaTeX math already and is kept as it is (``math=False``: ``$`` is a dollar sign)."""
    if math:                           # the rule table's A.^p, A.^(p-1): a Hadamard power, as math
        s = _HADAMARD_POWER.sub(lambda m: f"${m[1]}^{{\\circ {m[2]}}}$", s)
    out = []
    for k, part in enumerate(s.split("$") if math else [s]):
        if k % 2:
            out.append(f"${part}$")
            continue
        for ch in part:
            if ch == "$":
                out.append(r"\$")
            elif ch in _TEXT_ESCAPES:
                out.append(_TEXT_ESCAPES[ch])
            elif ord(ch) < 128:
                out.append(ch)
            elif ch in _DASHES:
                out.append(_DASHES[ch])
            elif ch in _SYMBOLS:
                out.append(f"${_SYMBOLS[ch]}$")
            else:
                base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
                out.append(base or f"[{unicodedata.name(ch, 'symbol').lower()}]")
    return "".join(out).replace("$$", "")


def _math_text(s: str) -> str:
    """Prose inside a MathJax ``\\text{}`` (MathJax shows Unicode; only braces and backslashes
    need escaping)."""
    return s.replace("\\", r"\backslash ").replace("{", r"\{").replace("}", r"\}")


# ---------------------------------------------------------------------- layouts
def _rows(rows: list[Row], text) -> tuple[int, list[str]]:
    """(column pairs, ``alignat`` rows): a label column where any row has a label, then
    ``lhs &= form``, each further form on its own line (``&= …``) rather than widening the page."""
    labelled = any(r.label for r in rows)
    out = []
    for r in rows:
        if not r.lhs:                                  # a sub-heading: "to z₂:"
            form = r.forms[0] if r.forms else ""
            out.append(rf"&\text{{{text(r.label)}}}\ {form}\text{{:}}")
            continue
        note = rf" \quad \text{{{text(r.note)}}}" if r.note else ""
        first, *more = r.forms or [""]
        label = rf"&\quad \text{{{text(r.label)}}} \quad & " if labelled else ""
        lines = [rf"{label}{r.lhs} &{r.relation} {first}"]
        lines += [("&& " if labelled else "") + rf"&= {f}" for f in more]
        lines[-1] += note
        out += lines
    return (2 if labelled else 1), out


def _display(rows: list[Row], text, env: str) -> str:
    pairs, lines = _rows(rows, text)
    return f"\\begin{{{env}}}{{{pairs}}}\n" + " \\\\\n".join(lines) + f"\n\\end{{{env}}}"


def document_body(blocks: list[Block]) -> str:
    """A LaTeX fragment (amsmath): per block a paragraph and an ``alignat*``, breakable between."""
    parts = []
    for b in blocks:
        head = rf"\paragraph{{{latex_text(b.title)}}}"
        if b.math:
            head += rf" ${b.math}$"
        if b.text:
            head += (" --- " if b.math else " ") + latex_text(b.text)
        parts.append(head)
        if b.rows:
            parts.append(_display(b.rows, latex_text, "alignat*"))
    return "\n".join(parts)


def mathjax(blocks: list[Block]) -> str:
    """The blocks as Markdown for Jupyter: a bold title per block and one MathJax display."""
    parts = []
    for b in blocks:
        head = f"**{b.title}**"
        if b.math:
            head += f" ${b.math}$"
        if b.text:
            head += (" — " if b.math else " ") + b.text
        parts.append(head)
        if b.rows:
            parts.append("$$" + _display(b.rows, _math_text, "alignedat") + "$$")
    return "\n\n".join(parts)


def document(body: str, title: str = "") -> str:
    """A complete ``article`` around ``body`` (what ``--steps --latex`` prints is the body)."""
    head = [r"\documentclass[11pt]{article}", r"\usepackage[margin=2cm]{geometry}", r"\usepackage{amsmath,amssymb}",
            r"\allowdisplaybreaks", r"\setlength{\parindent}{0pt}", r"\begin{document}"]
    if title:
        head.append(rf"\section*{{{latex_text(title)}}}")
    return "\n".join(head) + "\n" + body + "\n\\end{document}\n"


def aligned(lines: list[str]) -> str:
    """Result equations (``lhs = rhs`` each, LaTeX) as one ``aligned`` block aligned on the first
    ``=``, so that pasted into ``\\[…\\]`` they stay on their own lines; a legend line (``\\text{where
    …}``) is set flush with the equations.  A single equation is returned as it is."""
    if len(lines) <= 1:
        return "\n".join(lines)
    rows = []
    for line in lines:
        lhs, sep, rhs = line.partition(" = ")
        if line.startswith(r"\text{where") or not sep:
            rows.append("&" + line)
        else:
            rows.append(f"{lhs} &= {rhs}")
    return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"
