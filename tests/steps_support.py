"""What the steps tests share to check printed intermediates numerically: the generic f, the step
of the central differences, a random point for a derivation's leaves and a finite-difference
Jacobian in the Cookbook's vec form."""
from __future__ import annotations

import numpy as np

FUNCS = {"f": (np.tanh, lambda z: 1 - np.tanh(z) ** 2)}
EPS = 1e-6


def random_env(d, rng, alternate: bool = True, conditioned: tuple[str, ...] = ()) -> dict:
    """A standard-normal value for every variable and leaf of ``d``: named sizes 3, 4, 3, …
    (``alternate=False``: all 3); a square one named in ``conditioned`` plus 3 I, well away from
    singular (for ``inv``)."""
    sizes: dict = {}
    env = {}
    for name, v in {**d.typed.variables, **d.variables}.items():
        shape = [int(dim) if dim.is_Integer else sizes.setdefault(dim, 3 + (len(sizes) % 2 if alternate else 0))
                 for dim in v.shape]
        value = rng.standard_normal(shape)
        if name in conditioned and value.shape[0] == value.shape[1]:
            value = value + 3 * np.eye(value.shape[0])
        env[name] = value
    return env


def vec(a) -> np.ndarray:
    """vec(a): the columns of a stacked (column-major)."""
    return np.asarray(a, dtype=float).reshape(-1, order="F")


def vec_jacobian(fn, x) -> np.ndarray:
    """∂vec(fn(x))/∂vec(x)ᵀ by central differences (numerator layout)."""
    x = np.asarray(x, dtype=float)
    cols = []
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = EPS
        e = e.reshape(x.shape, order="F")
        cols.append((vec(fn(x + e)) - vec(fn(x - e))) / (2 * EPS))
    return np.stack(cols, axis=1)
