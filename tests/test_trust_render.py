"""What is printed is right, and every style prints the same layout (issue 10, items 1 and 6).

The printer's memo and the names of intermediates were keyed by ``id()`` of nodes, some of
them temporaries that die while printing; a later node that reused a dead one's id was printed
as that other node (``−1 ⊘ (x − y)² − 1 ⊘ (x − y)²`` for ``sum(1./(x+y) + 1./(x-y))``).  These
tests evaluate the printed text itself, parsed back by matcalc's own parser.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from matcalc import derive

from matcalc import hessian
from matcalc.numeric.finite_differences import parse_printed
from matcalc.numeric.evaluate import evaluate, to_internal
from matcalc.output.render import latex_name

RNG = np.random.default_rng(7)


def text_value(d, inputs: dict) -> np.ndarray:
    """The derivative's printed ``.text()`` parsed back and evaluated at ``inputs`` (one wrt)."""
    typed = parse_printed(d.text(), d.variables_all())
    env = {n: to_internal(v, d.variables_all()[n].attrs[1]) for n, v in inputs.items()}
    leaves = list(d.variables_all().values())
    (val,) = evaluate([typed.output], env, leaves=leaves)
    return np.broadcast_to(val, env[d.wrt[0]].shape).reshape(np.shape(inputs[d.wrt[0]]))


def central(expr: str, wrt: str, inputs: dict, shapes=None, h=1e-6) -> np.ndarray:
    """Central differences of the scalar program ``expr`` by ``wrt``, entry by entry."""
    f = derive(expr, wrt, shapes=shapes, verify=False)
    leaves = list(f.variables_all().values())

    def value(vals):
        env = {n: to_internal(v, f.variables_all()[n].attrs[1]) for n, v in vals.items()}
        return float(np.asarray(evaluate([f.typed.output], env, leaves=leaves)[0]).reshape(()))
    x = np.asarray(inputs[wrt], dtype=float)
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += h
        minus[i] -= h
        out[i] = (value({**inputs, wrt: plus}) - value({**inputs, wrt: minus})) / (2 * h)
    return out


ISSUE_EXAMPLES = [
    ("sum(1./(x+y) + 1./(x-y))", ["(x + y)", "(x - y)"]),
    ("sum(1./(x+1) + 1./(x+2))", ["(x + 1)", "(x + 2)"]),
    ("sum(1./(2*x+1)+1./(3*x+1))", ["(2*x + 1)", "(3*x + 1)"]),
    ("sum(u./(x+1)+u./(x+2))", ["(x + 1)", "(x + 2)"]),
]


@pytest.mark.parametrize("expr,pieces", ISSUE_EXAMPLES, ids=[e for e, _ in ISSUE_EXAMPLES])
def test_issue_examples_print_both_terms_and_the_text_is_right(expr, pieces):
    d = derive(expr, "x")
    text = d.text()
    for piece in pieces:                       # both denominators appear, not one of them twice
        assert piece in text, text
    for piece in pieces:
        assert piece.replace("*", " ").replace("-", "−") in str(d), str(d)
    inputs = {"x": RNG.uniform(3, 4, 4), "y": RNG.uniform(0.5, 1, 4), "u": RNG.standard_normal(4)}
    inputs = {n: v for n, v in inputs.items() if n in d.typed.variables}
    got = text_value(d, inputs)
    np.testing.assert_allclose(got, central(expr, "x", inputs), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got, d.numpy()(**inputs), rtol=1e-10)


def test_many_reciprocal_sums_in_a_row_each_print_right():
    """Ids of dead temporaries are reused from one derivation to the next: print many in a row."""
    x = np.array([0.5, 1.5, 2.5])
    for a in range(1, 5):
        for b in range(a + 1, 6):
            expr = f"sum(1./(x+{a}) + 1./(x+{b}) + sqrt(x+{b}))"
            d = derive(expr, "x", verify=False)
            np.testing.assert_allclose(text_value(d, {"x": x}), central(expr, "x", {"x": x}), rtol=1e-6)


def test_half_power_stays_a_half_power():
    expr = "sum(sqrt(x + 1) .* sqrt(x + 2)) + sum((x + 3).^(1.5))"
    d = derive(expr, "x")
    x = np.array([0.3, 1.1, 2.0])
    np.testing.assert_allclose(text_value(d, {"x": x}), central(expr, "x", {"x": x}), rtol=1e-6)


# ---------------------------------------------------------------------- one layout, three styles
LAYOUT = [
    ("h = sigmoid(W1*x); L = norm(W2*h - y)^2", "W1", {"W1": ("h", "n"), "W2": ("m", "h")}),
    ("h = tanh(W*x + b); s = sum(h .* h); s*s", "W", None),
    ("sum(1./(x+y) + 1./(x-y)) + sum(exp(x - y) .* exp(x - y))", "x", None),
    ("norm(W*x)^2", "W", None),
    ("a = x'*A*x; b = exp(a); b/(1 + b)", "x", None),
    ("logsumexp(W*x)", "W", None),
]


def definitions(rendered: str, sep: str) -> list[str]:
    return [part.split(" = ")[0].strip() for part in re.split(sep, rendered) if " = " in part]


@pytest.mark.parametrize("expr,wrt,shapes", LAYOUT, ids=[c[0] for c in LAYOUT])
def test_text_unicode_latex_share_one_layout(expr, wrt, shapes):
    d = derive(expr, wrt, shapes=shapes)
    text, uni, tex = d.text(), str(d), d.latex()
    text_defs = definitions(text, r"; |\n")
    uni_defs = definitions(uni, "\n")[:-1]          # the last line is ∂f/∂W = ...
    assert text_defs[:len(uni_defs)] == uni_defs
    tex_defs = [latex_name(n) for n in uni_defs]
    tex_rows = tex.replace(" &= ", " = ").replace(" \\\\", "").splitlines()   # one aligned block
    assert definitions("\n".join(r for r in tex_rows if "{aligned}" not in r), "\n")[:-1] == tex_defs
    assert len(text.replace("; ", "\n").splitlines()) == len(uni.splitlines())
    # the text form evaluates to the derivative the graph computes (the unicode one prints it)
    rng = np.random.default_rng(3)
    sizes = {"n": 3, "h": 4, "m": 2}
    vals = {}
    for name, v in d.variables_all().items():
        shape = tuple(sizes.get(str(s), 3) if not s.is_Integer else int(s) for s in v.shape)
        vals[name] = rng.standard_normal(shape[0] if v.attrs[1] == 1 else shape if v.attrs[1] == 2 else ())
    np.testing.assert_allclose(text_value(d, vals), d.numpy()(**vals), rtol=1e-9, atol=1e-12)


def test_hessian_styles_share_names():
    h = hessian("sum(log(sigmoid(x)))", "x")
    assert str(h).splitlines()[0].split(" = ")[0] == h.text().split(";")[0].split(" = ")[0] == "s"


# ---------------------------------------------------------------------- LaTeX for every name
NAMES = ["x", "x_", "x__", "a__b", "x1_2", "W_out_", "_x", "W_out", "x12", "α", "δ_1", "Ωx", "αβ_k",
         "ｘ", "lam", "h2_1", "β2"]


def _check_math(tex: str) -> None:
    """Valid LaTeX math: balanced braces (pylatexenc parses it without error) and every
    unescaped ``_`` opens a braced subscript with at most one subscript per base."""
    from pylatexenc.latexwalker import LatexWalker
    LatexWalker(tex, tolerant_parsing=False).get_latex_nodes()
    i = 0
    while i < len(tex):
        if tex[i] == "\\":
            i += 2
            continue
        if tex[i] == "_":
            assert tex[i + 1: i + 2] == "{", tex
            depth, j = 0, i + 1
            while True:
                depth += {"{": 1, "}": -1}.get(tex[j], 0)
                if depth == 0:
                    break
                j += 1
            assert tex[j + 1: j + 2] != "_", f"double subscript in {tex}"
        i += 1


@pytest.mark.parametrize("name", NAMES)
def test_latex_is_valid_for_every_name(name):
    _check_math(latex_name(name))
    d = derive(f"sum({name}.^2) + {name}'*A*{name}", name)
    _check_math(d.latex())                        # several lines: one aligned block


def test_latex_names_keep_their_meaning():
    assert latex_name("W_out") == "W_{out}" and latex_name("x12") == "x_{12}"
    assert latex_name("α") == r"\alpha" and latex_name("δ_1") == r"\delta_{1}"
    assert latex_name("x_") != latex_name("x") and latex_name("a__b") != latex_name("a_b")
    assert "ｘ" in latex_name("ｘ") and latex_name("ｘ") != latex_name("x")


# ---------------------------------------------------------------------- definitions before uses
@pytest.mark.parametrize("expr,wrt", [
    ("sum(((x + 3).^(0.5)) .* (log(1 + exp(x))) .* (x - y) .* (abs(x) + 1))", "x"),
    ("h = (x) + ((x + 3).^(0.5)); z = sum(h .* h); α = norm((relu(x - 0.3)) ./ (1 + (abs(x) + 1).^2))^2; z*α + z", "x"),
])
def test_a_definition_comes_after_every_name_its_text_uses(expr, wrt):
    """A denominator prints through a temporary (``1 ./ t7`` with ``t7 = t3.^(0.5)``): the text
    used t7 before defining it, so it did not parse back."""
    h = hessian(expr, wrt, verify=False)
    typed = parse_printed(h.text(), h.variables_all())        # raised "used before ... defines it"
    assert typed.output is not None
    assert hessian(expr, wrt).check.status == "ok"


@pytest.mark.parametrize("name", ["L_", "a__b", "δ_1", "loss_2_"])
def test_latex_is_valid_for_output_and_function_names(name):
    """Output names label ∂L/∂W, Hessians and vec forms; generic function names print in
    \\operatorname: all of them escaped like variable names."""
    texts = [derive(f"{name} = sum(tanh(W*x))", "W").latex(),
             hessian(f"{name} = sum(exp(x))", "x").latex(),
             derive(f"{name} = W*X", "W").latex(),
             derive(f"sum(my_{name}(W*x))", "W").latex()]
    for tex in texts:
        _check_math(tex)
