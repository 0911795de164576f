"""Evaluate matcalc's Hessians and Hessian-vector products against autodiff ones.

usage: python benchmarks/bench_hessian.py [--sizes 100,1000,3000] [--repeats 5] [--torch-max 3000]
       python benchmarks/bench_hessian.py --depth [--layers 16,32,64,128,256] [--repeats 3]

Functions: ``x'*A*x + sum(exp(A*x))`` (A n×n, by x) and the logistic-regression loss
``sum(log(1 + exp(X*w))) - y'*X*w`` (X 2n×n, by w).  Timings are the median of interleaved runs.

Hessian table: ``gen`` is the generated module's ``hessian(**inputs)`` (``matcalc codegen
--hessian``: forward pass included), ``sym`` the symbolic ``matcalc.hessian(...).numpy()``;
jax.hessian is jit-compiled (compile excluded) and torch.autograd.functional.hessian uses
vectorize=True.  HVP table: the generated ``hvp(cache, v)`` timed with its forward pass
(``fwd+hvp``, the fair comparison) and alone from a cache, against the jit-compiled JAX
forward-over-reverse ``jvp(grad(f), (x,), (v,))``.  Frameworks that are not installed are
skipped.  Ratios > 1 mean matcalc (generated code) is faster.

``--depth``: the symbolic Hessian by x of a deep network, ``matcalc.hessian(...)`` and its
``.text()``, CPU time (median of interleaved rounds), for the program of L statements
``h_i = tanh(W_i*h_{i-1}); u'*h_L`` and the nested chain ``u'*tanh(W_L*…tanh(W_1*x))`` (200
layers at most, the parser's nesting limit); ``verify=False`` and verified, with
the log-log slope from L = 64 up.  Run it
pinned to one core (``taskset -c 1``); the slope is the figure to read, not absolute times.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import matcalc
from benchmarks.bench_derive import exponent, nested
from matcalc.generate.gradcheck import load
from matcalc.language.parser import MAX_DEPTH

CASES = {
    "quad_exp": ("x'*A*x + sum(exp(A*x))", "x",
                 lambda n, rng: {"A": rng.standard_normal((n, n)) / np.sqrt(n), "x": rng.standard_normal(n)}),
    "logreg": ("sum(log(1 + exp(X*w))) - y'*X*w", "w",
               lambda n, rng: {"X": rng.standard_normal((2 * n, n)) / np.sqrt(n), "w": rng.standard_normal(n),
                               "y": rng.integers(0, 2, 2 * n).astype(float)}),
}


def _jax_fns():
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    fns = {
        "quad_exp": lambda v: jax.jit(jax.hessian(lambda x, A: x @ A @ x + jnp.sum(jnp.exp(A @ x))),
                                      static_argnums=())(v["x"], v["A"]),
    }
    hq = jax.jit(jax.hessian(lambda x, A: x @ A @ x + jnp.sum(jnp.exp(A @ x))))
    hl = jax.jit(jax.hessian(lambda w, X, y: jnp.sum(jnp.log1p(jnp.exp(X @ w))) - y @ (X @ w)))
    fns = {"quad_exp": lambda v: hq(v["x"], v["A"]).block_until_ready(),
           "logreg": lambda v: hl(v["w"], v["X"], v["y"]).block_until_ready()}
    return fns


def _jax_hvps():
    """Forward over reverse, jit-compiled: jvp(grad(f), (x,), (v,)); None without JAX."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def quad(x, A):
        return x @ A @ x + jnp.sum(jnp.exp(A @ x))

    def logreg(w, X, y):
        return jnp.sum(jnp.log1p(jnp.exp(X @ w))) - y @ (X @ w)
    hq = jax.jit(lambda x, A, t: jax.jvp(lambda x: jax.grad(quad)(x, A), (x,), (t,))[1])
    hl = jax.jit(lambda w, X, y, t: jax.jvp(lambda w: jax.grad(logreg)(w, X, y), (w,), (t,))[1])
    return {"quad_exp": lambda v, t: hq(v["x"], v["A"], t).block_until_ready(),
            "logreg": lambda v, t: hl(v["w"], v["X"], v["y"], t).block_until_ready()}


def _torch_fns():
    try:
        import torch
        from torch.autograd.functional import hessian
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)

    def quad(v):
        A = torch.from_numpy(v["A"])
        return hessian(lambda x: x @ A @ x + torch.exp(A @ x).sum(), torch.from_numpy(v["x"]), vectorize=True)

    def logreg(v):
        X, y = torch.from_numpy(v["X"]), torch.from_numpy(v["y"])
        return hessian(lambda w: torch.log1p(torch.exp(X @ w)).sum() - y @ (X @ w), torch.from_numpy(v["w"]),
                       vectorize=True)
    return {"quad_exp": quad, "logreg": logreg}


def timed(fn, v) -> float:
    t0 = time.perf_counter()
    fn(v)
    return time.perf_counter() - t0


def statements(n: int) -> str:
    """h_i = tanh(W_i*h_{i-1}) for i = 1…n, then u'*h_n: a deep network written as a program."""
    lines = [f"h{i} = tanh(W_{i}*{'x' if i == 1 else f'h{i - 1}'})" for i in range(1, n + 1)]
    return "\n".join(lines + [f"u'*h{n}"])


def depth(layers: list[int], repeats: int) -> None:
    """Hessian + printing time against depth, and the log-log slope from 64 layers up."""
    deepest = sorted({min(L, MAX_DEPTH) for L in layers})           # the parser nests 200 calls at most
    for label, build, sizes in (("program of L statements", statements, layers),
                                ("nested chain of L layers", nested, deepest)):
        for verify in (False, True):
            exprs = {L: build(L) for L in sizes}
            matcalc.hessian(build(8), "x", verify=verify).text()          # warm: SymPy loaded
            times: dict[int, list[float]] = {L: [] for L in sizes}
            chars: dict[int, int] = {}
            for _ in range(repeats):                                      # sizes interleaved
                for L in sizes:
                    t0 = time.process_time()
                    h = matcalc.hessian(exprs[L], "x", verify=verify)
                    chars[L] = len(h.text())
                    times[L].append(time.process_time() - t0)
                    if verify and h.check.status != "ok":
                        raise SystemExit(f"L = {L}: the check says {h.check.status}: {h.check.detail}")
            rows = [(L, statistics.median(times[L]), chars[L]) for L in sizes]
            cells = ", ".join(f"{L}: {t:.2f} s" for L, t, _ in rows)
            slope = f"slope from 64: time {exponent(rows, 1, 64):.2f}, printed size {exponent(rows, 2, 64):.2f}" \
                if sum(L >= 64 for L in sizes) >= 2 else ""
            print(f"{label}, {'verified' if verify else 'verify=False'}: {cells}; {slope}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000,3000")
    ap.add_argument("--repeats", type=int, default=None, help="rounds (default 5; 3 with --depth)")
    ap.add_argument("--torch-max", type=int, default=3000, help="largest n torch.hessian is run at")
    ap.add_argument("--depth", action="store_true", help="the symbolic Hessian of deep networks instead")
    ap.add_argument("--layers", default="16,32,64,128,256", help="depths for --depth")
    args = ap.parse_args()
    if args.depth:
        depth([int(s) for s in args.layers.split(",")], args.repeats or 3)
        return
    args.repeats = args.repeats or 5
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(0)
    jax_fns, torch_fns, jax_hvps = _jax_fns(), _torch_fns(), _jax_hvps()
    print(f"jax: {'yes' if jax_fns else 'not installed'}; torch: {'yes' if torch_fns else 'not installed'}")
    print("Hessian (ratio = their time / generated hessian(**inputs) time)")
    print(f"{'case':9} {'n':>5} {'gen ms':>9} {'sym ms':>9} {'jax ms':>9} {'ratio':>6} {'torch ms':>9} {'ratio':>6}"
          "  max|diff|")
    modules = {name: load(matcalc.codegen_hessian(expr, wrt)) for name, (expr, wrt, _) in CASES.items()}
    points = {}
    for name, (expr, wrt, make) in CASES.items():
        ours = matcalc.hessian(expr, wrt).numpy()
        gen = modules[name]["hessian"]
        for n in sizes:
            v = points[name, n] = make(n, rng)
            runners = {"gen": lambda v, gen=gen: gen(**v), "sym": lambda v, ours=ours: ours(**v)}
            if jax_fns:
                runners["jax"] = jax_fns[name]
            if torch_fns and n <= args.torch_max:
                runners["torch"] = torch_fns[name]
            results = {k: np.asarray(f(v)) for k, f in runners.items()}        # warm-up / jit compile
            diff = max((float(np.max(np.abs(results[k] - results["gen"]))) for k in results if k != "gen"),
                       default=0.0)
            times: dict[str, list[float]] = {k: [] for k in runners}
            for _ in range(args.repeats):                                       # interleaved
                for k, f in runners.items():
                    times[k].append(timed(f, v))
            med = {k: statistics.median(t) * 1e3 for k, t in times.items()}
            cells = [f"{name:9} {n:>5} {med['gen']:>9.2f} {med['sym']:>9.2f}"]
            for k in ("jax", "torch"):
                if k in med:
                    cells.append(f"{med[k]:>9.2f} {med[k] / med['gen']:>6.1f}")
                else:
                    cells.append(f"{'-':>9} {'-':>6}")
            print(" ".join(cells) + f"  {diff:.1e}", flush=True)
    if not jax_hvps:
        return
    print()
    print("Hessian-vector product (ratio = JAX jit jvp-of-grad time / generated forward + hvp time)")
    print(f"{'case':9} {'n':>5} {'fwd+hvp ms':>11} {'hvp ms':>9} {'jax ms':>9} {'ratio':>6}  max|diff|")
    for name, (expr, wrt, make) in CASES.items():
        mod = modules[name]
        fwd, hvp = mod["forward"], mod["hvp"]
        for n in sizes:
            v = points[name, n]
            t = rng.standard_normal(np.shape(v[wrt]))
            cache = fwd(**v)[1]
            runners = {"gen": lambda v, t=t, hvp=hvp, fwd=fwd: hvp(fwd(**v)[1], t),
                       "cached": lambda v, t=t, hvp=hvp, cache=cache: hvp(cache, t),
                       "jax": lambda v, t=t, name=name: jax_hvps[name](v, t)}
            results = {k: np.asarray(f(v)) for k, f in runners.items()}
            diff = float(np.max(np.abs(results["jax"] - results["gen"])))
            times = {k: [] for k in runners}
            for _ in range(max(args.repeats, 20 if n <= 1000 else 5)):
                for k, f in runners.items():
                    times[k].append(timed(f, v))
            med = {k: statistics.median(t) * 1e3 for k, t in times.items()}
            print(f"{name:9} {n:>5} {med['gen']:>11.3f} {med['cached']:>9.3f} {med['jax']:>9.3f} "
                  f"{med['jax'] / med['gen']:>6.1f}  {diff:.1e}", flush=True)


if __name__ == "__main__":
    main()
