"""derive() and hessian() verify what they show, by default (issue 10, items 1, 2 and 4).

The verification parses the printed ``.text()`` back with matcalc's own parser, evaluates it and
compares it (and the graph behind it) with central differences at small concrete sizes.
"""
from __future__ import annotations

import numpy as np
import pytest

from matcalc import derive

from matcalc.derivation import derivation as api

from matcalc import hessian

from matcalc.numeric import sampling as sampling
from matcalc.cli.main import main
from matcalc.core.errors import VerificationError


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("expr,wrt", [("norm(W*x)^2", "W"), ("sum(1./(x+y) + 1./(x-y))", "x"),
                                      ("h = sigmoid(W1*x); norm(W2*h - y)^2", "W1,W2"), ("W*x", "x")])
def test_derive_verifies_the_graph_and_the_printed_text_by_default(expr, wrt):
    d = derive(expr, wrt)
    assert d.check is not None and d.check.status == "ok"
    for w in d.wrt:
        assert w in d.check.errors and f"{w} (printed text)" in d.check.errors
    assert derive(expr, wrt, verify=False).check is None


def test_the_check_is_deterministic():
    a, b = derive("h = tanh(W*x); sum(h.^3)", "W"), derive("h = tanh(W*x); sum(h.^3)", "W")
    assert a.check.errors == b.check.errors


def _wrong_text(monkeypatch, wrong: str):
    """Make the printer show a wrong formula in text style (the graph stays right)."""
    original = api.Derivation.render

    def render(self, style="unicode", form="gradient"):
        return wrong if style == "text" else original(self, style, form)
    monkeypatch.setattr(api.Derivation, "render", render)


def test_a_wrong_printed_formula_raises_naming_the_variable(monkeypatch):
    _wrong_text(monkeypatch, "-1 ./ (x - y).^2 - 1 ./ (x - y).^2")     # the wrong formula
    with pytest.raises(VerificationError) as e:
        derive("sum(1./(x+y) + 1./(x-y))", "x")
    assert "x (printed text" in str(e.value) and "relative error" in str(e.value)
    assert derive("sum(1./(x+y) + 1./(x-y))", "x", verify=False).numpy() is not None


def test_a_wrong_printed_formula_exits_3_on_the_cli(monkeypatch, capsys):
    _wrong_text(monkeypatch, "2*x")
    code, out, err = run(capsys, "derive", "sum(x.^3)", "--wrt", "x")
    assert code == 3 and out == "" and "x (printed text" in err
    code, out, _ = run(capsys, "derive", "sum(x.^3)", "--wrt", "x", "--no-verify")
    assert code == 0 and out.strip()


def test_an_unparseable_printed_text_is_a_verification_error(monkeypatch):
    _wrong_text(monkeypatch, "3*x.^2 +")
    with pytest.raises(VerificationError, match="does not parse back"):
        derive("sum(x.^3)", "x")


def test_the_cli_verifies_once(monkeypatch, capsys):
    calls = []
    original = api.Derivation.verify

    def counting(self, *a, **k):
        calls.append(1)
        return original(self, *a, **k)
    monkeypatch.setattr(api.Derivation, "verify", counting)
    code, _, _ = run(capsys, "derive", "norm(W*x)^2", "--wrt", "W", "--json")
    assert code == 0 and len(calls) == 1
    code, _, _ = run(capsys, "derive", "norm(W*x)^2", "--wrt", "W", "--no-verify")
    assert code == 0 and len(calls) == 1


def test_hessian_verifies_its_printed_text(monkeypatch):
    h = hessian("x'*A*x + sum(exp(x))", "x")
    assert h.check.status == "ok" and "x (printed text)" in h.check.errors
    m = hessian("tr(X*X)", "X")
    assert m.forms["X"] == "vec" and "X (printed text)" in m.check.errors
    import matcalc.derivation.hessian as H
    original = H.Hessian.render
    monkeypatch.setattr(H.Hessian, "render", lambda self, style="unicode", form="hessian":
                        "A" if style == "text" else original(self, style, form))
    with pytest.raises(VerificationError, match="x"):
        hessian("x'*A*x", "x")


def test_tensor_vec_form_text_is_verified_and_other_forms_say_what_was_not():
    d = derive("X*A*X", "X")
    assert d.forms["X"] == "vec" and "X (printed text)" in d.check.errors
    idx = derive("diag(X)", "X", shapes={"X": (3, 3)})
    assert idx.forms["X"] == "index" and idx.check.status == "ok"
    assert any("no parseable text form" in n and "only the graph" in n for n in idx.notes)
    h = hessian("sum(diag(X).^3)", "X", shapes={"X": (3, 3)})
    assert h.forms["X"] == "index" and any("no parseable text form" in n for n in h.notes)


# ---------------------------------------------------------------------- small sizes
def _record_draws(monkeypatch):
    shapes = []
    original = sampling.draw

    def draw(rng, shape, assumption, strategy):
        shapes.append(shape)
        return original(rng, shape, assumption, strategy)
    monkeypatch.setattr(sampling, "draw", draw)
    import matcalc.numeric.finite_differences as F
    monkeypatch.setattr(F, "draw", draw)
    return shapes


@pytest.mark.parametrize("size", [150, 100000])
def test_large_declared_sizes_are_checked_small(monkeypatch, size):
    drawn = _record_draws(monkeypatch)
    d = derive("W*X", "W", shapes={"W": (size, size), "X": (size, size)})
    assert d.check.status == "ok" and f"{size} → 3" in d.check.detail
    assert drawn and max(max(s) for s in drawn) <= sampling.LARGEST_CHECKED
    assert d.forms["W"] == "vec" and str(size) in d.text()           # what is shown keeps the size


def test_large_sizes_on_the_cli_are_fast_and_small(capsys):
    code, out, _ = run(capsys, "derive", "W*X", "--shape", "W=100000,100000", "--shape", "X=100000,100000",
                       "--wrt", "W", "--text")
    assert code == 0 and "100000" in out


def test_sizes_stay_distinct_and_kept_sizes_are_not_reused():
    small, mapping = sampling.small_shapes({"A": (150, 200), "B": (200, 3), "x": (150,)})
    assert mapping[150] != mapping[200] and 3 not in mapping.values()
    assert small == {"A": (mapping[150], mapping[200]), "B": (mapping[200], 3), "x": (mapping[150],)}


def test_a_literal_that_pins_a_size_is_checked_at_it_when_affordable(monkeypatch):
    drawn = _record_draws(monkeypatch)
    d = derive("x'*eye(150)*x", "x", shapes={"x": (150,)})
    assert d.check.status == "ok" and max(max(s) for s in drawn) == 150


def test_a_check_that_cannot_run_small_says_so(capsys):
    d = derive("sum(x .* ones(100000))", "x", shapes={"x": (100000,)})
    assert d.check.status == "skipped"
    assert any("verification skipped" in n and "100000" in n for n in d.notes)
    code, _, err = run(capsys, "derive", "sum(x .* ones(100000))", "--shape", "x=100000", "--wrt", "x", "--text")
    assert code == 0 and "note: verification skipped" in err


def test_hessian_large_sizes_checked_small(monkeypatch):
    drawn = _record_draws(monkeypatch)
    h = hessian("x'*A*x", "x", shapes={"x": (5000,), "A": (5000, 5000)})
    assert h.check.status == "ok" and max(max(s) for s in drawn) <= sampling.LARGEST_CHECKED
    np.testing.assert_equal(str(h), "∂²f/∂x∂xᵀ = A + Aᵀ")


def test_random_programs_verify_their_printed_text():
    """Seeded random programs (reused intermediates, a Unicode name, kinks): derive and hessian
    each verify the printed text without a parse-back failure or a mismatch."""
    import random
    rnd = random.Random(5)
    pieces = ["x", "x + y", "x - y", "2*x + 1", "W*x", "sigmoid(x)", "tanh(W*x)", "exp(x)", "x .* y",
              "softmax(x)", "relu(x - 0.3)", "sqrt(x.^2 + 1)", "1./(x + 2)", "(x + 3).^(0.5)", "abs(x) + 1"]
    checked = 0
    for _ in range(12):                # derivation (its simplifier) dominates the time, not the check
        a, b = rnd.choice(pieces), rnd.choice(pieces)
        expr = f"h = ({a}) .* ({b}); z = sum(h .* h); α = sum(({a}) ./ (1 + ({b}).^2)); z*α + z"
        for kind in (derive, hessian):
            d = kind(expr, "x", shapes={"W": (7, 7)} if "W" in expr else None)
            assert d.check.status == "ok", (expr, d.check)
            assert not any("no parseable" in n or "could not be rebuilt" in n for n in d.notes), (expr, d.notes)
            checked += 1
    assert checked == 24


def test_the_shown_text_at_declared_sizes_must_parse_too(monkeypatch):
    """Checked at small sizes, the text shown at the declared ones is still parsed back."""
    original = api.Derivation.render

    def render(self, style="unicode", form="gradient"):
        text = original(self, style, form)
        return text + " +" if style == "text" and "150" in str(self.typed.variables["W"].shape) else text
    monkeypatch.setattr(api.Derivation, "render", render)
    with pytest.raises(VerificationError, match="does not parse back"):
        derive("sum(W*x)", "W", shapes={"W": (150, 150), "x": (150,)})
    assert derive("sum(W*x)", "W", shapes={"W": (3, 3), "x": (3,)}).check.status == "ok"


def test_the_budget_counts_intermediate_values_too():
    """x has 1000 entries but x*x' has a million: pinned by ones(1000), the check is skipped."""
    d = derive("sum(x*x') + sum(x .* ones(1000))", "x", shapes={"x": (1000,)})
    assert d.check.status == "skipped" and any("1000000 entries" in n for n in d.notes)
