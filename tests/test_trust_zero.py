"""Regression: expressions that are exactly zero, and denominators that are exactly zero.

A zero subexpression raised to a power recursed forever ("nested too deeply"); a denominator that
is zero for every input was an internal ``Fraction(1, 0)``.  Zero gives a zero derivative; a zero
denominator is bad input (exit 2) with a caret under it.
"""
import subprocess
import sys

import numpy as np
import pytest

import matcalc
from matcalc.core.errors import UndefinedError


@pytest.mark.parametrize("expr,wrt", [
    ("sum((W-W).^2)", "W"), ("sum((x-x).^2)", "x"), ("sum((x-x).^3 + x)", "x"), ("sum(sqrt((x-x).^2+1))", "x"),
])
def test_zero_subexpressions_differentiate(expr, wrt):
    d = matcalc.derive(expr, wrt)
    assert d.verify().status == "ok"
    shape = (3, 3) if wrt == "W" else (3,)
    want = np.ones(shape) if "+ x" in expr else np.zeros(shape)
    np.testing.assert_allclose(d.numpy()(**{wrt: np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)}), want)


@pytest.mark.parametrize("expr", ["sum(1 ./ (x - x))", "1/(2-2)", "sum(x/(2-2))", "sum(inv(W-W))", "x'*x/0",
                                  "sum(1./(0*x))"])
def test_zero_denominator_is_bad_input(expr):
    with pytest.raises(UndefinedError) as info:
        matcalc.derive(expr, "x" if "x" in expr else "W")
    assert info.value.exit_code == 2
    assert "^" in str(info.value)                  # a caret points at the denominator


def test_zero_denominator_exit_code_on_the_command_line():
    run = subprocess.run([sys.executable, "-m", "matcalc.cli", "derive", "sum(1 ./ (x - x))", "--wrt", "x"],
                         check=False, capture_output=True, text=True)
    assert run.returncode == 2, run.stderr
    assert "division by zero" in run.stderr and "Traceback" not in run.stderr
