"""Generated code's values and their text: an emitted expression (``Code``) with its precedence,
the wrapping, literals and external shapes every part of a generated module uses, and the
module-level helpers (``HELPERS``) the emitters may call.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from matcalc.core.graph import Node
from matcalc.core.kinds import is_variable
from matcalc.core.rules import CODE_HELPERS
from matcalc.core.rules.targets import NUMPY, Target
from matcalc.generate.buffers import BUFFER_HELPERS

ADD, MUL, UNARY, POW, ATOM = 1, 2, 3, 4, 5
_UNKNOWN = 2 ** 40          # the size of a dimension known only by name

HELPERS = {
    **CODE_HELPERS,                                             # the rule table's, by name
    **BUFFER_HELPERS,                                           # backward's out= buffers
    "_scalar": '''def _scalar(v):
    """A scalar result as a NumPy scalar of DTYPE."""
    if type(v) is DTYPE:
        return v
    if type(v) is np.ndarray and v.size == 1 and v.dtype == DTYPE:
        return v.flat[0]
    return np.asarray(v, dtype=DTYPE).reshape(())[()]''',
}


def known_size(d) -> int:
    """A dimension's value when the shapes declared it, else a huge stand-in."""
    return int(d) if getattr(d, "is_Integer", False) or isinstance(d, int) else _UNKNOWN


@dataclass
class Code:
    """An emitted expression: its text, precedence, whether it has the node's full shape (else it
    broadcasts to it) and the local it is a view of (None: a fresh array)."""

    text: str
    prec: int = ATOM
    full: bool = True
    alias: str | None = None
    scaled: tuple[str, str] | None = None   # (fresh product, scalar): assigned as two in-place lines


def wrap(c: Code, level: int) -> str:
    return c.text if c.prec >= level else f"({c.text})"


def literal(x: Fraction | float) -> Code:
    v = float(x)
    t = repr(v)
    return Code(t, UNARY if v < 0 else ATOM)


def number_literal(p: Fraction) -> str:
    return str(int(p)) if p.denominator == 1 else repr(float(p))


def external(node_ndim: int, text: str, target: Target = NUMPY) -> str:
    """``text`` (an internal value) in the NumPy convention of a result with ``node_ndim`` axes
    (a scalar as ``target`` spells one)."""
    if node_ndim == 0:
        return target.scalar.format(x=text)
    if node_ndim == 1:
        return f"{text}.reshape(-1)"
    return text


def ndim(node: Node) -> int:
    """How many axes the value has outside: a variable's declared ones, else 0, 1 or 2."""
    if is_variable(node):
        return node.attrs[1]
    return 0 if node.is_scalar else 1 if node.is_column else 2


