"""Diagnoses that say what is missing: a size or variable factor, a wrong coefficient on one term,
a reduction along the wrong axis, an undeclared assumption, the pretty output pasted as an answer.
Each repair is said only when the repaired answer grades right; right answers stay right."""
from __future__ import annotations

import contextlib
import csv
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
    ("2*X'*(X*W - Y) - 2*lam*W", "the wrong sign on one term: the term -2*lam*W should be 2*lam*W"),
    ("2*X'*(X*W - Y) + lam*W", "a wrong coefficient on one term: the term lam*W"),
])
def test_a_wrong_coefficient_on_one_term(answer, words):
    v = check(RIDGE, "W", answer, shapes=LAM)
    assert not v.correct and v.diagnosis == "term_coefficient", v.reason
    assert words in v.reason


def test_a_wrong_reduction_axis():
    v = check(SOFTMAX, "W", "X'*(softmax(X*W) - Y)", assume={"Y": "onehot_rows"})
    assert not v.correct and v.diagnosis == "axis", v.reason
    assert "softmax(X*W, 1) should be softmax(X*W, 2) (along each row)" in v.reason
    v = check("-sum(Y .* log_softmax(X*W))", "W", "X'*(softmax(X*W, 2) - Y)", assume={"Y": "onehot"})
    assert v.diagnosis == "axis" and "softmax(X*W, 2) should be softmax(X*W, 1)" in v.reason
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


MEAN_LOSS = "mean(sum((W*X + b*ones(1,m)).^2, 1))"            # the right gradient by b: 2*mean(W*X + b, 2)
SQUARE = {"W": ("n", "n"), "X": ("n", "n")}


def _repaired(reason: str) -> str:
    """The repaired answer an axis diagnosis states (``the right answer is …``)."""
    assert "; the right answer is " in reason, reason
    return reason.rsplit("; the right answer is ", 1)[1].removesuffix(".")


@pytest.mark.parametrize("expr,wrt,answer,shapes,words", [
    (MEAN_LOSS, "b", "2*mean(W*X + b*ones(1,m), 1)'", None,
     ("takes mean along the wrong axis: mean(W*X + b, 1) should be mean(W*X + b, 2) (along each row), "
     "without the transpose that only made the wrong one fit")),
    (MEAN_LOSS.replace("m)", "n)"), "b", "2*mean(W*X + b*ones(1,n), 1)'", SQUARE,     # both axes n: same shape
     "takes mean along the wrong axis: mean(W*X + b, 1) should be mean(W*X + b, 2) (along each row)"),
    (MEAN_LOSS.replace("m)", "n)"), "b", "2*sum(W*X + b*ones(1,n), 1)'/n", SQUARE,    # the mean written out
     "takes mean along the wrong axis: mean(W*X + b, 1) should be mean(W*X + b, 2)"),
    ("mean(X, 2)'*y", "y", "mean(X, 1)'", None, "mean(X, 1) should be mean(X, 2) (along each row)"),
    ("mean(X, 2)'*y", "y", "mean(X, 1)'", {"X": ("n", "n")}, "mean(X, 1) should be mean(X, 2)"),
    ("sum(mean(X.*X, 2))", "X", "2*X/size(X,1)", None,
     "divides by n (size(X, 1)) where m (size(X, 2)) is right: it averages over the wrong axis"),
    ("sum(mean(X.*X, 1))", "X", "2*X/m", None,
     "divides by m (size(X, 2)) where n (size(X, 1)) is right"),
])
def test_a_mean_along_the_wrong_axis(expr, wrt, answer, shapes, words):
    """The wrong axis of a mean flips its count with it (and drops a transpose added only to fit);
    a count of the other axis written out is the same mistake.  The repaired answer the reason
    states grades right: the diagnosis was verified before it was said."""
    v = check(expr, wrt, answer, shapes=shapes)
    assert not v.correct and v.diagnosis == "axis", v.reason
    assert words in v.reason
    assert check(expr, wrt, _repaired(v.reason), shapes=shapes).correct


@pytest.mark.parametrize("expr,wrt,answer,shapes", [
    (MEAN_LOSS, "b", "3*mean(W*X + b*ones(1,m), 1)'", None),      # the axis and a factor wrong
    (MEAN_LOSS, "b", "2*mean(W*X, 2)", None),                       # b left out: no axis to blame
    (MEAN_LOSS.replace("m)", "n)"), "b", "2*mean(W*X + b*ones(1,n), 1)' + b", SQUARE),
    ("sum(mean(X.*X, 2))", "X", "2*X.^2/size(X,1)", None),          # the count swapped is still wrong
    ("sum(mean(X.*X, 2))", "X", "3*X/size(X,1)", None),
])
def test_no_axis_diagnosis_for_an_answer_wrong_for_another_reason(expr, wrt, answer, shapes):
    v = check(expr, wrt, answer, shapes=shapes)
    assert not v.correct and v.diagnosis != "axis", v.reason
    assert "axis" not in v.reason


def test_mean_axis_right_answers_stay_right():
    assert check(MEAN_LOSS, "b", "2*mean(W*X + b, 2)").correct
    assert check("sum(mean(X.*X, 2))", "X", "2*X/size(X,2)").correct
    assert check("sum(mean(X.*X, 2))", "X", "2*X/size(X,1)", shapes={"X": ("n", "n")}).correct


def test_the_cli_and_the_batch_grader_say_the_same_axis_diagnosis(tmp_path):
    api = check("sum(mean(X.*X, 2))", "X", "2*X/size(X,1)").reason
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["check", "sum(mean(X.*X, 2))", "--wrt", "X", "--answer", "2*X/size(X,1)"])
    assert code == 1 and f"wrong: {api}" in buf.getvalue()
    src, out = tmp_path / "a.csv", tmp_path / "r.csv"
    src.write_text('id,expr,wrt,answer\n'
                   f'a,"{MEAN_LOSS}",b,"2*mean(W*X + b*ones(1,m), 1)\'"\n'
                   'b,"sum(mean(X.*X, 2))",X,"2*X/size(X,1)"\n', encoding="utf-8")
    assert main(["check", "--batch", str(src), "-o", str(out)]) == 0
    with open(out, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["diagnosis"] for r in rows] == ["axis", "axis"]
    assert rows[0]["reason"] == check(MEAN_LOSS, "b", "2*mean(W*X + b*ones(1,m), 1)'").reason
    assert rows[1]["reason"] == api
