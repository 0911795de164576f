"""The grade of one answer (``Verdict``) and the words a verdict uses for forms and shapes.

A verdict is data: ``correct``, a ``diagnosis`` code (one of ``DIAGNOSES``), a one-sentence
``reason``, matcalc's ``expected`` answer and, when wrong, a small ``counterexample``.  Nothing
here decides anything; ``check`` fills it in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import numpy as np

from matcalc.core.graph import ONE

FORMS = ("gradient", "jacobian", "hessian")
DIAGNOSES = ("correct", "layout", "wrong_shape", "factor", "missing_term", "extra_term", "variable_factor",
             "term_coefficient", "axis", "assumption", "wrong", "unreadable", "invalid")
FORM_WORDS = {"gradient": "gradient (shape convention)", "jacobian": "Jacobian (numerator layout)",
              "hessian": "Hessian"}
OTHER_LAYOUT = {"gradient": "jacobian", "jacobian": "gradient", "hessian": "hessian"}


@dataclass
class Verdict:
    """The grade of one answer: ``correct``, a one-sentence ``reason`` and a ``diagnosis`` code
    (one of DIAGNOSES), matcalc's ``expected`` answer and, when wrong, a ``counterexample``
    ``{"inputs": {name: value}, "expected": value, "answer": value}``."""

    correct: bool
    diagnosis: str
    reason: str
    expected: str
    answer: str
    form: str
    counterexample: dict | None = None
    factor: float | None = None
    term: str | None = None
    method: str = ""                       # symbolic | numeric | shape | parse
    notes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.correct

    def to_dict(self) -> dict:
        return {"correct": self.correct, "diagnosis": self.diagnosis, "reason": self.reason,
                "expected": self.expected, "answer": self.answer, "form": self.form,
                "counterexample": self.counterexample, "factor": self.factor, "term": self.term,
                "method": self.method}

    def __str__(self) -> str:
        lines = [("correct: " if self.correct else "wrong: ") + self.reason]
        if not self.correct:
            lines.append(f"expected: {self.expected}")
        if self.counterexample:
            ce = self.counterexample
            ins = point_text(ce)
            lines.append(f"counterexample: at {ins}")
            lines.append(f"  the right answer is {fmt_value(ce['expected'])}")
            lines.append(f"  your answer gives   {fmt_value(ce['answer'])}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        """What a terminal REPL shows: the verdict as ``matcalc check`` prints it, not the fields."""
        return f"<Verdict: {'correct' if self.correct else 'wrong'}, {self.diagnosis}>\n{self}"

    def _repr_markdown_(self) -> str:
        """Jupyter: the verdict as a short Markdown paragraph (expected answer as code)."""
        head = ("**correct** — " if self.correct else "**wrong** — ") + self.reason
        lines = [head]
        if not self.correct:
            lines.append(f"expected: `{self.expected}`")
        if self.counterexample:
            ce = self.counterexample
            ins = point_text(ce)
            lines.append(f"counterexample at `{ins}`: the right answer is `{fmt_value(ce['expected'])}`, "
                         f"yours gives `{fmt_value(ce['answer'])}`")
        return "\n\n".join(lines)

    def _repr_html_(self) -> str:
        """Jupyter (HTML): the verdict in green or red, the answers in code."""
        color = "#1a7f37" if self.correct else "#cf222e"
        word = "correct" if self.correct else "wrong"
        parts = [f'<p><b style="color:{color}">{word}</b> — {escape(self.reason)}</p>']
        if not self.correct:
            parts.append(f"<p>expected: <code>{escape(self.expected)}</code></p>")
        if self.counterexample:
            ce = self.counterexample
            ins = point_text(ce)
            parts.append(f"<p>counterexample at <code>{escape(ins)}</code>: the right answer is "
                         f"<code>{escape(fmt_value(ce['expected']))}</code>, yours gives "
                         f"<code>{escape(fmt_value(ce['answer']))}</code></p>")
        return '<div class="matcalc-verdict">' + "".join(parts) + "</div>"


def point_text(counterexample: dict) -> str:
    """``x = [0.2, 0.4], W = …``: the inputs of a counterexample, as every display shows them."""
    return ", ".join(f"{k} = {fmt_value(v)}" for k, v in counterexample["inputs"].items())


def fmt_value(v) -> str:
    """An array on one line, four decimals: how a counterexample's numbers are shown."""
    return np.array2string(np.asarray(v, dtype=float), precision=4, separator=", ",
                           suppress_small=True).replace("\n", "")


def describe(shape) -> str:
    """``a scalar``, ``a column vector of length n``, ``a matrix of size m×n``, …"""
    r, c = shape
    if r == ONE and c == ONE:
        return "a scalar"
    if c == ONE:
        return f"a column vector of length {r}"
    if r == ONE:
        return f"a row vector of length {c}"
    return f"a matrix of size {r}×{c}"
