"""Steps for a vector output: the Jacobian chain ``∂h/∂x = ∂h/∂z ∂z/∂x = diag(f'(z)) W``, every
printed Jacobian (upstream, local, downstream, the result's product) checked by finite differences."""
from __future__ import annotations

import json

import numpy as np
import pytest
from cli_run import run
from steps_support import FUNCS, random_env, vec_jacobian

from matcalc import derive
from matcalc.core.errors import MatcalcError
from matcalc.numeric.evaluate import evaluate
from matcalc.output.chain_steps import jacobian_chain
from matcalc.output.explain import explain


def test_tanh_layer_by_x_is_the_lectures_chain():
    code, out = run("derive", "tanh(W*x + b)", "--wrt", "x", "--steps")
    assert code == 0
    for piece in ["z₁ = W x", "z₂ = z₁ + b", "f = tanh(z₂)",
                  "upstream  ∂f/∂f = I",
                  "local     ∂f/∂z₂ = diag(1 − f²)",
                  "local     ∂z₂/∂z₁ = I",
                  "local     ∂z₁/∂x = W",
                  "Jacobian  ∂f/∂x = ∂f/∂z₁ ∂z₁/∂x = diag(1 − f²) W",
                  "∂f/∂x = ∂f/∂z₂ ∂z₂/∂x = diag(1 − f²) W"]:
        assert piece in out, piece
    assert "scalar output" not in out


def test_named_program_reads_like_the_lecture():
    d = derive("z = W*x + b; h = f(z)", "x,b", steps=True)
    lines = d.steps_text().splitlines()
    assert "  ∂h/∂x = ∂h/∂z ∂z/∂x = diag(f'(z)) W" in lines
    assert "  ∂h/∂b = ∂h/∂z ∂z/∂b = diag(f'(z))" in lines


def test_fork_adds_the_paths():
    out = derive("x .* exp(x)", "x", steps=True).steps_text()
    assert "∂f/∂x = diag(z₁) + diag(f) = diag(z₁ ∘ (1 + x))   (fork: the paths' products added)" in out


def test_every_style_and_json():
    d = derive("tanh(W*x + b)", "x", steps=True)
    for style in ("unicode", "text", "latex", "markdown", "mathjax"):
        assert explain(d, style)
    assert "df/dx = df/dz2 dz2/dx = diag(1 - f.^2)*W" in explain(d, "text")
    latex = explain(d, "latex")
    assert latex.startswith(r"\paragraph{Computational graph}") and all(ord(c) < 128 for c in latex)
    assert r"\text{Jacobian}" in latex and r"\begin{alignedat}{2}" in explain(d, "mathjax")
    data = json.loads(explain(d, "json"))
    assert data["kind"] == "jacobian_chain"
    assert data["text"]["jacobians"][0]["chain"]["product"] == "diag(1 - f.^2)*W"


def test_matrix_intermediate_reads_the_chain_in_vec_form():
    """x xᵀ on the way has a tensor as its Jacobian: the chain reads it in vec form (checked
    numerically in tests/test_steps_tensor.py), the plain Jacobian chain still refuses it."""
    d = derive("(x*x')*a", "x", steps=True)
    with pytest.raises(MatcalcError, match="x xᵀ is a matrix"):
        jacobian_chain(d)
    code, out = run("derive", "(x*x')*a", "--wrt", "x", "--steps")
    assert code == 0 and "in vec form" in out and "local     ∂vec(z₁)/∂x = x ⊗ I" in out
    assert out.rstrip().splitlines()[-1].startswith("  ∂f/∂x = ")


# ------------------------------------------------------------------ the numbers behind every line
CASES = [
    ("tanh(W*x + b)", "x,b"),
    ("z = W*x + b; h = f(z)", "x,b"),
    ("x .* exp(x)", "x"),
    ("sigmoid(A*tanh(B*x))", "x"),
    ("softmax(W*x)", "x"),
    ("exp(x)*α + W*x", "x,α"),
    ("y = A*x; h = y .* y + log(1 + exp(y))", "x"),
    ("tanh(x'*W + b')", "x,b"),                            # a row output, a row input (b')
    ("sigmoid(w'*X)", "w"),
]


@pytest.mark.parametrize("expr,wrt", CASES)
def test_every_printed_jacobian_numerically(expr, wrt):
    rng = np.random.default_rng(3)
    d = derive(expr, wrt, steps=True)
    ch = jacobian_chain(d)
    env = random_env(d, rng)
    anchors = list(d.typed.variables.values()) + list(d.variables.values())
    out = d.typed.output
    base: dict = {}
    evaluate([out] + anchors, env, FUNCS, base)

    def ev(node, cache=None):
        return np.atleast_2d(np.asarray(evaluate([node] + anchors, env, FUNCS, dict(cache or base))[0], dtype=float))

    def jac_of_output(node):
        return vec_jacobian(lambda v: evaluate([out] + anchors, env, FUNCS, {id(node): v})[0], base[id(node)])

    def shaped(J, rows, cols):
        return np.broadcast_to(J, (rows, cols)) if J.size == 1 else J

    m = base[id(out)].size
    for link in ch.links:
        n = base[id(link.node)].size
        up = ev(link.upstream)
        assert np.allclose(shaped(up, m, n), jac_of_output(link.node), atol=1e-5), ("upstream", expr)
        if link.fork:
            assert np.allclose(sum(shaped(ev(p), m, n) for _, p in link.fork), shaped(up, m, n))
        for i in link.inputs:
            x = base[id(i.input)]
            others = {id(a): base[id(a)] for a in link.node.args if a is not i.input}
            key = id(i.input)
            local = vec_jacobian(lambda v, n=link.node, o=others, k=key: evaluate([n] + anchors, env, FUNCS, {**o, k: v})[0], x)
            assert np.allclose(shaped(ev(i.local), n, x.size), local, atol=1e-5), ("local", expr)
            downstream = shaped(up, m, n) @ local          # this path's part of ∂out/∂input
            for node in (i.product, i.simplified):
                assert np.allclose(shaped(ev(node), m, x.size), downstream, atol=1e-5), ("Jacobian", expr)
    for fin in ch.finals:
        x = env[fin.var]
        x2 = np.atleast_2d(x)
        J = vec_jacobian(lambda v, w=fin.var: evaluate([out] + anchors, {**env, w: v}, FUNCS)[0], x2)
        assert np.allclose(shaped(ev(fin.result, {}), m, x2.size), J, atol=1e-5), ("result", expr)
        if fin.product is not None:
            assert np.allclose(shaped(ev(fin.product, {}), m, x2.size), J, atol=1e-5), ("chain product", expr)
            for a, b, seg in zip(fin.path, fin.path[1:], fin.locals):      # each segment ∂a/∂b
                fb, key = base[id(b)], id(b)
                inner = vec_jacobian(lambda v, a=a, k=key: evaluate([a] + anchors, env, FUNCS, {k: v})[0], fb)
                assert np.allclose(shaped(ev(seg), base[id(a)].size, fb.size), inner, atol=1e-5), ("segment", expr)
        if fin.parts:
            assert np.allclose(sum(shaped(ev(p, {}), m, x2.size) for p in fin.parts), J, atol=1e-5), ("fork", expr)
