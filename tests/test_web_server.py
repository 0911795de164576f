"""The server of ``matcalc serve`` on loopback: the page and its bundled files, the JSON API, the
per-request time and memory limits, a bounded load test with pathological inputs mixed in, the
bind warning, and the package data in the wheel.  No assertion is timed (CLARIFICATIONS "Web
page"): the tests assert that every request is answered and that each pathological one ends
with its own limit error; latency figures come from benchmarks/bench_serve.py."""
from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import sys
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from web_support import MEMORY_BOMB, TIME_BOMB, need, post, running_server

from matcalc.cli.main import main
from matcalc.web.app import MAX_BODY
from matcalc.web.serve import bind_warning, is_loopback, page_url
from matcalc.web.tasks import run_task

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "matcalc" / "web" / "static"
CLIENTS, REQUESTS = 50, 20
LIMITS = ("TimeLimitError", "MemoryLimitError")      # the program bomb swells in time and in memory alike


@pytest.fixture(scope="module")
def server():
    # 12 s: a plain grading request takes well under a second idle, but several seconds on a loaded
    # 2-core machine, which a 4 s limit turned into a 503; the bombs grow without bound, so they
    # still end with their own limit
    with running_server(workers=2, time_limit=12.0, memory_mb=1024) as (base, pool):
        yield base, pool


def get(url: str) -> tuple[int, dict, bytes]:
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.status, dict(r.headers), r.read()


def test_the_page_and_its_bundled_files_are_served_with_a_same_origin_policy(server):
    base, _ = server
    status, headers, body = get(base + "/")
    assert status == 200 and b'id="expr"' in body
    assert "default-src 'self'" in headers["content-security-policy"]
    for path in ("/static/app.js", "/static/style.css", "/static/katex/katex.min.js", "/static/katex/katex.min.css",
                 "/static/katex/fonts/KaTeX_Main-Regular.woff2", "/static/katex/LICENSE"):
        assert get(base + path)[0] == 200, path
    for ref in (b"http://", b"https://", b"//cdn"):       # the page names no other origin
        assert ref not in body.replace(b'xmlns="http://www.w3.org', b"")


def test_the_api_answers_with_the_tasks_json(server):
    base, _ = server
    body = {"expr": "x'*A*x", "wrt": "x"}
    assert post(base, "derive", body) == run_task("derive", body)
    status, got = post(base, "derive", {"expr": "x'*A*x)", "wrt": "x"})
    assert status == 400 and got["error"]["column"] == 7 and got["error"]["kind"] == "ParseError"


def test_malformed_and_oversized_bodies_are_refused(server):
    base, _ = server
    request = urllib.request.Request(base + "/api/derive", data=b"{not json", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=60)
    assert e.value.code == 400
    nested = urllib.request.Request(base + "/api/derive", data=b"[" * 200_000, method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(nested, timeout=60)
    assert e.value.code == 400
    status, got = post(base, "derive", {"expr": "x" * MAX_BODY, "wrt": "x"})
    assert status == 413 and got["error"]["kind"] == "TooLongError"
    status, got = post(base, "nothing", {})
    assert status == 404


def test_a_time_bomb_ends_with_its_own_limit_while_others_are_answered(server):
    base, _pool = server
    with ThreadPoolExecutor(4) as ex:
        bomb = ex.submit(post, base, "derive", {"expr": TIME_BOMB, "wrt": "x"})
        simple = [ex.submit(post, base, "derive", {"expr": f"sum(exp({k}*x))", "wrt": "x"}) for k in range(1, 9)]
        answers = [f.result() for f in simple]
        status, got = bomb.result()
    assert status == 503 and got["error"]["kind"] in LIMITS     # time, or memory if it swells faster
    assert all(s == 200 and a["gradient"]["text"] for s, a in answers)


def test_a_memory_bomb_ends_with_its_own_limit_and_the_worker_is_replaced(server):
    base, pool = server
    before = pool.replaced
    status, got = post(base, "graph", MEMORY_BOMB)
    assert status == 503 and got["error"]["kind"] == "MemoryLimitError"
    assert pool.replaced == before + 1
    assert post(base, "derive", {"expr": "x'*x", "wrt": "x"})[0] == 200


SIMPLE = [
    ("derive", {"expr": "norm(W*x)^2", "wrt": "W"}, "2*W*x*x'"),
    ("derive", {"expr": "x'*A*x", "wrt": "x"}, "(A + A')*x"),
    ("check", {"expr": "x'*A*x", "wrt": "x", "answer": "A*x"}, "wrong"),
    ("derive", {"expr": "norm(W*x))", "wrt": "W"}, "unmatched ')'"),
]


def _one(base: str, client: int, k: int):
    """Client ``client``'s request ``k``: clients 0 and 1 send a bomb as their 5th and 15th; one
    request in four is a derivation no one asked before (not answered from the server's cache)."""
    if client in (0, 1) and k in (4, 14):
        kind = "time_limit" if client == 0 else "memory_limit"
        body = ("derive", {"expr": TIME_BOMB, "wrt": "x"}) if client == 0 else ("graph", MEMORY_BOMB)
        return kind, post(base, *body)
    if k % 4 == 3:
        n = client * REQUESTS + k + 2
        return f"exp({n}*x)", post(base, "derive", {"expr": f"sum(exp({n}*x))", "wrt": "x"})
    op, body, expected = SIMPLE[(client + k) % len(SIMPLE)]
    return expected, post(base, op, body)


def test_load_50_clients_by_20_requests_with_bombs_loses_nothing(server):
    base, pool = server
    with ThreadPoolExecutor(CLIENTS) as ex:
        futures = [ex.submit(lambda c: [_one(base, c, k) for k in range(REQUESTS)], c) for c in range(CLIENTS)]
        results = [r for f in futures for r in f.result()]
    assert len(results) == CLIENTS * REQUESTS
    for expected, (status, got) in results:
        if expected == "time_limit":
            assert status == 503 and got["error"]["kind"] in LIMITS
        elif expected == "memory_limit":
            assert status == 503 and got["error"]["kind"] == "MemoryLimitError"
        elif expected == "wrong":
            assert status == 200 and got["diagnosis"] == "wrong"
        elif expected.startswith("unmatched"):
            assert status == 400 and got["error"]["message"] == expected and got["error"]["column"] == 10
        elif expected.startswith("exp"):
            assert status == 200 and got["check"]["status"] == "ok" and f"{expected[4:-3]}*exp(" in got["gradient"]["text"]
        else:
            assert status == 200 and got["gradient"]["text"] == expected
    assert sum(e in ("time_limit", "memory_limit") for e, _ in results) == 4
    # the cache holds results and bad input, never a limit error, and keeps count of its size
    assert all(v[0] in (200, 400) for v in pool.cache.values())
    assert pool.cached_bytes == sum(v[2] for v in pool.cache.values())


def test_a_non_loopback_bind_is_warned_about():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.8.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    assert bind_warning("127.0.0.1") is None
    assert "not a loopback address" in bind_warning("0.0.0.0")
    assert page_url("0.0.0.0", 8000) == "http://127.0.0.1:8000/" and page_url("::1", 80) == "http://[::1]:80/"


def test_serve_without_the_extra_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)          # as if not installed
    assert main(["serve", "--port", "1"]) == 2
    assert 'pip install "matcalc[web]"' in capsys.readouterr().err


def test_the_wheel_ships_the_page_and_katex(tmp_path):
    """Build the wheel from a copy of the sources and look inside: the page, KaTeX's script,
    style sheet, every font and its license are package data."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "MANIFEST.in", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for extra in ("LICENSE", "CHANGELOG.md"):
        if (ROOT / extra).exists():
            shutil.copy(ROOT / extra, src / extra)
    shutil.copytree(ROOT / "matcalc", src / "matcalc", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "dist"
    # the installed setuptools builds wheels by itself from 70.1 on (or with the wheel package);
    # an older one (Python 3.11's venv has 65.5): pip builds in an isolated environment instead
    isolation = [] if _builds_wheels() else ["--use-pep517"]
    got = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src),
                          *(["--no-build-isolation"] if not isolation else isolation)],
                         check=False, capture_output=True, text=True)
    assert got.returncode == 0, got.stderr[-2000:]
    (wheel,) = out.glob("matcalc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {"matcalc/web/static/" + p.relative_to(STATIC).as_posix() for p in STATIC.rglob("*") if p.is_file()}
    assert {"matcalc/web/static/index.html", "matcalc/web/static/katex/katex.min.js",
            "matcalc/web/static/katex/LICENSE", "matcalc/web/static/katex/fonts/KaTeX_Main-Regular.woff2"} <= wanted
    assert wanted <= names, sorted(wanted - names)[:5]


def _builds_wheels() -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    major, minor = (int(p) for p in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.mark.parametrize("argv", [["--workers", "0"], ["--time-limit", "0"], ["--memory-limit", "10"], ["--port", "70000"]])
def test_serve_refuses_bad_limits(capsys, argv):
    assert main(["serve", *argv]) == 2
    assert "error:" in capsys.readouterr().err


def test_a_port_in_use_is_bad_input(capsys):
    need("uvicorn", 'pip install -e ".[web]"')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    assert f"cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err
