"""Random well-typed expressions, differentiated and checked against finite differences."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import matcalc

SHAPES = {"x": ("n",), "y": ("n",), "W": ("n", "n"), "V": ("n", "n"), "s": ()}

vector_leaf = st.sampled_from(["x", "y"])


def vector(depth):
    if depth == 0:
        return vector_leaf
    sub = vector(depth - 1)
    return st.one_of(
        vector_leaf,
        st.builds(lambda m, v: f"({m}*{v})", st.sampled_from(["W", "V", "W'", "(W + V)"]), sub),
        st.builds(lambda f, v: f"{f}({v})", st.sampled_from(["tanh", "sigmoid", "sin", "softplus", "g"]), sub),
        st.builds(lambda a, b: f"({a} .* {b})", sub, sub),
        st.builds(lambda a, b, op: f"({a} {op} {b})", sub, sub, st.sampled_from(["+", "-"])),
        st.builds(lambda v: f"(s*{v})", sub),
        st.builds(lambda v: f"softmax({v})", sub),
        st.builds(lambda v: f"((x'*{v})*y)", sub),
    )


def scalar_of(v):
    return st.sampled_from([f"x'*{v}", f"sum({v})", f"norm({v})^2", f"logsumexp({v})", f"y'*{v} + s*sum({v})",
                            f"sum(exp(0.1*{v}))"])


expressions = vector(3).flatmap(scalar_of)


@settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions)
def test_random_expressions_differentiate_correctly(expr):
    d = matcalc.derive(expr, "x,W,s", shapes=SHAPES)
    report = d.verify(points=1)
    assert report.status == "ok", (expr, report.detail, str(d))


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(vector(2))
def test_random_jacobians_are_correct(expr):
    d = matcalc.derive(expr, "x", shapes=SHAPES)
    assert d.kind == "jacobian"
    report = d.verify(points=1)
    assert report.status == "ok", (expr, report.detail, str(d))
