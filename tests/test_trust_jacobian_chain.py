"""Regression: the Jacobian through a product, whatever the association (LANGUAGE.md v2:
"every product is allowed wherever its shapes fit").  ``(x xᵀ) x`` and ``(a xᵀ) x`` were
"cannot write the Jacobian through matmul in closed form"; ``x (xᵀ x)`` worked."""
import numpy as np
import pytest

import matcalc

RNG = np.random.default_rng(3)
n = 3
VALUES = {"x": RNG.normal(size=n), "a": RNG.normal(size=n), "u": RNG.normal(size=n),
          "A": RNG.normal(size=(n, n)), "B": RNG.normal(size=(n, n)), "W": RNG.normal(size=(2, n))}
FORWARD = {
    "a*x'*x": lambda v, x: v["a"] * (x @ x),
    "x*x'*x": lambda v, x: x * (x @ x),
    "(x*x')*x": lambda v, x: x * (x @ x),
    "x*(x'*x)": lambda v, x: x * (x @ x),
    "A*x*x'*x": lambda v, x: v["A"] @ x * (x @ x),
    "x*x'*A*x": lambda v, x: x * (x @ v["A"] @ x),
    "(A*x)*(x'*B*x)": lambda v, x: v["A"] @ x * (x @ v["B"] @ x),
    "x*x'*x*x'*x": lambda v, x: x * (x @ x) ** 2,
    "W*x*x'*u": lambda v, x: v["W"] @ x * (x @ v["u"]),
    # diag(x) inside a longer chain: L diag(x) R = L diag(R) x ("cannot write the Jacobian
    # through diag in closed form" before; diag(x)*(A*y) worked)
    "diag(x)*A*u": lambda v, x: x * (v["A"] @ v["u"]),
    "A*diag(x)*u": lambda v, x: v["A"] @ (x * v["u"]),
    "B*diag(x)*A*u": lambda v, x: v["B"] @ (x * (v["A"] @ v["u"])),
    "diag(x)*A*x": lambda v, x: x * (v["A"] @ x),
    "W*diag(tanh(x))*A*x": lambda v, x: v["W"] @ (np.tanh(x) * (v["A"] @ x)),
}


def _fd_jacobian(f, x, h=1e-6):
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        cols.append((f(x + e) - f(x - e)) / (2 * h))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("expr", sorted(FORWARD))
def test_jacobian_through_any_association(expr):
    d = matcalc.derive(expr, "x", shapes={"W": (2, n)} if "W" in expr else None)
    names = [k for k in VALUES if k in d.typed.variables]
    got = d.numpy()(**{k: VALUES[k] for k in names})
    want = _fd_jacobian(lambda x: FORWARD[expr](VALUES, x), VALUES["x"])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    assert d.verify().status == "ok"
    assert "kron" not in d.text()                  # vector cases stay in plain matrix form


def test_diag_in_a_chain_reads_as_the_textbook_writes_it():
    assert str(matcalc.derive("diag(x)*A*y", "x")) == "∂f/∂x = diag(A y)"
    assert str(matcalc.derive("B*diag(x)*A*y", "x")) == "∂f/∂x = B diag(A y)"


def test_scalar_times_inner_product():
    d = matcalc.derive("a*x'*x", "x", shapes={"a": ()})
    x = VALUES["x"]
    np.testing.assert_allclose(d.numpy()(a=1.5, x=x), 3.0 * x, rtol=1e-12)
