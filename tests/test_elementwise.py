"""The elementwise pass: logistic-type losses print as the Matrix Cookbook would (issue 6).

Every printed form is also checked numerically: derivatives against central finite differences
(``verify``), catalogue identities by evaluating the expression before and after at random points,
``.text()`` forms by parsing them back.  Cases that must *not* change (a denominator that can be
zero, a product that is already textbook) are in the catalogue too.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from matcalc.core import algebra as A
from matcalc import derive
from matcalc.simplify import elementwise as elementwise
from matcalc import hessian
from matcalc.language.program import typed_program
from matcalc.core.graph import dim
from matcalc.numeric.evaluate import evaluate, to_internal
from matcalc.output.render import Printer
from matcalc.simplify.rewrite import simplify_all

RNG = np.random.default_rng(11)


@pytest.fixture(autouse=True)
def strict(monkeypatch):
    """A SymPy failure inside the pass is a test failure here, not a silently kept region."""
    monkeypatch.setattr(elementwise, "STRICT", True)


def eval_text(text, values):
    names = typed_program(text, None, None).variables
    typed = typed_program(text, {n: np.shape(values[n]) for n in names}, None)
    env = {n: to_internal(values[n], v.attrs[1]) for n, v in typed.variables.items()}
    return evaluate([typed.output], env)[0]


def close(got, want, tol=1e-6):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.size == want.size
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    assert float(np.max(np.abs(got.reshape(want.shape) - want), initial=0.0)) / scale < tol


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ---------------------------------------------------------------------- the three losses
LOGISTIC = "sum(log(1 + exp(X*w))) - y'*X*w"
CROSS_ENTROPY = "-y'*log(sigmoid(X*w)) - (1-y)'*log(1-sigmoid(X*w))"
MARGIN = "sum(log(1 + exp(-y.*(X*w))))"


def data(labels="01"):
    X, w = RNG.standard_normal((7, 3)), RNG.standard_normal(3)
    y = RNG.integers(0, 2, 7).astype(float)
    return {"X": X, "w": w, "y": 2 * y - 1 if labels == "pm1" else y}


@pytest.mark.parametrize("expr", [LOGISTIC, CROSS_ENTROPY])
def test_logistic_losses_print_as_the_textbook(expr):
    d = derive(expr, "w")
    assert str(d) == "∂f/∂w = Xᵀ(σ(X w) − y)"
    assert d.text() == "X'*(sigmoid(X*w) - y)"
    assert d.verify().ok
    v = data()
    close(d.numpy()(**v), v["X"].T @ (sigmoid(v["X"] @ v["w"]) - v["y"]))
    close(eval_text(d.text(), v), v["X"].T @ (sigmoid(v["X"] @ v["w"]) - v["y"]))

    h = hessian(expr, "w")
    assert str(h) == "s = σ(X w)\n∂²f/∂w∂wᵀ = Xᵀ diag(s ∘ (1 − s)) X"
    assert h.verify().ok
    s = sigmoid(v["X"] @ v["w"])
    close(h.numpy()(**v), v["X"].T @ np.diag(s * (1 - s)) @ v["X"])
    close(eval_text(h.text(), v), v["X"].T @ np.diag(s * (1 - s)) @ v["X"])


def test_margin_loss_with_labels_plus_minus_one():
    d = derive(MARGIN, "w")
    assert str(d) == "∂f/∂w = −Xᵀ(y ∘ σ(−y ∘ (X w)))"
    assert d.verify().ok
    v = data("pm1")
    m = v["y"] * (v["X"] @ v["w"])
    close(d.numpy()(**v), -v["X"].T @ (v["y"] * sigmoid(-m)))
    close(eval_text(d.text(), v), -v["X"].T @ (v["y"] * sigmoid(-m)))

    h = hessian(MARGIN, "w")
    assert str(h) == "s = σ(−y ∘ (X w))\n∂²f/∂w∂wᵀ = Xᵀ diag(y² ∘ s ∘ (1 − s)) X"
    assert h.verify().ok
    s = sigmoid(-m)
    close(h.numpy()(**v), v["X"].T @ np.diag(v["y"] ** 2 * s * (1 - s)) @ v["X"])


def test_sigmoid_neuron_gradient_is_sigma_times_one_minus_sigma():
    d = derive("1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0,w2")
    assert str(d) == "t1 = σ(w0 x0 + w1 x1 + w2)\nt2 = 1 − t1\n∂f/∂w0 = t1 t2 x0\n∂f/∂w2 = t1 t2"
    assert d.verify().ok


def test_scalar_softplus_gradient():
    d = derive("log(1 + exp(w'*x))", "w")
    assert str(d) == "∂f/∂w = σ(wᵀx) x"
    assert d.verify().ok


# ---------------------------------------------------------------------- catalogue
N = {"z": "n", "x": "n", "y": "n", "c": "scalar", "a": "scalar", "A": ("n", "n"), "W": ("n", "m"), "v": "m"}

CATALOGUE = [
    # (expression, assumptions, printed after the pass)
    ("exp(z)./(1 + exp(z))", None, "σ(z)"),
    ("1./(1 + exp(-z))", None, "σ(z)"),
    ("exp(-z)./(1 + exp(-z))", None, "σ(−z)"),
    ("exp(a)/(1 + exp(a))", None, "σ(a)"),
    ("c*exp(z)./(1 + exp(z))", None, "c σ(z)"),
    ("exp(z).*(y - 1)./(exp(z) + 1)", None, "σ(z) ∘ (y − 1)"),
    # σ' written with exponentials is σ(1 − σ); written with σ it already is and stays
    ("exp(z)./(1 + exp(z)) - exp(z).^2./(1 + exp(z)).^2", None, "σ(z) ∘ (1 − σ(z))"),
    ("sigmoid(z).*(1 - sigmoid(z))", None, "σ(z) ∘ (1 − σ(z))"),
    ("((1 - y)./(1 - sigmoid(z)) - y./sigmoid(z)).*sigmoid(z).*(1 - sigmoid(z))", None, "σ(z) − y"),
    # tanh' and tanh'' stay in their textbook forms (expanding would not drop a term)
    ("1 - tanh(z).^2", None, "1 − tanh(z)²"),
    ("-2*tanh(z).*(1 - tanh(z).^2)", None, "−2(tanh(z) ∘ (1 − tanh(z)²))"),
    # cancellation by a factor that is never zero (exp > 0, 1 + exp > 0)
    ("(exp(z).^2 - 1)./(exp(z) + 1)", None, "exp(z) − 1"),
    ("(exp(z).*x + exp(z))./exp(z)", None, "x + 1"),
    # ... but never by one that can be zero: x − 1, x, y + z stay in the denominator
    ("(x.^2 - 1)./(x - 1)", None, "(x² − 1) ⊘ (x − 1)"),
    ("(x.*y + x)./x", None, "(x ∘ y + x) ⊘ x"),
    ("(x.*y + x.*z)./(y + z)", None, "(x ∘ y + x ∘ z) ⊘ (y + z)"),
    ("(x.*y + x)./x", {"x": "positive"}, "y + 1"),                  # x > 0: now it may go
    # sums of products drop terms that cancel
    ("x.*(y + z) - x.*y", None, "x ∘ z"),
    ("(x + y).*(x - y) + y.^2", None, "x²"),
    # non-elementwise leaves are kept as they are
    ("A*x + exp(z)./(1 + exp(z))", None, "A x + σ(z)"),
    ("W'*(exp(W*v)./(1 + exp(W*v)))", None, "Wᵀ σ(W v)"),
    # not smaller with σ: left alone
    ("exp(z)./(1 + exp(z)) + exp(z)", None, "exp(z) ⊘ (1 + exp(z)) + exp(z)"),
    ("sigmoid(z)./(1 - sigmoid(z))", None, "σ(z) ⊘ (1 − σ(z))"),
]


def _values(typed, assume):
    values = {}
    for name, v in typed.variables.items():
        dims = [{"n": 5, "m": 3, "1": 1}[str(d)] for d in v.shape]
        x = RNG.standard_normal(dims)
        if (assume or {}).get(name) == "positive":
            x = np.abs(x) + 0.1
        values[name] = x
    return values


@pytest.mark.parametrize("expr,assume,printed", CATALOGUE)
def test_catalogue(expr, assume, printed):
    names = set(re.findall(r"[A-Za-z_]\w*", expr))
    typed = typed_program(expr, {k: s for k, s in N.items() if k in names}, assume)
    before = typed.output
    (after,) = simplify_all([before])
    assert Printer()(after) == printed
    if printed != Printer()(before):                   # a change must print strictly shorter
        assert len(printed) < len(Printer()(before))
    for _ in range(3):
        values = _values(typed, assume)
        env = {n: to_internal(values[n], 2) for n in values}
        x, y = evaluate([before, after], env)
        close(np.broadcast_to(y, np.shape(x)), x, tol=1e-9)


def test_catalogue_is_at_least_ten_identities():
    assert len(CATALOGUE) >= 10


def test_non_elementwise_leaves_are_the_same_nodes():
    typed = typed_program("A*x + exp(z)./(1 + exp(z))", N, None)
    (after,) = simplify_all([typed.output])
    Ax = next(t for t in typed.output.args if t.op == "matmul")
    assert any(t is Ax for t in after.args)
    assert A.ew("sigmoid", typed.variables["z"]) in after.args


def test_diag_products_and_sums_merge():
    n = dim("n")
    a, b, c = (A.var(k, (n, dim(1)), 1) for k in "abc")
    X = A.var("X", (n, n), 2)
    (out,) = simplify_all([A.matmul(A.matmul(A.diag(a), A.diag(b)), X)])
    assert Printer()(out) == "diag(a ∘ b) X"
    (out,) = simplify_all([A.add(A.matmul(A.diag(a), A.diag(b)), A.diag(c))])
    assert Printer()(out) == "diag(a ∘ b + c)"


def test_memoised_and_idempotent():
    typed = typed_program("exp(z)./(1 + exp(z)) - exp(z).^2./(1 + exp(z)).^2", N, None)
    (once,) = simplify_all([typed.output])
    (twice,) = simplify_all([typed.output])
    assert twice is once and simplify_all([once])[0] is once


def test_large_regions_are_left_to_the_constructors(monkeypatch):
    terms = " + ".join(f"x.^{k}./(1 + exp(z))" for k in range(1, 30))
    typed = typed_program(terms, N, None)
    calls = []
    monkeypatch.setattr(elementwise._Region, "best", lambda self: calls.append(self) or None)
    (after,) = simplify_all([typed.output])
    assert calls == []                              # bounded by counts: never handed to SymPy
    assert elementwise.measure(after) <= elementwise.measure(typed.output)


def test_deterministic_across_processes():
    code = ("from matcalc import hessian; print(hessian(\"-y'*log(sigmoid(X*w)) - (1-y)'*log(1-sigmoid(X*w))\", 'w'));"
            "from matcalc import derive; print(derive('sum(log(1 + exp(-y.*(X*w))))', 'w'))")
    outs = set()
    for seed in ("0", "1"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                env=env, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))).stdout)
    assert len(outs) == 1


# ---------------------------------------------------------------------- never worse, never wrong
ROBUST = [
    ("sum(softplus(X*w)) - y'*X*w", "w", None), ("sum(sqrt(x.^2 + 1))", "x", None),
    ("sum(x.^(3/2))", "x", {"x": "positive"}), ("sum(log(x)./x)", "x", {"x": "positive"}),
    ("sum(exp(x)./(exp(x) + exp(y)))", "x", None), ("sum(tanh(x).^2)", "x", None),
    ("sum(1./(1 + x.^2))", "x", None), ("sum(log(sigmoid(x)))", "x", None), ("sum(log(1 - sigmoid(x)))", "x", None),
    ("norm(x)^-1", "x", None), ("sum(exp(-x.^2/2))", "x", None), ("sum(sin(x).^2 + cos(x).^2)", "x", None),
    ("sum((x - y).^2 ./ (x + y))", "x", {"x": "positive", "y": "positive"}),
    ("trace(X)/(1 + exp(trace(X)))", "X", None), ("sum(log(1 + exp(x)) - x.*sigmoid(x))", "x", None),
    ("sum(exp(2*x)./(1 + exp(2*x)))", "x", None), ("sum(sigmoid(x)./(1 - sigmoid(x)))", "x", None),
    ("sum(x./(1 + abs(x)))", "x", None), ("u'*f(W*x + b)", "W", None),
]


@pytest.mark.parametrize("expr,wrt,assume", ROBUST)
def test_never_longer_and_still_right(expr, wrt, assume, monkeypatch):
    import matcalc.simplify.rewrite as S
    kinds = [derive] + ([hessian] if "abs" not in expr and "f(" not in expr else [])
    after = [k(expr, wrt, assume=assume) for k in kinds]
    for d in after:
        assert d.verify().status in ("ok", "skipped"), str(d)
    monkeypatch.setattr(S, "_elementwise_pass", lambda roots: roots)
    before = [k(expr, wrt, assume=assume) for k in kinds]
    for a, b in zip(after, before):
        assert len(str(a)) <= len(str(b)), (str(a), str(b))


def test_sigma_prime_keeps_its_textbook_sign():
    assert str(hessian("sum(log(sigmoid(x)))", "x")) == "s = σ(x)\n∂²f/∂x∂xᵀ = −diag(s ∘ (1 − s))"
    assert str(hessian("sum(tanh(x).^2)", "x")) == "∂²f/∂x∂xᵀ = 2 diag((1 − 3 tanh(x)²) ∘ (1 − tanh(x)²))"
    assert str(hessian("sum(exp(-x.^2/2))", "x")) == "∂²f/∂x∂xᵀ = diag(exp(−0.5 x²) ∘ (x² − 1))"
