"""Benchmark ``derive(..., steps=True)`` + the printed steps: run by hand, never as a test.

For the program of N statements ``h_i = tanh(W_i*h_{i-1})``, ``sum(h_N)`` (N = 64 … 500) and the
nested chain ``u'*tanh(W_L*…tanh(W_1*x))`` (L = 64 … 200, the parser's nesting limit): the
median time of derive + steps + print (Unicode, ``verify=False``), sizes interleaved round by
round, the printed size in every style, and the log-log slopes of both from 64 up.

``--compare PATH`` also times another checkout of matcalc (say the one before a change) against
this one at one size, in alternation (A B A B …, one worker process each, the workers pinned
wherever this process is): the median of the paired ratios this/other, with quartiles.

usage: taskset -c 1 python benchmarks/bench_steps.py [--repeats 5] [--sizes 64,128]
       [--compare /path/to/other/checkout --at 32]
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

STYLES = ("unicode", "text", "markdown", "latex", "json")


def program(n: int) -> str:
    lines = [f"h{i} = tanh(W_{i}*{'x' if i == 1 else f'h{i - 1}'})" for i in range(1, n + 1)]
    return "\n".join(lines + [f"sum(h{n})"])


def nested(n: int) -> str:
    inner = "x"
    for i in range(1, n + 1):
        inner = f"tanh(W_{i}*{inner})"
    return f"u'*{inner}"


def slope(xs, ys) -> float:
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def steps_once(expr: str, style: str = "unicode") -> str:
    return matcalc.derive(expr, "W_1", steps=True, verify=False).steps_text(style)


def growth(build, sizes, repeats):
    """(size, median seconds, {style: printed characters}) per size, sizes interleaved."""
    exprs = {n: build(n) for n in sizes}
    chars = {n: {s: len(steps_once(exprs[n], s)) for s in STYLES} for n in sizes}   # warm, and sizes
    times: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(repeats):
        for n in sizes:
            t0 = time.perf_counter()
            steps_once(exprs[n])
            times[n].append(time.perf_counter() - t0)
    return [(n, statistics.median(times[n]), chars[n]) for n in sizes]


WORKER = r'''
import sys, time
sys.path.insert(0, sys.argv[1])
import matcalc
inner = "x"
for i in range(1, int(sys.argv[2]) + 1):
    inner = f"tanh(W_{i}*{inner})"
expr = f"u'*{inner}"
matcalc.derive(expr, "W_1", steps=True, verify=False).steps_text()
t0 = time.perf_counter()
matcalc.derive(expr, "W_1", steps=True, verify=False).steps_text()
print(time.perf_counter() - t0)
'''


def compare(other: str, size: int, rounds: int):
    """Paired ratios this/other for the nested chain of ``size`` layers (one warm call timed per
    worker process, the two revisions alternating)."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(matcalc.__file__)))
    ratios, mine, theirs = [], [], []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for _ in range(rounds):
        a = float(subprocess.run([sys.executable, "-c", WORKER, other, str(size)], capture_output=True, text=True,
                                 check=True, env=env).stdout)
        b = float(subprocess.run([sys.executable, "-c", WORKER, here, str(size)], capture_output=True, text=True,
                                 check=True, env=env).stdout)
        theirs.append(a)
        mine.append(b)
        ratios.append(b / a)
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return q[1], q[0], q[2], statistics.median(mine), statistics.median(theirs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sizes", help="comma-separated sizes for both shapes (default: 64 … 500 and 64 … 200)")
    ap.add_argument("--compare", metavar="PATH", help="another checkout of matcalc to time against this one")
    ap.add_argument("--at", type=int, default=32, help="the nested chain's depth for --compare")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--only-compare", action="store_true", help="skip the growth rows")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}, matcalc from {os.path.dirname(matcalc.__file__)}")
    custom = [int(s) for s in args.sizes.split(",")] if args.sizes else None
    for label, build, sizes in (("program of N statements", program, custom or [64, 128, 256, 500]),
                                ("nested chain of L layers", nested, custom or [64, 96, 128, 160, 200])):
        if args.only_compare:
            break
        rows = growth(build, sizes, args.repeats)
        print(f"{label}: derive + steps + print (unicode)")
        for n, t, chars in rows:
            print(f"  {n:>4}: {t * 1e3:8.0f} ms   " + ", ".join(f"{s} {c:,}" for s, c in chars.items()))
        ns = [r[0] for r in rows]
        if len(ns) < 2:
            continue
        print(f"  log-log slope from {ns[0]}: time {slope(ns, [r[1] for r in rows]):.2f}; printed size "
              + ", ".join(f"{s} {slope(ns, [r[2][s] for r in rows]):.2f}" for s in STYLES))
    if args.compare:
        mid, lo, hi, mine, theirs = compare(args.compare, args.at, args.rounds)
        print(f"nested chain, L = {args.at}: this/other = {mid:.3f} (quartiles {lo:.3f}-{hi:.3f}); "
              f"this {mine * 1e3:.0f} ms, other {theirs * 1e3:.0f} ms, {args.rounds} paired rounds; "
              f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
