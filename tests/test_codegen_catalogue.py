"""The codegen catalogue, built from the rule table: every primitive and every elementwise and
binary function through ``matcalc.codegen``, which gradchecks the generated module against
central differences before returning it.

Each program is one of ``tests/test_rules.py``'s spec expressions made scalar, ``c_ * (expr)``
or ``sum(C_ .* (expr))`` with a random ``C_``, differentiated by every variable of the spec; the
leaves the specs do not build on their own (``ones``, ``eye``, ``zero``, ``commutation``, ``size``) have
programs here.  Completeness: every entry of ``RULES``, ``ELEMENTWISE`` and ``BINARY`` occurs in
some program's forward graph or in one of its gradients (``unvec`` is ``vec``'s adjoint), so a
new entry without a program fails.  A primitive without a reverse rule (``kron``) is asserted to
raise ``UnsupportedError``, never skipped.
"""
from __future__ import annotations

import pytest

import matcalc
from matcalc.core.diff import gradients
from matcalc.core.errors import UnsupportedError
from matcalc.core.graph import topo_order
from matcalc.core.rules import BINARY, ELEMENTWISE, RULES
from matcalc.language.program import typed_program
from test_rules import REVERSE_UNSUPPORTED, SPECS

# Programs for the leaves: (expression, shapes, assume, wrt).
LEAF_PROGRAMS = [
    ("x' * ones(3)", {"x": (3,)}, {}, ["x"]),
    ("tr(inv(X + eye(3)))", {"X": (3, 3)}, {"X": "spd"}, ["X"]),
    ("sum(X - X) + norm(y)", {"X": (3, 2), "y": (2,)}, {}, ["X", "y"]),
    ("sum(C .* (commutation(3, 2) * vec(X)))", {"X": (3, 2), "C": (6,)}, {}, ["X"]),
    ("sum(X .* X)/size(X, 1)", {"X": ("n", "m")}, {}, ["X"]),
]


def _scalar_program(expr: str, shapes: dict, assume: dict) -> tuple[str, dict]:
    """``expr`` made scalar with a random weight, so the upstream gradient is not all ones."""
    out = typed_program(expr, shapes, assume).output
    if out.is_scalar:
        return f"c_ * ({expr})", {**shapes, "c_": ()}
    rows, cols = (int(d) for d in out.shape)
    weight = (rows,) if out.is_column else (rows, cols)
    return f"sum(C_ .* ({expr}))", {**shapes, "C_": weight}


def _catalogue():
    out = []
    for op, specs in SPECS.items():
        for i, (expr, shapes, assume) in enumerate(specs):
            program, all_shapes = _scalar_program(expr, shapes, assume)
            out.append((f"{op}-{i}-{expr}", program, all_shapes, assume, list(shapes)))
    for i, (expr, shapes, assume, wrt) in enumerate(LEAF_PROGRAMS):
        out.append((f"leaf-{i}-{expr}", expr, shapes, assume, wrt))
    return out


CATALOGUE = _catalogue()


def _graph_entries(program: str, shapes: dict, assume: dict, wrt: list[str]) -> set[str]:
    """The table entries a program's forward graph and gradients contain: ops, and the names of
    the elementwise and binary functions applied."""
    typed = typed_program(program, shapes, assume)
    roots = [typed.output]
    try:
        roots += gradients(typed.output, [typed.variables[w] for w in wrt]).values()
    except UnsupportedError:
        pass
    nodes = topo_order(roots)
    return {n.op for n in nodes} | {n.attrs[0] for n in nodes if n.op in ("ew", "ew2")}


def _unsupported(program: str, shapes: dict, assume: dict) -> bool:
    return bool({n.op for n in topo_order([typed_program(program, shapes, assume).output])} & REVERSE_UNSUPPORTED)


def test_every_table_entry_has_a_catalogue_program():
    seen = set().union(*(_graph_entries(p, s, a, w) for _, p, s, a, w in CATALOGUE))
    missing = (set(RULES) | set(ELEMENTWISE) | set(BINARY)) - seen
    assert not missing, f"table entries without a codegen catalogue program: {sorted(missing)}"


def test_the_catalogue_covers_unsupported_primitives_by_raising():
    """Each primitive without a reverse rule has a program (which must raise, below)."""
    covered = {op for _, p, s, a, _ in CATALOGUE for op in REVERSE_UNSUPPORTED
               if op in {n.op for n in topo_order([typed_program(p, s, a).output])}}
    assert covered == REVERSE_UNSUPPORTED


@pytest.mark.parametrize("program,shapes,assume,wrt", [pytest.param(*c[1:], id=c[0]) for c in CATALOGUE])
def test_codegen_catalogue(program, shapes, assume, wrt):
    if _unsupported(program, shapes, assume):
        with pytest.raises(UnsupportedError):
            matcalc.codegen(program, wrt, shapes, assume)
        return
    source = matcalc.codegen(program, wrt, shapes, assume)     # gradchecked before it is returned
    assert "Verified by matcalc: gradients agree with central differences" in source, "the gradcheck did not run"
