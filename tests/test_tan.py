"""``tan``, added as one entry of the rule table, end to end: every stage reads it from there.

Derive (Unicode, text, LaTeX), steps, generated code (gradchecked), grading, Hessian and the
picture, with no stage knowing the name ``tan`` (its poles are kinks the sampler avoids).
"""
from __future__ import annotations

import numpy as np

import matcalc
from matcalc.api import graph_model
from matcalc.core.rules import ELEMENTWISE
from matcalc.numeric.sampling import away_from_kinks
from matcalc.output.explain import explain
from matcalc.output.picture import to_dot

EXPR = "sum(tan(W*x))"


def test_derive_prints_every_form_and_verifies():
    d = matcalc.derive(EXPR, "W")
    assert d.render("unicode") == "∂f/∂W = (1 + tan(W x)²) xᵀ"
    assert d.text() == "(1 + tan(W*x).^2)*x'"
    assert r"\tan(W \, x)^{2}" in d.latex()
    assert "z₂ = tan(z₁)" in explain(matcalc.derive(EXPR, "W", steps=True))


def test_generated_code_is_gradchecked_and_calls_numpy_tan():
    source = matcalc.codegen(EXPR, "W")
    assert "np.tan(" in source and "Verified by matcalc" in source
    assert matcalc.gradcheck(EXPR, "W").ok


def test_check_grades_tan_answers():
    assert matcalc.check(EXPR, "W", "(1 + tan(W*x).^2)*x'").correct
    wrong = matcalc.check(EXPR, "W", "(1 - tan(W*x).^2)*x'")
    assert not wrong.correct and wrong.counterexample is not None


def test_hessian_and_picture():
    assert matcalc.hessian("sum(tan(x))", "x").render("unicode") == "∂²f/∂x∂xᵀ = 2 diag((1 + tan(x)²) ∘ tan(x))"
    dot = to_dot(graph_model("tan(x)*y", at={"x": 0.3, "y": 2.0}, precision=6))
    assert "label=<tan<br/>" in dot and "2.19138" in dot          # 2 (1 + tan²(0.3))


def test_points_near_a_pole_are_rejected():
    kinks = [("z", None, ELEMENTWISE["tan"].kinks)]
    assert not away_from_kinks(lambda n: np.array([np.pi / 2 + 3 * np.pi + 0.01]), kinks)
    assert away_from_kinks(lambda n: np.array([0.3, -1.2, 4.0]), kinks)
