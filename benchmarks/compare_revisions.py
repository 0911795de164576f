"""Two revisions of matcalc side by side: is a refactor slower?  Run by hand, never as a test.

Each revision is checked out into a temporary git worktree and served by its own worker
process; both workers are pinned to one CPU and asked for the same workload in alternation
(A B A B ...), so that a noisy machine slows both alike.  Printed per workload: the median of the
paired ratios B/A and its quartiles (a ratio above 1 means B is slower).

Workloads use the public API only (``matcalc.derive``, ``matcalc.codegen``), with
``verify=False`` so that what is timed is derivation and generation themselves:

- ``derive``      the public conformance cases' expressions, derived (warm)
- ``chain64``     ``sum(tanh(W_64*…tanh(W_1*x)))`` by ``W_1``, derived and printed as text
- ``codegen``     three textbook programs' NumPy modules generated
- ``backward``    a generated 2-layer MLP's forward + backward at 256 × 512 (the code's speed)

usage: python benchmarks/compare_revisions.py BASE [HEAD] [--rounds 21] [--cpu N]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CORPUS = os.path.join(REPO, "..", "shared", "conformance", "public_cases.py")

WORKER = r'''
import json, sys, time
import numpy as np
import matcalc

sys.path.insert(0, CORPUS_DIR)
from inputs import load_corpus
CASES = [c for c in load_corpus(CORPUS) if c.kind in ("grad", "jacobian")]

def chain(L):
    lines, h = [], "x"
    for i in range(1, L + 1):
        lines.append(f"h{i} = tanh(W{i}*{h})")
        h = f"h{i}"
    lines.append(f"s = sum({h})")
    return "; ".join(lines)

CHAIN = chain(64)
PROGRAMS = [("h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "W1,W2", None),
            ("-y'*log_softmax(W*x)", "W", {"y": "onehot"}),
            ("s = u'*tanh(W*x + b)", "W,b", None)]
ns = {}
exec(matcalc.codegen("h = tanh(X*W1); L = norm(h*W2 - Y)^2", "W1,W2",
                     {"X": (256, 512), "W1": (512, 256), "W2": (256, 64), "Y": (256, 64)}, verify=False), ns)
rng = np.random.default_rng(0)
INPUTS = {"X": rng.standard_normal((256, 512)), "W1": rng.standard_normal((512, 256)) / 20,
          "W2": rng.standard_normal((256, 64)) / 20, "Y": rng.standard_normal((256, 64))}

def derive():
    for c in CASES:
        try:
            matcalc.derive(c.expr, c.wrt, shapes=c.shapes, assume=getattr(c, "assume", None) or None, verify=False)
        except matcalc.MatcalcError:
            pass

def chain64():
    matcalc.derive(CHAIN, "W1", verify=False).text()

def codegen():
    for expr, wrt, assume in PROGRAMS:
        matcalc.codegen(expr, wrt, assume=assume, verify=False)

def backward():
    _, cache = ns["forward"](**INPUTS)
    ns["backward"](cache)

WORK = {"derive": derive, "chain64": chain64, "codegen": codegen, "backward": backward}
for f in WORK.values():
    f()
print("ready", flush=True)
for line in sys.stdin:
    name, repeats = line.split()
    t0 = time.perf_counter()
    for _ in range(int(repeats)):
        WORK[name]()
    print(json.dumps((time.perf_counter() - t0) / int(repeats)), flush=True)
'''

REPEATS = {"derive": 3, "chain64": 3, "codegen": 3, "backward": 10}


def worktree(rev: str, parent: str) -> str:
    path = os.path.join(parent, rev.replace("/", "_"))
    subprocess.run(["git", "-C", REPO, "worktree", "add", "--detach", path, rev], check=True,
                   capture_output=True)
    return path


def start(path: str, cpu: int) -> subprocess.Popen:
    code = f"CORPUS = {CORPUS!r}; CORPUS_DIR = {os.path.dirname(CORPUS)!r}\n" + WORKER
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    proc = subprocess.Popen(["taskset", "-c", str(cpu), sys.executable, "-c", code], cwd=path, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def ask(proc: subprocess.Popen, name: str) -> float:
    proc.stdin.write(f"{name} {REPEATS[name]}\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base")
    ap.add_argument("head", nargs="?", default="HEAD")
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as parent:
        paths = [worktree(args.base, parent), worktree(args.head, parent)]
        try:
            a, b = (start(p, args.cpu) for p in paths)
            print(f"{args.base} (A) against {args.head} (B), pinned to CPU {args.cpu}, {args.rounds} rounds")
            print(f"{'workload':10} {'A median':>10} {'B median':>10} {'B/A median':>11} {'quartiles':>15}")
            for name in REPEATS:
                ta, tb, ratios = [], [], []
                for i in range(args.rounds):
                    first, second = (a, b) if i % 2 == 0 else (b, a)
                    x, y = ask(first, name), ask(second, name)
                    xa, xb = (x, y) if first is a else (y, x)
                    ta.append(xa)
                    tb.append(xb)
                    ratios.append(xb / xa)
                q1, _, q3 = statistics.quantiles(ratios, n=4)
                print(f"{name:10} {statistics.median(ta) * 1e3:8.2f}ms {statistics.median(tb) * 1e3:8.2f}ms "
                      f"{statistics.median(ratios):11.3f} {q1:7.3f}–{q3:.3f}")
            for p in (a, b):
                p.stdin.close()
                p.wait()
        finally:
            for p in paths:
                subprocess.run(["git", "-C", REPO, "worktree", "remove", "--force", p], check=False,
                               capture_output=True)


if __name__ == "__main__":
    main()
