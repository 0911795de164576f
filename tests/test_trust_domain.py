"""Numeric points must lie in the domain: inv, det and logdet are checked only where their
argument is invertible; a product that is its own transpose (Xᵀ X) is known symmetric (its
inverse prints once, not as t1 + t1ᵀ); an --at point that does not fit the expression is bad
input."""
from __future__ import annotations

import numpy as np
import pytest

import matcalc
from central import central_gradient
from matcalc.core import algebra as A
from matcalc.core.graph import dim
from matcalc.numeric.finite_differences import well_conditioned


@pytest.mark.parametrize("expr,shown", [
    ("logdet(X'*X)", "∂f/∂X = 2 X(Xᵀ X)⁻¹"),
    ("log(det(X'*X))", "∂f/∂X = 2 X(Xᵀ X)⁻¹"),
    ("logdet(X*X')", "∂f/∂X = 2(X Xᵀ)⁻¹ X"),
])
def test_gram_matrices_with_symbolic_sizes_derive_and_verify(expr, shown):
    """With X's sizes left open the checker once drew X wider than tall, where Xᵀ X is singular,
    and reported the right answer as a mismatch (exit 3)."""
    d = matcalc.derive(expr, "X")
    assert str(d) == shown and d.check.status == "ok"


def test_the_printed_gram_gradient_is_the_derivative():
    d = matcalc.derive("logdet(X'*X)", "X", shapes={"X": (5, 3)})
    X = np.random.default_rng(0).standard_normal((5, 3))
    expected = central_gradient(lambda X: np.linalg.slogdet(X.T @ X)[1], X)
    assert np.allclose(d.numpy()(X=X), expected, atol=1e-6)
    assert d.text() == "2*X*inv(X'*X)"


def test_a_singular_argument_is_not_a_point_to_check_at():
    X = A.var("X", (dim(2), dim(3)), 2)
    root = A.logdet(A.matmul(A.transpose(X), X))          # 3×3 of rank 2
    wide = np.random.default_rng(1).standard_normal((2, 3))
    tall = np.random.default_rng(1).standard_normal((3, 2))
    assert not well_conditioned([root], lambda n: wide.T @ wide if n.op == "matmul" else wide)
    assert well_conditioned([root], lambda n: tall.T @ tall if n.op == "matmul" else tall)


def test_a_product_is_symmetric_only_when_it_is_its_own_transpose():
    X = A.var("X", (dim("n"), dim("m")), 2)
    B = A.var("B", (dim("m"), dim("m")), 2)
    assert A.is_symmetric(A.matmul(A.transpose(X), X))
    assert not A.is_symmetric(A.matmul(A.transpose(X), A.matmul(X, B)))


@pytest.mark.parametrize("argv,message", [
    (["graph", "sum(tanh(a*x))", "--at", "a=0.5,x=[0.1,0.2]", "-o", "-"], "x is a scalar in this expression"),
    (["derive", "u'*W*x", "--wrt", "W", "--shape", "W=2,3", "--at", "u=[1,2],W=[1,2,3;4,5,6],x=[1,2]"],
     "x has 3 rows"),
    (["derive", "u'*W*x", "--wrt", "W", "--at", "u=[1,2],W=[1,2,3;4,5,6],x=[1,2]"], "dimension m is 3"),
])
def test_a_point_that_does_not_fit_the_expression_is_bad_input(argv, message, capsys):
    """--at values of the wrong kind or size are exit 2 with the name, not an internal error."""
    from matcalc.cli.main import main
    assert main(argv) == 2
    assert message in capsys.readouterr().err
