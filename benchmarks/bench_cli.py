"""The command line's start-up against SymPy's import: is ``matcalc derive`` cheaper than ``import sympy``?

Run by hand, never as a test.  Two commands, each a fresh interpreter pinned to one CPU
(``taskset -c 1``), run in alternation (A B A B ..., in rotating order), so that a loaded machine
slows both alike:

- ``matcalc``: ``python -m matcalc derive "norm(W*x)**2" --wrt W`` (parse, derive, simplify,
  print, and the finite-difference check of the printed answer: the whole default path)
- ``sympy``:   ``python -c "import sympy"``

Bytecode is cached as an installed package has it (``PYTHONPYCACHEPREFIX`` in the temporary
directory, written by an untimed warm-up run of each command), also when the environment sets
``PYTHONDONTWRITEBYTECODE``.  Each run's cost is its CPU time (user + system, from ``os.wait4``), which load inflates less than
wall time.  Printed: both medians and the median of the paired ratios matcalc / sympy with its
quartiles; the target (issue 13) is a ratio ≤ 0.6.  ``--no-verify`` times ``derive --no-verify``
as well; ``--wall`` prints wall-clock figures beside CPU time.

usage: python benchmarks/bench_cli.py [--rounds 21] [--cpu 1] [--no-verify] [--repo CHECKOUT]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
# Bytecode as an installed package has it (pip compiles on install), kept outside the source tree;
# the untimed warm-up runs write it, for SymPy and NumPy as for matcalc.
PYCACHE = os.path.join(tempfile.gettempdir(), "matcalc-bench-cli-pycache")


def commands(cpu: int, no_verify: bool) -> dict[str, list[str]]:
    pin = ["taskset", "-c", str(cpu)] if shutil.which("taskset") else []
    out = {"matcalc": [*pin, sys.executable, "-m", "matcalc", "derive", "norm(W*x)**2", "--wrt", "W"],
           "sympy": [*pin, sys.executable, "-c", "import sympy"]}
    if no_verify:
        out["matcalc --no-verify"] = [*out["matcalc"], "--no-verify"]
    return out


def run_once(cmd: list[str], repo: str = REPO) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of ``cmd``; a failing run stops the benchmark."""
    env = dict(os.environ, PYTHONPATH=repo + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTHONPYCACHEPREFIX=PYCACHE)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=repo)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err}")
    return usage.ru_utime + usage.ru_stime, wall


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(xs, n=4) if len(xs) > 1 else [xs[0]] * 3
    return q[0], statistics.median(xs), q[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--cpu", type=int, default=1)
    ap.add_argument("--no-verify", action="store_true", help="also time derive --no-verify")
    ap.add_argument("--wall", action="store_true", help="print wall-clock figures too")
    ap.add_argument("--repo", default=REPO, help="the matcalc checkout to time (default: this one)")
    args = ap.parse_args()
    cmds = commands(args.cpu, args.no_verify)
    names = list(cmds)
    for name in names:                       # warm the file cache, untimed
        run_once(cmds[name], args.repo)
    cpu: dict[str, list[float]] = {n: [] for n in names}
    wall: dict[str, list[float]] = {n: [] for n in names}
    for r in range(args.rounds):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            c, w = run_once(cmds[name], args.repo)
            cpu[name].append(c)
            wall[name].append(w)
    print(f"{args.rounds} interleaved rounds, pinned to CPU {args.cpu}; CPU time (user + system)")
    for name in names:
        lo, med, hi = quartiles(cpu[name])
        extra = f"   wall median {statistics.median(wall[name]) * 1000:.0f} ms" if args.wall else ""
        print(f"  {name:22s} median {med * 1000:6.0f} ms  (quartiles {lo * 1000:.0f}–{hi * 1000:.0f}){extra}")
    for name in names:
        if name == "sympy":
            continue
        ratios = [a / b for a, b in zip(cpu[name], cpu["sympy"])]
        lo, med, hi = quartiles(ratios)
        print(f"  {name} / import sympy: median of paired ratios {med:.2f} (quartiles {lo:.2f}–{hi:.2f}); "
              f"target ≤ 0.60")


if __name__ == "__main__":
    main()
