"""Load benchmark of ``matcalc serve`` on loopback: requests, failures, median and p99 latency.

usage: python benchmarks/bench_serve.py [--clients 50] [--requests 20] [--workers 2] [--time-limit 10]

Starts ``matcalc serve`` on a free 127.0.0.1 port (never another address), then ``clients``
threads each send ``requests`` requests, one after another: three in four are a class's
repeated questions (derive, check, a parse error), one in four a derivation no one asked before
(``sum(exp(k*W*x))`` with a fresh k: computed, verified, not cached); clients 0 and 1 send a
time bomb and a memory bomb as their 5th and 15th request.  A failure is a request with no
answer or with an answer other than the expected one (a bomb's expected answer is its own limit
error).  Latency is per request, from sending to the whole answer; the bombs are reported
apart.  The load is bounded (clients × requests) and the script stops by itself.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TIME_BOMB = "; ".join(["a1 = x'*x"] + [f"a{i + 1} = a{i}*a{i} + a{i}" for i in range(1, 40)])
MEMORY_BOMB = {"expr": "x'*A*x", "wrt": "x", "shapes": "A=40000,40000 x=40000", "at": "random"}
REPEATED = [
    ("derive", {"expr": "norm(W*x)^2", "wrt": "W"}, lambda s, a: s == 200 and a["gradient"]["text"] == "2*W*x*x'"),
    ("check", {"expr": "x'*A*x", "wrt": "x", "answer": "A*x"}, lambda s, a: s == 200 and a["diagnosis"] == "wrong"),
    ("derive", {"expr": "norm(W*x))", "wrt": "W"}, lambda s, a: s == 400 and a["error"]["column"] == 10),
]


def post(base: str, op: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(f"{base}/api/{op}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=600) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def one(base: str, client: int, k: int, requests: int) -> tuple[str, float, bool]:
    if client in (0, 1) and k in (4, 14):
        kinds = ("TimeLimitError", "MemoryLimitError") if client == 0 else ("MemoryLimitError",)   # the program swells in both
        op, body = ("derive", {"expr": TIME_BOMB, "wrt": "x"}) if client == 0 else ("graph", MEMORY_BOMB)
        def ok(s, a):
            return s == 503 and a["error"]["kind"] in kinds
        label = "bomb"
    elif k % 4 == 3:
        n = client * requests + k + 2
        op, body = "derive", {"expr": f"sum(exp({n}*W*x))", "wrt": "W"}
        def ok(s, a):
            return s == 200 and a["check"]["status"] == "ok"
        label = "new"
    else:
        op, body, ok = REPEATED[(client + k) % len(REPEATED)]
        label = "repeated"
    start = time.perf_counter()
    try:
        status, answer = post(base, op, body)
        good = ok(status, answer)
        if not good:
            print(f"failure: client {client} request {k}: {status} {json.dumps(answer)[:300]}", file=sys.stderr)
    except Exception as e:  # noqa: BLE001 - a lost request is what is counted
        print(f"failure: client {client} request {k}: {type(e).__name__}: {e}", file=sys.stderr)
        good = False
    return label, time.perf_counter() - start, good


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=10.0)
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    server = subprocess.Popen([sys.executable, "-m", "matcalc", "serve", "--port", str(port), "--workers",
                               str(args.workers), "--time-limit", str(args.time_limit)], env=env)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/", timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        start = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as ex:
            futures = [ex.submit(lambda c: [one(base, c, k, args.requests) for k in range(args.requests)], c)
                       for c in range(args.clients)]
            results = [r for f in futures for r in f.result()]
        wall = time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(30)
    print(f"{args.clients} clients x {args.requests} requests, {args.workers} workers, "
          f"time limit {args.time_limit:g} s: {len(results)} requests in {wall:.1f} s, "
          f"{sum(not g for _, _, g in results)} failures")
    for label in ("repeated", "new", "bomb"):
        t = sorted(1000 * d for lab, d, _ in results if lab == label)
        if t:
            p99 = t[min(len(t) - 1, int(0.99 * len(t)))]
            print(f"  {label:9s} {len(t):4d} requests: median {statistics.median(t):8.1f} ms, p99 {p99:8.1f} ms, "
                  f"max {t[-1]:8.1f} ms")
    return 0 if all(g for _, _, g in results) else 1


if __name__ == "__main__":
    sys.exit(main())
