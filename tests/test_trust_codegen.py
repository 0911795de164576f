"""Issue 10, generated code: names that Python would bind wrongly, shapes known only at run
time, verification by default, and numbers that stay finite where the maths is finite."""
import re
import subprocess
import sys

import numpy as np
import pytest

import matcalc
from matcalc.core import algebra as A
from matcalc import codegen_hessian
from matcalc.core.errors import VerificationError
from matcalc.generate.gradcheck import load
from matcalc.generate.verify import _with_note, verify_generated
from matcalc.core.graph import ONE, dim
from matcalc.numeric.evaluate import evaluate
from matcalc.generate.plan import matmul as plan_matmul


def run(expr, wrt, inputs, functions=None, **kw):
    mod = load(matcalc.codegen(expr, wrt, **kw))
    extra = {"functions": functions} if functions else {}
    out, cache = mod["forward"](**inputs, **extra)
    return out, mod["backward"](cache)


X = np.array([1.0, 2.0, 3.0])


def test_greek_scalar_is_read():
    out, g = run("α*sum(x)", ["x", "α"], {"α": 2.0, "x": X})
    assert out == pytest.approx(12.0)
    assert np.allclose(g["x"], 2.0) and g["α"] == pytest.approx(6.0)


def test_greek_intermediate_is_read():
    W = np.arange(6.0).reshape(2, 3)
    out, g = run("δ = W*x; s = sum(δ)", ["W"], {"W": W, "x": X})
    assert out == pytest.approx(np.sum(W @ X))
    assert np.allclose(g["W"], np.outer(np.ones(2), X))


def test_fullwidth_name_is_its_own_variable():
    out, g = run("x'*ｘ", ["x", "ｘ"], {"x": X, "ｘ": 10 * X})
    assert out == pytest.approx(140.0)
    assert np.allclose(g["x"], 10 * X) and np.allclose(g["ｘ"], X)


def test_fullwidth_np_does_not_bind_numpy():
    src = matcalc.codegen("sum(ｎｐ .* x)", ["x"])
    out, g = run("sum(ｎｐ .* x)", ["x"], {"ｎｐ": 2 * X, "x": X})
    assert out == pytest.approx(2 * X @ X)
    assert np.allclose(g["x"], 2 * X)
    assert "inputs['ｎｐ']" in src          # the API key stays the user's name


def test_variable_named_like_a_function_slot():
    ff = np.array([1.0, 10.0, 100.0])
    out, g = run("sum(fn_f .* f(x))", ["x", "fn_f"], {"x": X, "fn_f": ff}, functions={"f": (np.sin, np.cos)})
    assert out == pytest.approx(ff @ np.sin(X))
    assert np.allclose(g["x"], ff * np.cos(X)) and np.allclose(g["fn_f"], np.sin(X))


def test_inferred_dimension_in_backward():
    out, g = run("3*x^2*y", ["x"], {"x": 2.0, "y": X})
    assert np.allclose(out, 12 * X)
    assert g["x"] == pytest.approx(np.sum(6 * 2.0 * X))


def test_hessian_module_with_unicode_names():
    mod = load(codegen_hessian("β*sum(x.^2) + x'*ｘ", ["x"]))
    H = mod["hessian"](**{"β": 3.0, "x": X, "ｘ": X})  # noqa: PIE804 (ｘ= would be read as x=)
    assert np.allclose(H, 6 * np.eye(3))


# ---------------------------------------------------------------- verification by default



def test_codegen_says_it_verified():
    src = matcalc.codegen("sum(tanh(W*x))", ["W"])
    assert "Verified by matcalc" in src
    assert "Verified by matcalc" not in matcalc.codegen("sum(tanh(W*x))", ["W"], verify=False)


def test_large_declared_sizes_are_checked_small():
    src = matcalc.codegen("sum(tanh(W*x))", ["W"], shapes={"W": (100000, 100000), "x": (100000,)})
    assert "replaced by small ones" in src and "100000" in src


def test_a_wrong_module_is_refused():
    good = matcalc.codegen("sum(x.^3)", ["x"], verify=False)
    wrong = good.replace("3.0 *", "3.1 *")
    assert wrong != good
    with pytest.raises(VerificationError, match="x: relative error"):
        verify_generated(wrong, matcalc.codegen, "sum(x.^3)", ["x"], None, None, "float64")


def test_a_module_that_crashes_is_refused():
    good = matcalc.codegen("sum(x.^3)", ["x"], verify=False)
    broken = re.sub(r"(def backward\(cache, upstream=1.0, out=None\):\n.*?\"\"\"\n)", r"\1    undefined_name\n", good, flags=re.DOTALL)
    with pytest.raises(VerificationError) as exc:
        verify_generated(broken, matcalc.codegen, "sum(x.^3)", ["x"], None, None, "float64")
    assert exc.value.exit_code == 3


def test_hessian_module_verified():
    src = codegen_hessian("sum(sigmoid(x))", ["x"])
    assert "Verified by matcalc: gradients and Hessians" in src


def test_ones_product_never_silently_wrong():
    """sum(X W + 𝟏 bᵀ) by b is n·𝟏: codegen returns a module that computes it, or refuses."""
    shapes = {"X": ("n", "d"), "W": ("d", "h"), "b": ("h",)}
    try:
        src = matcalc.codegen("sum(X*W + ones(n)*b')", ["b"], shapes=shapes)
    except VerificationError:
        return
    mod = load(src)
    _, cache = mod["forward"](X=np.ones((5, 2)), W=np.ones((2, 3)), b=np.zeros(3))
    assert np.allclose(mod["backward"](cache)["b"], 5.0)


def test_note_goes_into_the_docstring():
    src = matcalc.codegen("sum(x)", ["x"], verify=False)
    noted = _with_note(src, "Verification skipped: because.")
    assert load(noted)["__doc__"].rstrip().endswith("Verification skipped: because.")


# ---------------------------------------------------------------- stable numbers
LOGISTIC = "-y'*log(sigmoid(X*w)) - (1-y)'*log(1-sigmoid(X*w))"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logistic_loss_with_large_margins(dtype):
    mod = load(matcalc.codegen(LOGISTIC, ["w"], dtype=dtype))
    X, w, y = np.array([[1.0], [-1.0]]), np.array([40.0]), np.array([0.0, 1.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out, cache = mod["forward"](X=X, w=w, y=y)
        g = mod["backward"](cache)["w"]
    assert out == pytest.approx(80.0, rel=1e-6)           # softplus(40) + softplus(40)
    assert np.allclose(g, 2.0, rtol=1e-6)                 # Xᵀ(σ(Xw) − y) = 1 + 1


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sigmoid_does_not_underflow_early(dtype):
    mod = load(matcalc.codegen("sum(sigmoid(x))", ["x"], dtype=dtype))
    x = np.array([-40.0, -80.0, 0.0, 40.0])
    out, cache = mod["forward"](x=x)
    g = mod["backward"](cache)["x"]
    want = 1 / (1 + np.exp(-x.astype(np.float64)))
    tiny = np.finfo(dtype).tiny
    assert np.all(g[:2] > 0) == (np.exp(-80.0) > tiny)     # σ'(-80) ≈ 1.8e-35 is representable in both
    assert out == pytest.approx(np.sum(want), rel=1e-6)
    assert np.allclose(g[:2], want[:2], rtol=1e-4)         # σ'(z) ≈ σ(z) for z ≪ 0, relatively right


def test_log_sigmoid_is_softplus():
    mod = load(matcalc.codegen("sum(log(sigmoid(x)))", ["x"]))
    x = np.array([-800.0, -40.0, 0.0, 40.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out, cache = mod["forward"](x=x)
        g = mod["backward"](cache)["x"]
    assert out == pytest.approx(-np.sum(np.logaddexp(0.0, -x)))
    assert np.allclose(g, np.exp(-np.logaddexp(0.0, x)))    # 1 − σ(x) = σ(−x)


def test_log_softmax_large_inputs():
    mod = load(matcalc.codegen("sum(log_softmax(x) .* y)", ["x"]))
    x, y = np.array([1000.0, 0.0, -1000.0]), np.array([0.0, 1.0, 0.0])
    with np.errstate(over="raise", invalid="raise"):
        out, cache = mod["forward"](x=x, y=y)
        g = mod["backward"](cache)["x"]
    assert out == pytest.approx(-1000.0)
    assert np.allclose(g, [-1.0, 1.0, 0.0])


# ---------------------------------------------------------------- ones products in the rewriting



@pytest.mark.parametrize("coef", [1, -2])
def test_plan_matmul_keeps_the_inner_size_of_ones(coef):
    four, three, two = dim(4), dim(3), dim(2)
    a = A.product(coef, (), A.ones((four, three)))
    for b, want in ((A.ones((three, ONE)), np.full((4, 1), 3.0 * coef)),
                    (A.ones((three, two)), np.full((4, 2), 3.0 * coef))):
        (got,) = evaluate([plan_matmul(a, b)], {})
        assert np.allclose(got, want)


# ---------------------------------------------------------------- the CLI


def cli(*args):
    return subprocess.run([sys.executable, "-m", "matcalc.cli", *args], check=False, capture_output=True, text=True,
                          encoding="utf-8")


def test_cli_codegen_verifies_and_opts_out():
    ok = cli("codegen", "sum(tanh(W*x))", "--wrt", "W", "--shape", "W=50000,50000", "--shape", "x=50000")
    assert ok.returncode == 0 and "Verified by matcalc" in ok.stdout
    raw = cli("codegen", "sum(tanh(W*x))", "--wrt", "W", "--no-verify")
    assert raw.returncode == 0 and "Verified by matcalc" not in raw.stdout and "def backward" in raw.stdout


def test_cli_codegen_wrong_module_exits_3_or_is_right():
    r = cli("codegen", "sum(X*W + ones(n)*b')", "--wrt", "b", "--shape", "X=n,d", "--shape", "W=d,h",
            "--shape", "b=h")
    if r.returncode == 0:                       # once the algebra is right the module must be right
        mod = load(r.stdout)
        _, cache = mod["forward"](X=np.ones((5, 2)), W=np.ones((2, 3)), b=np.zeros(3))
        assert np.allclose(mod["backward"](cache)["b"], 5.0)
    else:
        assert r.returncode == 3 and "b: relative error" in r.stderr


def test_module_names_and_their_lookalikes_are_renamed():
    """Variables named like the module's own names (or NFKC-equal to them) are locals of their own."""
    c, i, u = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0]), np.array([100.0, 200.0, 300.0])
    expr = "sum(cache.*x) + sum(ｉｎｐｕｔｓ.*x) + sum(upstream.*x)"
    out, g = run(expr, ["x"], {"cache": c, "ｉｎｐｕｔｓ": i, "upstream": u, "x": X})
    assert out == pytest.approx((c + i + u) @ X)
    assert np.allclose(g["x"], c + i + u)


def test_namer_nfkc():
    from matcalc.core.naming import Namer, identifiers
    namer = Namer()
    names = [namer.local(n) for n in ("x", "ｘ", "x_2", "ｎｐ", "ﬁ", "fi")]
    assert len(set(names)) == len(names)
    assert "np" not in names and all(n.isidentifier() for n in names)
    assert identifiers("y = np.sum(δ * x, axis=1)") == {"y", "np", "δ", "x"}


def test_log_of_softmax_is_log_softmax():
    mod = load(matcalc.codegen("sum(log(softmax(x)).*y)", ["x"]))
    x, y = np.array([1000.0, 0.0, -1000.0]), np.array([0.0, 1.0, 0.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out, cache = mod["forward"](x=x, y=y)
        g = mod["backward"](cache)["x"]
    assert out == pytest.approx(-1000.0)
    assert np.allclose(g, [-1.0, 1.0, 0.0])


def test_named_sigmoid_logs_are_stable():
    mod = load(matcalc.codegen("p = sigmoid(z); L = sum(log(p)) + sum(log(1-p))", ["z"]))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out, cache = mod["forward"](z=np.array([-50.0, 50.0]))
        g = mod["backward"](cache)["z"]
    assert out == pytest.approx(-100.0)
    assert np.allclose(g, [1.0, -1.0])
