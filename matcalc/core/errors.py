"""The one exception family matcalc raises, and how it points at the input.

Every error a user can cause is a ``MatcalcError``; its ``exit_code`` is what the CLI returns
(2 bad input, 3 internal error).  When an error concerns a place in the source text it carries
``source`` and ``pos`` (a character offset) and its message ends with the line, the column and a
caret under the offending text.
"""
from __future__ import annotations


class MatcalcError(Exception):
    """Base class: bad input unless a subclass says otherwise."""

    exit_code = 2

    def __init__(self, message: str, source: str | None = None, pos: int | None = None,
                 end: int | None = None):
        self.message = message
        self.source = source
        self.pos = pos
        self.end = end
        super().__init__(self.render())

    def location(self) -> tuple[int, int] | None:
        """1-based (line, column) of ``pos`` in ``source``."""
        if self.source is None or self.pos is None:
            return None
        before = self.source[: self.pos]
        line = before.count("\n") + 1
        col = self.pos - (before.rfind("\n") + 1) + 1
        return line, col

    def render(self) -> str:
        loc = self.location()
        if loc is None:
            return self.message
        line_no, col = loc
        lines = self.source.split("\n")
        text = lines[line_no - 1] if line_no - 1 < len(lines) else ""
        # Keep the excerpt short around the caret for very long lines.
        start = max(0, col - 1 - 60)
        excerpt = text[start: start + 120]
        width = 1
        if self.end is not None and self.end > self.pos:
            width = max(1, min(self.end - self.pos, len(excerpt) - (col - 1 - start)))
        caret = " " * (col - 1 - start) + "^" * width
        prefix = "..." if start else ""
        return (f"{self.message} (line {line_no}, column {col})\n"
                f"  {prefix}{excerpt}\n  {' ' * len(prefix)}{caret}")

    def _render_traceback_(self) -> list[str]:
        """IPython/Jupyter: show the message with its caret, as the CLI prints it, instead of a
        traceback through matcalc's internal frames (an internal error keeps its traceback)."""
        if self.exit_code == 3:
            raise NotImplementedError      # IPython then shows the ordinary traceback
        return ("error: " + self.render()).split("\n")


class ParseError(MatcalcError):
    """The text is not in the matcalc language."""


class ShapeError(MatcalcError):
    """Operands whose shapes cannot go together, or a shape that cannot be inferred."""


class NameError_(MatcalcError):
    """A name that is unknown, reserved, or used in two incompatible ways."""


class UnsupportedError(MatcalcError):
    """A construct matcalc cannot differentiate (never answered with a silent 0)."""


class UndefinedError(MatcalcError):
    """An expression undefined for every input: a denominator or an inverse that is exactly zero."""


class InternalError(MatcalcError):
    """A bug in matcalc: exit code 3."""

    exit_code = 3


class VerificationError(InternalError):
    """A derived result disagreed with finite differences: never printed as an answer."""


class ClosedPipe(Exception):
    """The reader of standard output went away (``| head``) after the result was decided: the
    CLI stops quietly with the exit code that result has (a wrong verdict is still 1)."""

    def __init__(self, exit_code: int):
        super().__init__(exit_code)
        self.exit_code = exit_code
