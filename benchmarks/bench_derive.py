"""Benchmark derive(): run by hand, never as a test.  Figures go into the README.

1. Every public conformance case: median and worst warm derive() time, with ``verify=False``
   (what deriving costs) and with the default verification (what a call costs).
2. s = sum(tanh(W_L*...tanh(W_1*x))) for L = 1, 2, 4, ..., 64: time to derive the gradient by
   W_1 and print it (.text(), a program with named intermediates), and the printed size; the
   growth exponent is fitted on log-log scale.
3. Depth: derive + print of a program of N statements (``h_i = tanh(W_i*h_{i-1})``, N = 64 …
   500) and of the nested chain ``u'*tanh(W_L*…tanh(W_1*x))`` (L = 64 … 200, the parser's
   nesting limit), sizes interleaved round by round; the log-log slope from 64 up, and that no
   size raises.
4. The check's cost at L = 64: verified derive minus derive, over derive, as paired ratios
   (each round times both back to back; median and quartiles).
5. `matcalc derive` end to end against `python -c "import sympy"`.

usage: taskset -c 1 python benchmarks/bench_derive.py [--repeats 5]
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


def public_cases(repeats, verify=True):
    sys.path.insert(0, os.path.dirname(CORPUS))
    from inputs import load_corpus  # the suite's loader: we only read expressions to time them
    cases = [c for c in load_corpus(CORPUS) if c.kind in ("grad", "jacobian")]
    times = []
    for c in cases:
        shapes = None if "infer" in c.tags else c.shapes

        def run(c=c, shapes=shapes):
            matcalc.derive(c.expr, c.wrt, shapes=shapes, assume=c.assume or None, verify=verify)
        run()                                                                          # warm
        times.append(timed(run, repeats))
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
            d = matcalc.derive(expr, "W_1", verify=False)
            return d.text()
        run()
        t = timed(run, repeats)
        rows.append((L, t, len(run())))
    return rows


def exponent(rows, col, start=8):
    xs = [math.log(r[0]) for r in rows if r[0] >= start]
    ys = [math.log(r[col]) for r in rows if r[0] >= start]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def program(n):
    """n statements h_i = tanh(W_i*h_{i-1}), then sum(h_n): a deep network written as a program."""
    lines = [f"h{i} = tanh(W_{i}*{'x' if i == 1 else f'h{i - 1}'})" for i in range(1, n + 1)]
    return "\n".join(lines + [f"sum(h{n})"])


def nested(L):
    """u'*tanh(W_L*...tanh(W_1*x)): L nested calls, at L = 200 the parser's nesting limit."""
    inner = "x"
    for i in range(1, L + 1):
        inner = f"tanh(W_{i}*{inner})"
    return f"u'*{inner}"


def depth(repeats, build, sizes):
    """Median derive + print time per size, sizes interleaved in each round; (size, seconds,
    printed characters).  Raises if any size fails (RecursionError included)."""
    exprs = {n: build(n) for n in sizes}

    def run(n):
        d = matcalc.derive(exprs[n], "W_1", verify=False)
        return len(d.text())
    chars = {n: run(n) for n in sizes}                  # warm, and the printed size
    times = {n: [] for n in sizes}
    for _ in range(repeats):
        for n in sizes:
            t0 = time.perf_counter()
            run(n)
            times[n].append(time.perf_counter() - t0)
    return [(n, statistics.median(times[n]), chars[n]) for n in sizes]


def check_cost(repeats, L=64):
    """(verified derive − derive) / derive for the L-layer chain, paired round by round: the
    median and quartiles of the ratios, and the two medians."""
    expr = chain(L)
    matcalc.derive(expr, "W_1")
    ratios, plain, checked = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        matcalc.derive(expr, "W_1", verify=False)
        t1 = time.perf_counter()
        matcalc.derive(expr, "W_1")
        t2 = time.perf_counter()
        plain.append(t1 - t0)
        checked.append(t2 - t1)
        ratios.append((t2 - t1 - (t1 - t0)) / (t1 - t0))
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return q[1], q[0], q[2], statistics.median(plain), statistics.median(checked)


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
    med, worst, n = public_cases(args.repeats, verify=False)
    print(f"public cases ({n}), verify=False: median derive {med * 1e3:.2f} ms, worst {worst * 1e3:.2f} ms (warm)")
    med, worst, n = public_cases(args.repeats)
    print(f"public cases ({n}), verified: median derive {med * 1e3:.2f} ms, worst {worst * 1e3:.2f} ms (warm)")
    rows = deep(args.repeats)
    print(f"{'L':>4} {'derive+print ms':>16} {'printed chars':>14}")
    for L, t, size in rows:
        print(f"{L:>4} {t * 1e3:>16.2f} {size:>14}")
    print(f"growth exponent (L >= 8): time {exponent(rows, 1):.2f}, size {exponent(rows, 2):.2f}")
    for label, build, sizes in (("program of N statements", program, (64, 128, 256, 500)),
                                ("nested chain of L layers", nested, (64, 96, 128, 160, 200))):
        rows = depth(args.repeats, build, sizes)
        print(f"{label}: " + ", ".join(f"{n}: {t * 1e3:.0f} ms ({c} chars)" for n, t, c in rows))
        print(f"  log-log slope from 64: time {exponent(rows, 1, 64):.2f}, printed size {exponent(rows, 2, 64):.2f}")
    mid, lo, hi, plain, checked = check_cost(max(args.repeats, 7))
    print(f"check at L = 64: (verified - derive) / derive = {mid:.2f} (quartiles {lo:.2f}-{hi:.2f}); "
          f"derive {plain * 1e3:.0f} ms, verified {checked * 1e3:.0f} ms")
    a, b = cli(args.repeats)
    print(f"CLI end to end: matcalc derive {b * 1e3:.0f} ms, python -c 'import sympy' {a * 1e3:.0f} ms, "
          f"difference {(b - a) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
