"""matcalc.check / `matcalc check`: every diagnosis, answers in context, batch mode, CLI exit
codes, and a fuzz test that only ever sees verdicts or matcalc errors."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import matcalc
from matcalc.cli.main import main
from matcalc.core.errors import InternalError, MatcalcError
from matcalc.grading.answer import MAX_ANSWER_CHARS
from matcalc.grading.check import Verdict, check

MLP = "z = W*x + b; h = f(z); s = u'*h"


# ---------------------------------------------------------------------------- diagnoses
def test_correct_symbolic_and_numeric():
    v = check("x'*B*x", "x", "(B + B')*x")
    assert v.correct and v.diagnosis == "correct" and v.counterexample is None
    v = check("x'*B*x", "x", "B'*x + B*x")              # equal, differently written
    assert v.correct and v.diagnosis == "correct"
    assert check("tr(P*Q)", "Q", "P'").correct


def test_layout_transposed_gradient_is_not_correct():
    v = check("x'*B*x", "x", "x'*(B + B')")
    assert not v.correct and v.diagnosis == "layout"
    assert "transpose" in v.reason and "Jacobian" in v.reason
    v = check("tr(P*Q)", "Q", "P", shapes={"P": (3, 3), "Q": (3, 3)})   # same shape, transposed values
    assert v.diagnosis == "layout"
    v = check("x'*B*x", "x", "(B + B')*x", form="jacobian")
    assert v.diagnosis == "layout" and "gradient" in v.reason
    assert check("x'*B*x", "x", "x'*(B + B')", form="jacobian").correct


def test_layout_equal_when_symmetric_is_correct():
    assert check("x'*S*x", "x", "2*x'*S", assume={"S": "symmetric"}, form="jacobian").correct


def test_wrong_shape_names_both_shapes():
    v = check("norm(M*v)^2", "M", "2*M*v", shapes={"M": (4, 3), "v": (3,)})
    assert not v.correct and v.diagnosis == "wrong_shape"
    assert "column vector of length 4" in v.reason and "4×3" in v.reason


@pytest.mark.parametrize("answer, factor, words", [
    ("M*v*v'", 0.5, "missing the factor 2"),
    ("-2*M*v*v'", -1.0, "sign is flipped"),
    ("4*M*v*v'", 2.0, "extra factor 2"),
    ("-M*v*v'", -0.5, "missing the factor 2"),
])
def test_constant_factor(answer, factor, words):
    v = check("norm(M*v)^2", "M", answer)
    assert not v.correct and v.diagnosis == "factor"
    assert v.factor == pytest.approx(factor) and words in v.reason
    assert v.counterexample is not None


def test_missing_and_extra_term():
    expr = "norm(X*w - y)^2 + mu*norm(w)^2"
    v = check(expr, "w", "2*X'*(X*w - y)")
    assert v.diagnosis == "missing_term" and v.term == "2*mu*w" and "2*mu*w" in v.reason
    v = check(expr, "w", "2*X'*(X*w - y) + 2*mu*w + X'*y")
    assert v.diagnosis == "extra_term" and v.term == "X'*y"


def test_plainly_wrong_has_a_true_small_counterexample():
    v = check("x'*B*x", "x", "2*B*x")
    assert not v.correct and v.diagnosis == "wrong"
    ce = v.counterexample
    x, B = np.array(ce["inputs"]["x"]), np.array(ce["inputs"]["B"])
    assert x.shape == (2,) and B.shape == (2, 2)            # the smallest sizes
    assert np.allclose(ce["expected"], (B + B.T) @ x, atol=1e-5)
    assert np.allclose(ce["answer"], 2 * B @ x, atol=1e-5)
    assert not np.allclose(ce["expected"], ce["answer"])
    assert "counterexample" in str(v)


def test_unreadable_and_invalid_answers():
    assert check("x'*B*x", "x", "(B + B'*x").diagnosis == "unreadable"
    assert check("x'*B*x", "x", "2 B x").diagnosis == "unreadable"
    assert check("x'*B*x", "x", "").diagnosis == "unreadable"
    assert check("x'*B*x", "x", "x" * (MAX_ANSWER_CHARS + 1)).diagnosis == "unreadable"
    v = check("x'*B*x", "x", "B*q")
    assert v.diagnosis == "invalid" and "q" in v.reason
    v = check("-sum(sum(Y .* log_softmax(X*W, 2)))/size(X, 1)", "W", "X'*(softmax(X*W, 2) - Y)/N")
    assert v.diagnosis == "invalid" and "its sizes: n = size(Y, 1), m = size(Y, 2), k = size(X, 2)" in v.reason
    v = check("x'*B*x", "x", "x = 2*x; B*x")
    assert v.diagnosis == "invalid" and "redefine" in v.reason
    v = check(MLP, "W", "z = W*x; (u .* f'(z))*x'")     # the answer's own z shadows the program's
    assert not v.correct and v.diagnosis == "wrong"
    v = check("x'*B*x", "x", "B*x + x'")
    assert v.diagnosis == "invalid"
    assert not any(check("x'*B*x", "x", a).correct for a in ["B*q", "(B + B'*x", "x = 2*x; B*x"])


def test_bad_question_raises():
    with pytest.raises(MatcalcError):
        check("x'*B*", "x", "B*x")
    with pytest.raises(MatcalcError):
        check("x'*B*x", "x", 3)
    with pytest.raises(MatcalcError):
        check("x'*B*x", "x", "B*x", form="laplacian")
    with pytest.raises(MatcalcError):
        check("x'*B*x", "y", "B*x")


# ---------------------------------------------------------------------------- answers in context
def test_intermediates_generic_functions_and_unicode():
    assert check(MLP, "W", "(u .* f'(z))*x'").correct
    assert check(MLP, "W", "(u ∘ f'(z))*xᵀ").correct
    assert check(MLP, "b", "u .* f'(W*x + b)").correct
    assert check(MLP, "W", "(u .* f(z))*x'").diagnosis == "wrong"
    assert check("z = M*v; h = tanh(z); s = sum(h)", "M", "(1 − h.^2)*vᵀ").correct
    assert check("tr(inv(X))", "X", "−(X⁻¹*X⁻¹)ᵀ", assume={"X": "invertible"}).correct
    assert check("tr(inv(X))", "X", "-X⁻ᵀ*X⁻ᵀ", assume={"X": "invertible"}).correct


@pytest.mark.parametrize("expr, wrt, kw", [
    (MLP, "W", {}),
    ("z = W*x; h = tanh(z); s = sum(h)", "W", {}),
    ("norm(M*v)^2", "M", {}),
    ("-y'*log_softmax(W*x)", "W", {"assume": {"y": "onehot"}}),
    ("sigmoid(M*v)", "v", {}),
    ("logdet(X'*X)", "X", {"shapes": {"X": (5, 3)}}),
])
def test_own_text_output_pasted_back_is_accepted(expr, wrt, kw):
    d = matcalc.derive(expr, wrt, **kw)
    v = check(expr, wrt, d.text(), **kw)
    assert v.correct, v
    if d.kind == "gradient":
        assert check(expr, wrt, d.render("text", "jacobian"), form="jacobian", **kw).correct
        assert v.expected == d.text()


def test_assumptions_are_respected():
    expr, ans = "-y'*log_softmax(W*x)", "(softmax(W*x) - y)*x'"
    assert check(expr, "W", ans, assume={"y": "onehot"}).correct
    assert not check(expr, "W", ans).correct                  # needs sum(y) = 1
    assert check("x'*S*x", "x", "2*S*x", assume={"S": "symmetric"}).correct
    assert check("sum(log(p))", "p", "1 ./ p", assume={"p": "positive"}).correct


def test_nonsmooth_and_scalar_cases():
    assert check("sum(relu(M*v))", "v", "M'*relu'(M*v)").correct
    assert not check("sum(relu(M*v))", "v", "M'*relu(M*v)").correct
    assert check("sigmoid(a*b + c)", "a", "sigmoid(a*b + c)*(1 - sigmoid(a*b + c))*b",
                 shapes={"a": (), "b": (), "c": ()}).correct


def test_hessian_form():
    if not hasattr(matcalc, "hessian"):
        with pytest.raises(MatcalcError):
            check("norm(M*v - c)^2", "v", "2*M'*M", form="hessian")
        return
    assert check("norm(M*v - c)^2", "v", "2*M'*M", form="hessian").correct
    v = check("norm(M*v - c)^2", "v", "M'*M", form="hessian")
    assert v.diagnosis == "factor"


def test_huge_or_slow_answers_are_bounded():
    nest = "kron(" * 6 + "B" + ", B)" * 6
    v = check("tr(B*X)", "X", nest)
    assert not v.correct
    assert not check("tr(B*X)", "X", "B^100000", shapes={"B": (3, 3), "X": (3, 3)}).correct


# ---------------------------------------------------------------------------- CLI
def test_cli_exit_codes(capsys, monkeypatch):
    assert main(["check", "x'*B*x", "--wrt", "x", "--answer", "(B + B')*x"]) == 0
    assert main(["check", "x'*B*x", "--wrt", "x", "--answer", "2*B*x"]) == 1
    out = capsys.readouterr().out
    assert "counterexample" in out and "expected: (B + B')*x" in out
    assert main(["check", "x'*B*", "--wrt", "x", "--answer", "B*x"]) == 2
    assert main(["check", "x'*B*x", "--answer", "B*x"]) == 2
    assert main(["check", "norm(M*v)^2", "--wrt", "M", "--answer", "2*M*v*v'", "--shape", "M=3,2", "--shape", "v=2",
                 "--form", "gradient", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["correct"] is True

    def boom(*a, **k):
        raise InternalError("boom")
    monkeypatch.setattr("matcalc.check", boom)
    assert main(["check", "x'*B*x", "--wrt", "x", "--answer", "B*x"]) == 3


def _write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "expr", "wrt", "answer", "shapes", "assume", "form"])
        w.writeheader()
        w.writerows(rows)


def test_batch_csv_with_a_bad_row(tmp_path, capsys):
    src, out = tmp_path / "answers.csv", tmp_path / "report.csv"
    _write_csv(src, [
        {"id": "ana", "expr": "norm(M*v)^2", "wrt": "M", "answer": "2*M*v*v'", "shapes": "M=n,m v=m"},
        {"id": "bo", "expr": "norm(M*v)^2", "wrt": "M", "answer": "2*v*v'*M'", "shapes": "M=n,m v=m"},
        {"id": "cy", "expr": "norm(M*v", "wrt": "M", "answer": "2*M*v*v'"},                 # bad question
        {"id": "di", "expr": "-y'*log_softmax(W*x)", "wrt": "W", "answer": "(softmax(W*x) - y)*x'",
         "assume": "y=onehot"},
        {"id": "ed", "expr": "x'*B*x", "wrt": "x", "answer": "x'*(B + B')", "form": "jacobian"},
        {"id": "fa", "expr": "x'*B*x", "wrt": "x", "answer": "B*x", "shapes": "B=oops=1"},   # bad shapes
    ])
    assert main(["check", "--batch", str(src), "-o", str(out)]) == 0
    with open(out, encoding="utf-8") as fh:
        rows = {r["id"]: r for r in csv.DictReader(fh)}
    assert [rows[i]["verdict"] for i in ["ana", "bo", "cy", "di", "ed", "fa"]] == \
        ["correct", "wrong", "error", "correct", "correct", "error"]
    assert rows["bo"]["diagnosis"] == "layout" and rows["bo"]["reason"]
    assert rows["cy"]["reason"]
    assert "3 correct, 1 wrong, 2 errors" in capsys.readouterr().err


def test_batch_jsonl_with_a_bad_line(tmp_path, capsys):
    src, out = tmp_path / "answers.jsonl", tmp_path / "report.json"
    lines = [json.dumps({"id": 1, "expr": "x'*B*x", "wrt": "x", "answer": "2*B*x"}),
             "{not json",
             json.dumps({"id": 3, "expr": "norm(M*v)^2", "wrt": "M", "answer": "M*v*v'",
                         "shapes": {"M": [3, 2], "v": [2]}}),
             json.dumps({"id": 4, "expr": "x'*B*x", "wrt": "x"})]                        # no answer
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["check", "--batch", str(src), "-o", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert [r["verdict"] for r in report["rows"]] == ["wrong", "error", "wrong", "error"]
    assert report["rows"][2]["diagnosis"] == "factor"
    assert report["summary"] == {"rows": 4, "correct": 0, "wrong": 2, "error": 2,
                                 "diagnoses": {"error": 2, "factor": 1, "wrong": 1}}


def test_batch_progress_bar_on_a_tty(tmp_path, capsys, monkeypatch):
    src = tmp_path / "big.csv"
    _write_csv(src, [{"id": i, "expr": "x'*B*x", "wrt": "x", "answer": "(B + B')*x"} for i in range(25)])
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert main(["check", "--batch", str(src)]) == 0
    captured = capsys.readouterr()
    assert "25/25" in captured.err and captured.out.count("correct") >= 25


def test_batch_unreadable_file_is_bad_input(tmp_path):
    assert main(["check", "--batch", str(tmp_path / "missing.csv")]) == 2
    (tmp_path / "cols.csv").write_text("a,b\n1,2\n")
    assert main(["check", "--batch", str(tmp_path / "cols.csv")]) == 2


# ---------------------------------------------------------------------------- fuzz
ALPHABET = "xBvMzuhWb()'*+-./^,;=0123 12ᵀ∘−⁻¹‖²fsumtrinvdiag\n\t.e_"
SEEDS = ["(B + B')*x", "2*B*x", "x'*(B + B')", "B*x + B'*x", "sum(B)*x", "inv(B)*x", "norm(x)^2*x",
         "diag(x)*B*x", "tr(B)*x", "B^2*x", "exp(x) .* x", "(B ∘ B)ᵀ*x", "x/norm(x)", "relu(B*x)"]
def FUZZ(n):
    return settings(max_examples=n, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


def _assert_verdict_or_error(expr, wrt, answer, **kw):
    try:
        v = check(expr, wrt, answer, **kw)
    except InternalError as e:                      # a crash is never acceptable
        raise AssertionError(f"internal error on {answer!r}: {e}") from e
    except MatcalcError:
        return
    assert isinstance(v, Verdict) and isinstance(v.correct, bool) and v.reason


@FUZZ(6000)
@given(st.text(alphabet=ALPHABET, max_size=30))
def test_fuzz_random_strings(answer):
    _assert_verdict_or_error("x'*B*x", "x", answer)


@FUZZ(3000)
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 40), st.sampled_from(ALPHABET),
                                                  st.sampled_from(["ins", "del", "rep"])),
                                        min_size=1, max_size=3))
def test_fuzz_mutated_answers(seed, edits):
    s = seed
    for pos, ch, op in edits:
        pos %= len(s) + 1
        s = s[:pos] + ch + s[pos:] if op == "ins" else s[:pos] + s[pos + 1:] if op == "del" else \
            s[:pos] + ch + s[pos + 1:]
    _assert_verdict_or_error("x'*B*x", "x", s)


@FUZZ(1200)
@given(st.text(max_size=40))
def test_fuzz_arbitrary_unicode_in_context(answer):
    _assert_verdict_or_error(MLP, "W", answer)


# ---------------------------------------------------------------------------- worked example
def test_worked_grading_example_is_fresh():
    import importlib.util
    import os
    here = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "worked_examples", "grading")
    spec = importlib.util.spec_from_file_location("grading_regenerate", os.path.join(here, "regenerate.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with open(os.path.join(here, "report.csv"), encoding="utf-8", newline="") as fh:
        checked_in = fh.read()
    assert mod.report_text() == checked_in, "report.csv is stale: run worked_examples/grading/regenerate.py"
    rows = list(csv.DictReader(checked_in.splitlines()))
    diagnoses = {r["diagnosis"] for r in rows}
    assert {"correct", "layout", "factor", "unreadable", "missing_term"} <= diagnoses
