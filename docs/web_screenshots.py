"""Take the README's screenshots of ``matcalc serve`` (docs/web-*.png) with Playwright and
Debian's Chromium headless, from a server on a loopback port.

    python docs/web_screenshots.py            # needs pip install -e ".[web,browser]", apt-get install chromium
    python docs/web_screenshots.py web-steps.png web-steps-jacobian.png     # only these
"""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
SHOTS = {
    "web-derivative.png": ({"expr": "u'*f(W*x + b)", "wrt": "W,b"}, "#input-panel, #hessian-panel"),
    "web-steps.png": ({"expr": "norm(W*x)^2", "wrt": "W"}, "#steps-panel"),
    "web-steps-jacobian.png": ({"expr": "tanh(W*x + b)", "wrt": "x"}, "#steps-panel"),
    "web-graph.png": ({"expr": "(x+y)*z", "wrt": "x,y,z", "at": "x=-2,y=5,z=-4"}, "#graph-panel"),
    "web-check.png": ({"expr": "x'*A*x", "wrt": "x", "answer": "A*x"}, "#check-panel"),
    "web-error.png": ({"expr": "norm(W*x))^2", "wrt": "W"}, "#input-panel"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "matcalc", "serve", "--port", str(port), "--workers", "2"])
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/", timeout=5)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 900}, bypass_csp=True)
            page.set_default_timeout(120_000)
            for name, (query, selector) in SHOTS.items():
                if sys.argv[1:] and name not in sys.argv[1:]:
                    continue
                page.goto(base + "/?" + urllib.parse.urlencode(query))
                page.wait_for_function("document.getElementById('status').textContent === 'ready' || "
                                       "!document.getElementById('expr-error').hidden")
                if query.get("answer"):
                    page.wait_for_selector("#verdict p")
                first, *rest = selector.split(", ")
                box = page.locator(first).bounding_box()
                last = page.locator(rest[-1]).bounding_box() if rest else box
                clip = {"x": 0, "y": box["y"] - 8, "width": 1100, "height": last["y"] + last["height"] - box["y"] + 16}
                page.screenshot(path=str(DOCS / name), clip=clip, full_page=True)
                print(f"wrote docs/{name}")
            browser.close()
    finally:
        server.terminate()
        server.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
