"""Variable exponents (LANGUAGE.md v2): ``A.^p`` and ``a^p`` with a scalar or same-shaped exponent,
variables included, one entry of the rule table (a binary elementwise power); the base is drawn
positive in every numeric check.  Through derive (three styles, the text parsed back and checked),
gradchecked codegen, check and Hessians."""
import numpy as np
import pytest

import matcalc
from matcalc.core.errors import MatcalcError

RNG = np.random.default_rng(5)


def _central(f, x, h=1e-6):
    x = np.asarray(x, dtype=float)
    g = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _positive(shape):
    return float(RNG.uniform(0.5, 2.0)) if shape == () else RNG.uniform(0.5, 2.0, size=shape)


CASES = [
    # expr, wrt, shapes, assume, forward
    ("sum(v.^q)", "q", {"v": (4,), "q": ()}, {"v": "positive"}, lambda v, q: np.sum(v ** q)),
    ("sum(v.^q)", "v", {"v": (4,), "q": ()}, {"v": "positive"}, lambda v, q: np.sum(v ** q)),
    ("c^s", "s", {"c": (), "s": ()}, {"c": "positive"}, lambda c, s: c ** s),
    ("c^s", "c", {"c": (), "s": ()}, {"c": "positive"}, lambda c, s: c ** s),
    ("u'*(b.^v)", "v", {"u": (3,), "b": (3,), "v": (3,)}, {"b": "positive"}, lambda u, b, v: u @ b ** v),
    ("sum(exp(M).^N)", "N", {"M": (2, 3), "N": (2, 3)}, None, lambda M, N: np.sum(np.exp(M) ** N)),
    ("sum(exp(M).^N)", "M", {"M": (2, 3), "N": (2, 3)}, None, lambda M, N: np.sum(np.exp(M) ** N)),
    ("sum(c.^v)", "c", {"c": (), "v": (3,)}, {"c": "positive"}, lambda c, v: np.sum(c ** v)),
]


def _point(shapes, assume):
    return {k: (_positive(s) if (assume or {}).get(k) == "positive" else
                (float(RNG.normal()) if s == () else RNG.normal(size=s))) for k, s in shapes.items()}


@pytest.mark.parametrize("expr, wrt, shapes, assume, f", CASES)
def test_derive_matches_central_differences(expr, wrt, shapes, assume, f):
    d = matcalc.derive(expr, wrt, shapes=shapes, assume=assume)
    vals = _point(shapes, assume)
    got = np.asarray(d.numpy()(**vals))
    want = _central(lambda t: f(**{**vals, wrt: t}), vals[wrt])
    assert got.shape == want.shape
    assert np.allclose(got, want, rtol=1e-6, atol=1e-7)
    assert str(d) and d.latex()
    assert matcalc.check(expr, wrt, d.text(), shapes=shapes, assume=assume).correct


@pytest.mark.parametrize("expr, wrt, shapes, assume, f", CASES)
def test_codegen_is_gradchecked(expr, wrt, shapes, assume, f):
    src = matcalc.codegen(expr, [wrt], shapes=shapes, assume=assume)
    ns: dict = {}
    exec(compile(src, "<generated>", "exec"), ns)  # noqa: S102
    vals = _point(shapes, assume)
    out, cache = ns["forward"](**vals)
    assert np.allclose(out, f(**vals))
    g = ns["backward"](cache, upstream=2.0)[wrt]
    want = _central(lambda t: f(**{**vals, wrt: t}), vals[wrt])
    assert np.allclose(g, 2.0 * want, rtol=1e-6, atol=1e-7)


def test_textbook_forms():
    d = matcalc.derive("sum(v.^q)", "q", shapes={"v": (4,), "q": ()}, assume={"v": "positive"})
    assert d.text() == "sum(v.^q .* log(v))"
    d = matcalc.derive("sum(v.^q)", "v", shapes={"v": (4,), "q": ()}, assume={"v": "positive"})
    assert d.text() == "q*v.^(q - 1)"
    d = matcalc.derive("c^s", "s", shapes={"c": (), "s": ()}, assume={"c": "positive"})
    assert d.text() == "c.^s*log(c)"


def test_check_accepts_and_rejects():
    kw = dict(shapes={"v": (4,), "q": ()}, assume={"v": "positive"})
    assert matcalc.check("sum(v.^q)", "q", "sum(log(v) .* v.^q)", **kw).correct
    wrong = matcalc.check("sum(v.^q)", "q", "sum(q*v.^(q - 1))", **kw)
    assert not wrong.correct
    assert not matcalc.check("sum(v.^q)", "q", "sum(log(v))", **kw).correct
    assert matcalc.check("sum(v.^q)", "v", "q*v.^(q - 1)", **kw).correct


def test_hessian_by_the_base():
    shapes, assume = {"v": (3,), "q": ()}, {"v": "positive"}
    H = matcalc.hessian("sum(v.^q)", "v", shapes=shapes, assume=assume)
    vals = _point(shapes, assume)
    got = np.asarray(H.numpy()(**vals))
    q, v = vals["q"], vals["v"]
    assert np.allclose(got, np.diag(q * (q - 1) * v ** (q - 2)), rtol=1e-7)


def test_hessian_by_the_exponent():
    shapes, assume = {"v": (3,), "q": ()}, {"v": "positive"}
    H = matcalc.hessian("sum(v.^q)", "q", shapes=shapes, assume=assume)
    vals = _point(shapes, assume)
    got = float(np.asarray(H.numpy()(**vals)).reshape(()))
    v, q = vals["v"], vals["q"]
    assert np.isclose(got, np.sum(v ** q * np.log(v) ** 2), rtol=1e-7)


def test_a_matrix_power_keeps_an_integer_literal():
    with pytest.raises(MatcalcError) as e:
        matcalc.derive("trace(X^k)", "X", shapes={"X": (3, 3), "k": ()})
    assert "integer" in str(e.value)


def test_exponent_of_another_shape_is_an_error():
    with pytest.raises(MatcalcError):
        matcalc.derive("sum(v.^u)", "v", shapes={"v": (3,), "u": (4,)})


def test_the_sampler_draws_the_base_positive():
    # no assumption on v: every numeric check still works (the base is drawn positive)
    d = matcalc.derive("sum(v.^q)", "q", shapes={"v": (4,), "q": ()})
    assert d.check is None or d.check.ok
