"""Second derivatives and matrix-by-matrix derivatives, checked numerically.

Every Hessian is compared with central finite differences of the (separately tested) gradient
from ``derive``; every printed ``.text()`` form is parsed back and evaluated; every assumption of
LANGUAGE.md is exercised at points that satisfy it.
"""
from __future__ import annotations

import numpy as np
import pytest

import matcalc
from matcalc import derive
from matcalc import hessian
from matcalc.language.program import typed_program
from matcalc.cli.main import main
from matcalc.numeric.evaluate import evaluate, to_internal

RNG = np.random.default_rng(7)


def _softmax_hessian(p):
    return np.diag(p) - np.outer(p, p)
H_STEP = 1e-6


# ---------------------------------------------------------------------- helpers
def fd_hessian(expr, wrt_x, wrt_y, values, shapes=None, assume=None):
    """∂g_x/∂y by central differences of derive's gradient g_x, shaped x.shape + y.shape."""
    grad = derive(expr, wrt_x, shapes=shapes, assume=assume).numpy()
    y0 = np.asarray(values[wrt_y], dtype=float)
    g0 = np.asarray(grad(**values))
    out = np.zeros(g0.shape + y0.shape)
    for idx in np.ndindex(*y0.shape) if y0.shape else [()]:
        E = np.zeros(y0.shape)
        E[idx] = 1.0
        plus = grad(**{**values, wrt_y: y0 + H_STEP * E})
        minus = grad(**{**values, wrt_y: y0 - H_STEP * E})
        out[(...,) + idx] = (np.asarray(plus) - np.asarray(minus)) / (2 * H_STEP)
    return out


def fd_tensor(expr, wrt, values, shapes=None):
    """d out[i,j] / d X[k,l] by central differences of the program's value."""
    typed = typed_program(expr, shapes, None)

    def f(vals):
        env = {n: to_internal(vals[n], v.attrs[1]) for n, v in typed.variables.items()}
        return evaluate([typed.output], env)[0]
    X = values[wrt]
    out = np.zeros(f(values).shape + X.shape)
    for k, l_ in np.ndindex(*X.shape):
        E = np.zeros(X.shape)
        E[k, l_] = 1.0
        out[:, :, k, l_] = (f({**values, wrt: X + H_STEP * E}) - f({**values, wrt: X - H_STEP * E})) / (2 * H_STEP)
    return out


def eval_text(text, values, shapes=None, assume=None):
    """Evaluate a printed ``.text()`` form (an expression or program) at ``values``."""
    names = typed_program(text, None, None).variables if shapes is None else shapes
    shapes = {n: np.shape(values[n]) for n in names}
    typed = typed_program(text, shapes, {k: a for k, a in (assume or {}).items() if k in names})
    env = {n: to_internal(values[n], v.attrs[1]) for n, v in typed.variables.items()}
    return evaluate([typed.output], env)[0]


def close(got, want, tol=1e-5):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    assert float(np.max(np.abs(got - want), initial=0.0)) / scale < tol


def spd(n):
    B = RNG.standard_normal((n, n))
    return B @ B.T + n * np.eye(n)


def sym(n):
    B = RNG.standard_normal((n, n))
    return B + B.T


# ---------------------------------------------------------------------- textbook Hessians
TEXTBOOK = [
    # expr, wrt, values, assume, text, closed form
    ("x'*A*x", "x", lambda: {"x": RNG.standard_normal(4), "A": RNG.standard_normal((4, 4))}, None,
     "A + A'", lambda v: v["A"] + v["A"].T),
    ("norm(W*x)^2", "x", lambda: {"W": RNG.standard_normal((5, 3)), "x": RNG.standard_normal(3)}, None,
     "2*W'*W", lambda v: 2 * v["W"].T @ v["W"]),
    ("norm(W*x - b)^2", "x", lambda: {"W": RNG.standard_normal((5, 3)), "x": RNG.standard_normal(3),
                                      "b": RNG.standard_normal(5)}, None,
     "2*W'*W", lambda v: 2 * v["W"].T @ v["W"]),
    ("logsumexp(x)", "x", lambda: {"x": RNG.standard_normal(5)}, None,
     "p = softmax(x); diag(p) - p*p'",
     lambda v: _softmax_hessian(np.exp(v["x"]) / np.exp(v["x"]).sum())),
    ("(a'*x)^3", "x", lambda: {"a": RNG.standard_normal(4), "x": RNG.standard_normal(4)}, None,
     "6*(a'*x)*a*a'", lambda v: 6 * (v["a"] @ v["x"]) * np.outer(v["a"], v["a"])),
    ("sum(log(x))", "x", lambda: {"x": RNG.uniform(0.5, 2, 5)}, {"x": "positive"},
     "-diag(1 ./ x.^2)", lambda v: -np.diag(1 / v["x"] ** 2)),
    ("sum(exp(A*x))", "x", lambda: {"A": RNG.standard_normal((3, 4)), "x": RNG.standard_normal(4)}, None,
     "A'*diag(exp(A*x))*A", lambda v: v["A"].T @ np.diag(np.exp(v["A"] @ v["x"])) @ v["A"]),
    ("x'*A*x + sum(exp(A*x))", "x", lambda: {"A": RNG.standard_normal((4, 4)), "x": RNG.standard_normal(4)}, None,
     "A + A' + A'*diag(exp(A*x))*A",
     lambda v: v["A"] + v["A"].T + v["A"].T @ np.diag(np.exp(v["A"] @ v["x"])) @ v["A"]),
]


@pytest.mark.parametrize("expr,wrt,make,assume,text,closed", TEXTBOOK, ids=[c[0] for c in TEXTBOOK])
def test_textbook_hessian(expr, wrt, make, assume, text, closed):
    h = hessian(expr, wrt, assume=assume)
    assert h.text() == text
    values = make()
    got = h.numpy()(**values)
    close(got, closed(values))
    close(got, fd_hessian(expr, wrt, wrt, values, assume=assume))
    close(eval_text(h.text(), values, assume=assume), closed(values))      # .text() parses back
    assert h.verify().ok


def test_printed_forms():
    h = hessian("x'*A*x", "x")
    assert str(h) == "∂²f/∂x∂xᵀ = A + Aᵀ"
    assert h.latex().startswith(r"\frac{\partial^2 f}{\partial x \, \partial x^\top} = ")
    assert str(hessian("logsumexp(x)", "x")) == "p = softmax(x)\n∂²f/∂x∂xᵀ = diag(p) − p pᵀ"
    assert str(hessian("sum(log(x))", "x")) == "∂²f/∂x∂xᵀ = −diag(1 ⊘ x²)"
    assert matcalc.hessian is hessian
    assert h.hessian is not None                                          # SymPy form


def test_logistic_regression_hessian():
    expr = "-y'*log(sigmoid(X*w)) - (1 - y)'*log(1 - sigmoid(X*w))"
    v = {"X": RNG.standard_normal((8, 3)), "w": RNG.standard_normal(3), "y": RNG.integers(0, 2, 8).astype(float)}
    h = hessian(expr, "w")
    s = 1 / (1 + np.exp(-v["X"] @ v["w"]))
    close(h.numpy()(**v), v["X"].T @ np.diag(s * (1 - s)) @ v["X"])
    assert h.verify().ok


def test_scalar_variable_hessian():
    h = hessian("lam^3 + lam*x'*x", "lam")
    v = {"lam": 0.7, "x": RNG.standard_normal(3)}
    close(h.numpy()(**v), 6 * 0.7)


# ---------------------------------------------------------------------- mixed Hessians
def test_mixed_bilinear():
    h = hessian("x'*A*y", "x,y", shapes={"x": (3,), "A": (3, 4), "y": (4,)})
    assert h.text() == "A"
    v = {"x": RNG.standard_normal(3), "A": RNG.standard_normal((3, 4)), "y": RNG.standard_normal(4)}
    got = h.numpy()(**v)
    assert got.shape == (3, 4)
    close(got, v["A"])
    close(got, fd_hessian("x'*A*y", "x", "y", v, shapes={"x": (3,), "A": (3, 4), "y": (4,)}))


@pytest.mark.parametrize("expr,wrt", [("lam*x'*x", "lam,x"), ("sum(exp(W*x))", "x,W"), ("sum(exp(W*x))", "W,x"),
                                      ("u'*tanh(W*x)", "W,x")])
def test_mixed_numeric(expr, wrt):
    shapes = {"W": (3, 2), "x": (2,), "u": (3,), "lam": ()}
    v = {"W": RNG.standard_normal((3, 2)), "x": RNG.standard_normal(2), "u": RNG.standard_normal(3), "lam": 0.3}
    h = hessian(expr, wrt, shapes=shapes)
    a, b = wrt.split(",")
    used = {k: v[k] for k in h.typed.variables}
    close(h.numpy()(**used), fd_hessian(expr, a, b, used, shapes=shapes))
    assert h.verify().ok


def test_derive_comma_list_is_still_first_derivatives():
    d = derive("x'*A*y", "x,y")
    assert d.kind == "gradient" and set(d.results) == {"x", "y"}


# ---------------------------------------------------------------------- Hessians by a matrix
MATRIX_HESSIANS = [
    ("tr(X'*A*X)", {"X": (3, 2), "A": (3, 3)}, None, "kron(eye(2), A + A')"),
    ("norm(A*X - B)^2", {"X": (3, 2), "A": (4, 3), "B": (4, 2)}, None, "2*kron(eye(2), A'*A)"),
    ("logdet(X)", {"X": (3, 3)}, {"X": "spd"}, "-kron(inv(X), inv(X))"),
    ("logdet(X)", {"X": (3, 3)}, None, "-kron(inv(X), inv(X)')*commutation(3, 3)"),   # Cookbook: −(X⁻¹ ⊗ X⁻ᵀ) K
    ("sum(exp(X))", {"X": (2, 3)}, None, "diag(vec(exp(X)))"),
]


@pytest.mark.parametrize("expr,shapes,assume,text", MATRIX_HESSIANS, ids=[f"{c[0]}-{c[2]}" for c in MATRIX_HESSIANS])
def test_matrix_hessian(expr, shapes, assume, text):
    h = hessian(expr, "X", shapes=shapes, assume=assume)
    v = {n: RNG.standard_normal(s) for n, s in shapes.items()}
    if assume or expr.startswith("logdet"):
        v["X"] = spd(3)
    got = h.numpy()(**v)
    assert got.shape == shapes["X"] + shapes["X"]
    close(got, fd_hessian(expr, "X", "X", v, shapes=shapes, assume=assume))
    if text is None:
        assert h.forms["X"] == "jvp"
    else:
        assert h.text() == text
        N = int(np.prod(shapes["X"]))
        M = eval_text(text, v, shapes=shapes, assume=assume)               # the vec form, evaluated
        close(M, got.transpose(1, 0, 3, 2).reshape(N, N))                  # column-major vec
    assert h.verify().ok


# ---------------------------------------------------------------------- matrix by matrix (derive)
TENSORS = [
    ("W*X", "W", {"W": (3, 4), "X": (4, 2)}, "kron(X', eye(3))", "∂vec(W X)/∂vec(W)ᵀ = Xᵀ ⊗ I"),
    ("A*X*B", "X", {"A": (2, 3), "X": (3, 4), "B": (4, 2)}, "kron(B', A)", "∂vec(A X B)/∂vec(X)ᵀ = Bᵀ ⊗ A"),
    ("inv(X)", "X", {"X": (3, 3)}, "-kron(inv(X)', inv(X))", "∂vec(X⁻¹)/∂vec(X)ᵀ = −X⁻ᵀ ⊗ X⁻¹"),
    ("X.*X", "X", {"X": (3, 2)}, "2*diag(vec(X))", "∂vec(X^∘2)/∂vec(X)ᵀ = 2 diag(vec(X))"),
    ("X*X", "X", {"X": (3, 3)}, "kron(X', eye(3)) + kron(eye(3), X)", "∂vec(X X)/∂vec(X)ᵀ = Xᵀ ⊗ I + I ⊗ X"),
    ("X'*X", "X", {"X": (4, 3)}, "kron(X', eye(3))*commutation(4, 3) + kron(eye(3), X')",
     "∂vec(Xᵀ X)/∂vec(X)ᵀ = (Xᵀ ⊗ I) K₍₄,₃₎ + I ⊗ Xᵀ\nK₍₄,₃₎ vec(X) = vec(Xᵀ), the commutation matrix"),
]


@pytest.mark.parametrize("expr,wrt,shapes,text,pretty", TENSORS, ids=[c[0] for c in TENSORS])
def test_tensor(expr, wrt, shapes, text, pretty):
    d = derive(expr, wrt, shapes=shapes)
    assert d.kind == "tensor"
    v = {n: RNG.standard_normal(s) for n, s in shapes.items()}
    if expr == "inv(X)":
        v["X"] = spd(3)
    got = d.numpy()(**v)
    want = fd_tensor(expr, wrt, v, shapes=shapes)
    assert got.shape == want.shape
    close(got, want)
    assert str(d) == pretty
    if text is not None:
        assert d.text() == text
        r, c = got.shape[:2]
        p, q = shapes[wrt]
        M = eval_text(text, v, shapes=shapes)
        close(M, got.transpose(1, 0, 3, 2).reshape(r * c, p * q))
    assert d.verify().ok


# ---------------------------------------------------------------------- assumptions
def _onehot(n, k=None):
    y = np.zeros(n) if k is None else np.zeros((n, k))
    if k is None:
        y[RNG.integers(n)] = 1
    else:
        y[RNG.integers(n, size=k), np.arange(k)] = 1
    return y


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


ASSUMPTIONS = [
    # expr, wrt, assume, values, text
    ("x'*S*x", "x", {"S": "symmetric"}, lambda: {"x": RNG.standard_normal(3), "S": sym(3)}, "2*S"),
    ("x'*inv(S)*x", "x", {"S": "spd"}, lambda: {"x": RNG.standard_normal(3), "S": spd(3)}, "2*inv(S)"),
    ("x'*inv(X)*x", "x", {"X": "invertible"}, lambda: {"x": RNG.standard_normal(3), "X": spd(3) + sym(3) * 0.1},
     "inv(X) + inv(X)'"),
    ("sum(log(x))", "x", {"x": "positive"}, lambda: {"x": RNG.uniform(0.5, 2, 4)}, "-diag(1 ./ x.^2)"),
    ("-y'*log_softmax(W*x)", "x", {"y": "onehot"},
     lambda: {"y": _onehot(4), "W": RNG.standard_normal((4, 3)), "x": RNG.standard_normal(3)},
     "p = softmax(W*x); W'*(diag(p) - p*p')*W"),
    ("-y'*log_softmax(z)", "z", {"y": "probability"},
     lambda: {"y": _softmax(RNG.standard_normal(4)), "z": RNG.standard_normal(4)}, "p = softmax(z); diag(p) - p*p'"),
    ("x'*D*x", "x", {"D": "diagonal"}, lambda: {"x": RNG.standard_normal(3), "D": np.diag(RNG.standard_normal(3))},
     "2*D"),
    ("-sum(Y .* log_softmax(X*W, 2))", "W", {"Y": "onehot_rows"},
     lambda: {"Y": _onehot(3, 5).T, "X": RNG.standard_normal((5, 2)), "W": RNG.standard_normal((2, 3))}, None),
]


@pytest.mark.parametrize("expr,wrt,assume,make,text", ASSUMPTIONS, ids=[next(iter(c[2].values())) for c in ASSUMPTIONS])
def test_assumption(expr, wrt, assume, make, text):
    h = hessian(expr, wrt, assume=assume)
    v = make()
    got = h.numpy()(**v)
    close(got, fd_hessian(expr, wrt, wrt, v, assume=assume))
    if text is not None:
        assert h.text() == text
        close(eval_text(text, v, assume=assume), got)
    assert h.verify().ok
    assert derive(expr, wrt, assume=assume).verify().ok


def test_assumptions_simplify_first_derivatives():
    assert derive("logdet(X)", "X", assume={"X": "symmetric"}).text() == "inv(X)"
    assert derive("logdet(X)", "X").text() == "inv(X)'"
    assert derive("-y'*log_softmax(W*x)", "W", assume={"y": "onehot"}).text() == "(softmax(W*x) - y)*x'"
    assert derive("sum(abs(x))", "x", assume={"x": "positive"}).text() == "ones(n)"
    assert derive("sum(y.*y.*x)", "x", assume={"y": "onehot"}).text() == "y"           # y.^2 = y
    assert derive("sum(diag(diag(D)).*X)", "X", assume={"D": "diagonal"}).text() == "D"
    assert hessian("sum(abs(x).*x)", "x", assume={"x": "positive"}).text() == "2*eye(n)"
    for expr, wrt, assume in [("sum(abs(x).*x)", "x", {"x": "positive"}), ("sum(y.*y.*exp(x))", "x", {"y": "onehot"}),
                              ("sum(sum(Y.^3, 2) .* x)", "x", {"Y": "onehot_rows"}),
                              ("sum(diag(diag(D)).*X.*X)", "X", {"D": "diagonal"})]:
        assert derive(expr, wrt, assume=assume).verify().ok
        assert hessian(expr, wrt, assume=assume).verify().ok


def test_all_eight_assumptions_covered():
    covered = {k for c in ASSUMPTIONS for k in c[2].values()}
    assert covered == {"symmetric", "spd", "invertible", "positive", "onehot", "onehot_rows", "probability",
                       "diagonal"}


# ---------------------------------------------------------------------- the checker catches errors
def test_verify_catches_a_wrong_hessian():
    from matcalc.core import algebra as A
    h = hessian("x'*A*x", "x")
    good = h.results["x"]
    h.results["x"] = A.scale(A.const(1.001), good)
    assert h.verify().status == "mismatch"
    h.results["x"] = good
    assert h.verify().ok


def test_errors():
    with pytest.raises(matcalc.MatcalcError):
        hessian("W*x", "x")                       # not a scalar
    with pytest.raises(matcalc.MatcalcError):
        hessian("x'*y + z'*x", "x,y,z")           # at most a pair


# ---------------------------------------------------------------------- CLI
def test_cli(capsys):
    assert main(["hessian", "x'*A*x", "--wrt", "x"]) == 0
    assert capsys.readouterr().out.strip() == "∂²f/∂x∂xᵀ = A + Aᵀ"
    assert main(["hessian", "logsumexp(x)", "--wrt", "x", "--text"]) == 0
    assert capsys.readouterr().out.strip() == "p = softmax(x); diag(p) - p*p'"
    assert main(["hessian", "logdet(X)", "--wrt", "X", "--assume", "X=spd", "--json"]) == 0
    assert '"text": "-kron(inv(X), inv(X))"' in capsys.readouterr().out
    assert main(["hessian", "W*x", "--wrt", "x"]) == 2
