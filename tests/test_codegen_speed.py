"""What makes generated code fast: product chains re-associated, ``sum(A B)`` folded into
reductions, temporaries reused as output buffers — and none of it may change a value or let
backward write into the cache or into an array it returned before."""
from __future__ import annotations

import re

import numpy as np

from matcalc import codegen
from matcalc import gradcheck
from matcalc.generate.gradcheck import load
from matcalc.generate.inplace import in_place


def _body(src: str, fn: str) -> str:
    return src.split(f"def {fn}(")[1].split("\ndef ")[0].split("\nclass ")[0]


def test_gradcheck_catches_a_backward_that_writes_into_the_cache(monkeypatch):
    import matcalc.generate.gradcheck as gc
    real = gc.codegen_source

    def corrupt(*args, **kw):
        src = real(*args, **kw)
        return src.replace("    z3 = cache['z3']\n", "    z3 = cache['z3']\n    z3 *= 1.0\n    z3 += 1e-3\n")
    monkeypatch.setattr(gc, "codegen_source", corrupt)
    report = gc.gradcheck_gradients("s = u'*tanh(W*x + b)", "W", {"u": (3,), "W": (3, 2), "x": (2,), "b": (3,)}, points=1)
    assert not report.ok and "cache" in report.detail


def test_matrix_vector_chain_is_reassociated():
    src = codegen("y = A*B*C*x", "x", {"A": (50, 50), "B": (50, 50), "C": (50, 50), "x": (50,)})
    fwd = _body(src, "forward")
    assert "B @ A" not in fwd and not re.search(r"A @ B\b", fwd)           # no matrix-matrix product
    assert re.search(r"C @ x", fwd)
    assert gradcheck("y = A*B*C*x", "x", {"A": (4, 3), "B": (3, 5), "C": (5, 2), "x": (2,)}).ok


def test_written_order_kept_when_it_is_cheaper():
    # (x yᵀ) z costs n², x (yᵀ z) costs n: both orders are considered, the cheap one wins
    src = codegen("x*y'*z", "z", {"x": (30,), "y": (30,), "z": (30,)})
    assert "np.vdot(y, z)" in _body(src, "forward")


def test_sum_of_a_product_is_two_reductions():
    expr = "h = tanh(X*W1); L = sum(h*W2)"
    src = codegen(expr, "W1,W2", {"X": (5, 4), "W1": (4, 3), "W2": (3, 2)})
    fwd, bwd = _body(src, "forward"), _body(src, "backward")
    assert "h @ W2" not in fwd and "sum(axis=0" in fwd and "sum(axis=1" in fwd
    assert "broadcast_to" not in bwd and "np.ones" not in bwd              # no matmul by a ones matrix
    assert gradcheck(expr, "W1,W2", {"X": (5, 4), "W1": (4, 3), "W2": (3, 2)}).ok


def test_temporaries_become_output_buffers():
    src = codegen("s = u'*tanh(W*x + b)", "W,b", {"u": (6,), "W": (6, 5), "x": (5,), "b": (6,)})
    fwd, bwd = _body(src, "forward"), _body(src, "backward")
    assert " += b" in fwd and "out=" in fwd                               # W x + b and tanh in one buffer
    assert "ds_dz2 = 1.0 - z3 ** 2\n    ds_dz2 *= u\n" in bwd                 # u ∘ (1 - h²) in one temporary
    assert " G * " not in bwd and "if upstream != 1.0:" in bwd            # upstream 1: no scaling at all


def test_in_place_pass_rules():
    lines = ["    z = W @ x", "    h = z + b", "    y = h * (1.0 - q)"]
    shapes = {"z": (3, 1), "h": (3, 1), "y": (3, 1)}
    assert in_place(lines, dict(shapes), {"y"}) == ["    y = W @ x", "    y += b", "    y *= 1.0 - q"]
    # z read twice, kept, or of another shape: z keeps its own array (h may still become y)
    for out in (in_place(lines + ["    k = z"], dict(shapes), {"y", "k"}),
                in_place(lines, dict(shapes), {"y", "z"}),
                in_place(lines, {**shapes, "z": (3, 3)}, {"y"})):
        assert out[0] == "    z = W @ x" and "+=" not in out[1]
    # a top-level lower-precedence operator in the rest would change the meaning
    assert in_place(["    z = W @ x", "    h = z * a + b"], {"z": (3, 1), "h": (3, 1)}, {"h"})[1] == "    h = z * a + b"
    # not fresh (a view or an input): never written into
    assert in_place(["    z = W.T", "    h = np.tanh(z)"], {"h": (3, 3)}, {"h"})[1] == "    h = np.tanh(z)"


def test_sums_of_broadcast_adjoints_have_the_variable_shape():
    # both terms of ∂/∂X are broadcasts ((2,1) and (1,4) before broadcasting): the sum is filled out
    for expr in ("sum(X'*X)", "sum(X'*X) + sum(X*X')", "sum(X) + sum(X')"):
        report = gradcheck(expr, "X", {"X": (2, 4)}, points=1)
        assert report.ok, (expr, str(report))


def test_an_input_the_output_ignores_gets_no_line():
    src = codegen("x'*x", "x,y", {"x": (3,), "y": (3,)})
    assert "inputs['y']" not in _body(src, "forward")
    ns = load(src)
    _, cache = ns["forward"](x=[1.0, 2.0, 3.0], y=[0.0, 0.0, 0.0])
    assert ns["backward"](cache)["y"].shape == (3,)


def test_a_scalar_lands_on_the_fresh_product_in_place():
    src = codegen("norm(W*X)^2", "W", {"W": (5, 4), "X": (4, 3)})
    bwd = _body(src, "backward")
    assert "dL_dW = np.matmul(z1, X.T, out=out_W)" in bwd and "dL_dW *= 2.0\n" in bwd   # no 2 z1 temporary


def test_declared_sizes_pick_the_faster_product_forms():
    src = codegen("L = sum(-Y .* log_softmax(X*W, 2))", "W", {"X": (256, 300), "W": (300, 10), "Y": (256, 10)},
                  {"Y": "onehot_rows"})
    assert "(dL_dz1.T @ X).T" in _body(src, "backward")                  # Xᵀ G with 10 columns
    small, mid, big = (codegen("s = u'*tanh(W*x)", "W", {"u": (n,), "W": (n, n), "x": (n,)}) for n in (64, 512, 4096))
    assert "np.einsum" in _body(mid, "backward")                            # outer products: einsum at 512
    assert "np.einsum" not in _body(small, "backward") + _body(big, "backward")   # broadcasting at 64 and 4096
    for expr, shapes in (("L = sum(-Y .* log_softmax(X*W, 2))", {"X": (6, 20), "W": (20, 3), "Y": (6, 3)}),
                         ("s = u'*tanh(W*x)", {"u": (5,), "W": (5, 4), "x": (4,)})):
        assert gradcheck(expr, "W", shapes, points=1).ok


def test_source_does_not_depend_on_hash_seeds():
    import os
    import subprocess
    import sys
    prog = ("from matcalc import codegen; print(codegen('h1 = tanh(X*W1); L = norm(h1*W2 - Y)^2', "
            "'W1,W2'))")
    outs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, env=env, check=True)
        outs.add(proc.stdout)
    assert len(outs) == 1


def test_a_user_function_that_returns_its_argument_is_never_written_into():
    identity = (lambda z: z, lambda z: 2.0 * z)       # f' reads z: a clobbered z shows in dW
    ns = load(codegen("s = sum(f(W*x) + b)", "W,b", {"W": (3, 2), "x": (2,), "b": (3,)}))
    W, x, b = np.arange(6.0).reshape(3, 2), np.array([1.0, -1.0]), np.array([0.5, 0.5, 0.5])
    out, cache = ns["forward"](W=W, x=x, b=b, functions={"f": identity})
    assert np.isclose(out, np.sum(W @ x + b))
    snapshot = {k: np.array(v, copy=True) for k, v in cache.items() if isinstance(v, np.ndarray)}
    g = ns["backward"](cache)
    assert np.allclose(g["W"], np.outer(2.0 * (W @ x), x)) and np.allclose(g["b"], 1.0)
    for k, v in snapshot.items():
        assert np.array_equal(cache[k], v)
