"""The gradchecks' tolerance where central differences resolve less than 1e-7 (``resolution``).

Through 45 tanh layers the gradient by ``x`` is about 1e-9 of the output, and its central
difference is rounding noise at a few percent: the correct module must pass, judged to what
the differences resolve at the point; a corrupted Hessian or gradient of the same deep program
must still fail; where the differences resolve less than 1 % the check fails, saying so.
The torch and JAX targets' checks (``verify_target``) judge by the same rule.
"""
from __future__ import annotations

import numpy as np
import pytest
from conftest import extra

import matcalc
from matcalc.core.errors import VerificationError
from matcalc.generate.gradcheck import gradcheck_gradients
from matcalc.generate.gradcheck_hessian import gradcheck_hessian
from matcalc.generate.hessian_program import codegen_hessian_source
from matcalc.generate.program import codegen_source
from matcalc.generate.resolution import MAX_ALLOWANCE, compare
from matcalc.generate.verify import verify_generated
from matcalc.generate.verify_target import verify_target

DEEP = 45


def program(n: int) -> str:
    lines = [f"h{i} = tanh(W_{i}*{'x' if i == 1 else f'h{i - 1}'})" for i in range(1, n + 1)]
    return "\n".join(lines + [f"sum(h{n})"])


def corrupted(source: str, name: str, change: str) -> str:
    """``source`` with the function ``name`` wrapped: its result passed through ``change``."""
    return source + f"\n\n_original_{name} = {name}\n\n\ndef {name}(*args, **kwargs):\n" \
                    f"    out = _original_{name}(*args, **kwargs)\n    return {change}\n"


@pytest.fixture(scope="module")
def deep_source():
    return matcalc.codegen_hessian(program(DEEP), "x", verify=False)


def test_the_fixed_tolerance_cannot_check_the_deep_gradient(deep_source):
    """The premise: at h = 1e-5 the difference of the deep gradient is off by far more than 1e-7."""
    report = gradcheck_hessian(program(DEEP), "x", seed=0, points=1, source=deep_source)
    assert report.ok, str(report)
    assert report.allowed.get("backward x", 0) > 1e-5           # judged by what was resolved
    assert report.errors["hessian x"] < 1e-7 and "hessian x" not in report.allowed


def test_deep_correct_modules_verify():
    source = matcalc.codegen_hessian(program(DEEP), "x")        # verified: raises otherwise
    assert "to what they resolve: backward x" in source
    assert "Verified by matcalc" in matcalc.codegen(program(DEEP), "x")


@pytest.mark.parametrize("scale", [1 + 1e-4, 1 + 1e-6])
def test_a_corrupted_deep_hessian_is_rejected(deep_source, scale):
    """One entry of the Hessian off by a relative 1e-4 (1e-6): the differences of the gradient
    resolve it to about 1e-9, so no allowance lets it through."""
    change = f"__import__('numpy').where(__import__('numpy').arange(out.size).reshape(out.shape) == 0, " \
             f"out * {scale}, out)"
    bad = corrupted(deep_source, "hessian_from_cache", change)
    for seed in (0, 1):
        report = gradcheck_hessian(program(DEEP), "x", seed=seed, points=1, source=bad)
        assert not report.ok and "hessian x" in report.failed, str(report)
    with pytest.raises(VerificationError, match="hessian x"):
        verify_generated(bad, codegen_hessian_source, program(DEEP), "x", None, None, "float64", hessian=True)


def test_a_corrupted_deep_gradient_is_rejected(deep_source):
    """The gradient 1.2 times too large: beyond what the differences resolve at that depth."""
    bad = corrupted(deep_source, "backward", "{k: 1.2 * v for k, v in out.items()}")
    report = gradcheck_hessian(program(DEEP), "x", seed=0, points=1, source=bad)
    assert "backward x" in report.failed, str(report)
    first = matcalc.codegen(program(DEEP), "x", verify=False)
    bad_first = corrupted(first, "backward", "{k: 1.2 * v for k, v in out.items()}")
    assert not gradcheck_gradients(program(DEEP), "x", seed=0, points=1, source=bad_first).ok


def test_unresolvable_gradients_fail_saying_so():
    """A hundred layers: the differences resolve less than 1 % of the gradient, nothing is vouched for."""
    with pytest.raises(VerificationError, match="too little to check"):
        matcalc.codegen(program(100), "x")


def test_compare_keeps_the_fixed_tolerance_when_it_is_met():
    f = np.sin
    x = 0.3

    def difference_at(s):
        return np.array([(f(x + s) - f(x - s)) / (2 * s)])
    got = np.array([np.cos(x)])
    err, allowed = compare(got, difference_at, 1e-5, 1.0, 1e-7, 1.0)
    assert err < 1e-7 and allowed == 1e-7
    err, allowed = compare(got * (1 + 1e-3), difference_at, 1e-5, 1.0, 1e-7, 1.0)
    assert allowed < 1e-6 < err                                 # resolved well: the error is real


def test_compare_measures_rounding_for_a_tiny_derivative():
    """f = 1 + 1e-9 sin(x): the derivative is 1e-9 of the value, rounding dominates at 1e-5."""
    def f(x):
        return 1.0 + 1e-9 * np.sin(x)

    def difference_at(s):
        return np.array([(f(0.3 + s) - f(0.3 - s)) / (2 * s)])
    got = np.array([1e-9 * np.cos(0.3)])
    err, allowed = compare(got, difference_at, 1e-5, float(got[0]), 1e-7, 1.0)
    assert 1e-7 < allowed <= MAX_ALLOWANCE and err < allowed
    err_wrong, _ = compare(1.2 * got, difference_at, 1e-5, float(got[0]), 1e-7, 1.0)
    assert err_wrong > MAX_ALLOWANCE


# ---------------------------------------------------------------- the torch and JAX targets
# ``verify_target`` judges the framework's gradients by the same ``resolution.compare`` as the
# NumPy gradcheck: the deep module verifies, the same module with a wrong backward does not.

TARGETS = ["torch", "jax"]


@pytest.fixture(scope="module", params=TARGETS)
def deep_target(request):
    """(target, the deep program's unverified module for it)."""
    extra(request.param)
    return request.param, matcalc.codegen(program(DEEP), "x", target=request.param, verify=False)


def test_deep_correct_target_modules_verify(deep_target):
    """The fixed 1e-7 rejected these correct modules: the differences resolve about 1e-3 here."""
    target, source = deep_target
    checked = verify_target(source, codegen_source, program(DEEP), ["x"], None, None, "float64", target)
    assert f"the gradients {target} takes through fn agree" in checked
    assert "to what they resolve: x" in checked


def test_a_corrupted_deep_target_gradient_is_rejected(deep_target):
    """The same module with its backward 1.2 times too large: beyond what the differences resolve."""
    target, source = deep_target
    bad = corrupted(source, "backward", "{k: 1.2 * v for k, v in out.items()}")
    with pytest.raises(VerificationError, match="x: relative error"):
        verify_target(bad, codegen_source, program(DEEP), ["x"], None, None, "float64", target)


def test_a_slightly_wrong_shallow_target_gradient_is_rejected():
    """Where the differences resolve 1e-7 the fixed tolerance holds: off by 1e-5 is wrong."""
    extra("torch")
    expr = "h1 = tanh(W_1*x)\nsum(h1)"
    source = matcalc.codegen(expr, "x", target="torch", verify=False)
    bad = corrupted(source, "backward", "{k: (1 + 1e-5) * v for k, v in out.items()}")
    with pytest.raises(VerificationError, match="tolerance 1e-07"):
        verify_target(bad, codegen_source, expr, ["x"], None, None, "float64", "torch")
    assert "Verified by matcalc" in verify_target(source, codegen_source, expr, ["x"], None, None, "float64", "torch")
