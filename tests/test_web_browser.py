"""The page in a real browser: Playwright (PyPI) driving Debian's Chromium headless.

Type an expression and see the gradient (typeset by the bundled KaTeX), the steps, the graph with
values and the code; grade a right and a wrong answer; a bad input shows the caret; a URL
reproduces a state.  Every request the page makes goes to the server's own origin (the page
works with no network).  Waits are bounded (``WAIT_MS``) but nothing asserts a duration.
Skipped without Playwright or Chromium, a failure then under MATCALC_REQUIRE_EXTRAS=1 (CI).
"""
from __future__ import annotations

import os
import urllib.parse

import pytest
from web_support import CHROMIUM, missing, need, running_server

WAIT_MS = 180_000        # a bound on waiting for the page under a loaded machine, not a timing


@pytest.fixture(scope="module")
def browser_page():
    sync_api = need("playwright.sync_api", 'pip install -e ".[browser]"')
    if not os.path.exists(CHROMIUM):
        missing(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with running_server(workers=2, time_limit=30.0) as (base, _pool), sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        # bypass_csp: Playwright evaluates its own waits as strings, which the page's CSP (no eval) refuses
        context = browser.new_context(viewport={"width": 1200, "height": 900}, bypass_csp=True)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        requested: list[str] = []
        page.on("request", lambda r: requested.append(r.url))
        sync_api.expect.set_options(timeout=WAIT_MS)
        yield base, page, sync_api.expect, requested
        browser.close()


def open_page(page, base: str, **query) -> None:
    page.goto(base + "/?" + urllib.parse.urlencode(query))
    page.wait_for_function("document.getElementById('status').textContent === 'ready' || "
                           "!document.getElementById('expr-error').hidden")


def test_typing_shows_the_gradient_steps_graph_code_and_hessian(browser_page):
    base, page, expect, requested = browser_page
    open_page(page, base, expr="x", wrt="x")
    page.fill("#wrt", "x")
    page.fill("#expr", "")
    page.locator("#expr").press_sequentially("x'*A*x", delay=20)     # typed: the page is live (debounced)
    expect(page.locator("#status")).to_have_text("ready")
    expect(page.locator("#gradient .katex")).to_be_visible()
    expect(page.locator("#derivative-text")).to_have_text("(A + A')*x")
    expect(page.locator("#steps")).to_contain_text("step 1")
    expect(page.locator("#steps .katex").first).to_be_visible()
    expect(page.locator("#graph svg text.grad").first).to_be_attached()     # values and gradients drawn
    expect(page.locator("#graph-point")).to_contain_text("x=[")
    expect(page.locator("#code")).to_contain_text("def backward(")
    expect(page.locator("#hessian-text")).to_have_text("A + A'")
    page.click("#tab-jacobian")
    expect(page.locator("#derivative-text")).to_have_text("x'*(A' + A)")
    assert "layout=jacobian" in page.url and "expr=x%27*A*x" in page.url.replace("%2A", "*")
    page.click("#copy-code")
    expect(page.locator("#copied")).to_have_text("copied")
    assert "def backward(" in page.evaluate("navigator.clipboard.readText()")
    assert requested and all(u.startswith(base + "/") for u in requested), [u for u in requested if not u.startswith(base)]


def test_grading_a_right_and_a_wrong_answer(browser_page):
    base, page, expect, _requested = browser_page
    open_page(page, base, expr="x'*A*x", wrt="x")
    page.fill("#answer", "(A + A')*x")
    page.click("#grade")
    expect(page.locator("#verdict .correct")).to_have_text("✓ correct")
    page.fill("#answer", "A*x")
    page.press("#answer", "Enter")
    expect(page.locator("#verdict .wrong")).to_contain_text("wrong")
    expect(page.locator("#verdict")).to_contain_text("counterexample")
    page.fill("#answer", "2*A'*x)")
    page.click("#grade")
    expect(page.locator("#answer-error")).to_contain_text("^")


def test_a_bad_input_shows_the_message_with_the_caret(browser_page):
    base, page, expect, _ = browser_page
    open_page(page, base, expr="norm(W*x)^2", wrt="W")
    page.fill("#expr", "norm(W*x))")
    box = page.locator("#expr-error")
    expect(box).to_be_visible()
    expect(box).to_contain_text("unmatched ')' (line 1, column 10)")
    lines = box.text_content().splitlines()
    assert lines[-2].strip() == "norm(W*x))" and lines[-1].index("^") == lines[-2].index("norm") + 9
    page.fill("#expr", "norm(W*x)^2")
    expect(box).to_be_hidden()


def test_a_url_reproduces_a_state(browser_page):
    base, page, expect, _requested = browser_page
    state = {"expr": "u'*f(W*x + b)", "wrt": "W,b", "layout": "jacobian", "at": "", "answer": "(u .* f'(W*x + b))*x'"}
    open_page(page, base, **state)
    assert page.input_value("#expr") == state["expr"] and page.input_value("#wrt") == "W,b"
    expect(page.locator("#tab-jacobian")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#jacobian .katex").first).to_be_visible()
    expect(page.locator("#jacobian .katex-error")).to_have_count(0)      # every line typeset
    expect(page.locator("#verdict")).to_contain_text("correct")
    first = page.locator("#derivative-text").text_content()
    page.goto(page.url)                                  # the link as the page wrote it
    expect(page.locator("#status")).to_have_text("ready")
    assert page.locator("#derivative-text").text_content() == first


def test_every_request_stays_on_the_servers_origin(browser_page):
    """With every other origin refused (no network), the page still renders math and every panel."""
    base, page, expect, _requested = browser_page
    refused: list[str] = []

    def only_here(route):
        if route.request.url.startswith(base + "/"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()
    page.route("**/*", only_here)
    open_page(page, base, expr="norm(W*x)^2", wrt="W")
    expect(page.locator("#gradient .katex")).to_be_visible()
    expect(page.locator("#graph svg")).to_be_attached()
    expect(page.locator("#code")).to_contain_text("def backward(")
    fonts = page.evaluate("document.fonts.check('16px KaTeX_Main')")
    page.unroute("**/*")
    assert refused == [] and fonts
