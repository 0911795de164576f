"""Every rule of the table against central finite differences: reverse, forward and second order.

Each primitive is exercised through a tiny expression whose graph contains it, wrapped as
``s = sum(C .* expr)`` with a random ``C`` so the upstream gradient is not all ones.  The specs
of the elementwise functions are made from their entries (the sampling domain picks the
assumption; kinks are avoided by the sampler, which reads them from the rules), so a new
function is tested by adding it.  Completeness: every entry has a spec and every field a stage
reads.  Order 2: the JVP of the VJP (forward over reverse, as Hessians are derived) against
central differences of the gradient.  The checker itself is tested: a rule off by 0.05% fails.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from matcalc.core import algebra as A
from matcalc.core.diff import gradients, jvp
from matcalc.core.errors import UnsupportedError
from matcalc.core.graph import SCALAR, topo_order
from matcalc.core.rules import BINARY, ELEMENTWISE, FUNCTIONS, RULES, Kinks
from matcalc.core.rules.table import STRUCTURES
from matcalc.generate.emitter import Emitter
from matcalc.language.program import typed_program
from matcalc.numeric.evaluate import evaluate
from matcalc.numeric.finite_differences import directional_check, generic_functions, sample_point
from matcalc.numeric.sampling import kinks
from matcalc.output.render import Printer

DOMAIN_ASSUMPTION = {"real": None, "bounded": None, "positive": "positive", "unit": None}


def _elementwise_specs():
    """f(X) for every elementwise entry (and f'(X) where every order is a primitive), sampled in
    the entry's domain; a generic g as well."""
    out = []
    for name, e in ELEMENTWISE.items():
        assume = {"X": DOMAIN_ASSUMPTION[e.domain]} if DOMAIN_ASSUMPTION[e.domain] else {}
        out.append((f"{name}(X)", {"X": (3, 2)}, assume))
        if e.closed:
            out.append((f"{name}'(X)", {"X": (3, 2)}, assume))
    return out + [("g(X)", {"X": (2, 2)}, {}), ("g'(X)", {"X": (2, 2)}, {})]


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
    "power": [("X.^P", {"X": (3, 2), "P": (3, 2)}, {"X": "positive"}),
              ("x.^lam", {"x": (3,), "lam": ()}, {"x": "positive"}),
              ("c^s", {"c": (), "s": ()}, {"c": "positive"}), ("c.^v", {"c": (), "v": (3,)}, {"c": "positive"})],
    "matpow": [("X^3", {"X": (3, 3)}, {})],
    "ew": _elementwise_specs(),
    "ew2": [("max(A, B)", {"A": (3, 2), "B": (3, 2)}, {}), ("min(A, B)", {"A": (3, 2), "B": (3, 2)}, {}),
            ("leaky_relu(z, a)", {"z": (5,), "a": ()}, {}), ("max(x, lam)", {"x": (4,), "lam": ()}, {}),
            ("leaky_relu'(z, a)", {"z": (5,), "a": ()}, {})],
    "unit": [("x[2]", {"x": (3,)}, {}), ("A[:, 2] + A[1, :]'", {"A": (3, 3)}, {})],
    "clip": [("clip(X, -1, 0.5)", {"X": (3, 2)}, {}), ("clip(x, 0, 2)", {"x": (4,)}, {})],
    "clip'": [("clip'(X, -1, 0.5)", {"X": (3, 2)}, {})],
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
NO_RULE_TO_CHECK = {"var", "ones", "zero", "eye", "commutation", "size", "unvec"}   # leaves; unvec is vec's transpose
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


# ---------------------------------------------------------------------- completeness
def test_every_rule_has_a_spec():
    assert set(RULES) - NO_RULE_TO_CHECK <= set(SPECS), set(RULES) - NO_RULE_TO_CHECK - set(SPECS)


def test_every_function_of_the_families_is_exercised():
    """Each elementwise and binary entry occurs in some spec's graph."""
    seen = set()
    for op in ("ew", "ew2"):
        for expr, shapes, assume in SPECS[op]:
            seen |= {n.attrs[0] for n in topo_order([typed_program(expr, shapes, assume).output]) if n.op == op}
    assert set(ELEMENTWISE) | set(BINARY) <= seen, (set(ELEMENTWISE) | set(BINARY)) - seen


@pytest.mark.parametrize("op", list(RULES))
def test_every_primitive_has_every_field_a_stage_reads(op):
    rule = RULES[op]
    assert rule.op == op and rule.doc and rule.numpy is not None and rule.vjp and rule.jvp
    assert rule.structure in STRUCTURES
    assert rule.structure == "leaf" or rule.rebuild is not None, "the simplifier rebuilds through it"
    assert rule.printed is not None or hasattr(Printer, "op_" + op), "no printed form"
    assert op == "var" or Emitter.emits(op), "no generated code"
    for alias in rule.aliases:
        assert rule.dims or FUNCTIONS[alias].shape is not None, f"{alias} has no shape rule"


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_every_elementwise_entry_has_every_field(name):
    e = ELEMENTWISE[name]
    assert e.doc and e.numpy and e.deriv
    assert e.domain in DOMAIN_ASSUMPTION
    assert len(e.code) == len(e.numpy), "a code template per NumPy derivative order"
    assert e.kinks is None or isinstance(e.kinks, Kinks)
    assert FUNCTIONS[name].prime is not None, "f' is in the language"
    for order in range(len(e.code)):
        for style in ("unicode", "text", "latex"):
            assert Printer(style)(A.ew(name, A.var("z", SCALAR, 0), order))


@pytest.mark.parametrize("name", list(BINARY))
def test_every_binary_entry_has_every_field(name):
    b = BINARY[name]
    assert b.doc and b.numpy and b.code and b.partials and b.build and b.kinks
    assert FUNCTIONS[name].arity == (2, 2)


def test_kinks_come_from_the_table():
    """The sampler keeps away from exactly the kinks each entry declares."""
    x = A.var("x", SCALAR, 0)
    for name, e in ELEMENTWISE.items():
        found = kinks([A.ew(name, x)])
        assert found == ([(x, None, e.kinks)] if e.kinks else []), name
    for name in BINARY:
        assert kinks([A.ew2(name, x, A.var("y", x.shape, 0))]), name


# ---------------------------------------------------------------------- first order
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


# ---------------------------------------------------------------------- second order
@pytest.mark.parametrize("op,expr,shapes,assume", list(cases()))
def test_jvp_of_vjp_matches_finite_differences_of_the_gradient(op, expr, shapes, assume):
    """H v = jvp(∇s, v) (forward over reverse) against (∇s(x + hv) − ∇s(x − hv)) / 2h."""
    typed, _, s, variables = _setup(expr, shapes, assume, op)
    if op in REVERSE_UNSUPPORTED:             # no gradient, so no second order: a clear error, never 0
        with pytest.raises(UnsupportedError, match="not supported"):
            gradients(s, list(typed.variables.values()))
        return
    wrt = list(typed.variables.values())
    grads = gradients(s, wrt)
    rng = np.random.default_rng(13)
    functions = generic_functions([s], None)
    env = sample_point([s] + list(grads.values()), variables, rng, functions)
    assert env is not None
    for v, g in grads.items():
        name = v.attrs[0]
        T = A.var("T_", v.shape, 2)
        Hv = jvp(g, {v: T})
        Hv = A.zero(g.shape) if Hv is None else Hv

        def grad(e, g=g):
            return evaluate([g], e, functions)[0]

        def along(n, V, Hv=Hv):
            return evaluate([Hv], {**env, "T_": V}, functions)[0]
        errors = directional_check(grad, along, env, [name], rng)
        assert errors[name] < 1e-5, (name, errors)


# ---------------------------------------------------------------------- testing the tester
def test_checker_catches_a_rule_off_by_a_tiny_factor(monkeypatch):
    """A matmul rule 0.05% off must fail the same check."""
    rule = RULES["matmul"]
    wrong = dataclasses.replace(rule, vjp=lambda n, G: tuple(A.scale(1.0005, g) for g in rule.vjp(n, G)))
    monkeypatch.setitem(RULES, "matmul", wrong)
    typed, _, s, variables = _setup("A*B", {"A": (3, 4), "B": (4, 2)}, {}, "matmul")
    grads = gradients(s, list(typed.variables.values()))
    rng = np.random.default_rng(3)
    env = sample_point([s], variables, rng, {})
    values = {v.attrs[0]: evaluate([g], env)[0] for v, g in grads.items()}
    errors = directional_check(lambda e: evaluate([s], e)[0], lambda n, V: np.sum(values[n] * V),
                               env, list(values), rng)
    assert max(errors.values()) > 1e-5


def test_order_two_check_catches_a_forward_rule_off_by_a_tiny_factor(monkeypatch):
    """An elementwise JVP 0.05% off (the gradient, made by the VJP, stays right) fails the
    order-2 check: it tests the forward rules that Hessians are made of."""
    rule = RULES["ew"]
    wrong = dataclasses.replace(rule, jvp=lambda n, ts: A.scale(1.0005, rule.jvp(n, ts)))
    monkeypatch.setitem(RULES, "ew", wrong)
    typed, _, s, variables = _setup("tanh(X)", {"X": (3, 2)}, {}, "ew")
    (v,) = typed.variables.values()
    g = gradients(s, [v])[v]
    rng = np.random.default_rng(5)
    env = sample_point([s, g], variables, rng, {})
    Hv = jvp(g, {v: A.var("T_", v.shape, 2)})
    errors = directional_check(lambda e: evaluate([g], e)[0],
                               lambda n, V: evaluate([Hv], {**env, "T_": V})[0], env, ["X"], rng)
    assert errors["X"] > 1e-5
