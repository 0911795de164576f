"""The rule table: every primitive once, with what every stage of the pipeline needs.

``RULES[op]`` is the ``Primitive`` of a graph operation (``matrix_rules``); ``ELEMENTWISE[name]``
and ``BINARY[name]`` the functions of the ``ew`` and ``ew2`` families (``elementwise_rules``);
``FUNCTIONS`` maps the language's function names to their ``Function`` (arity, shape rule,
builder), made from those entries.  The record types and the structure helpers (``deflinear``,
``defbilinear``, ``defelementwise``) are in ``table``.  Adding a primitive is adding one entry;
``tests/test_rules.py`` checks every entry against central finite differences.
"""
from __future__ import annotations

from functools import partial

from matcalc.core import algebra as A
from matcalc.core.rules import elementwise_rules as _elementwise
from matcalc.core.rules import matrix_rules as _matrix
from matcalc.core.rules.elementwise_rules import (
    BINARY,
    ELEMENTWISE,
    elementwise_derivative,
    ew2_partials,
    ew_numpy,
    ew_prime,
)
from matcalc.core.rules.matrix_calculus import commutation_matrix, commutation_permutation
from matcalc.core.rules.matrix_rules import COMPOSED, RULES
from matcalc.core.rules.table import (
    Binary,
    CodeForm,
    Elementwise,
    Form,
    Function,
    Kinks,
    Primitive,
    Printed,
    binary_shape,
    same_shape,
)

Rule = Primitive

__all__ = ["BINARY", "CODE_HELPERS", "DIMENSIONS", "DIMENSION_FUNCTIONS", "ELEMENTWISE", "FUNCTIONS", "RESERVED", "RULES",
           "Binary", "CodeForm", "Elementwise", "Form", "Function", "Kinks", "Primitive", "Printed", "Rule",
           "commutation_matrix", "commutation_permutation", "elementwise_derivative", "ew2_partials", "ew_numpy"]


def _functions() -> dict[str, Function]:
    out = [Function(alias, (1, 1), partial(A.ew, n), e.doc, same_shape, prime=ew_prime(n))
           for n, e in ELEMENTWISE.items() for alias in (n, *e.aliases)]
    out += [Function(n, (2, 2), b.build, b.doc, binary_shape, prime=b.prime) for n, b in BINARY.items()]
    for r in RULES.values():
        if r.build is not None and not r.dims:
            out += [Function(alias, r.arity, r.build, r.doc, r.shape, axis=r.axis) for alias in r.aliases]
    return {f.name: f for f in out + COMPOSED}


FUNCTIONS: dict[str, Function] = _functions()
# Names that take dimensions rather than expressions (eye(n), ones(m, n)), by their primitive.
DIMENSIONS: dict[str, Primitive] = {alias: r for r in RULES.values() if r.dims for alias in r.aliases}
DIMENSION_FUNCTIONS = tuple(DIMENSIONS)
RESERVED = set(FUNCTIONS) | set(DIMENSION_FUNCTIONS) | {"transpose", "hadamard"}
CODE_HELPERS: dict[str, str] = {**_elementwise.CODE_HELPERS, **_matrix.CODE_HELPERS}
