"""Every rule of the table against central finite differences (reverse and forward mode).

Each primitive is exercised through a tiny expression whose graph contains it, wrapped as
``s = sum(C .* expr)`` with a random ``C`` so the upstream gradient is not all ones.  The
checker itself is tested: a rule off by 0.05% must fail.
"""
from __future__ import annotations

import numpy as np
import pytest

from matcalc.core import algebra as A
from matcalc.language.program import typed_program
from matcalc.core.diff import gradients, jvp
from matcalc.core.errors import UnsupportedError
from matcalc.numeric.finite_differences import directional_check, generic_functions, sample_point
from matcalc.core.graph import topo_order
from matcalc.numeric.evaluate import evaluate
from matcalc.core.rules import ELEMENTWISE, RULES

# op -> list of (expression, shapes, assume); each expression's graph contains op.
SPECS = {
    "scale": [("lam*X", {"lam": (), "X": (3, 2)}, {}), ("2*a*b*x", {"a": (), "b": (), "x": (3,)}, {}),
              ("x/norm(x)", {"x": (4,)}, {})],
    "add": [("A + B", {"A": (3, 2), "B": (3, 2)}, {}), ("x + lam", {"x": (3,), "lam": ()}, {})],
    "matmul": [("A*B", {"A": (3, 4), "B": (4, 2)}, {}), ("u'*x", {"u": (3,), "x": (3,)}, {}),
               ("x*u'", {"u": (2,), "x": (3,)}, {}), ("u'*W", {"u": (3,), "W": (3, 2)}, {})],
    "transpose": [("X'", {"X": (3, 2)}, {})],
    "hadamard": [("A .* B", {"A": (3, 2), "B": (3, 2)}, {}), ("x .* y .* z", {"x": (4,), "y": (4,), "z": (4,)}, {})],
    "pow": [("X.^3", {"X": (2, 3)}, {}), ("x.^0.5", {"x": (3,)}, {"x": "positive"}),
            ("1 ./ x", {"x": (3,)}, {"x": "positive"}), ("lam^2", {"lam": ()}, {})],
    "matpow": [("X^3", {"X": (3, 3)}, {})],
    "ew": [(f"{name}(X)", {"X": (3, 2)}, {"X": "positive"} if e.domain == "positive" else {})
           for name, e in ELEMENTWISE.items()] + [("g(X)", {"X": (2, 2)}, {}), ("g'(X)", {"X": (2, 2)}, {})],
    "ew2": [("max(A, B)", {"A": (3, 2), "B": (3, 2)}, {}), ("min(A, B)", {"A": (3, 2), "B": (3, 2)}, {}),
            ("leaky_relu(z, a)", {"z": (5,), "a": ()}, {}), ("max(x, lam)", {"x": (4,), "lam": ()}, {}),
            ("leaky_relu'(z, a)", {"z": (5,), "a": ()}, {})],
    "sum": [("sum(X)", {"X": (3, 2)}, {}), ("sum(X, 1)", {"X": (3, 2)}, {}), ("sum(X, 2)", {"X": (3, 2)}, {})],
    "trace": [("tr(X)", {"X": (3, 3)}, {})],
    "det": [("det(X)", {"X": (3, 3)}, {"X": "invertible"})],
    "logdet": [("logdet(X)", {"X": (3, 3)}, {"X": "invertible"}), ("logdet(X)", {"X": (3, 3)}, {"X": "spd"})],
    "inv": [("inv(X)", {"X": (3, 3)}, {"X": "invertible"})],
    "norm": [("norm(X)", {"X": (3, 2)}, {}), ("norm(x)", {"x": (4,)}, {})],
    "diag": [("diag(x)", {"x": (3,)}, {})],
    "diagpart": [("diag(X)", {"X": (3, 3)}, {})],
    "softmax": [("softmax(x)", {"x": (4,)}, {}), ("softmax(X)", {"X": (4, 3)}, {}), ("softmax(X, 2)", {"X": (4, 3)}, {})],
    "log_softmax": [("log_softmax(x)", {"x": (4,)}, {}), ("log_softmax(X, 2)", {"X": (4, 3)}, {})],
    "logsumexp": [("logsumexp(x)", {"x": (4,)}, {}), ("logsumexp(X)", {"X": (4, 3)}, {}),
                  ("logsumexp(X, 2)", {"X": (4, 3)}, {})],
    "vec": [("vec(X)", {"X": (3, 2)}, {})],
    "kron": [("kron(A, B)", {"A": (2, 2), "B": (2, 3)}, {})],
}
LEAVES = {"var", "ones", "zero", "eye", "commutation", "unvec"}   # no derivative rule to check (unvec: via vec)
REVERSE_UNSUPPORTED = {"kron"}                         # forward mode only, for now


def cases():
    for op, specs in SPECS.items():
        for i, (expr, shapes, assume) in enumerate(specs):
            yield pytest.param(op, expr, shapes, assume, id=f"{op}-{i}-{expr}")


def _setup(expr, shapes, assume, op):
    typed = typed_program(expr, shapes, assume)
    node = typed.output
    assert op in {n.op for n in topo_order([node])}, f"{expr} does not exercise {op}"
    C = A.var("C_", node.shape, 2)
    s = A.sum_(A.hadamard(C, node)) if not node.is_scalar else A.scale(A.var("c_", node.shape, 0), node)
    variables = dict(typed.variables)
    variables[C.attrs[0] if not node.is_scalar else "c_"] = C if not node.is_scalar else A.var("c_", node.shape, 0)
    return typed, node, s, variables


def test_every_rule_has_a_spec():
    assert set(RULES) - LEAVES <= set(SPECS), set(RULES) - LEAVES - set(SPECS)


@pytest.mark.parametrize("op,expr,shapes,assume", list(cases()))
def test_reverse_rule_matches_finite_differences(op, expr, shapes, assume):
    typed, _, s, variables = _setup(expr, shapes, assume, op)
    if op in REVERSE_UNSUPPORTED:                  # a clear error, never a silent 0
        with pytest.raises(UnsupportedError, match="not supported"):
            gradients(s, list(typed.variables.values()))
        return
    wrt = [v for name, v in typed.variables.items()]
    grads = gradients(s, wrt)
    rng = np.random.default_rng(7)
    functions = generic_functions([s], None)
    env = sample_point([s] + list(grads.values()), variables, rng, functions)
    assert env is not None

    def f(e):
        return evaluate([s], e, functions)[0]
    values = {v.attrs[0]: evaluate([g], env, functions)[0] for v, g in grads.items()}
    errors = directional_check(f, lambda n, V: np.sum(values[n] * V), env, list(values), rng)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("op,expr,shapes,assume", list(cases()))
def test_forward_rule_matches_finite_differences(op, expr, shapes, assume):
    typed, node, _, _ = _setup(expr, shapes, assume, op)
    rng = np.random.default_rng(11)
    functions = generic_functions([node], None)
    env = sample_point([node], typed.variables, rng, functions)
    assert env is not None
    for name, v in typed.variables.items():
        T = A.var("T_", v.shape, 2)
        dY = jvp(node, {v: T})

        def f(e):
            return evaluate([node], e, functions)[0]

        def along(n, V, dY=dY):
            return evaluate([dY], {**env, "T_": V}, functions)[0]
        errors = directional_check(f, along, env, [name], rng)
        assert errors[name] < 1e-6, (name, errors)


def test_checker_catches_a_rule_off_by_a_tiny_factor(monkeypatch):
    """Testing the tester: a matmul rule 0.05% off must fail the same check."""
    rule = RULES["matmul"]
    wrong = type(rule)(rule.op, rule.doc, rule.numpy,
                       lambda n, G: tuple(A.scale(1.0005, g) for g in rule.vjp(n, G)), rule.jvp)
    monkeypatch.setitem(RULES, "matmul", wrong)
    typed, _, s, variables = _setup("A*B", {"A": (3, 4), "B": (4, 2)}, {}, "matmul")
    grads = gradients(s, list(typed.variables.values()))
    rng = np.random.default_rng(3)
    env = sample_point([s], variables, rng, {})
    values = {v.attrs[0]: evaluate([g], env)[0] for v, g in grads.items()}
    errors = directional_check(lambda e: evaluate([s], e)[0], lambda n, V: np.sum(values[n] * V),
                               env, list(values), rng)
    assert max(errors.values()) > 1e-5
