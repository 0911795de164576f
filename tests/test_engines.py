"""The shared engines: one reverse loop, one rebuild, one linear-map walker, one stable-form rewrite,
generated modules from one template, every generated name from core.naming."""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from matcalc.core import algebra as A
from matcalc.core.diff import gradients, linear_coefficient
from matcalc.core.errors import InternalError, UnsupportedError
from matcalc.core.graph import dim, topo_order
from matcalc.core.naming import Namer, numbered, subscripted
from matcalc.core.rebuild import postorder, rebuild
from matcalc.core.rules import RULES
from matcalc.core.stable import stable_form
from matcalc.generate.gradcheck import load
from matcalc.generate.hessian_program import codegen_hessian_source
from matcalc.generate.program import codegen_source
from matcalc.language.program import typed_program
from matcalc.numeric.evaluate import evaluate
from matcalc.second_order.indexform import index_form
from matcalc.second_order.kronecker import vec_coefficient, vec_to_tensor

# ---------------------------------------------------------------------- one reverse loop


def _broken(monkeypatch, op, vjp):
    monkeypatch.setitem(RULES, op, dataclasses.replace(RULES[op], vjp=vjp))


def test_a_rule_that_drops_a_contribution_fails_loudly_in_diff_and_in_codegen(monkeypatch):
    """tinygrad's assertion: one contribution per input, never a gradient silently lost by zip."""
    typed = typed_program("sum(A .* B)", {"A": (2, 2), "B": (2, 2)}, None)
    A_, B_ = typed.variables["A"], typed.variables["B"]
    _broken(monkeypatch, "hadamard", lambda n, G: (A.hadamard(G, n.args[1]),))       # one for two inputs
    with pytest.raises(InternalError, match="sent 1 gradients to 2 inputs"):
        gradients(typed.output, [A_, B_])
    with pytest.raises(InternalError, match="sent 1 gradients to 2 inputs"):
        codegen_source("sum(A .* B)", ["A", "B"], {"A": (2, 2), "B": (2, 2)})


def test_a_rule_that_sends_the_wrong_shape_fails_loudly_in_codegen_too(monkeypatch):
    _broken(monkeypatch, "trace", lambda n, G: (G,))                                  # 1×1 sent to X
    with pytest.raises(InternalError, match="gradient to a"):
        codegen_source("tr(X)", ["X"], {"X": (3, 3)})


# ---------------------------------------------------------------------- one rebuild


def test_rebuild_visits_a_shared_node_once_and_keeps_it_shared():
    x = A.var("x", (dim(3), dim(1)), 1)
    shared = A.ew("tanh", x)
    root = A.add(A.hadamard(shared, shared), A.ew("exp", shared))
    seen = []

    def step(node, args):
        seen.append(node)
        return node
    (out,) = rebuild([root], step)
    assert out is root
    assert seen.count(shared) == 1
    assert len(seen) == len({id(n) for n in seen})


def test_rebuild_memo_carries_from_call_to_call():
    x = A.var("x", (dim(2), dim(1)), 1)
    e = A.ew("exp", x)
    memo, calls = {}, []

    def step(node, args):
        calls.append(node)
        return A.ew("sin", args[0])
    (first,) = rebuild([e], step, memo=memo)
    (again,) = rebuild([A.add(e, x)], lambda n, a: A.add(*a), memo=memo)
    assert calls == [e]
    assert again is A.add(first, x)


def test_postorder_is_children_first_each_once():
    x = A.var("x", (dim(3), dim(1)), 1)
    t = A.ew("tanh", x)
    root = A.add(A.hadamard(t, x), t)
    order = postorder(root, lambda n: n.args)
    assert order == topo_order([root])


# ---------------------------------------------------------------------- one linear-map walker


def _values(nodes, env):
    return evaluate(list(nodes), env)


@pytest.mark.parametrize("expr", ["A*t", "(A + A')*t", "u*(v'*t)", "A*(t .* w)", "(t'*A*t0)*u", "sum(t)*w"])
def test_matrix_and_vec_targets_give_the_same_coefficient(expr):
    """dY = M T and vec(dY) = M vec(T) coincide for a column T: two targets, one walk."""
    rng = np.random.default_rng(7)
    shapes = {"A": (3, 3), "t": (3,), "t0": (3,), "u": (3,), "v": (3,), "w": (3,)}
    typed = typed_program(expr, shapes, None)
    T = typed.variables["t"]
    M1, M2 = linear_coefficient(typed.output, T), vec_coefficient(typed.output, T)
    env = {n: rng.standard_normal((3, 1) if n != "A" else (3, 3)) for n in typed.variables}
    a, b = _values([M1, M2], env)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    tv = env["t"]
    (y,) = _values([typed.output], env)
    np.testing.assert_allclose(np.asarray(a) @ tv, np.asarray(y).reshape(-1, 1), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("expr", ["A*T*B", "T'", "A .* T", "tr(A*T)*C", "sum(T, 1)"])
def test_index_target_matches_the_vec_target(expr):
    rng = np.random.default_rng(3)
    shapes = {"A": (3, 3), "T": (3, 3), "B": (3, 3), "C": (3, 3)}
    typed = typed_program(expr, shapes, None)
    T, out = typed.variables["T"], typed.output
    env = {n: rng.standard_normal((3, 3)) for n in typed.variables}
    (M,) = _values([vec_coefficient(out, T)], env)
    form = index_form(out, T)
    nodes = form.nodes()
    vals = dict(zip((id(n) for n in nodes), _values(nodes, env))) if nodes else {}
    got = form.evaluate(vals, lambda d: 3 if not d.is_Integer else int(d))
    want = vec_to_tensor(np.asarray(M), (int(out.rows), int(out.cols)), (3, 3))
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-12, atol=1e-12)


def test_every_target_refuses_what_is_not_linear():
    typed = typed_program("t .* (A*t)", {"t": (3,), "A": (3, 3)}, None)
    T = typed.variables["t"]
    for target in (linear_coefficient, vec_coefficient, index_form):
        with pytest.raises(UnsupportedError, match="not linear"):
            target(typed.output, T)


# ---------------------------------------------------------------------- one stable-form rewrite


@pytest.mark.parametrize("expr, op", [("log(sigmoid(z))", "scale"), ("log(1 - sigmoid(z))", "scale"),
                                      ("1 - sigmoid(z)", "ew"), ("log(softmax(z))", "log_softmax"),
                                      ("log(exp(z))", "var")])
def test_stable_forms_are_recognised(expr, op):
    typed = typed_program(expr, {"z": (3,)}, None)
    stable = stable_form(typed.output)
    assert stable is not None and stable.form.op == op


def test_the_evaluator_and_generated_code_compute_one_minus_sigmoid_the_same_stable_way():
    """1 − σ(40) is about 4.25e-18: the subtraction gives exactly 0, σ(−40) keeps every digit."""
    z = np.array([40.0, -3.0, 0.5])
    want = 1.0 / (1.0 + np.exp(z))
    typed = typed_program("1 - sigmoid(z)", {"z": (3,)}, None)
    (got,) = evaluate([typed.output], {"z": z.reshape(-1, 1)})
    np.testing.assert_allclose(np.asarray(got).reshape(-1), want, rtol=1e-14)
    src = codegen_source("sum(w .* (1 - sigmoid(z)))", ["w"], {"z": (3,), "w": (3,)})
    assert "1.0 - " not in src.split("def backward")[0]          # forward: σ(−z), no subtraction
    value, _ = load(src)["forward"](z=z, w=np.ones(3))
    assert abs(value - want.sum()) <= 1e-15 * want.sum()


# ---------------------------------------------------------------------- one template, one naming


@pytest.mark.parametrize("expr, wrt, shapes", [
    ("x'*A*x", ["x"], {"x": (3,), "A": (3, 3)}),
    ("logsumexp(x)", ["x"], {"x": (4,)}),
    ("trace(X'*A*X)", ["X"], {"X": (3, 2), "A": (3, 3)}),
    ("u'*tanh(W*x + b)", ["W", "b"], {"u": (3,), "W": (3, 2), "x": (2,), "b": (3,)}),
])
def test_each_function_of_a_hessian_module_reads_only_the_cache_it_uses(expr, wrt, shapes):
    """The module is assembled from its parts: no cache read is left over in backward, hessian or hvp."""
    src = codegen_hessian_source(expr, wrt, shapes)
    assert src.count("\ndef forward(") == 1 and src.count("\nclass Model:") == 1
    for body in re.split(r"\n\n\n(?=def |class )", src):
        reads = re.findall(r"^    (\w+) = cache\['\w+'\]$", body, flags=re.MULTILINE)
        for name in reads:
            rest = body.split(f"    {name} = cache[{name!r}]", 1)[1]
            assert re.search(rf"\b{re.escape(name)}\b", rest), (name, body[:60])


def test_names_of_generated_code_come_from_the_namer():
    namer = Namer({"t1"})
    assert namer.temporary() == "t2" and namer.step() == "z3"
    assert namer.seed("out", "L", True) == "G" and namer.seed("out", "L", False) == "dL_dout"
    assert namer.adjoint("h", None, "L") == "dL_dh" and namer.adjoint(None, "h", "L") == "dL_dhT"
    assert namer.hessian_block("x", "y", True) == "H_x_y" and namer.hessian_block("x", "x", False) == "H"
    assert numbered("t", 0, {"t1", "t2"}) == ("t3", 3)
    assert subscripted("z12") == "z₁₂" and subscripted("delta") == "delta"
