"""Evaluate symbolic Hessians (matcalc.hessian(...).numpy()) against autodiff Hessians.

usage: python benchmarks/bench_hessian.py [--sizes 100,1000,3000] [--repeats 5]

Functions: ``x'*A*x + sum(exp(A*x))`` (A n×n, by x) and the logistic-regression loss
``sum(log(1 + exp(X*w))) - y'*X*w`` (X 2n×n, by w).  Timings are the median of interleaved runs of
evaluating an already derived Hessian; jax.hessian is jit-compiled (compile excluded) and
torch.autograd.functional.hessian uses vectorize=True.  Frameworks that are not installed are
skipped.  Ratios > 1 mean matcalc is faster.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import matcalc  # noqa: E402

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000,3000")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    jax_fns, torch_fns = _jax_fns(), _torch_fns()
    print(f"jax: {'yes' if jax_fns else 'not installed'}; torch: {'yes' if torch_fns else 'not installed'}")
    print(f"{'case':9} {'n':>5} {'matcalc ms':>11} {'jax ms':>9} {'ratio':>6} {'torch ms':>9} {'ratio':>6}  max|diff|")
    for name, (expr, wrt, make) in CASES.items():
        h = matcalc.hessian(expr, wrt)
        ours = h.numpy()
        for n in [int(s) for s in args.sizes.split(",")]:
            v = make(n, rng)
            runners = {"matcalc": lambda v: ours(**v)}
            if jax_fns:
                runners["jax"] = jax_fns[name]
            if torch_fns and n <= 1000 or torch_fns and args.repeats <= 2:
                runners["torch"] = torch_fns[name]
            results = {k: np.asarray(f(v)) for k, f in runners.items()}        # warm-up / jit compile
            diff = max((float(np.max(np.abs(results[k] - results["matcalc"]))) for k in results if k != "matcalc"),
                       default=0.0)
            times: dict[str, list[float]] = {k: [] for k in runners}
            for _ in range(args.repeats):                                       # interleaved
                for k, f in runners.items():
                    times[k].append(timed(f, v))
            med = {k: statistics.median(t) * 1e3 for k, t in times.items()}
            cells = [f"{name:9} {n:>5} {med['matcalc']:>11.2f}"]
            for k in ("jax", "torch"):
                if k in med:
                    cells.append(f"{med[k]:>9.2f} {med[k] / med['matcalc']:>6.1f}")
                else:
                    cells.append(f"{'-':>9} {'-':>6}")
            print(" ".join(cells) + f"  {diff:.1e}")


if __name__ == "__main__":
    main()
