"""An independent NumPy evaluator of generated programs, and the point sampler.

It evaluates the generator's ``Expr`` trees (not matcalc's graph), so a finite difference of it
is a reference that shares nothing with matcalc.  Every value is 2-D internally (a scalar is
1x1, a vector n x 1).  ``evaluate`` also returns the smallest distance of any kink argument
(relu, abs, max/min, hardtanh, leaky_relu, elu) from its kink, so the sampler can keep the point
away from them and central differences stay valid.
"""
from __future__ import annotations

import math

import numpy as np

from .generator import SCALAR, Program, _shape2

GENERIC_FUNCTIONS = {"f": (np.sin, np.cos), "g": (np.tanh, lambda z: 1 - np.tanh(z) ** 2)}


def _sigmoid(z):
    return 0.5 * (1 + np.tanh(z / 2))


def _softplus(z):
    return np.logaddexp(0, z)


FUNCTIONS = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
    "sigmoid": _sigmoid, "relu": lambda z: np.maximum(z, 0), "hardtanh": lambda z: np.clip(z, -1, 1),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))), "softplus": _softplus, "abs": np.abs,
    **{k: v[0] for k, v in GENERIC_FUNCTIONS.items()},
    # LANGUAGE.md v2 functions
    "atan": np.arctan, "sign": np.sign, "silu": lambda z: z * _sigmoid(z),
    "erf": lambda z: np.vectorize(math.erf, otypes=[float])(z),
    "gelu": lambda z: z * 0.5 * (1 + np.vectorize(math.erf, otypes=[float])(z / math.sqrt(2))),
}
DERIVATIVES = {
    "tanh": lambda z: 1 - np.tanh(z) ** 2, "sigmoid": lambda z: _sigmoid(z) * (1 - _sigmoid(z)),
    "sin": np.cos, "cos": lambda z: -np.sin(z), "exp": np.exp, "softplus": _sigmoid,
}
KINKS = {"relu": (0,), "abs": (0,), "hardtanh": (-1, 1), "elu": (0,), "sign": (0,)}


def _lse(z, axis):
    m = z.max(axis=axis, keepdims=True)
    return m + np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


class Evaluation:
    def __init__(self, program: Program, values: dict):
        self.program = program
        self.env = {n: np.asarray(v, float).reshape(_shape2(program.variables[n].shape)) for n, v in values.items()}
        self.kink = np.inf

    def _near(self, z, at=0.0):
        self.kink = min(self.kink, float(np.min(np.abs(np.asarray(z) - at))))

    def run(self) -> np.ndarray:
        for name, e in self.program.statements:
            val = self.ev(e)
            if name is not None:
                self.env[name] = val
        return val

    def ev(self, e) -> np.ndarray:
        a = [self.ev(x) for x in e.args]
        op = e.op
        if op in ("var", "ref"):
            return self.env[e.attr]
        if op == "num":
            return np.array([[e.attr]])
        if op == "eye":
            return np.eye(e.attr)
        if op == "add":
            return a[0] + a[1]
        if op == "sub":
            return a[0] - a[1]
        if op == "neg":
            return -a[0]
        if op == "had":
            return a[0] * a[1]
        if op == "ediv":
            return a[0] / a[1]
        if op == "sdiv":
            return a[0] / a[1]
        if op == "mul":
            if a[0].shape == SCALAR or a[1].shape == SCALAR:
                return a[0] * a[1]
            return a[0] @ a[1]
        if op == "T":
            return a[0].T
        if op == "epow":
            return a[0] ** e.attr
        if op == "vpow":
            return np.power(a[0], a[1])
        if op == "pow":
            return a[0] ** e.attr if a[0].shape == SCALAR else np.linalg.matrix_power(a[0], e.attr)
        if op == "fn":
            for at in KINKS.get(e.attr, ()):
                self._near(a[0], at)
            return FUNCTIONS[e.attr](a[0])
        if op == "dfn":
            return DERIVATIVES[e.attr](a[0])
        if op == "index":                    # LANGUAGE.md v2: a literal counts from 1
            kind, k = e.attr
            return a[0][[k - 1], :][:, [0]] if kind == "entry" else a[0][:, [k - 1]] if kind == "col" \
                else a[0][[k - 1], :]
        if op == "leaky_relu":
            self._near(a[0])
            return np.where(a[0] > 0, a[0], e.attr * a[0])
        if op in ("max", "min"):
            self._near(a[0] - a[1])
            return (np.maximum if op == "max" else np.minimum)(a[0], a[1])
        if op == "dot":
            return a[0].T @ a[1]
        if op == "kron":
            return np.kron(a[0], a[1])
        if op == "mean":
            if e.attr is None:
                return np.array([[a[0].mean()]])
            return a[0].mean(axis=e.attr - 1, keepdims=True)
        if op == "size":
            return np.array([[float(a[0].size if e.attr is None else a[0].shape[e.attr - 1])]])
        if op == "sum":
            if e.attr is None:
                return np.array([[a[0].sum()]])
            return a[0].sum(axis=e.attr - 1, keepdims=True)
        if op in ("softmax", "log_softmax", "logsumexp"):
            axis = 0 if e.attr in (None, 1) else 1
            lse = _lse(a[0], axis)
            return {"softmax": lambda: np.exp(a[0] - lse), "log_softmax": lambda: a[0] - lse,
                    "logsumexp": lambda: lse}[op]()
        if op == "tr":
            return np.array([[np.trace(a[0])]])
        if op == "det":
            return np.array([[np.linalg.det(a[0])]])
        if op == "logdet":
            return np.array([[np.linalg.slogdet(a[0])[1]]])
        if op == "norm":
            return np.array([[np.linalg.norm(a[0])]])
        if op == "inv":
            return np.linalg.inv(a[0])
        if op == "diagm":
            return np.diag(a[0][:, 0])
        if op == "diagv":
            return np.diag(a[0]).reshape(-1, 1).copy()
        if op == "vec":
            return a[0].reshape(-1, 1, order="F")
        raise ValueError(op)


def evaluate(program: Program, values: dict) -> tuple[np.ndarray, float]:
    """(output as a 2-D array, distance of the nearest kink)."""
    ev = Evaluation(program, values)
    with np.errstate(all="ignore"):
        out = ev.run()
    return out, ev.kink


def external(value: np.ndarray, node_shape: tuple) -> np.ndarray:
    """LANGUAGE.md's NumPy shapes: scalar (), vector (n,), matrix (n, m); a row is (n,)."""
    if value.shape == SCALAR:
        return value.reshape(())
    if 1 in value.shape:
        return value.reshape(-1)
    return value


def sample_value(rng: np.random.Generator, shape: tuple, assume: str | None) -> np.ndarray:
    """A value of a variable that respects its assumption, entries of order one."""
    if assume == "onehot":
        v = np.zeros(shape)
        v.flat[rng.integers(v.size)] = 1.0
        return v
    if assume == "probability":
        v = rng.uniform(0.2, 1.0, shape)
        return v / v.sum()
    if assume == "positive":
        return rng.uniform(0.3, 1.5, shape)
    base = rng.uniform(-1.0, 1.0, shape)
    if assume == "symmetric":
        return (base + base.T) / 2
    if assume == "spd":
        return base @ base.T + shape[0] * np.eye(shape[0]) * 0.5
    if assume == "diagonal":
        return np.diag(np.diag(base))
    return base


def sample_point(program: Program, seed: int, tries: int = 20, margin: float = 0.02):
    """A point where the output is finite and moderate and every kink is at least ``margin``
    away; None if no such point is found in ``tries`` draws (the example is then regenerated)."""
    rng = np.random.default_rng(seed)
    for _ in range(tries):
        values = {n: sample_value(rng, v.shape, v.assume) for n, v in program.variables.items()}
        out, kink = evaluate(program, values)
        if np.all(np.isfinite(out)) and np.max(np.abs(out), initial=0) < 1e5 and kink > margin:
            return values
    return None
