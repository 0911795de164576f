"""Generated forward+backward against hand-written NumPy backprop, HIPS autograd, JAX and PyTorch.

Run by hand from the repository root (the competitors are optional extras, never dependencies)::

    PYTHONPATH=. python benchmarks/bench_codegen.py               # 51 interleaved repeats
    PYTHONPATH=. python benchmarks/bench_codegen.py --quick       # 7 repeats: a smoke test
    PYTHONPATH=. python benchmarks/bench_codegen.py --only tanh   # workloads whose name contains 'tanh'
    PYTHONPATH=. python benchmarks/bench_codegen.py --memory      # peak memory of backward (tracemalloc)
    PYTHONPATH=. python benchmarks/bench_codegen.py --orientations  # both ways of each skinny product

The README's figures: ``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 taskset -c 1 python ...`` (the
script also sets one BLAS thread before NumPy loads and pins itself; OPENBLAS_CORETYPE is left as
the environment has it, and the header prints the kernel OpenBLAS runs).

Limits.  Each timing run first measures this core's one-thread dgemm (n = 2048) and copy
bandwidth (``np.copyto`` of 128 MiB, bytes read + written, as STREAM counts a copy), interleaved.
A workload's floor is the larger of its products' flops at the dgemm rate and its compulsory bytes
(every input read once, every gradient written once) at the copy rate; the table gives the
generated code's time over that floor (with fresh gradients and with ``out=`` buffers) and its
achieved GF/s and GB/s with their fraction of the limits.  ``out=``: the generated backward in a
training loop that passes its gradients back as buffers (``backward(cache, out=grads)``).

What is timed.  Every contender computes the value and the gradients of the same float64 function
from the same inputs: hand-written (lecture-style ``forward`` returning a cache, ``backward(cache)``),
matcalc's generated ``forward(**inputs)`` + ``backward(cache)``, ``autograd.value_and_grad``,
``jax.jit(jax.value_and_grad(f, argnums))`` (x64 on; compiled by an untimed call; inputs made jax
arrays once; ``block_until_ready`` on the result) and PyTorch eager (tensors made once with
``requires_grad``; ``.grad`` set to None, forward, ``.backward()``).  Before timing, every
contender's value and gradients are checked against the hand-written ones.  A competitor that is not
installed prints ``-``.

One core.  BLAS is pinned to one thread (threadpoolctl), torch to one thread, and ``XLA_FLAGS`` is
set to ``--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1`` before jax is imported
(unless already set).  Measured with jax 0.10: that flag does not keep XLA's CPU runtime on one
thread (its large fusions and dots still run on a thread pool), so the process is also pinned to one
CPU (``os.sched_setaffinity``, before jax and torch start their pools; ``--no-pin`` turns it off).
The cpu/wall time of every sample is recorded and a contender that used more than one core is
marked ``*`` (which can only happen with ``--no-pin``).

Repeats.  Each repeat runs every contender in turn, the order rotated by one each repeat so each
contender takes every position equally often.  Per contender and repeat: one untimed call, then k
timed calls (k makes a hand-written sample last at least ``--target`` ms; the same k for every
contender of a workload).  The untimed call matters: glibc malloc's mmap and trim thresholds move
with what was freed last, so a call that follows a different contender can pay page faults for its
large arrays that it never pays when it follows itself, as in a training loop (the old version of
this benchmark reported generated/hand 0.58 for the n = 512 tanh layer because of that: the
hand-written call ran right after autograd's and took 480 minor faults for its 2 MB outer product).
The clock is the process's CPU time (user + system, all threads) when the process is pinned: on
one core that is the core time the contender used, and another process taking the core (this
machine is shared) does not inflate it as it does the wall clock (``--clock wall``; the default
when not pinned).  A contender's ratio is the median over repeats of its time divided by the
hand-written time of the same repeat (seconds apart, so a load that drifts over the minutes of a
run cancels; the ratio of the two medians does not), and ``q1-q3`` is the spread of those
generated/hand ratios.  NumPy's BLAS (OpenBLAS in the wheels) and torch's (MKL in the x86 wheels)
differ, and the header says which: a ratio to torch below 1 on a matmul-bound workload can be the
BLAS, not the code around it.

Memory (``--memory``).  Peak bytes allocated while ``backward(cache)`` runs, the returned gradients
included, the cache having been made by ``forward`` before tracing starts: hand-written against
generated, measured with tracemalloc (NumPy reports its data buffers to it; it counts requested
bytes, not resident pages).  Also printed: the gradients' own size, the floor for any backward, and
the bytes each cache holds beyond the inputs.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):   # one thread, before NumPy loads BLAS
    os.environ.setdefault(_var, "1")

import argparse  # after the thread counts are set
import gc
import platform
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

import numpy as np

from matcalc import codegen
from matcalc.generate.gradcheck import load

XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
MULTICORE = 1.15  # cpu/wall above this: the contender used more than one core


# ---------------------------------------------------------------- hand-written backprop
# What a careful engineer writes in the lecture style: forward keeps what backward needs, backward
# reuses it (1 - h*h, not a second tanh), computes no gradient nobody asked for (no dX), does no
# product with a matrix of ones (the MLP's sum head), makes no full-size temporary just to scale a
# fresh product (2 Z Xᵀ), and uses the same numerically stable sigmoid as the generated code.

def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def two_layer_forward(X, W1, W2, Y):
    h = sigmoid(X @ W1)
    d = h @ W2 - Y
    return np.sum(d * d), (X, W2, h, d)


def two_layer_backward(cache):
    X, W2, h, d = cache
    dYp = 2.0 * d
    dh = dYp @ W2.T
    return {"W1": X.T @ (dh * h * (1.0 - h)), "W2": h.T @ dYp}


def tanh_layer_forward(u, W, x, b):
    h = np.tanh(W @ x + b)
    return u @ h, (u, x, h)


def tanh_layer_backward(cache):
    u, x, h = cache
    dz = u * (1.0 - h * h)
    return {"W": np.outer(dz, x), "b": dz}


def softmax_ce_forward(X, W, Y):
    Z = X @ W
    Z -= Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    s = E.sum(axis=1, keepdims=True)
    return np.sum(np.log(s)) - np.sum(Y * Z), (X, Y, E / s)  # rows of Y are one-hot: sum to 1


def softmax_ce_backward(cache):
    X, Y, P = cache
    return {"W": X.T @ (P - Y)}


def frobenius_forward(W, X):
    Z = W @ X
    return np.vdot(Z, Z), (X, Z)


def frobenius_backward(cache):
    X, Z = cache
    dW = Z @ X.T
    dW *= 2.0  # in place: no second n x n array
    return {"W": dW}


def mlp_forward(X, *Ws):
    hs = [X]
    for W in Ws[:-1]:
        hs.append(np.tanh(hs[-1] @ W))
    h_sum, w_sum = hs[-1].sum(axis=0), Ws[-1].sum(axis=1)  # sum(h W) = (1ᵀ h)(W 1): no batch x n x n product
    return h_sum @ w_sum, (hs, Ws, h_sum, w_sum)


def mlp_backward(cache):
    hs, Ws, h_sum, w_sum = cache
    n = len(Ws)
    # the upstream of sum(h W) is all ones: dW = hᵀ 1 has every column h_sum, dh = 1 Wᵀ every row w_sum
    grads = {f"W{n}": np.repeat(h_sum[:, None], Ws[-1].shape[1], axis=1)}
    dh = np.broadcast_to(w_sum, hs[-1].shape)
    for i in range(n - 1, 0, -1):
        dz = dh * (1.0 - hs[i] * hs[i])
        grads[f"W{i}"] = hs[i - 1].T @ dz
        if i > 1:  # no gradient for the data X
            dh = dz @ Ws[i - 1].T
    return grads


# ---------------------------------------------------------------- the same functions for the frameworks
@dataclass(frozen=True)
class Ops:
    """The few functions the losses need, from one framework."""

    tanh: Callable
    sigmoid: Callable
    sum: Callable
    logsumexp_rows: Callable


def two_layer_loss(o, X, W1, W2, Y):
    d = o.sigmoid(X @ W1) @ W2 - Y
    return o.sum(d * d)


def tanh_layer_loss(o, u, W, x, b):
    return u @ o.tanh(W @ x + b)


def softmax_ce_loss(o, X, W, Y):
    Z = X @ W
    return -o.sum(Y * (Z - o.logsumexp_rows(Z)))


def frobenius_loss(o, W, X):
    Z = W @ X
    return o.sum(Z * Z)


def mlp_loss(o, X, *Ws):
    h = X
    for W in Ws[:-1]:
        h = o.tanh(h @ W)
    return o.sum(h @ Ws[-1])


# ---------------------------------------------------------------- workloads
@dataclass(frozen=True)
class Workload:
    name: str
    expr: str
    wrt: tuple[str, ...]
    shapes: dict  # argument order of the hand-written forward and of the framework losses
    hand_forward: Callable
    hand_backward: Callable
    loss: Callable
    assume: dict | None = None
    flops: float = 0.0  # floating-point operations of the hand-written forward + backward (its products)

    def inputs(self, rng) -> dict:
        """Standard normal; weight matrices scaled by 1/sqrt(fan-in); one-hot rows where assumed."""
        out = {}
        for k, s in self.shapes.items():
            if self.assume and self.assume.get(k) == "onehot_rows":
                a = np.zeros(s)
                a[np.arange(s[0]), rng.integers(s[1], size=s[0])] = 1.0
            else:
                a = rng.standard_normal(s)
                if k.startswith("W") and len(s) == 2:
                    a /= np.sqrt(s[0])
            out[k] = a
        return out


def workloads() -> list[Workload]:
    N, D, H, C = 64, 1000, 100, 10
    out = [Workload("2-layer sigmoid net", "h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", ("W1", "W2"),
                    {"X": (N, D), "W1": (D, H), "W2": (H, C), "Y": (N, C)},
                    two_layer_forward, two_layer_backward, two_layer_loss, flops=2.0 * (2 * N * D * H + 3 * N * H * C))]
    for n in (64, 512, 4096):
        out.append(Workload(f"tanh layer n={n}", "s = u'*tanh(W*x + b)", ("W", "b"),
                            {"u": (n,), "W": (n, n), "x": (n,), "b": (n,)},
                            tanh_layer_forward, tanh_layer_backward, tanh_layer_loss, flops=3.0 * n * n))
    out.append(Workload("softmax cross-entropy", "L = sum(-Y .* log_softmax(X*W, 2))", ("W",),
                        {"X": (256, 3072), "W": (3072, 10), "Y": (256, 10)},
                        softmax_ce_forward, softmax_ce_backward, softmax_ce_loss, {"Y": "onehot_rows"},
                        flops=2.0 * 2 * 256 * 3072 * 10))
    out.append(Workload("Frobenius ‖W X‖²_F n=512", "norm(W*X)^2", ("W",), {"W": (512, 512), "X": (512, 512)},
                        frobenius_forward, frobenius_backward, frobenius_loss, flops=2.0 * 2 * 512 ** 3))
    layers = " ".join(f"h{i} = tanh(h{i - 1}*W{i});" for i in range(2, 9))
    out.append(Workload("8-layer tanh MLP", f"h1 = tanh(X*W1); {layers} L = sum(h8*W9)",
                        tuple(f"W{i}" for i in range(1, 10)),
                        {"X": (64, 256), **{f"W{i}": (256, 256) for i in range(1, 10)}},
                        mlp_forward, mlp_backward, mlp_loss, flops=2.0 * 64 * 256 * 256 * (8 + 8 + 7)))
    return out


# ---------------------------------------------------------------- contenders
# Each builder returns (step, extract): step() is what is timed; extract(step()) gives
# (value, {name: ndarray}) for the check against the hand-written gradients.

def hand_contender(w: Workload, inp: dict, module: dict):
    args = [inp[k] for k in w.shapes]

    def step():
        value, cache = w.hand_forward(*args)
        return value, w.hand_backward(cache)
    return step, lambda r: r


def generated_contender(w: Workload, inp: dict, module: dict):
    forward, backward = module["forward"], module["backward"]

    def step():
        value, cache = forward(**inp)
        return value, backward(cache)
    return step, lambda r: r


def buffered_contender(w: Workload, inp: dict, module: dict):
    """The generated code in a training loop that passes its gradients back: ``out=`` buffers."""
    forward, backward = module["forward"], module["backward"]
    bufs = {k: v for k, v in backward(forward(**inp)[1]).items() if isinstance(v, np.ndarray)}

    def step():
        value, cache = forward(**inp)
        return value, backward(cache, out=bufs)
    return step, lambda r: r


def autograd_contender(w: Workload, inp: dict, module: dict):
    import autograd
    import autograd.numpy as anp
    from autograd.scipy.special import logsumexp
    ops = Ops(anp.tanh, lambda z: 0.5 * (anp.tanh(0.5 * z) + 1.0), anp.sum,
              lambda z: logsumexp(z, axis=1, keepdims=True))
    names = list(w.shapes)
    vg = autograd.value_and_grad(lambda *a: w.loss(ops, *a), tuple(names.index(v) for v in w.wrt))
    args = [inp[k] for k in names]
    return (lambda: vg(*args)), lambda r: (r[0], dict(zip(w.wrt, r[1])))


def jax_contender(w: Workload, inp: dict, module: dict):
    import jax
    import jax.numpy as jnp
    from jax.scipy.special import logsumexp
    jax.config.update("jax_enable_x64", True)
    ops = Ops(jnp.tanh, jax.nn.sigmoid, jnp.sum, lambda z: logsumexp(z, axis=1, keepdims=True))
    names = list(w.shapes)
    vg = jax.jit(jax.value_and_grad(lambda *a: w.loss(ops, *a), tuple(names.index(v) for v in w.wrt)))
    args = [jnp.asarray(inp[k]) for k in names]

    def step():
        return jax.block_until_ready(vg(*args))
    step()  # compile outside the timing
    return step, lambda r: (float(r[0]), {v: np.asarray(g) for v, g in zip(w.wrt, r[1])})


def torch_contender(w: Workload, inp: dict, module: dict):
    import torch
    ops = Ops(torch.tanh, torch.sigmoid, torch.sum, lambda z: torch.logsumexp(z, dim=1, keepdim=True))
    names = list(w.shapes)
    tensors = [torch.tensor(inp[k]).requires_grad_(k in w.wrt) for k in names]
    params = [tensors[names.index(v)] for v in w.wrt]

    def step():
        for p in params:
            p.grad = None
        loss = w.loss(ops, *tensors)
        loss.backward()
        return loss
    return step, lambda r: (r.item(), {v: p.grad.numpy() for v, p in zip(w.wrt, params)})


COMPETITORS = {"autograd": ("autograd", autograd_contender), "jax": ("jax", jax_contender),
               "torch": ("torch", torch_contender)}


# ---------------------------------------------------------------- matcalc's torch and JAX targets
# ``codegen(..., target="torch")`` used as a training loop uses it: ``fn(*tensors).backward()``
# through the generated torch.autograd.Function (its backward is matcalc's); ``target="jax"``
# as ``jax.jit(jax.value_and_grad(fn, argnums))`` over the generated custom_vjp function: the
# same jit as the JAX contender, with matcalc's backward in place of JAX's autodiff.  They run in
# the same rotation as everybody else; PAIRS adds the paired ratio to their framework's column.

def torch_target_contender(w: Workload, inp: dict, module: dict):
    import torch
    ns = load(codegen(w.expr, ",".join(w.wrt), w.shapes, w.assume, target="torch"))
    tensors = {k: torch.tensor(inp[k]).requires_grad_(k in w.wrt) for k in ns["INPUTS"]}
    args = [tensors[k] for k in ns["INPUTS"]]
    params = [tensors[v] for v in w.wrt]
    fn = ns["fn"]

    def step():
        for p in params:
            p.grad = None
        loss = fn(*args)
        loss.backward()
        return loss
    return step, lambda r: (r.item(), {v: p.grad.numpy() for v, p in zip(w.wrt, params)})


def jax_target_contender(w: Workload, inp: dict, module: dict):
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    ns = load(codegen(w.expr, ",".join(w.wrt), w.shapes, w.assume, target="jax"))
    names = list(ns["INPUTS"])
    vg = jax.jit(jax.value_and_grad(ns["fn"], tuple(names.index(v) for v in w.wrt)))
    args = [jnp.asarray(inp[k]) for k in names]

    def step():
        return jax.block_until_ready(vg(*args))
    step()  # compile outside the timing
    return step, lambda r: (float(r[0]), {v: np.asarray(g) for v, g in zip(w.wrt, r[1])})


COMPETITORS.update({"torch target": ("torch", torch_target_contender), "jax target": ("jax", jax_target_contender)})
# (column, the framework it is paired with): the generated NumPy code against the two fastest
# frameworks directly, and each target against its own framework
PAIRS = (("generated", "jax"), ("generated", "torch"), ("torch target", "torch"), ("jax target", "jax"))


def check(name: str, w: Workload, got, ref) -> None:
    """Value and every gradient equal to the hand-written ones (float64 rounding only)."""
    (v, g), (v0, g0) = got, ref
    np.testing.assert_allclose(float(v), float(v0), rtol=1e-9, err_msg=f"{w.name}: {name} value")
    assert set(g) == set(g0), (w.name, name, set(g), set(g0))
    for k, ref_k in g0.items():
        np.testing.assert_allclose(np.reshape(g[k], np.shape(ref_k)), ref_k, rtol=1e-7,
                                   atol=1e-9 * np.max(np.abs(ref_k)), err_msg=f"{w.name}: {name} d/d{k}")


# ---------------------------------------------------------------- timing
@dataclass
class Samples:
    wall: list[float]
    cpu: list[float]
    faults: list[float]


def calibrate(step: Callable, target: float) -> int:
    """Calls per sample so that one sample of ``step`` lasts at least ``target`` seconds."""
    step()
    best = min(_timed(step, 1)[0] for _ in range(3))
    return max(1, int(np.ceil(target / max(best, 1e-9))))


def _timed(step: Callable, k: int) -> tuple[float, float, float]:
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(k):
        step()
    t1, c1 = time.perf_counter(), time.process_time()
    return (t1 - t0) / k, (c1 - c0) / k, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / k


def measure(steps: dict[str, Callable], repeats: int, k: int) -> dict[str, Samples]:
    """Interleaved samples: every repeat runs each contender (rotated order) once untimed, k times timed."""
    names = list(steps)
    out = {n: Samples([], [], []) for n in names}
    gc_enabled = gc.isenabled()
    gc.disable()
    try:
        for r in range(repeats):
            for n in names[r % len(names):] + names[:r % len(names)]:
                steps[n]()  # the allocator state this contender leaves for itself (see the module docstring)
                wall, cpu, faults = _timed(steps[n], k)
                out[n].wall.append(wall)
                out[n].cpu.append(cpu)
                out[n].faults.append(faults)
            gc.collect()
    finally:
        if gc_enabled:
            gc.enable()
    return out


@dataclass(frozen=True)
class Limits:
    """This core's physical limits, measured in the run: one-thread dgemm and copy bandwidth."""

    gflops: float   # C = A B, n = 2048, float64, one thread: GF/s
    gbytes: float   # np.copyto of a 128 MiB array: bytes read + bytes written per second (as STREAM's copy), GB/s
    fill: float     # ndarray.fill of 128 MiB, GB/s: a store NumPy computes (memcpy's non-temporal stores it has not)

    def floor(self, flops: float, nbytes: float) -> float:
        """The least time a step of ``flops`` operations touching ``nbytes`` bytes can take, seconds."""
        return max(flops / (self.gflops * 1e9), nbytes / (self.gbytes * 1e9))


def measure_limits(repeats: int, clock: str) -> Limits:
    """dgemm and copy, interleaved, medians over ``repeats``."""
    rng = np.random.default_rng(0)
    n = 2048
    A, B, C = rng.standard_normal((n, n)), rng.standard_normal((n, n)), np.empty((n, n))
    src = rng.standard_normal(2 ** 24)                      # 128 MiB
    dst = np.empty_like(src)
    gemm, copy, fill = [], [], []
    tick = time.process_time if clock == "cpu" else time.perf_counter
    for _ in range(repeats):
        for f, out, k in ((lambda: np.matmul(A, B, out=C), gemm, 2), (lambda: np.copyto(dst, src), copy, 4),
                          (lambda: dst.fill(1.0), fill, 4)):
            f()
            t0 = tick()
            for _ in range(k):
                f()
            out.append((tick() - t0) / k)
    return Limits(2.0 * n ** 3 / statistics.median(gemm) / 1e9, 2.0 * src.nbytes / statistics.median(copy) / 1e9,
                  src.nbytes / statistics.median(fill) / 1e9)


def compulsory_bytes(w: Workload, inp: dict, grads: dict) -> int:
    """Bytes any implementation must move: every input read once, every gradient written once."""
    return sum(np.asarray(v).nbytes for v in inp.values()) + sum(np.asarray(g).nbytes for g in grads.values())


def run_timing(ws: list[Workload], competitors: list[str], repeats: int, target: float, faults: bool,
               clock: str = "cpu") -> None:
    limits = measure_limits(max(5, repeats // 5), clock)
    print(f"this core: dgemm {limits.gflops:.1f} GF/s (n = 2048, one thread), copy {limits.gbytes:.1f} GB/s "
          f"(128 MiB, read + write), fill {limits.fill:.1f} GB/s (128 MiB written by NumPy's own stores)\n")
    cols = ["generated", "out=", *COMPETITORS]
    pairs = [f"{t} / {f} (q1-q3)" for t, f in PAIRS]
    print(f"| workload | hand ms ({clock}) | k | {' | '.join(cols)} | generated/hand q1-q3 | {' | '.join(pairs)} "
          "| floor ms | generated/floor | out=/floor | generated GF/s (of dgemm) | generated GB/s (of copy) |")
    print("|---|---:|---:|" + "---:|" * len(cols) + "---:|" + "---:|" * len(pairs) + "---:|---:|---:|---:|---:|")
    notes = []
    for w in ws:
        inp = w.inputs(np.random.default_rng(0))  # the same inputs with or without --only
        module = load(codegen(w.expr, ",".join(w.wrt), w.shapes, w.assume))
        builders = {"hand": hand_contender, "generated": generated_contender, "out=": buffered_contender}
        builders.update({c: COMPETITORS[c][1] for c in competitors})
        steps = {}
        ref = None
        for name, build in builders.items():
            step, extract = build(w, inp, module)
            got = extract(step())
            if ref is None:
                ref = got
            else:
                check(name, w, got, ref)
            steps[name] = step
        k = calibrate(steps["hand"], target)
        s = measure(steps, repeats, k)
        times = {n: getattr(v, clock) for n, v in s.items()}
        ratio = {n: [t / h for t, h in zip(v, times["hand"])] for n, v in times.items()}
        q1, _, q3 = statistics.quantiles(ratio["generated"], n=4) if repeats > 1 else (ratio["generated"][0],) * 3
        cells = []
        for n in cols:
            if n not in s:
                cells.append("-")
                continue
            load_ = statistics.median(c / t for c, t in zip(s[n].cpu, s[n].wall))
            star = "*" if load_ > MULTICORE else ""
            if star:
                notes.append(f"{w.name}: {n} used {load_:.2f} cores")
            cells.append(f"{statistics.median(ratio[n]):.2f}{star}")
        paired = [_paired(times, t, f) for t, f in PAIRS]
        nbytes = compulsory_bytes(w, inp, ref[1])
        floor = limits.floor(w.flops, nbytes)
        gen, buf = statistics.median(times["generated"]), statistics.median(times["out="])
        gf, gb = w.flops / gen / 1e9, nbytes / gen / 1e9
        print(f"| {w.name} | {statistics.median(times['hand']) * 1e3:.3f} | {k} | {' | '.join(cells)} | {q1:.2f}-{q3:.2f} "
              f"| {' | '.join(paired)} | {floor * 1e3:.3f} | {gen / floor:.2f} | {buf / floor:.2f} "
              f"| {gf:.1f} ({gf / limits.gflops:.2f}) | {gb:.1f} ({gb / limits.gbytes:.2f}) |", flush=True)
        if faults:
            notes.append(f"{w.name}: minor page faults per call (median): "
                         + ", ".join(f"{n} {statistics.median(v.faults):.0f}" for n, v in s.items()))
    for note in notes:
        print(note)


def _paired(times: dict, target: str, framework: str) -> str:
    """The median over repeats of target time / framework time of the same repeat, with quartiles."""
    if target not in times or framework not in times:
        return "-"
    r = [t / f for t, f in zip(times[target], times[framework])]
    q1, _, q3 = statistics.quantiles(r, n=4) if len(r) > 1 else (r[0],) * 3
    return f"{statistics.median(r):.2f} ({q1:.2f}-{q3:.2f})"


# ---------------------------------------------------------------- peak memory of backward
def _arrays(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _arrays(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _arrays(v)


def _held(cache, inputs: dict) -> int:
    """Bytes of the cache's arrays that are not (views of) inputs."""
    seen, total = set(), 0
    for a in _arrays(cache):
        base = a if a.base is None else a.base
        if id(base) in seen or any(np.shares_memory(a, x) for x in inputs.values()):
            continue
        seen.add(id(base))
        total += base.nbytes
    return total


def traced_peak(backward: Callable, cache) -> int:
    """Peak bytes allocated while ``backward(cache)`` runs, results included (NumPy reports to tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        result = backward(cache)
        peak = tracemalloc.get_traced_memory()[1]
        del result
    finally:
        tracemalloc.stop()
    return peak


def run_memory(ws: list[Workload]) -> None:
    mb = 1 / 2**20
    print("| workload | gradients MB | hand backward peak MB | generated backward peak MB | ratio "
          "| generated out= peak MB | hand cache MB | generated cache MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for w in ws:
        inp = w.inputs(np.random.default_rng(0))  # the same inputs with or without --only
        module = load(codegen(w.expr, ",".join(w.wrt), w.shapes, w.assume))
        _, hand_cache = w.hand_forward(*[inp[k] for k in w.shapes])
        _, gen_cache = module["forward"](**inp)
        grads = sum(g.nbytes for g in w.hand_backward(hand_cache).values())
        hand = min(traced_peak(w.hand_backward, hand_cache) for _ in range(2))
        gen = min(traced_peak(module["backward"], gen_cache) for _ in range(2))
        bufs = {k: v for k, v in module["backward"](gen_cache).items() if isinstance(v, np.ndarray)}
        into = min(traced_peak(lambda c, b=module["backward"], o=bufs: b(c, out=o), gen_cache) for _ in range(2))
        print(f"| {w.name} | {grads * mb:.2f} | {hand * mb:.2f} | {gen * mb:.2f} | {gen / hand:.2f} | {into * mb:.2f} "
              f"| {_held(hand_cache, inp) * mb:.2f} | {_held(gen_cache, inp) * mb:.2f} |", flush=True)


# ---------------------------------------------------------------- the orientations of skinny products
ORIENTATION_SHAPES = [(256, 3072, 10), (4096, 512, 8), (1000, 500, 4), (2048, 64, 10), (128, 3072, 10),
                      (256, 1000, 16), (64, 1000, 16), (256, 256, 10), (64, 100, 10)]


def _orientation_forms(X, W, G) -> dict[str, Callable]:
    return {"XW": lambda: X @ W, "WXT": lambda: (W.T @ X.T).T, "XG": lambda: X.T @ G, "GXT": lambda: (G.T @ X).T}


def _per_repeat(t: dict, a: str, b: str) -> str:
    q = [x / y for x, y in zip(t[a], t[b])]
    q1, _, q3 = statistics.quantiles(q, n=4)
    return f"{statistics.median(q):.2f} ({q1:.2f}-{q3:.2f})"


def run_orientations(repeats: int, clock: str) -> None:
    """Both ways of computing each skinny product the generated code meets, interleaved and
    paired: the forward ``X W`` (m × k times k × n, n small) against ``(Wᵀ Xᵀ)ᵀ``, and the
    backward ``Xᵀ G`` against ``(Gᵀ X)ᵀ`` — what the emitter's ``_SKINNY`` and ``_NARROW`` rules
    choose from."""
    rng = np.random.default_rng(0)
    tick = time.process_time if clock == "cpu" else time.perf_counter
    print("| m × k · k × n | X W µs | (Wᵀ Xᵀ)ᵀ / X W (q1-q3) | Xᵀ G µs | (Gᵀ X)ᵀ / Xᵀ G (q1-q3) | generated uses |")
    print("|---|---:|---:|---:|---:|---|")
    for m, k, n in ORIENTATION_SHAPES:
        forms = _orientation_forms(rng.standard_normal((m, k)), rng.standard_normal((k, n)),
                                   rng.standard_normal((m, n)))
        calls = max(1, int(2e-3 / (2.0 * m * k * n / 20e9)))
        t: dict[str, list[float]] = {f: [] for f in forms}
        names = list(forms)
        for r in range(repeats):
            for f in names[r % 4:] + names[:r % 4]:
                forms[f]()
                t0 = tick()
                for _ in range(calls):
                    forms[f]()
                t[f].append((tick() - t0) / calls)
        src = codegen("L = sum(-Y .* log_softmax(X*W, 2))", "W", {"X": (m, k), "W": (k, n), "Y": (m, n)},
                      {"Y": "onehot_rows"}, verify=False)
        uses = ("(Wᵀ Xᵀ)ᵀ" if "(W.T @ X.T).T" in src else "X W") + ", " + \
            ("(Gᵀ X)ᵀ" if ".T @ X).T" in src else "Xᵀ G")
        print(f"| {m} × {k} · {k} × {n} | {statistics.median(t['XW']) * 1e6:.0f} | {_per_repeat(t, 'WXT', 'XW')} "
              f"| {statistics.median(t['XG']) * 1e6:.0f} | {_per_repeat(t, 'GXT', 'XG')} | {uses} |", flush=True)


# ---------------------------------------------------------------- main
def machine() -> str:
    model = platform.processor()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    return f"{platform.machine()}, {os.cpu_count()} cpus, {model}"


def blas_libraries(competitors: list[str]) -> str:
    try:
        from threadpoolctl import threadpool_info
        libs = [f"{i['internal_api']} {i.get('version') or ''} {i.get('architecture') or ''}".strip()
                for i in threadpool_info() if i["user_api"] == "blas"]
    except ImportError:
        libs = ["?"]
    out = f"numpy BLAS: {', '.join(libs)}"
    if "torch" in competitors:
        import torch
        out += f"; torch BLAS: {'MKL' if torch.backends.mkl.is_available() else 'not MKL'}"
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=51, help="interleaved repeats per contender (default 51)")
    ap.add_argument("--quick", action="store_true", help="7 repeats and 2 ms samples")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="only workloads whose name contains NAME (case-insensitive; repeatable)")
    ap.add_argument("--target", type=float, default=5.0, help="least duration of one sample, ms (default 5)")
    ap.add_argument("--memory", action="store_true", help="peak memory of backward instead of timings")
    ap.add_argument("--orientations", action="store_true",
                    help="time both orientations of the skinny products (X W, Xᵀ G) instead")
    ap.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin the process to one CPU")
    ap.add_argument("--cpu", type=int, help="the CPU to pin to (default: the last one allowed)")
    ap.add_argument("--faults", action="store_true", help="also print minor page faults per call")
    ap.add_argument("--clock", choices=("cpu", "wall"),
                    help="time a sample by the process's CPU time (default when pinned) or by the wall clock")
    args = ap.parse_args(argv)
    repeats, target = (7, 2e-3) if args.quick else (args.repeats, args.target * 1e-3)

    ws = [w for w in workloads() if not args.only or any(o.lower() in w.name.lower() for o in args.only)]
    if not ws:
        raise SystemExit(f"no workload matches {args.only}; workloads: {[w.name for w in workloads()]}")
    if args.memory:
        run_memory(ws)
        return

    # One core for everybody, arranged before jax and torch start their thread pools.
    os.environ.setdefault("XLA_FLAGS", XLA_FLAGS)
    pinned = "not pinned"
    if args.pin and hasattr(os, "sched_setaffinity"):
        cpu = max(os.sched_getaffinity(0)) if args.cpu is None else args.cpu
        os.sched_setaffinity(0, {cpu})
        pinned = f"process pinned to cpu {cpu}"
    try:
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(1)
        blas = "BLAS 1 thread"
    except ImportError:
        limits, blas = None, "threadpoolctl missing: BLAS threads NOT pinned"
    versions = [f"numpy {np.__version__}"]
    competitors = []
    for name, (module_name, _) in COMPETITORS.items():
        try:
            mod = __import__(module_name)
        except ImportError:
            continue
        competitors.append(name)
        versions.append(f"{name} {getattr(mod, '__version__', None) or metadata.version(module_name)}")
        if name == "torch":
            mod.set_num_threads(1)
            mod.set_num_interop_threads(1)
    print(f"{machine()}; {', '.join(versions)}; {blas_libraries(competitors)}")
    print(f"{blas}, {pinned}, XLA_FLAGS={os.environ['XLA_FLAGS']!r}")
    clock = args.clock or ("cpu" if pinned.startswith("process pinned") else "wall")
    print(f"{repeats} repeats, {clock} clock; median over repeats of time / hand-written time of the same repeat "
          "(lower is faster)\n")
    if args.orientations:
        run_orientations(max(repeats, 9), clock)
    else:
        run_timing(ws, competitors, repeats, target, args.faults, clock)
    missing = [c for c in COMPETITORS if c not in competitors]
    if missing:
        print(f"- not installed: {', '.join(missing)}")
    if limits is not None:
        limits.restore_original_limits()


if __name__ == "__main__":
    main()
