"""float32 with the lecture's unscaled weights: the torch and JAX targets stay finite where the
frameworks' own autodiff of the lecture's forward gives NaN.

The lecture writes the 2-layer net's sigmoid as ``h = 1/(1 + exp(-X W1))``.  With unscaled
``randn`` weights ``X W1`` has entries of size ~30 and beyond -88.7, where float32's ``exp(-z)``
overflows to inf: ``h`` is then exactly 0 (right), but the tape's backward multiplies the
upstream 0 by ``exp(-z) = inf`` and gets NaN (0 · ∞) — in torch and JAX alike.  matcalc's
targets compute the same loss with the stable σ and a backward that reuses the cached ``h``
(``h (1 - h)``), so every gradient entry is finite and within float32's accuracy of float64.
"""
from __future__ import annotations

import numpy as np
import pytest
from conftest import extra
from test_codegen_float32 import TWO_LAYER, TWO_LAYER_SHAPES, lecture_inputs

import matcalc
from matcalc.generate.gradcheck import load

NAMES = ("X", "W1", "W2", "Y")
TOL = 1e-4          # normwise relative error of the float32 gradients against float64 (as for NumPy)


def _reference(inputs: dict) -> dict:
    """float64 gradients from the verified NumPy module, on the same float32-rounded inputs."""
    ns = load(matcalc.codegen(TWO_LAYER, "W1,W2", TWO_LAYER_SHAPES))
    _, cache = ns["forward"](**{k: v.astype(np.float64) for k, v in inputs.items()})
    return ns["backward"](cache)


def _relative(g: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(g.astype(np.float64) - ref) / np.linalg.norm(ref))


def test_the_inputs_overflow_float32_exp():
    inputs = lecture_inputs()
    assert (inputs["X"].astype(np.float64) @ inputs["W1"]).min() < -88.8


@pytest.mark.parametrize("seed", [0, 1])
def test_torch_target_is_finite_where_torch_autograd_is_nan(seed):
    torch = extra("torch")
    inputs = lecture_inputs(seed)
    t = {k: torch.from_numpy(v).requires_grad_(k in ("W1", "W2")) for k, v in inputs.items()}
    # torch's own autograd of the lecture's forward
    h = 1.0 / (1.0 + torch.exp(-(t["X"] @ t["W1"])))
    loss = torch.sum((h @ t["W2"] - t["Y"]) ** 2)
    naive = torch.autograd.grad(loss, [t["W1"], t["W2"]])
    nan_fraction = float(torch.isnan(naive[0]).float().mean())
    assert nan_fraction > 0.01, "the lecture's forward must give NaN under torch's own autodiff here"
    # matcalc's torch target, through torch's autograd
    ns = load(matcalc.codegen(TWO_LAYER, "W1,W2", TWO_LAYER_SHAPES, target="torch"))
    ours = torch.autograd.grad(ns["fn"](*(t[n] for n in ns["INPUTS"])), [t["W1"], t["W2"]])
    ref = _reference(inputs)
    for name, g in zip(("W1", "W2"), ours):
        assert g.dtype == torch.float32
        assert bool(torch.isfinite(g).all()), f"d/d{name} has non-finite entries"
        assert _relative(g.numpy(), ref[name]) < TOL


@pytest.mark.parametrize("seed", [0, 1])
def test_jax_target_is_finite_where_jax_grad_is_nan(seed):
    jax = extra("jax")
    jnp = jax.numpy
    inputs = lecture_inputs(seed)
    args = [jnp.asarray(inputs[n]) for n in NAMES]

    def lecture(X, W1, W2, Y):
        h = 1.0 / (1.0 + jnp.exp(-(X @ W1)))
        return jnp.sum((h @ W2 - Y) ** 2)
    naive = jax.grad(lecture, argnums=(1, 2))(*args)
    assert float(jnp.mean(jnp.isnan(naive[0]))) > 0.01, "the lecture's forward must give NaN under jax.grad here"
    ns = load(matcalc.codegen(TWO_LAYER, "W1,W2", TWO_LAYER_SHAPES, target="jax"))
    order = [NAMES.index(n) for n in ns["INPUTS"]]
    argnums = tuple(ns["INPUTS"].index(n) for n in ("W1", "W2"))
    ours = jax.jit(jax.grad(ns["fn"], argnums=argnums))(*(args[i] for i in order))
    ref = _reference(inputs)
    for name, g in zip(("W1", "W2"), ours):
        assert g.dtype == jnp.float32
        assert bool(jnp.all(jnp.isfinite(g))), f"d/d{name} has non-finite entries"
        assert _relative(np.asarray(g), ref[name]) < TOL
