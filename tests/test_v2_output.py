"""Results as a course writes them (issue 12 item 2, issue 14 item 3): every form below is what
matcalc prints, and each derive verified its own printed text (parsed back, by differences)."""
from __future__ import annotations

import re

import numpy as np
import pytest

import matcalc
from matcalc.api import graph_model
from matcalc.language.parser import parse
from matcalc.language.shapes import build
from matcalc.output.explain import parse_at

BN = ("M = X - mean(X, 1); s = sqrt(mean(M.^2, 1) + eps); Xh = M ./ s; "
      "L = sum(sum(G .* (g' .* Xh + bt')))")


def _verified(d):
    assert d.check.status == "ok"
    return d


def test_a_count_prints_as_its_dimension_in_text_and_is_read_back_as_the_size():
    d = _verified(matcalc.derive("sum(x)/numel(x)", "x"))
    assert str(d) == "∂f/∂x = 𝟏/n" and d.text() == "ones(n)/n"
    v = matcalc.check("sum(x)/numel(x)", "x", "ones(n)/n")
    assert v.correct and v.expected == "ones(n)/n"
    assert not matcalc.check("sum(x)/numel(x)", "x", "ones(n)/2").correct


def test_a_dimension_name_is_a_size_only_where_nothing_else_defines_it():
    typed = build(parse("ones(n)/n"), {"x": ("n",)}, sizes=True)
    assert "n" not in typed.variables and typed.output.args          # n is the size leaf, not an input
    plain = build(parse("x/n"), {"x": ("n",)})
    assert "n" in plain.variables                                     # the language itself is unchanged
    declared = build(parse("x/n"), {"x": ("n",), "n": ()}, sizes=True)
    assert "n" in declared.variables


def test_variable_exponent_latex_has_no_parentheses_in_the_braces():
    d = _verified(matcalc.derive("sum(x.^lam)", ["x"]))
    assert r"x^{\lambda - 1}" in d.latex()


def test_x_to_the_x_is_simplified():
    d = _verified(matcalc.derive("sum(x.^x)", "x"))
    assert str(d) == "∂f/∂x = x^x ∘ (1 + log(x))"


def test_mse_steps_do_not_read_a_diagonal_as_a_mean():
    d = matcalc.derive("mean((W*x - y).^2)", "W", steps=True)
    text = d.steps_text()
    assert "mean(diag(" not in text and "2 z₃ᵀ/n" in text


def test_an_index_name_shows_its_value_from_one_in_the_picture():
    model = graph_model("-log(softmax(z)[o])", shapes={"o": "index", "z": (3,)}, at=parse_at("o=2,z=[1,2,3]"))
    values = [e.value for e in model.edges]
    assert "2" in values and "1" not in values[:1]
    assert "2" == next(e.value for e in model.edges if e.src == next(n.key for n in model.nodes if n.label == "o"))


def test_no_unused_intermediate_and_names_numbered_from_one():
    d = _verified(matcalc.derive(BN, ["X", "g", "bt"], shapes={"G": ("n", "m"), "eps": ()}))
    text = str(d)
    defined = re.findall(r"^(\w+) = ", text, re.M)
    body = text.split("\n")
    for name in defined:                                              # every definition is used later
        assert any(re.search(rf"\b{name}\b", line.split(" = ", 1)[1]) for line in body
                   if not line.startswith(f"{name} = "))
    temps = sorted(int(n[1:]) for n in defined if re.fullmatch(r"t\d+", n))
    assert temps == list(range(1, len(temps) + 1))


def test_all_ones_of_different_lengths_carry_their_size():
    d = _verified(matcalc.derive("x'*ones(n, m)*y", ["x", "y"], shapes={"x": ("n",), "y": ("m",)}))
    assert str(d) == "∂f/∂x = 𝟏ₙ𝟏ₘᵀ y\n∂f/∂y = 𝟏ₘ𝟏ₙᵀ x"
    one = _verified(matcalc.derive("size(X, 1)*sum(X)", "X", shapes={"X": ("n", "m")}))
    assert str(one) == "∂f/∂X = n 𝟏ₙ𝟏ₘᵀ"
    same = _verified(matcalc.derive("sum(G .* (X*W + b'))", "b"))
    assert str(same) == "∂f/∂b = Gᵀ 𝟏"                                 # one length: a plain 𝟏


@pytest.mark.parametrize("expr,wrt,kw,want", [
    ("-log(softmax(U'*v)[o])", "U", {"shapes": {"o": "index"}}, "∂f/∂U = v(softmax(Uᵀ v) − eₒ)ᵀ"),
    ("(x-m)'*A*(x-m)", "m", {"form": "jacobian"}, "∂f/∂m = −(x − m)ᵀ(Aᵀ + A)"),
    ("tr(X*X*B)", "X", {}, "∂f/∂X = (X B + B X)ᵀ"),
])
def test_transposes_of_differences_stay_together(expr, wrt, kw, want):
    form = kw.pop("form", "gradient")
    d = _verified(matcalc.derive(expr, wrt, **kw))
    assert d.render("unicode", form) == want


def test_a_common_scalar_factor_comes_out():
    d = _verified(matcalc.derive("S = X*W; M = max(0, S - sum(S .* Y, 2) + 1) .* (1 - Y); "
                                 "L = sum(sum(M))/size(X, 1)", "W", assume={"Y": "onehot_rows"}))
    assert str(d).endswith("∂L/∂W = Xᵀ(t1 − (t1 𝟏 𝟏ᵀ) ∘ Y)/n")


def test_a_bias_gradient_reads_as_a_column_sum_consistently():
    d = _verified(matcalc.derive("h = relu(X*W1 + b1'); S = h*W2 + b2'; "
                                 "L = -sum(sum(Y .* log_softmax(S, 2)))/size(X, 1)", ["b1", "b2"],
                                 assume={"Y": "onehot_rows"}))
    b1, b2 = (line for line in str(d).splitlines() if line.startswith("∂L/∂b"))
    assert b1.startswith("∂L/∂b1 = sum(") and b1.endswith(", 1)ᵀ/n")      # not mean(t4ᵀ, 2)
    assert b2 == "∂L/∂b2 = sum(t2, 1)ᵀ/n"


def test_a_named_hadamard_product_is_used_wherever_its_factors_appear():
    d = _verified(matcalc.derive(BN, "g", shapes={"G": ("n", "m"), "eps": ()}))
    assert str(d).endswith("∂L/∂g = sum(G ∘ Xh, 1)ᵀ") and "Xh = M ⊘ (𝟏 s)" in str(d)


@pytest.mark.parametrize("axis", [1, 2])
def test_the_centred_fact_holds_down_columns_and_across_rows(axis):
    """𝟏ᵀ(x − mean(x)) = 0: the gradient through the mean of a centred matrix vanishes, so the
    gradient of ‖X − mean(X, k)‖² is 2 xc, whichever the axis."""
    d = _verified(matcalc.derive(f"xc = X - mean(X, {axis}); L = sum(sum(xc .* xc))", "X"))
    assert str(d).endswith("∂L/∂X = 2 xc")
