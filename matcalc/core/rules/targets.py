"""The code-generation targets: how generated code spells the structural operations per framework.

The rule table's entries carry one code template per primitive and target (``CodeForm``'s
``template``/``torch``/``jax``, the ``code``/``torch``/``jax`` tuples of ``Elementwise`` and
``Binary``).  What no single primitive owns — a broadcast, a filled or zero array, the identity,
a dot product, a reduction, a copy, the conversion of an input, the upstream seed, the scalar
result — is spelled by the target's ``Target`` record here, so the emitter asks
``target.full.format(...)`` and never compares a target's name.

* ``numpy``: the NumPy module (``DTYPE`` a module constant; temporaries reused in place).
* ``torch``: torch operations, device- and dtype-agnostic: ``DTYPE`` and ``DEVICE`` are locals
  read off the inputs (forward) or off the cache and upstream (backward), never hard-coded, and
  nothing leaves torch (no ``.numpy()``); temporaries are reused in place as in NumPy (torch's
  ``+=`` and ``out=`` have NumPy's semantics).
* ``jax``: ``jax.numpy``, pure (no in-place reuse: JAX arrays are immutable), jit-compatible.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """One framework's spellings (``str.format`` templates; ``{x_}`` is ``{x}`` wrapped as an atom)."""

    name: str
    module: str                  # the array module's name in generated code: np.einsum, torch.einsum, ...
    full: str                    # {shape} filled with {v}
    full_dtype: str
    broadcast: str               # {x} broadcast to {shape}, a view
    zeros: str                   # {shape}
    eye: str                     # {n}
    vdot: str                    # Σ {a} ∘ {b}, a scalar
    outer: str                   # the small outer product {a} {b} of a column and a row (a call)
    copy: str                    # a fresh copy of {x_}
    scalar: str                  # the scalar result {x} as the target's scalar
    scalar_helpers: tuple[str, ...]
    convert: str                 # the input {value} as an array of DTYPE
    seed_scalar: str             # the upstream gradient of a scalar output
    seed_column: str             # ... of a vector output, broadcast to {shape}
    seed_other: str              # ... of a matrix output, broadcast to {shape}
    softmax: str                 # softmax of {x} along {axis}
    softmax_helpers: tuple[str, ...]
    commutation: str             # K₍{m},{n}₎ as an array
    in_place: bool               # whether single-use temporaries become output buffers
    narrow: bool = False         # Aᵀ B with few columns as (Bᵀ A)ᵀ (OpenBLAS's fast path; in torch the
                                 # transposed result is not .grad's layout, so backward() would copy it)
    forward_prologue: tuple[str, ...] = ()     # lines that open forward (DTYPE, DEVICE locals)
    backward_prologue: tuple[str, ...] = ()    # lines that open backward
    helpers: tuple[str, ...] = ()              # helpers every module of this target holds
    buffers: bool = False        # backward(cache, upstream, out=None) fills caller's arrays (NumPy: a
                                 # framework returns its own tensors, so torch and JAX offer no out=)


NUMPY = Target(
    "numpy", "np", full="np.full({shape}, {v})", full_dtype="np.full({shape}, {v}, dtype=DTYPE)",
    broadcast="np.broadcast_to({x}, {shape})", zeros="np.zeros({shape}, dtype=DTYPE)",
    eye="np.eye({n}, dtype=DTYPE)", vdot="np.vdot({a}, {b})", outer='np.einsum("ik,kj->ij", {a}, {b})', copy="{x_}.copy()", scalar="_scalar({x})",
    scalar_helpers=("_scalar",), convert="np.asarray({value}, dtype=DTYPE)", seed_scalar="DTYPE(upstream)",
    seed_column="np.broadcast_to(np.asarray(upstream, dtype=DTYPE).reshape((-1, 1)), {shape})",
    seed_other="np.broadcast_to(np.asarray(upstream, dtype=DTYPE).reshape(np.shape(upstream)), {shape})",
    softmax="_softmax({x}, {axis})", softmax_helpers=("_softmax",), commutation="_commutation({m}, {n})", in_place=True, narrow=True,
    buffers=True)

_TORCH_TENSOR = "torch.as_tensor({x}, dtype=DTYPE, device=DEVICE)"
TORCH = Target(
    "torch", "torch", full="(torch.zeros({shape}, dtype=DTYPE, device=DEVICE) + {v})",
    full_dtype="(torch.zeros({shape}, dtype=DTYPE, device=DEVICE) + {v})",
    broadcast="torch.broadcast_to(" + _TORCH_TENSOR + ", {shape})",
    zeros="torch.zeros({shape}, dtype=DTYPE, device=DEVICE)", eye="torch.eye({n}, dtype=DTYPE, device=DEVICE)",
    vdot="torch.vdot({a_}.reshape(-1), {b_}.reshape(-1))", outer="torch.mul({a}, {b})", copy="{x_}.clone()",
    scalar=_TORCH_TENSOR + ".reshape(())", scalar_helpers=(),
    convert="torch.as_tensor({value}, dtype=DTYPE, device=DEVICE)",
    seed_scalar="torch.as_tensor(upstream, dtype=DTYPE, device=DEVICE)",
    seed_column="torch.broadcast_to(torch.as_tensor(upstream, dtype=DTYPE, device=DEVICE).reshape(-1, 1), {shape})",
    seed_other="torch.broadcast_to(torch.as_tensor(upstream, dtype=DTYPE, device=DEVICE), {shape})",
    softmax="torch.softmax({x}, dim={axis})", softmax_helpers=(),
    commutation="_commutation({m}, {n}, DTYPE, DEVICE)", in_place=True,
    forward_prologue=("    DTYPE, DEVICE = _dtype_device(inputs.values())",),
    backward_prologue=("    DTYPE, DEVICE = _dtype_device((upstream, *cache.values()))",),
    helpers=("_dtype_device",))

JAX = Target(
    "jax", "jnp", full="jnp.full({shape}, {v}, dtype=DTYPE)", full_dtype="jnp.full({shape}, {v}, dtype=DTYPE)",
    broadcast="jnp.broadcast_to({x}, {shape})", zeros="jnp.zeros({shape}, dtype=DTYPE)",
    eye="jnp.eye({n}, dtype=DTYPE)", vdot="jnp.vdot({a}, {b})", outer="jnp.multiply({a}, {b})", copy="{x_}", scalar="jnp.asarray({x}, dtype=DTYPE).reshape(())",
    scalar_helpers=(), convert="jnp.asarray({value}, dtype=DTYPE)", seed_scalar="jnp.asarray(upstream, dtype=DTYPE)",
    seed_column="jnp.broadcast_to(jnp.asarray(upstream, dtype=DTYPE).reshape(-1, 1), {shape})",
    seed_other="jnp.broadcast_to(jnp.asarray(upstream, dtype=DTYPE), {shape})",
    softmax="jax.nn.softmax({x}, axis={axis})", softmax_helpers=(),
    commutation="_commutation({m}, {n}, DTYPE)", in_place=False,
    forward_prologue=("    DTYPE = _dtype(inputs.values())",),
    backward_prologue=("    DTYPE = _dtype((upstream, *cache.values()))",),
    helpers=("_dtype",))

TARGETS: dict[str, Target] = {t.name: t for t in (NUMPY, TORCH, JAX)}

# Module-level helpers of the torch and JAX modules (NumPy's are ``CODE_HELPERS``), by name.
TARGET_HELPERS: dict[str, dict[str, str]] = {
    "torch": {
        "_dtype_device": '''def _dtype_device(values):
    """The dtype and device of the first floating-point tensor among ``values`` (never hard-coded)."""
    for v in values:
        if isinstance(v, torch.Tensor) and v.is_floating_point():
            return v.dtype, v.device
    return DEFAULT_DTYPE, torch.get_default_device()''',
        "_unit": '''def _unit(i, shape, base, dtype, device):
    """e_i: zeros with a 1 at entry i (an index name's value counts from 0, a literal from 1)."""
    k = torch.as_tensor(i, device=device).reshape(()) - base
    if k.device.type != "meta" and not 0 <= int(k) < shape[0]:
        raise IndexError(f"index {int(k)} (counted from 0) is out of range for a vector of length {shape[0]}")
    return (torch.arange(shape[0], device=device).reshape(-1, 1) == k).to(dtype)''',
        "_gelu": '''def _gelu(z, order):
    """Exact GELU z Φ(z) (order 0), Φ + z φ (1), φ (2 - z²) (2), φ z (z² - 4) (3)."""
    phi = 0.3989422804014327 * torch.exp(-0.5 * (z * z))
    if order == 2:
        return phi * (2.0 - z * z)
    if order == 3:
        return phi * z * (z * z - 4.0)
    cdf = 0.5 * (1.0 + torch.special.erf(z * 0.7071067811865476))
    return z * cdf if order == 0 else cdf + z * phi''',
        "_commutation": '''def _commutation(m, n, dtype, device):
    """K with K @ vec(X) = vec(X.T) for an m×n X (vec column-major): a permutation matrix."""
    i, j = torch.meshgrid(torch.arange(m, device=device), torch.arange(n, device=device), indexing="ij")
    K = torch.zeros((m * n, m * n), dtype=dtype, device=device)
    K[(j + i * n).reshape(-1), (i + j * m).reshape(-1)] = 1.0
    return K''',
    },
    "jax": {
        "_dtype": '''def _dtype(values):
    """The dtype of the first floating-point array among ``values`` (JAX's default otherwise)."""
    for v in values:
        dt = getattr(v, "dtype", None)
        if dt is not None and jnp.issubdtype(dt, jnp.floating):
            return dt
    return jnp.asarray(1.0).dtype''',
        "_unit": '''def _unit(i, shape, base, dtype):
    """e_i: zeros with a 1 at entry i (an index name's value counts from 0, a literal from 1);
    an index out of range gives NaN (jit cannot raise), never a silent zero."""
    k = jnp.asarray(i).reshape(()) - base
    e = (jnp.arange(shape[0]).reshape(-1, 1) == k).astype(dtype)
    return jnp.where((k >= 0) & (k < shape[0]), e, jnp.nan)''',
        "_gelu": '''def _gelu(z, order):
    """Exact GELU z Φ(z) (order 0), Φ + z φ (1), φ (2 - z²) (2), φ z (z² - 4) (3)."""
    phi = 0.3989422804014327 * jnp.exp(-0.5 * (z * z))
    if order == 2:
        return phi * (2.0 - z * z)
    if order == 3:
        return phi * z * (z * z - 4.0)
    cdf = 0.5 * (1.0 + jax.scipy.special.erf(z * 0.7071067811865476))
    return z * cdf if order == 0 else cdf + z * phi''',
        "_commutation": '''def _commutation(m, n, dtype):
    """K with K @ vec(X) = vec(X.T) for an m×n X (vec column-major): a permutation matrix."""
    i, j = jnp.meshgrid(jnp.arange(m), jnp.arange(n), indexing="ij")
    return jnp.zeros((m * n, m * n), dtype=dtype).at[(j + i * n).reshape(-1), (i + j * m).reshape(-1)].set(1.0)''',
    },
}
