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


# ---------------------------------------------------------------------------- the steps panel
def _norm(text: str) -> str:
    return " ".join(text.replace("fork:", "fork").split())


def _cli_equations(*argv: str) -> list[str]:
    """The equation lines ``matcalc derive --steps`` prints (graph, upstream, local, rule,
    Jacobian, …, result), each with its label, whitespace collapsed."""
    from cli_run import run
    code, out = run("derive", *argv, "--steps")
    assert code == 0, out
    return [_norm(line) for line in out.splitlines()
            if (" = " in line or line.lstrip().startswith("rule ")) and not line.lstrip().startswith("- node")]


def _panel_lines(page) -> list[str]:
    """Each labelled line of the steps panel as its label and its Unicode form (result lines by
    their equation alone, as the CLI prints them under "Result:")."""
    rows = page.eval_on_selector_all(
        "#steps .line", "els => els.map(e => [e.dataset.label, e.dataset.unicode, !!e.closest('.result')])")
    return [_norm(u if result or not label else label + " " + u) for label, u, result in rows]


def _shows_the_cli_steps(page, expect, kind: str, cli_args: tuple[str, ...]) -> list[str]:
    """The panel is of ``kind``, typeset (no KaTeX error), and shows exactly the CLI's labelled
    equations: each of its lines begins one of the CLI's, and every CLI equation is shown."""
    expect(page.locator("#status")).to_have_text("ready")
    expect(page.locator("#steps")).to_have_attribute("data-kind", kind)
    expect(page.locator("#steps .katex").first).to_be_visible()
    expect(page.locator("#steps .katex-error")).to_have_count(0)
    expect(page.locator("#steps-error")).to_be_hidden()
    shown, cli = _panel_lines(page), _cli_equations(*cli_args)
    assert shown and all(any(c.startswith(s) for c in cli) for s in shown), (shown, cli)
    assert all(any(c.startswith(s) for s in shown) for c in cli), (shown, cli)
    return shown


@pytest.mark.parametrize("query,kind,cli_args,expected", [
    ({"expr": "tanh(W*x + b)", "wrt": "x"}, "jacobian_chain", ("tanh(W*x + b)", "--wrt", "x"),
     ["upstream ∂f/∂z₁ = diag(1 − f²)", "local ∂z₁/∂x = W", "Jacobian ∂f/∂x = ∂f/∂z₁ ∂z₁/∂x = diag(1 − f²) W",
      "∂f/∂x = ∂f/∂z₂ ∂z₂/∂x = diag(1 − f²) W"]),
    ({"expr": "tanh(W*X)", "wrt": "X"}, "vec_chain", ("tanh(W*X)", "--wrt", "X"),
     ["local ∂vec(z₁)/∂vec(X)ᵀ = I ⊗ W", "entries ∂(z₁)ᵢⱼ/∂Xₖₗ = Wᵢₖ δⱼₗ",
      "∂fᵢⱼ/∂Xₖₗ = (1 − f^∘2)ᵢⱼ Wᵢₖ δⱼₗ"]),
    ({"expr": "norm(W*x)^2", "wrt": "W", "index": "1"}, "index", ("norm(W*x)^2", "--wrt", "W", "--index"),
     ["local ∂(z₁)ₖ/∂Wᵢⱼ = 1{k=i} xⱼ",
      "chain ∂f/∂Wᵢⱼ = Σₖ ∂f/∂(z₁)ₖ ∂(z₁)ₖ/∂Wᵢⱼ = Σₖ 2 (z₁)ₖ 1{k=i} xⱼ = 2 (z₁)ᵢ xⱼ", "matrix ∂f/∂W = 2 z₁ xᵀ",
      "∂f/∂W = 2 z₁ xᵀ = 2 W x xᵀ"]),
    ({"expr": "x .* tanh(x)", "wrt": "x"}, "jacobian_chain", ("x .* tanh(x)", "--wrt", "x"),       # a fork
     ["∂f/∂x = diag(z₁) + diag(x ∘ (1 − z₁²)) = diag(z₁ + (1 − z₁²) ∘ x)"]),
    ({"expr": "W*x", "wrt": "W"}, "vec_chain", ("W*x", "--wrt", "W"), ["∂fᵢ/∂Wⱼₖ = xₖ δᵢⱼ"]),
    ({"expr": "u'*tanh(W*x + b)", "wrt": "W,b"}, "gradient", ("u'*tanh(W*x + b)", "--wrt", "W,b"),   # δ named
     ["δ = ∂f/∂z₁ = uᵀ diag(1 − z₃²) = (u ∘ (1 − z₃²))ᵀ = dz₁ᵀ", "upstream dz₂ = ∂f/∂z₂ = u ∘ (1 − z₃²)", "∂f/∂W = δᵀ xᵀ = (u ∘ (1 − z₃²)) xᵀ"]),
    ({"expr": "x'*A*x", "wrt": "x"}, "gradient", ("x'*A*x", "--wrt", "x"),
     ["rule G ↦ G xᵀ", "gradient ∂f/∂x = A x", "∂f/∂x = z₁ᵀ + A x = (A + Aᵀ) x"]),
])
def test_the_steps_panel_shows_each_kind_of_steps(browser_page, query, kind, cli_args, expected):
    """A vector output's Jacobian chain, a matrix output's chain in vec form, index notation and
    a scalar output's gradient steps: each line labelled as the CLI labels it, typeset."""
    base, page, expect, _ = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    open_page(page, base, **query)
    shown = _shows_the_cli_steps(page, expect, kind, cli_args)
    for line in expected:
        assert _norm(line) in shown, (line, shown)
    assert errors == []
    if query.get("index"):
        expect(page.locator("#index")).to_be_checked()


def test_index_notation_for_a_vector_output_says_it_shows_the_chain(browser_page):
    base, page, expect, _ = browser_page
    open_page(page, base, expr="tanh(W*x + b)", wrt="x", index="1")
    _shows_the_cli_steps(page, expect, "jacobian_chain", ("tanh(W*x + b)", "--wrt", "x"))
    expect(page.locator("#steps .note")).to_contain_text("Index notation is shown for a scalar output")
    page.uncheck("#index")
    expect(page.locator("#steps .note")).to_have_count(0)
    assert "index=1" not in page.url


def test_the_steps_panel_without_katex_shows_the_unicode_lines(browser_page):
    """KaTeX refused: every line of the chain is its Unicode form, as the CLI prints it."""
    base, page, expect, _ = browser_page
    page.route("**/katex.min.js", lambda route: route.abort())
    try:
        open_page(page, base, expr="tanh(W*x + b)", wrt="x")
        expect(page.locator("#steps")).to_have_attribute("data-kind", "jacobian_chain")
        expect(page.locator("#steps .katex")).to_have_count(0)
        rows = page.eval_on_selector_all("#steps .line", "els => els.map(e => [e.dataset.unicode, "
                                         "e.querySelector('.eq').textContent])")
        assert rows and all(u == text for u, text in rows), rows
        expect(page.locator("#steps")).to_contain_text("∂f/∂x = ∂f/∂z₁ ∂z₁/∂x = diag(1 − f²) W")
    finally:
        page.unroute("**/katex.min.js")
