"""Helpers of the web tests: optional extras (skipped, or failed under MATCALC_REQUIRE_EXTRAS=1),
a server on a loopback port for the length of a test, JSON requests with the standard library,
and the pathological inputs (one exhausts the time limit, one the memory limit)."""
from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from conftest import extra

from matcalc.web.app import build_app
from matcalc.web.pool import WorkerPool

CHROMIUM = "/usr/bin/chromium"
# a program whose every statement squares the one before: expression swell without bound (it
# reaches the time limit or, on a fast machine, the memory limit first)
TIME_BOMB = "; ".join(["a1 = x'*x"] + [f"a{i + 1} = a{i}*a{i} + a{i}" for i in range(1, 40)])
# a random point with a 40000 × 40000 matrix: 12.8 GB, far beyond a worker's address space
MEMORY_BOMB = {"expr": "x'*A*x", "wrt": "x", "shapes": "A=40000,40000 x=40000", "at": "random"}


def need(module: str, install: str):
    """``import module`` through conftest's ``extra`` (skip with the reason; a failure under
    MATCALC_REQUIRE_EXTRAS=1, as in CI); ``install`` is kept for the reader's benefit."""
    return extra(module)


def missing(reason: str) -> None:
    """An extra that is not a module (Chromium): skipped, or failed under MATCALC_REQUIRE_EXTRAS=1."""
    if os.environ.get("MATCALC_REQUIRE_EXTRAS") == "1":
        pytest.fail(reason + "; MATCALC_REQUIRE_EXTRAS=1 makes a missing extra a failure")
    pytest.skip(reason)


@contextlib.contextmanager
def running_server(**pool_options):
    """A uvicorn server of the page on 127.0.0.1 (a free port), in a thread; yields its base URL."""
    uvicorn = need("uvicorn", 'pip install -e ".[web]"')
    need("starlette", 'pip install -e ".[web]"')
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    pool = WorkerPool(**pool_options)
    config = uvicorn.Config(build_app(pool), log_level="warning", lifespan="on", backlog=256)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(600):                       # a bounded wait for the workers to start
        if server.started:
            break
        time.sleep(0.1)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}", pool
    finally:
        server.should_exit = True
        thread.join(60)
        sock.close()


def post(base: str, op: str, body: dict, timeout: float = 300) -> tuple[int, dict]:
    """``POST /api/op`` with a JSON body: (status, JSON answer)."""
    request = urllib.request.Request(f"{base}/api/{op}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
