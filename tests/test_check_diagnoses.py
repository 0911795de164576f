"""Diagnoses that say what is missing: a size or variable factor, a wrong coefficient on one term,
a reduction along the wrong axis, an undeclared assumption, the pretty output pasted as an answer.
Each repair is said only when the repaired answer grades right; right answers stay right."""
from __future__ import annotations

import contextlib
import io

import pytest

from matcalc import check
from matcalc.cli.main import main

N = {"N": ()}
LAM = {"lam": ()}
RIDGE = "norm(X*W - Y)^2 + lam*norm(W)^2"
SOFTMAX = "-sum(Y .* log_softmax(X*W, 2))"


@pytest.mark.parametrize("expr,wrt,answer,shapes,assume", [
    ("norm(X*w - y)^2/N", "w", "2*X'*(X*w - y)/N", N, None),
    ("norm(X*w - y)^2/size(X, 1)", "w", "2*X'*(X*w - y)/size(X, 1)", None, None),
    (RIDGE, "W", "2*X'*(X*W - Y) + 2*lam*W", LAM, None),
    (SOFTMAX, "W", "X'*(softmax(X*W, 2) - Y)", None, {"Y": "onehot_rows"}),
])
def test_right_answers_stay_right(expr, wrt, answer, shapes, assume):
    v = check(expr, wrt, answer, shapes=shapes, assume=assume)
    assert v.correct, v.reason


@pytest.mark.parametrize("expr,wrt,answer,shapes,words", [
    ("norm(X*w - y)^2/N", "w", "2*X'*(X*w - y)", N,
     "it is missing the division by N (/N) (it is N times the right answer)"),
    ("norm(X*w - y)^2/N", "w", "2*X'*(X*w - y)/N/N", N,
     "it is missing the factor N (it is 1/N times the right answer)"),
    ("norm(X*w - y)^2/size(X, 1)", "w", "X'*(X*w - y)", None,
     "it is missing the division by n (/n) and the factor 2 (it is n/2 times the right answer)"),
    ("norm(W*x)^2", "W", "2*lam*W*x*x'", {"lam": ()},
     None),                                                # lam is not in the question: not a name it knows
    ("lam*norm(W*x)^2", "W", "2*W*x*x'", LAM, "it is missing the factor lam"),
    ("norm(W*x)^2 + lam", "W", "2*lam*W*x*x'", LAM, "it has an extra factor lam"),
])
def test_a_size_or_variable_factor(expr, wrt, answer, shapes, words):
    v = check(expr, wrt, answer, shapes=shapes)
    assert not v.correct
    if words is None:
        assert v.diagnosis == "invalid"
        return
    assert v.diagnosis == "variable_factor", v.reason
    assert words in v.reason


@pytest.mark.parametrize("answer,words", [
    ("2*X'*(X*W - Y) + lam*W", "the term lam*W should be 2*lam*W"),
    ("2*X'*(X*W - Y) + 2*W", "the term 2*W should be 2*lam*W"),
    ("2*X'*(X*W - Y) - 2*lam*W", "the term -2*lam*W should be 2*lam*W"),
])
def test_a_wrong_coefficient_on_one_term(answer, words):
    v = check(RIDGE, "W", answer, shapes=LAM)
    assert not v.correct and v.diagnosis == "term_coefficient", v.reason
    assert words in v.reason


def test_a_wrong_reduction_axis():
    v = check(SOFTMAX, "W", "X'*(softmax(X*W) - Y)", assume={"Y": "onehot_rows"})
    assert not v.correct and v.diagnosis == "axis", v.reason
    assert "softmax(X*W) should be softmax(X*W, 2) (along each row)" in v.reason
    v = check("-sum(Y .* log_softmax(X*W))", "W", "X'*(softmax(X*W, 2) - Y)", assume={"Y": "onehot"})
    assert v.diagnosis == "axis" and "softmax(X*W, 2) should be softmax(X*W)" in v.reason
    v = check("sum(X*W, 2)'*y", "y", "sum(X*W, 1)")             # the wrong shape, from the wrong axis
    assert v.diagnosis == "axis" and "sum(X*W, 1) should be sum(X*W, 2) (along each row)" in v.reason
    assert check("sum(X*W, 2)'*y", "y", "sum(X*W, 2)").correct


def test_an_undeclared_assumption_leads_the_reason():
    v = check(SOFTMAX, "W", "X'*(softmax(X*W, 2) - Y)")
    assert not v.correct and v.diagnosis == "assumption"
    assert v.reason.startswith("Your answer is right if Y is a matrix with one-hot rows")
    assert "--assume Y=onehot_rows" in v.reason


def test_the_assumption_is_found_among_many_inputs():
    """Label-like names are tried first, so many inputs do not use up the tries before Y."""
    v = check("h = sigmoid(X*W1 + b1'); S = h*W2 + b2'; L = -sum(Y .* log_softmax(S, 2))/N", "W2",
              "h'*(softmax(S, 2) - Y)/N", shapes=N)
    assert v.diagnosis == "assumption" and "--assume Y=onehot_rows" in v.reason


def test_a_repair_is_said_only_when_it_is_verified():
    """The ratio is N at every ordinary point, but relu(w - 50) wakes up far out: the repaired
    answer (divided by N) is still wrong there, so no factor is claimed."""
    v = check("norm(X*w - y)^2/N", "w", "2*X'*(X*w - y) + relu(w - 50)", shapes=N)
    assert not v.correct and v.diagnosis == "wrong", v.reason
    assert "factor" not in v.reason


def test_pretty_output_is_not_input_but_is_told_what_to_paste():
    v = check("norm(W*x)^2", "W", "2 W x xᵀ")
    assert not v.correct and v.diagnosis == "unreadable"
    assert "looks like matcalc's pretty output" in v.reason and "--text" in v.reason
    assert v.reason.endswith("your answer in that form is 2*W*x*x'.")
    assert check("norm(W*x)^2", "W", "2*W*x*x'").correct                      # what it says to paste
    v = check("-y'*log(sigmoid(X*w)) - (1-y)'*log(1-sigmoid(X*w))", "w", "Xᵀ(σ(X w) − y)")
    assert v.reason.endswith("X'*(sigmoid(X*w) - y).")
    assert "Products need '*': 2*W*x*x'." in check("norm(W*x)^2", "W", "2 W x x'").reason
    assert "pretty" not in check("norm(W*x)^2", "W", "2*W*x*(x'").reason


def test_cli_exit_code_and_message():
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["check", RIDGE, "--wrt", "W", "--shape", "lam=scalar", "--answer", "2*X'*(X*W - Y) + lam*W"])
    assert code == 1 and "the term lam*W should be 2*lam*W" in buf.getvalue()
