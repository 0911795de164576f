"""Indexing (LANGUAGE.md v2): x[i], A[i, j], A[:, j], A[i, :] with literals counted from 1 and
index names (shapes o=index) counted from 0 in NumPy, selections through the unit vector eₒ."""
from __future__ import annotations

import numpy as np
import pytest

import matcalc
from matcalc.core.errors import MatcalcError, ParseError, ShapeError
from matcalc.output.explain import explain

W2V = "-log(softmax(U'*v)[o])"
W2V_SHAPES = {"U": ("d", "V"), "v": ("d",), "o": "index"}


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def test_word2vec_naive_softmax_is_textbook():
    d = matcalc.derive(W2V, "v", shapes=W2V_SHAPES)
    assert d.render("unicode") == "∂f/∂v = U(softmax(Uᵀ v) − eₒ)"
    assert d.text() == "U*(softmax(U'*v) - unit(o, V))"
    assert "e_{o}" in d.latex()
    dU = matcalc.derive(W2V, "U", shapes=W2V_SHAPES)
    assert "unit(o, V)" in dU.text()


def test_numpy_counts_an_index_name_from_zero():
    rng = np.random.default_rng(1)
    U, v = rng.standard_normal((4, 6)), rng.standard_normal(4)
    f = matcalc.derive(W2V, "v", shapes={"U": (4, 6), "v": (4,), "o": "index"}).numpy()
    for o in range(6):
        e = np.zeros(6)
        e[o] = 1.0
        assert np.allclose(f(U=U, v=v, o=o), U @ (_softmax(U.T @ v) - e))


def test_a_literal_counts_from_one():
    d = matcalc.derive("-log_softmax(z)[3]", "z", shapes={"z": (5,)})
    assert d.text() == "softmax(z) - unit(3, 5)"
    z = np.arange(5.0)
    e = np.zeros(5)
    e[2] = 1.0
    assert np.allclose(d.numpy()(z=z), _softmax(z) - e)


@pytest.mark.parametrize("expr,wrt,shapes,right,wrong", [
    (W2V, "v", {"U": (4, 6), "v": (4,), "o": "index"}, "U*(softmax(U'*v) - unit(o, 6))",
     "U*(unit(o, 6) - softmax(U'*v))"),
    ("norm(W[:, o] - v)^2", "W", {"W": (4, 5), "v": (4,), "o": "index"}, "2*(W[:, o] - v)*unit(o, 5)'",
     "2*(W[:, o] - v)*ones(5)'"),
    ("log(sigmoid(W[o, :]*x))", "W", {"W": (4, 3), "x": (3,), "o": "index"},
     "(1 - sigmoid(W[o, :]*x))*unit(o, 4)*x'", "(1 - sigmoid(W*x))*x'"),
    ("A[2, j]*x[1]", "x", {"A": (3, 4), "x": (2,), "j": "index"}, "A[2, j]*unit(1, 2)", "A[2, j]*unit(2, 2)"),
    ("-log_softmax(z)[3]", "z", {"z": (5,)}, "softmax(z) - unit(3, 5)", "softmax(z) - unit(4, 5)"),
])
def test_derive_codegen_check(expr, wrt, shapes, right, wrong):
    d = matcalc.derive(expr, wrt, shapes=shapes)
    assert matcalc.check(expr, wrt, d.text(), shapes=shapes).correct
    assert matcalc.check(expr, wrt, right, shapes=shapes).correct
    assert not matcalc.check(expr, wrt, wrong, shapes=shapes).correct
    assert matcalc.gradcheck(expr, wrt, shapes=shapes).ok
    source = matcalc.codegen(expr, wrt, shapes=shapes)
    ns: dict = {}
    exec(source, ns)
    rng = np.random.default_rng(0)
    inputs = {n: (rng.integers(2) if s == "index" else rng.standard_normal(s)) for n, s in shapes.items()}
    out, cache = ns["forward"](**inputs)
    assert np.allclose(ns["backward"](cache)[wrt], d.numpy()(**inputs))


def test_hessian_and_steps_through_a_selection():
    h = matcalc.hessian("-log(softmax(z)[o])", "z", shapes={"z": (4,), "o": "index"})
    assert "softmax" in h.text()
    assert matcalc.codegen_hessian("-log(softmax(z)[o])", "z", shapes={"z": (4,), "o": "index"})
    out = explain(matcalc.derive(W2V, "v", shapes=W2V_SHAPES, steps=True))
    assert "eₒ" in out


@pytest.mark.parametrize("bad,error,needle", [
    ("x[0]", ParseError, "counted from 1"),
    ("x[1.5]", ParseError, "counted from 1"),
    ("x[]", ParseError, "empty brackets"),
    ("x[:]", ParseError, "write x"),
    ("A[1, 2, 3]", ParseError, "at most two"),
    ("x[1", ParseError, "unclosed '['"),
    ("x[i]", ShapeError, "--shape i=index"),
    ("A[o]", ShapeError, "is a matrix"),
])
def test_bad_indices_are_clear_errors(bad, error, needle):
    with pytest.raises(error) as e:
        matcalc.derive(bad, "x" if "x" in bad else "A", shapes={"o": "index"})
    assert needle in str(e.value) and "^" in str(e.value)


def test_out_of_range_literal_and_index_misuse():
    with pytest.raises(ShapeError, match="out of range"):
        matcalc.derive("x[4]", "x", shapes={"x": (3,)})
    with pytest.raises(MatcalcError, match="index name"):
        matcalc.derive("o*sum(x)", "x", shapes={"o": "index"})
    with pytest.raises(MatcalcError, match="nothing is differentiated"):
        matcalc.derive("x[o]", "o", shapes={"o": "index"})


def test_cli_accepts_index_shapes(capsys):
    from matcalc.cli.main import main
    assert main(["derive", W2V, "--wrt", "v", "--shape", "o=index", "--text"]) == 0
    assert "unit(o" in capsys.readouterr().out


def test_selections_print_as_indexing_and_parse_back():
    d = matcalc.derive("norm(W[:, o] - v)^2", "W", shapes={"W": (4, 5), "v": (4,), "o": "index"})
    assert d.render("unicode") == "∂f/∂W = 2(W[:, o] − v) eₒᵀ"
    d = matcalc.derive("log(sigmoid(W[o, :]*x))", "W", shapes={"W": (4, 3), "x": (3,), "o": "index"})
    assert d.text() == "(1 - sigmoid(W[o, :]*x))*unit(o, 4)*x'"
    d = matcalc.derive("x[2]*y[o]", "y", shapes={"o": "index"})
    assert d.text().startswith("x[2]*unit(o, ")


def test_word2vec_negative_sampling():
    expr = "-log(sigmoid(U[:, o]'*v)) - sum(log(sigmoid(-N'*v)))"
    shapes = {"U": ("d", "V"), "v": ("d",), "N": ("d", "K"), "o": "index"}
    d = matcalc.derive(expr, "v", shapes=shapes)
    assert d.render("unicode") == "∂f/∂v = N(1 − σ(−Nᵀ v)) − (1 − σ(U[:, o]ᵀ v)) U[:, o]"
    assert matcalc.gradcheck(expr, "v", shapes=shapes).ok
    dU = matcalc.derive(expr, "U", shapes=shapes)
    assert dU.text() == "-(1 - sigmoid(U[:, o]'*v))*v*unit(o, V)'"


def test_word2vec_as_a_program_reads_y_hat():
    d = matcalc.derive("ŷ = softmax(U'*v); -log(ŷ[o])", "v", shapes=W2V_SHAPES)
    assert d.render("unicode") == "ŷ = softmax(Uᵀ v)\n∂f/∂v = U(ŷ − eₒ)"


def test_at_counts_an_index_from_one(capsys):
    from matcalc.cli.main import main
    assert main(["derive", "-log(sigmoid(x[o]))", "--wrt", "x", "--shape", "x=2", "--shape", "o=index",
                 "--at", "o=2,x=[1,-1]"]) == 0
    assert "∂f/∂x = [0, -0.731059]" in capsys.readouterr().out
