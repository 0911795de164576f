"""Benchmark derive(): run by hand, never as a test.  Figures go into the README.

1. Every public conformance case: median and worst warm derive() time.
2. s = sum(tanh(W_L*...tanh(W_1*x))) for L = 1, 2, 4, ..., 64: time to derive the gradient by
   W_1 and print it (.text(), a program with named intermediates), and the printed size; the
   growth exponent is fitted on log-log scale.
3. `matcalc derive` end to end against `python -c "import sympy"`.

usage: python benchmarks/bench_derive.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import matcalc

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "shared", "conformance", "public_cases.py")


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def public_cases(repeats):
    sys.path.insert(0, os.path.dirname(CORPUS))
    from inputs import load_corpus  # the suite's loader: we only read expressions to time them
    cases = [c for c in load_corpus(CORPUS) if c.kind in ("grad", "jacobian")]
    times = []
    for c in cases:
        shapes = None if "infer" in c.tags else c.shapes
        matcalc.derive(c.expr, c.wrt, shapes=shapes, assume=c.assume or None)       # warm
        times.append(timed(lambda c=c, shapes=shapes: matcalc.derive(c.expr, c.wrt, shapes=shapes,
                                                                      assume=c.assume or None), repeats))
    return statistics.median(times), max(times), len(times)


def chain(L):
    inner = "x"
    for i in range(1, L + 1):
        inner = f"tanh(W_{i}*{inner})"
    return f"sum({inner})"


def deep(repeats):
    rows = []
    for L in (1, 2, 4, 8, 16, 32, 64):
        expr = chain(L)

        def run(expr=expr):
            d = matcalc.derive(expr, "W_1")
            return d.text()
        run()
        t = timed(run, repeats)
        rows.append((L, t, len(run())))
    return rows


def exponent(rows, col):
    xs = [math.log(r[0]) for r in rows if r[0] >= 8]
    ys = [math.log(r[col]) for r in rows if r[0] >= 8]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def cli(repeats):
    def run(cmd):
        subprocess.run(cmd, check=True, capture_output=True)
    base = [sys.executable, "-c", "import sympy"]
    ours = [sys.executable, "-m", "matcalc.cli", "derive", "norm(W*x)**2", "--wrt", "W"]
    a, b = [], []
    for _ in range(repeats):                      # interleaved, one process each
        t0 = time.perf_counter()
        run(base)
        a.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        run(ours)
        b.append(time.perf_counter() - t0)
    return statistics.median(a), statistics.median(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    med, worst, n = public_cases(args.repeats)
    print(f"public cases ({n}): median derive {med * 1e3:.2f} ms, worst {worst * 1e3:.2f} ms (warm)")
    rows = deep(args.repeats)
    print(f"{'L':>4} {'derive+print ms':>16} {'printed chars':>14}")
    for L, t, size in rows:
        print(f"{L:>4} {t * 1e3:>16.2f} {size:>14}")
    print(f"growth exponent (L >= 8): time {exponent(rows, 1):.2f}, size {exponent(rows, 2):.2f}")
    a, b = cli(args.repeats)
    print(f"CLI end to end: matcalc derive {b * 1e3:.0f} ms, python -c 'import sympy' {a * 1e3:.0f} ms, "
          f"difference {(b - a) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
