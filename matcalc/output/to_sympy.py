"""Graph nodes as SymPy matrix expressions: the API's ``.gradient`` and ``.jacobian``.

Built with SymPy's own constructors (``MatMul``, ``MatAdd``, ``Transpose``, ``Inverse``,
``HadamardProduct``, ``Trace``, ``Determinant``) without evaluation, so SymPy neither reorders
nor re-derives anything; elementwise functions and the other primitives SymPy lacks become a
small ``Applied`` matrix expression that prints as ``f(arg)``.  The builders are the rule
table's (``core.rules.sympy_forms``); SymPy is imported on the first conversion, so deriving and
printing never load it.
"""
from __future__ import annotations

from matcalc.core.graph import Node, topo_order
from matcalc.core.rules import RULES
from matcalc.core.rules.sympy_forms import applied, applied_class

__all__ = ["to_sympy"]          # and ``Applied``, made on first use (``__getattr__``)


def __getattr__(name: str):
    if name == "Applied":            # defined on first use, with SymPy (``sympy_forms.applied_class``)
        return applied_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def to_sympy(root: Node):
    done: dict[int, object] = {}
    for n in topo_order([root]):
        a = [done[id(x)] for x in n.args]
        done[id(n)] = _convert(n, a)
    return done[id(root)]


def _convert(n: Node, a):
    """The rule table's SymPy builder; a primitive without one becomes ``op(args)``."""
    build = RULES[n.op].sympy
    return build(n, a) if build is not None else applied(n.op)(n, a)
