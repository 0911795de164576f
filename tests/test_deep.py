"""Deep programs through every stage, at the default recursion limit: what the parser accepts
(``parser.MAX_DEPTH`` levels, ``parser.MAX_LENGTH`` characters) derives, prints in every style,
verifies, grades, generates code and computes Hessians without ``RecursionError``.

Correctness is asserted, never time: each derivation here is verified (its graph and its
printed text parsed back, against central differences), the generated modules are gradchecked
and compared with the derivation's own numbers, and the graph queries are compared with a
plain walk.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest
from deep_programs import nested, program

import matcalc
import matcalc.numeric.evaluate as evaluator
from matcalc.core import algebra as A
from matcalc.core.graph import depends_on, topo_order
from matcalc.core.rebuild import memo_fold
from matcalc.generate.gradcheck import load
from matcalc.language.parser import MAX_DEPTH, MAX_LENGTH
from matcalc.output.programs import MAX_NESTING


@pytest.fixture(autouse=True)
def default_recursion_limit():
    """Everything here runs at Python's default limit: no stage may need a deeper stack."""
    assert sys.getrecursionlimit() <= 1000
    yield


def nesting(text: str) -> int:
    """The deepest parenthesis nesting of a printed text."""
    depth = deepest = 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        deepest = max(deepest, depth)
    return deepest


def test_the_sizes_are_the_parsers_limits():
    assert len(program(500)) <= MAX_LENGTH
    assert nesting(nested(MAX_DEPTH)) == MAX_DEPTH
    with pytest.raises(matcalc.MatcalcError, match="nested too deeply"):
        matcalc.derive(nested(MAX_DEPTH + 1), "W_1", verify=False)


@pytest.mark.parametrize("expr", [program(500), nested(MAX_DEPTH)], ids=["500 statements", "200 nested"])
def test_deep_derive_verifies_and_prints_in_every_style(expr):
    d = matcalc.derive(expr, "W_1")
    assert d.check.status == "ok", d.check.detail
    assert not any("could not be rebuilt" in n for n in d.notes)
    text, unicode, latex = d.text(), str(d), d.latex()
    assert text.endswith("*x'") and "W_2'" in text
    assert "∂f/∂W_1 = " in unicode and r"\frac{\partial f}{\partial W_{1}}" in latex
    # named every MAX_NESTING levels, so each printed line parses back (the check above did)
    assert max(nesting(line) for line in text.split("; ")) < MAX_DEPTH
    assert max(nesting(line) for line in unicode.splitlines()) < 2 * MAX_NESTING + 2


@pytest.mark.parametrize("expr", [program(500), nested(MAX_DEPTH)], ids=["500 statements", "200 nested"])
def test_deep_steps_print_in_every_style(expr):
    """--steps at the parser's limits, in every style: each node's upstream is named once and
    every backward-pass line stays a few names long (tests/test_steps_named.py parses such
    lines back; tests/test_explain.py checks them against central differences)."""
    d = matcalc.derive(expr, "W_1", steps=True, verify=False)
    unicode = d.steps_text()
    for style in ("text", "latex", "markdown", "json", "mathjax"):
        assert d.steps_text(style)
    backward = unicode.split("Backward pass")[1].split("\nResult:")[0].splitlines()
    assert len(backward) > 5 * MAX_DEPTH and max(map(len, backward)) < 200
    last = "dh1 ∘ (1 − h1²)" if "h1 = " in expr else "dz₂ ∘ (1 − z₂²)"
    assert f"    upstream  dz₁ = ∂f/∂z₁ = {last}" in backward
    assert f"  δ = ∂f/∂z₁ = {last.split(' ∘ ')[0]}ᵀ diag(1 − {last.split('(1 − ')[1][:-1]}) = ({last})ᵀ = dz₁ᵀ" \
        in unicode.splitlines()


def test_deep_gradient_numbers_match_the_chain_rule():
    """The 200-layer gradient against a hand-written backward pass, at a random point."""
    n = 200
    d = matcalc.derive(nested(n), ["W_1", "x"], shapes={"x": (3,), "u": (3,), **{f"W_{i}": (3, 3) for i in range(1, n + 1)}})
    rng = np.random.default_rng(0)
    Ws = [rng.standard_normal((3, 3)) * 0.6 for _ in range(n)]
    x, u = rng.standard_normal(3), rng.standard_normal(3)
    hs = [x]
    for W in Ws:
        hs.append(np.tanh(W @ hs[-1]))
    g = u                                                  # upstream at h_n
    for k in range(n, 0, -1):
        delta = g * (1 - hs[k] ** 2)
        gW, g = np.outer(delta, hs[k - 1]), Ws[k - 1].T @ delta
    got = d.numpy()(x=x, u=u, **{f"W_{i}": W for i, W in enumerate(Ws, 1)})
    np.testing.assert_allclose(got["x"], g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got["W_1"], gW, rtol=1e-10, atol=1e-12)


def test_deep_check_grades_the_printed_answer():
    expr = program(40)
    text = matcalc.derive(expr, "W_1", verify=False).text()
    assert matcalc.check(expr, "W_1", text).correct
    definitions, last = text.rsplit("; ", 1)
    assert not matcalc.check(expr, "W_1", f"{definitions}; 2*({last})").correct


def test_deep_check_reads_the_printed_answer_to_200_statements():
    """The answer restates the program's 200 intermediates, which the grader renames inside the
    combined program: that text may be longer than an input, and is still read."""
    expr = program(200)
    text = matcalc.derive(expr, "W_1", verify=False).text()
    v = matcalc.check(expr, "W_1", text)
    assert v.correct, v.reason


def layered(n: int) -> str:
    """h1 = tanh(W1*x); ...; f = u'*h{n}: the program of a deep wrong answer's report."""
    return "; ".join([f"h{i} = tanh(W{i}*{'x' if i == 1 else f'h{i - 1}'})" for i in range(1, n + 1)]
                     + [f"f = u'*h{n}"])


def graded_counting(monkeypatch, expr: str, answer: str):
    """(verdict, nodes evaluated) of grading ``answer`` (its question derived beforehand)."""
    matcalc.check(expr, "W1", matcalc.derive(expr, "W1", verify=False).text())     # the question, cached
    count = [0]
    plain = evaluator.eval_node

    def counted(*args, **kw):
        count[0] += 1
        return plain(*args, **kw)
    monkeypatch.setattr(evaluator, "eval_node", counted)
    try:
        return matcalc.check(expr, "W1", answer), count[0]
    finally:
        monkeypatch.setattr(evaluator, "eval_node", plain)


def test_deep_wrong_answer_is_graded_in_work_linear_in_its_size(monkeypatch):
    """A wrong answer to a 100-statement program (one tanh' factor dropped) is found wrong with a
    counterexample, and the work grows with the program as it does, counted in node evaluations
    (never timed): 4 times the layers, at most 4.5 times the evaluations.  Its counterexample
    stays small (sizes 2 to 5, where sizes 2, 3, ..., 102 made it cubic in the depth)."""
    evaluations = {}
    for n in (25, 100):
        expr = layered(n)
        right = matcalc.derive(expr, "W1", verify=False).text()
        wrong = right.replace(f" .* (1 - h{n // 2}.^2)", "", 1)
        assert wrong != right
        v, evaluations[n] = graded_counting(monkeypatch, expr, wrong)
        assert not v.correct and v.diagnosis == "wrong", v.reason
        assert matcalc.check(expr, "W1", right).correct
        inputs = v.counterexample["inputs"]
        assert len(inputs) == n + 2 and all(np.size(value) <= 25 for value in inputs.values())
    assert evaluations[100] <= 4.5 * evaluations[25], evaluations


@pytest.mark.parametrize("expr", [program(200), nested(MAX_DEPTH)], ids=["200 statements", "200 nested"])
def test_deep_codegen_gradchecks_and_agrees_with_derive(expr):
    source = matcalc.codegen(expr, "W_1")
    module = load(source)
    shapes = {"x": (3,), "u": (3,), **{f"W_{i}": (3, 3) for i in range(1, 201)}}
    d = matcalc.derive(expr, "W_1", shapes=shapes, verify=False)
    rng = np.random.default_rng(1)
    inputs = {name: 0.6 * rng.standard_normal((3, 3)) if name.startswith("W_") else rng.standard_normal(3)
              for name in d.typed.variables}
    _, cache = module["forward"](**inputs)
    got = module["backward"](cache)["W_1"]
    np.testing.assert_allclose(got, d.numpy()(**inputs), rtol=1e-9, atol=1e-12)


def test_deep_hessian_verifies():
    """64 layers: past the depth where the linear-map walker used to exhaust the stack."""
    h = matcalc.hessian(program(64), "x")
    assert h.check.status == "ok", h.check.detail
    assert h.forms == {"x": "matrix"}
    assert "∂²f/∂x∂xᵀ = " in str(h) and h.text() and h.latex()
    # the generated second-order module, verified (its gradient by x is judged to what central
    # differences resolve through 64 tanh layers: generate/resolution.py), against the Hessian
    module = load(matcalc.codegen_hessian(program(64), "x"))
    rng = np.random.default_rng(4)
    inputs = {name: 0.6 * rng.standard_normal((3, 3)) if name.startswith("W_") else rng.standard_normal(3)
              for name in h.typed.variables}
    np.testing.assert_allclose(module["hessian"](**inputs), h.numpy()(**inputs), rtol=1e-9, atol=1e-12)


def test_deeper_hessian_prints_and_verifies():
    """256 statements: the printer's transposed-sum test used to recurse through the whole nest
    (RecursionError); the printed text is parsed back and checked at one point."""
    h = matcalc.hessian(program(256), "x", verify=False)
    assert h.verify(points=1).status == "ok"
    assert "W_256'" in h.text() and "W_{256}" in h.latex()


def test_depends_on_agrees_with_a_plain_walk_on_a_shared_dag():
    xs = [A.var(f"v{i}", (3, 1), 1) for i in range(6)]
    nodes = list(xs)
    rng = np.random.default_rng(2)
    for _ in range(120):                                   # a random DAG with heavy sharing
        a, b = (nodes[int(k)] for k in rng.integers(len(nodes), size=2))
        nodes.append(A.hadamard(a, b) if rng.random() < 0.5 else A.add(a, b))
    for v in xs:
        for node in nodes[::-1]:                           # asked top down: answers memoised below
            assert depends_on(node, v) == any(n is v for n in topo_order([node]))


def test_memo_fold_counts_each_node_once_and_only_new_nodes_later():
    x = A.var("x", (3, 1), 1)
    node = x
    for _ in range(3000):                                  # deeper than any recursion could go
        node = A.ew("tanh", node)
    calls = []

    def count(n, below):
        calls.append(n)
        return 1 + max(below, default=0)
    assert memo_fold(node, ("test", id(calls)), count) == 3001
    assert len(calls) == 3001
    top = A.ew("exp", node)
    assert memo_fold(top, ("test", id(calls)), count) == 3002
    assert len(calls) == 3002
