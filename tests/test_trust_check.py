"""Regression: the grader has neither false accepts nor false rejects (issue "never silently wrong").

Wrong answers that agree with the right one at ordinary points (a term that wakes up far out, a
factor off by 1e-8) are rejected; right answers that the old grader rejected (its own text,
a restated intermediate, a Hessian through ``diag``) are accepted; the diagnosis names an
assumption that would make a textbook answer right.
"""
import pytest

import matcalc
from matcalc import check


@pytest.mark.parametrize("answer", [
    "2*x + relu(x - 100)", "2*x + max(x, 50) - 50", "2*x + relu(x'*x - 1000)*x", "2.00000001*x", "2*x + 1e-9",
    "2*x + 1e-12*x", "(2 + 1e-10)*x",
])
def test_almost_right_answers_are_wrong(answer):
    v = check("x'*x", "x", answer)
    assert not v.correct, answer
    assert v.counterexample is not None


@pytest.mark.parametrize("answer", ["2*x", "x + x", "2*x.*x./x", "(x'*x)*x./(x'*x)*2"])
def test_right_answers_are_right(answer):
    assert check("x'*x", "x", answer).correct


def test_a_factor_close_to_one_is_named_exactly():
    v = check("x'*x", "x", "2.00000001*x")
    assert v.diagnosis == "factor" and "1.000000005" in v.reason


@pytest.mark.parametrize("expr,wrt", [
    ("z1 = sum(b*eye(3)); z1 - tanh(z1)", "b"),
    ("z = W*x + b; h = tanh(z); s = u'*h", "W"),
    ("h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "W2"),
    ("p = softmax(z); -y'*log(p)", "z"),
])
def test_own_text_is_accepted(expr, wrt):
    d = matcalc.derive(expr, wrt)
    v = check(expr, wrt, d.text())
    assert v.correct, (d.text(), v.reason)


def test_answer_definitions_shadow_the_programs():
    program = "z = W*x; h = tanh(z); s = u'*h"
    assert check(program, "W", "z = W*x; (u.*(1 - tanh(z).^2))*x'").correct
    v = check(program, "W", "z = 2*W*x; (u.*(1 - tanh(z).^2))*x'")   # its own z, graded by value
    assert not v.correct and v.diagnosis != "invalid"
    assert check(program, "W", "z = 2*W*x; z = z/2; (u.*(1 - tanh(z).^2))*x'").correct   # reads its first z
    assert not check(program, "W", "z = W*x; z = 2*z; h = z; (u.*(1 - tanh(h).^2))*x'").correct


def test_hessian_through_diag_of_a_product():
    v = check("sum(sigmoid(x))", "x", "diag(sigmoid(x).*(1-sigmoid(x)).*(1-2*sigmoid(x)))", form="hessian")
    assert v.correct, v.reason


@pytest.mark.parametrize("expr,wrt,answer,name,kind", [
    ("-y'*log_softmax(W*x)", "W", "(softmax(W*x) - y)*x'", "y", "onehot"),
    ("-sum(Y.*log_softmax(X*W, 2))", "W", "X'*(softmax(X*W, 2) - Y)", "Y", "onehot_rows"),
])
def test_an_undeclared_assumption_is_named(expr, wrt, answer, name, kind):
    v = check(expr, wrt, answer)
    assert not v.correct
    assert f"--assume {name}={kind}" in v.reason
    assert check(expr, wrt, answer, assume={name: kind}).correct


def test_counts_in_counterexamples_are_positive_integers():
    v = check("sum((X*w - y).^2)/N", "w", "X'*(X*w - y)/N", shapes={"N": ()})
    assert not v.correct
    n = v.counterexample["inputs"]["N"]
    assert float(n).is_integer() and n >= 1


def test_verdicts_are_deterministic():
    a = check("norm(W*x)^2", "W", "W*x*x'").to_dict()
    b = check("norm(W*x)^2", "W", "W*x*x'").to_dict()
    assert a == b


def test_tolerance_follows_rounding():
    """A right answer evaluated with a large cancellation (1e8 I added and removed) is accepted;
    the same with a 1e-7 relative change of one term is not."""
    shapes = {"x": ("n",), "A": ("n", "n")}
    assert check("x'*A*x", "x", "(A + 1e8*eye(n))*x - 1e8*x + A'*x", shapes=shapes).correct
    assert not check("x'*A*x", "x", "(A + 1e8*eye(n))*x - 1e8*x + 1.0000001*A'*x", shapes=shapes).correct


def test_constant_expected_gradient_with_symbolic_sizes_is_graded_not_an_error():
    # the expected n·1 has no variable of its own to fix h: sizes come from all the inputs
    # (it raised "the dimension h is not known from the inputs", exit 2, for a valid question)
    shapes = {"X": ("n", "d"), "W": ("d", "h"), "b": ("h",)}
    assert check("sum(X*W + ones(n)*b')", "b", "sum(ones(n))*ones(h)", shapes=shapes).correct
    assert not check("sum(X*W + ones(n)*b')", "b", "ones(h)", shapes=shapes).correct


def test_scalar_named_like_a_dimension_takes_that_size_in_counterexamples():
    v = check("sum(X*w)/N", "w", "X'*ones(N)", shapes={"X": ("N", "d"), "N": ()})
    ins = v.counterexample["inputs"]
    assert not v.correct and ins["N"] == len(ins["X"]) and float(ins["N"]).is_integer()


def test_label_names_are_one_hot_in_counterexamples_when_that_still_shows_the_error():
    v = check("-sum(Y.*log_softmax(X*W,2))", "W", "X'*(softmax(X*W,2) + Y)")
    Y = v.counterexample["inputs"]["Y"]
    assert not v.correct
    assert all(sorted(row) == [0.0] * (len(row) - 1) + [1.0] for row in Y)
