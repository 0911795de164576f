"""Generated second-order code: hessian() and hvp() gradchecked over a catalogue, ruff-clean,
agreeing with matcalc.hessian, cache-safe, and hvp never forming the Hessian."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import matcalc
from matcalc.cli.main import main
from matcalc import codegen_hessian
from matcalc.generate.gradcheck import load

# (expr, wrt, shapes, assume)
CATALOGUE = [
    ("x'*A*x", "x", {"A": (4, 4), "x": (4,)}, None),
    ("x'*A*x", "x", {"A": (4, 4), "x": (4,)}, {"A": "spd"}),
    ("norm(W*x)^2", "x", {"W": (3, 4), "x": (4,)}, None),
    ("logsumexp(x)", "x", {"x": (5,)}, None),
    ("-y'*log_softmax(W*x)", "x", {"W": (3, 4), "x": (4,), "y": (3,)}, {"y": "onehot"}),
    ("-y'*log_softmax(W*x)", "W", {"W": (3, 4), "x": (4,), "y": (3,)}, {"y": "onehot"}),
    ("sum(log(1 + exp(X*w))) - y'*X*w", "w", {"X": (6, 3), "w": (3,), "y": (6,)}, None),
    ("x'*A*x + sum(exp(A*x))", "x", {"A": (4, 4), "x": (4,)}, None),
    ("sum(exp(A*x))", "x", {"A": (3, 4), "x": (4,)}, None),
    ("u'*tanh(W*x + b)", "x", {"u": (3,), "W": (3, 4), "x": (4,), "b": (3,)}, None),
    ("u'*tanh(W*x + b)", "W,b", {"u": (3,), "W": (3, 4), "x": (4,), "b": (3,)}, None),
    ("trace(X'*A*X)", "X", {"A": (3, 3), "X": (3, 2)}, None),
    ("norm(A*X*B)^2", "X", {"A": (2, 3), "X": (3, 4), "B": (4, 2)}, None),
    ("x'*A*y + norm(x)^2*sum(y)", "x,y", {"A": (3, 2), "x": (3,), "y": (2,)}, None),
    ("alpha*sum(x .* x) + alpha^3", "alpha,x", {"x": (3,)}, None),
    ("logdet(X) - tr(S*X)", "X", {"X": (3, 3), "S": (3, 3)}, {"X": "spd", "S": "spd"}),
    ("tr(inv(X))", "X", {"X": (3, 3)}, {"X": "spd"}),
    ("tr(X*X)", "X", {"X": (3, 3)}, None),
    ("tr(X*B*X*C)", "X", {"X": (3, 2), "B": (2, 3), "C": (2, 3)}, None),
    ("sum(exp(A*X))", "X", {"A": (3, 2), "X": (2, 3)}, None),
    ("norm(A*X*B)^2 + sum(X .* X .* C)", "X", {"A": (2, 3), "X": (3, 4), "B": (4, 2), "C": (3, 4)}, None),
    ("sum(f(A*x))", "x", {"A": (3, 2), "x": (2,)}, None),
    ("a'*x", "x", {"a": (3,), "x": (3,)}, None),
    ("sum(exp(x .* v)) + k*norm(x)^2", "x", {"x": (3,), "v": (3,), "k": ()}, None),   # names the module uses
    ("x'*x", "x,y", {"x": (3,), "y": ("m",)}, None),                           # y does not occur
]
IDS = [f"{e} by {w}" + (f" {a}" if a else "") for e, w, _, a in CATALOGUE]


@pytest.mark.parametrize("expr,wrt,shapes,assume", CATALOGUE, ids=IDS)
def test_gradcheck_hessian_catalogue(expr, wrt, shapes, assume):
    report = matcalc.gradcheck(expr, wrt, shapes=shapes, assume=assume, points=1, hessian=True)
    assert report.ok, str(report)
    assert max(report.errors.values()) < 1e-7
    names = wrt.split(",")
    keys = {f"hessian {a if a == b else a + ',' + b}" for a in names for b in names}
    assert keys | {f"hvp {n} vs fd" for n in names} | {f"hvp {n} vs hessian" for n in names} <= set(report.errors)


@pytest.mark.parametrize("expr,wrt,shapes,assume", CATALOGUE, ids=IDS)
def test_hessian_agrees_with_matcalc_hessian(expr, wrt, shapes, assume):
    """Every block equals matcalc.hessian(expr, "a,b").numpy() at a random point."""
    mod = load(codegen_hessian(expr, wrt, shapes, assume))
    names = wrt.split(",")
    rng = np.random.default_rng(3)
    typed = matcalc.hessian(expr, names[0], shapes, assume).typed
    inputs = {}
    for n in dict.fromkeys([*typed.variables, *shapes]):
        shape = tuple(d if isinstance(d, int) else 2 for d in shapes.get(n, ()))
        kind = typed.variables[n].attrs[2] if n in typed.variables else None
        a = rng.standard_normal(shape) if shape else float(rng.standard_normal())
        if kind == "spd":
            a = a @ a.T + len(a) * np.eye(len(a))
        elif kind == "onehot":
            a = np.eye(shape[0])[1]
        inputs[n] = a
    functions = {"f": (np.sin, np.cos, lambda z: -np.sin(z))} if "f(" in expr else None
    kw = {"functions": functions} if functions else {}
    got = mod["hessian"](**inputs, **kw)
    got = got if len(names) > 1 else {names[0]: got}
    assert list(got) == [a if a == b else f"{a},{b}" for a in names for b in names]
    for a in names:
        for b in names:
            key = a if a == b else f"{a},{b}"
            want = matcalc.hessian(expr, key, shapes, assume).numpy(functions)(**inputs)
            assert np.shape(got[key]) == np.shape(want), key
            assert np.allclose(got[key], want, rtol=1e-10, atol=1e-12), key


def test_generated_modules_pass_ruff(tmp_path):
    pytest.importorskip("ruff")
    for i, (expr, wrt, shapes, assume) in enumerate(CATALOGUE):
        (tmp_path / f"h{i}.py").write_text(codegen_hessian(expr, wrt, shapes, assume))
    (tmp_path / "h_f32.py").write_text(codegen_hessian("logsumexp(x)", "x", dtype="float32"))
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", str(tmp_path)],
                          check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _function(src: str, name: str) -> str:
    start = src.index(f"\ndef {name}(")
    end = src.find("\n\n\n", start)
    return src[start:end]


@pytest.mark.parametrize("expr,wrt,shapes,assume", CATALOGUE, ids=IDS)
def test_hvp_source_never_forms_a_hessian(expr, wrt, shapes, assume):
    body = _function(codegen_hessian(expr, wrt, shapes, assume), "hvp")
    for banned in ("hessian", "np.eye", "np.diagflat", "np.diag(", "np.kron", "np.outer", "_kron4", "np.empty"):
        assert banned not in body, (banned, body)


def test_hvp_at_sizes_where_the_hessian_cannot_exist():
    """n = 10⁶ for logsumexp, 2·10⁵ for ‖Wx‖² and logistic regression: H would need 8 TB / 320 GB."""
    rng = np.random.default_rng(0)
    n = 1_000_000
    mod = load(codegen_hessian("logsumexp(x)", "x"))
    x, v = rng.standard_normal(n), rng.standard_normal(n)
    _, cache = mod["forward"](x=x)
    p = np.exp(x - x.max())
    p /= p.sum()
    assert np.allclose(mod["hvp"](cache, v), p * v - p * (p @ v), rtol=1e-9, atol=1e-15)
    n = 200_000
    W, x, v = rng.standard_normal((3, n)), rng.standard_normal(n), rng.standard_normal(n)
    mod = load(codegen_hessian("norm(W*x)^2", "x"))
    _, cache = mod["forward"](W=W, x=x)
    assert np.allclose(mod["hvp"](cache, v), 2 * W.T @ (W @ v))
    X, w, y = rng.standard_normal((5, n)) / 300, rng.standard_normal(n), rng.integers(0, 2, 5).astype(float)
    mod = load(codegen_hessian("sum(log(1 + exp(X*w))) - y'*X*w", "w"))
    _, cache = mod["forward"](X=X, w=w, y=y)
    s = 1 / (1 + np.exp(-X @ w))
    assert np.allclose(mod["hvp"](cache, v), X.T @ (s * (1 - s) * (X @ v)))


def test_emitted_lines_read_like_the_textbook():
    src = codegen_hessian("x'*A*x + sum(exp(A*x))", "x")
    hvp, hess = _function(src, "hvp"), _function(src, "hessian_from_cache")
    assert "@ v_x" in hvp and "A.T @" in hvp and "(A + A.T) @" not in hvp       # distributed: no n×n sum
    assert "np.exp" not in hvp and "np.exp" not in hess                          # exp(A x) comes from the cache
    assert re.search(r"A\.T @ \(\w+ \* A\)|\(A\.T \* \w+\.T\) @ A", hess), hess  # Aᵀ diag(e) A as a scaling
    src = codegen_hessian("logsumexp(x)", "x")
    assert ".flat[::" in _function(src, "hessian_from_cache")                    # diag(p) added in place
    src = codegen_hessian("sum(log(1 + exp(X*w))) - y'*X*w", "w")
    hess = _function(src, "hessian_from_cache")
    assert "np.diagflat" not in hess and hess.count("@") == 1                      # Xᵀ (d ∘ X): one product
    src = codegen_hessian("trace(X'*A*X)", "X")
    hess = _function(src, "hessian_from_cache")
    assert "np.kron" not in hess and "np.eye" not in hess and "_eye_kron4" in hess
    for expr, helper in (("logdet(X)", "_kron4_t("), ("tr(X*X)", "_commutation4(")):   # (P ⊗ Q) K, K: no loop
        hess = _function(codegen_hessian(expr, "X"), "hessian_from_cache")
        assert helper in hess and "for " not in hess, hess
    hess = _function(codegen_hessian("sum(exp(A*X))", "X"), "hessian_from_cache")   # no closed form: a loop
    assert "for k in range(" in hess and "np.kron" not in hess


def test_hessian_and_hvp_leave_the_cache_and_return_fresh_arrays():
    mod = load(codegen_hessian("0.5*x'*x + sum(exp(x))", "x"))
    x, v = np.linspace(-1, 1, 4), np.arange(4.0)
    _, cache = mod["forward"](x=x)
    snapshot = {k: np.array(c, copy=True) for k, c in cache.items() if isinstance(c, np.ndarray)}
    h1, h2 = mod["hvp"](cache, v), mod["hvp"](cache, v)
    H1, H2 = mod["hessian_from_cache"](cache), mod["hessian"](x=x)
    assert np.allclose(h1, v + np.exp(x) * v) and np.array_equal(h1, h2)
    assert np.allclose(H1, np.eye(4) + np.diag(np.exp(x))) and np.array_equal(H1, H2)
    for a in (h1, H1):
        assert not np.shares_memory(a, v) and not np.shares_memory(a, x)
        for c in cache.values():
            assert not isinstance(c, np.ndarray) or not np.shares_memory(a, c)
    assert not np.shares_memory(h1, h2)
    for k, c in snapshot.items():
        assert np.array_equal(cache[k], c)
    mod = load(codegen_hessian("0.5*x'*x", "x"))                 # H v = v: still a fresh array
    _, cache = mod["forward"](x=x)
    assert not np.shares_memory(mod["hvp"](cache, v), v)


def test_several_variables_give_blocks_and_a_joint_hvp():
    mod = load(codegen_hessian("x'*A*y + norm(x)^2*sum(y)", "x,y", {"A": (3, 2)}))
    rng = np.random.default_rng(2)
    A, x, y = rng.standard_normal((3, 2)), rng.standard_normal(3), rng.standard_normal(2)
    H = mod["hessian"](A=A, x=x, y=y)
    assert np.allclose(H["x"], 2 * y.sum() * np.eye(3)) and np.allclose(H["y"], 0)
    assert np.allclose(H["x,y"], A + 2 * np.outer(x, np.ones(2))) and np.allclose(H["y,x"], H["x,y"].T)
    _, cache = mod["forward"](A=A, x=x, y=y)
    v = {"x": rng.standard_normal(3), "y": rng.standard_normal(2)}
    hv = mod["hvp"](cache, v)
    assert np.allclose(hv["x"], H["x"] @ v["x"] + H["x,y"] @ v["y"])
    assert np.allclose(hv["y"], H["y,x"] @ v["x"] + H["y"] @ v["y"])
    model = mod["Model"]()
    model.forward(A=A, x=x, y=y)
    assert np.allclose(model.hvp(v)["x"], hv["x"]) and np.allclose(model.hessian()["x,y"], H["x,y"])


def test_float32_module():
    report = matcalc.gradcheck("sum(log(1 + exp(X*w))) - y'*X*w", "w", {"X": (6, 3)}, dtype="float32",
                               points=1, hessian=True)
    assert report.ok, str(report)
    mod = load(codegen_hessian("logsumexp(x)", "x", dtype="float32"))
    _, cache = mod["forward"](x=np.arange(3.0))
    assert mod["hessian"](x=np.arange(3.0)).dtype == np.float32 and mod["hvp"](cache, np.ones(3)).dtype == np.float32


def test_gradcheck_catches_a_wrong_hessian_and_a_wrong_hvp(monkeypatch):
    """Testing the tester: a Hessian or an H v off by 0.1% must fail."""
    import matcalc.generate.gradcheck_hessian as gh
    real = gh.codegen_hessian_source

    def broken(which):
        def gen(*args, **kwargs):
            src = real(*args, **kwargs)
            body = _function(src, which)
            ret = body.rsplit("\n    return ", 1)
            assert len(ret) == 2
            return src.replace(body, ret[0] + "\n    return 1.001 * " + ret[1])
        return gen
    for which, bad in (("hessian_from_cache", "hessian x"), ("hvp", "hvp x vs fd")):
        monkeypatch.setattr(gh, "codegen_hessian_source", broken(which))
        report = matcalc.gradcheck("x'*A*x + sum(exp(A*x))", "x", {"A": (3, 3)}, points=1, hessian=True)
        assert not report.ok and report.errors[bad] > 1e-4, str(report)
    monkeypatch.setattr(gh, "codegen_hessian_source", real)


def test_non_scalar_output_is_bad_input():
    with pytest.raises(matcalc.MatcalcError, match="scalar output"):
        codegen_hessian("A*x", "x")


# ---------------------------------------------------------------- command line
def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_codegen_hessian(capsys, tmp_path):
    code, out, _ = run(capsys, "codegen", "x'*A*x + sum(exp(A*x))", "--wrt", "x", "--hessian")
    assert code == 0 and "def hessian(" in out and "def hvp(cache, v):" in out
    target = tmp_path / "h.py"
    code, out, _ = run(capsys, "codegen", "logsumexp(x)", "--wrt", "x", "--hessian", "-o", str(target))
    assert code == 0 and out == "" and "def hvp(" in target.read_text()
    code, out, _ = run(capsys, "codegen", "logsumexp(x)", "--wrt", "x")
    assert code == 0 and "def hvp(" not in out


def test_cli_gradcheck_hessian(capsys):
    code, out, _ = run(capsys, "gradcheck", "sum(log(1 + exp(X*w))) - y'*X*w", "--wrt", "w", "--hessian")
    assert code == 0 and "hessian w relative error" in out and "hvp w vs fd" in out and out.strip().endswith("PASS")
    code, out, _ = run(capsys, "gradcheck", "trace(X'*A*X)", "--wrt", "X", "--hessian", "--dtype", "float32")
    assert code == 0, out


def test_cli_gradcheck_hessian_failure_exits_1(capsys, monkeypatch):
    import matcalc.generate.gradcheck_hessian as gh
    real = gh.codegen_hessian_source
    monkeypatch.setattr(gh, "codegen_hessian_source", lambda *a, **k: real(*a, **k).replace(
        "hv_x = ", "hv_x = 1.01 * ", 1))
    code, out, _ = run(capsys, "gradcheck", "logsumexp(x)", "--wrt", "x", "--hessian")
    assert code == 1 and "FAIL" in out


@pytest.mark.parametrize("argv,needle", [
    (["codegen", "x'*A*(x", "--wrt", "x", "--hessian"], "^"),
    (["gradcheck", "x'*A*x)", "--wrt", "x", "--hessian"], "^"),
    (["codegen", "A*x", "--wrt", "x", "--hessian"], "scalar output"),
    (["codegen", "x'*A*x", "--wrt", "q", "--hessian"], "does not occur"),
])
def test_cli_bad_input_exits_2(capsys, argv, needle):
    code, _, err = run(capsys, *argv)
    assert code == 2 and needle in err and "Traceback" not in err
