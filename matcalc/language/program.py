"""From the user's text to a typed program: parse, declare shapes, resolve the variables.

The entry every later stage shares: ``typed_program`` (parser + shape inference),
``normalize_shapes`` (the API's shape spellings), ``wrt_names`` and ``resolve_wrt`` (which
nodes to differentiate by).
"""
from __future__ import annotations

from collections.abc import Iterable

from matcalc.core import algebra as A
from matcalc.core.errors import MatcalcError, NameError_
from matcalc.core.graph import ONE, Node, dim
from matcalc.core.rules.index_rules import INDEX, is_index
from matcalc.language.parser import parse
from matcalc.language.shapes import Typed, build

Wrt = str | Iterable[str]


def wrt_names(wrt: Wrt) -> list[str]:
    """``"W"``, ``"W,b"`` or ``["W", "b"]`` as a list of names."""
    if isinstance(wrt, str):
        names = [w.strip() for w in wrt.split(",")]
    else:
        names = [str(w).strip() for w in wrt]
    names = [n for n in names if n]
    if not names:
        raise MatcalcError("name at least one variable to differentiate by (wrt)")
    return list(dict.fromkeys(names))


def typed_program(expr: str, shapes: dict | None, assume: dict | None) -> Typed:
    """``expr`` parsed by matcalc's grammar and typed with the declared shapes and assumptions."""
    if not isinstance(expr, str):
        raise MatcalcError(f"the expression must be a string, not {type(expr).__name__}")
    return build(parse(expr), normalize_shapes(shapes), assume)


def normalize_shapes(shapes: dict | None) -> dict:
    """``shapes`` as the API accepts it (``"n"``, ``("n", 3)``, ``"scalar"``) as name ↦ tuple of dims."""
    out = {}
    for name, shp in (shapes or {}).items():
        if shp == INDEX:                   # an index name (LANGUAGE.md v2): an integer input
            out[name] = INDEX
            continue
        if isinstance(shp, (int, str)) and shp != "scalar":
            shp = (shp,)
        if shp in ("scalar", None):
            shp = ()
        shp = tuple(shp)
        if len(shp) > 2:
            raise MatcalcError(f"{name}: a shape has 0, 1 or 2 entries, got {len(shp)}")
        for d in shp:
            if isinstance(d, bool) or not (isinstance(d, str) and d.isidentifier() or isinstance(d, int) and d >= 1):
                raise MatcalcError(f"{name}: a dimension is a positive integer or a name, got {d!r}")
        out[name] = shp
    return out


def resolve_wrt(typed: Typed, names: list[str], shapes: dict | None) -> tuple[list[Node], list[str]]:
    """The variable nodes to differentiate by; declared names that do not occur get a note."""
    nodes, notes = [], []
    declared = normalize_shapes(shapes)
    for n in names:
        if n in typed.variables and is_index(typed.variables[n]):
            raise NameError_(f"{n} is an index name, an integer: nothing is differentiated by it")
        if n in typed.variables:
            nodes.append(typed.variables[n])
        elif n in typed.intermediates:
            raise NameError_(f"{n} is an intermediate the program defines; differentiate by an input")
        elif n in declared and declared[n] != INDEX:
            shp = declared[n]
            dims = tuple(dim(d) for d in shp)
            shape = (ONE, ONE) if not dims else (dims[0], ONE) if len(dims) == 1 else dims
            nodes.append(A.var(n, shape, len(shp), None))
            notes.append(f"the output does not depend on {n}: its derivative is zero")
        else:
            known = ", ".join(typed.variables) or "none"
            raise NameError_(f"{n} does not occur in the expression, so its shape is unknown "
                             f"(its variables: {known}); declare it with --shape {n}=... for a zero gradient")
    return nodes, notes
