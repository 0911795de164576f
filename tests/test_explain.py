"""Chain-rule steps: what `matcalc derive ... --steps` prints, and every printed intermediate checked
numerically (upstream gradients by finite differences, local Jacobians, both forms downstream, δ)."""
from __future__ import annotations

import contextlib
import gc
import io
import json
import re

import numpy as np
import pytest

from matcalc import derive
from matcalc.cli.main import main
from matcalc.core.errors import MatcalcError
from matcalc.output.explain import explain, explanation, parse_at
from matcalc.numeric.evaluate import evaluate

FUNCS = {"f": (np.tanh, lambda z: 1 - np.tanh(z) ** 2)}
EPS = 1e-6


def run(*argv: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(list(argv))
    assert code == 0
    return buf.getvalue()


def test_cli_steps_unicode_lecture_names():
    out = run("derive", "u'*f(W*x+b)", "--wrt", "W", "--steps")
    for piece in ["z₁ = W x", "z₂ = z₁ + b", "z₃ = f(z₂)", "s = uᵀz₃",
                  "upstream  ∂s/∂z₃ = u",
                  "local     ∂z₃/∂z₂ = diag(f'(z₂))",
                  "Jacobian  ∂s/∂z₂ = uᵀ diag(f'(z₂))",
                  "gradient  ∂s/∂z₂ = u ∘ f'(z₂)",
                  "δ = ∂s/∂z₁ = uᵀ diag(f'(z₂))",
                  "∂s/∂W = δᵀ xᵀ = (u ∘ f'(z₂)) xᵀ",
                  "add distributes", "mul switches"]:
        assert piece in out, piece


def test_cli_steps_program_names_and_fork():
    out = run("derive", "z = W*x + b; h = f(z); s = u'*h", "--wrt", "W,b", "--steps")
    assert "h = f(z)" in out and "δ = ∂s/∂z" in out and "∂s/∂b = u ∘ f'(z)" in out
    out = run("derive", "a = x*y; c = (a + x)*a", "--wrt", "x", "--steps", "--text")
    assert "fork" in out


def test_cli_at_values():
    out = run("derive", "(x+y)*z", "--wrt", "x,y,z", "--at", "x=-2,y=5,z=-4")
    assert "f = -12" in out and "∂f/∂x = -4" in out and "∂f/∂y = -4" in out and "∂f/∂z = 3" in out
    assert parse_at("w=[2,-3,-3],x=-1") == {"w": [2.0, -3.0, -3.0], "x": -1.0}


# ------------------------------------------------------------------ numbers behind every step
CASES = [
    ("u'*f(W*x+b)", "W,b,x,u", None),
    ("z = W*x + b; h = f(z); s = u'*h", "W", None),
    ("norm(W*x)^2", "W,x", None),
    ("x'*A*x", "x,A", None),
    ("a = x*y; c = (a + x)*a", "x,y", None),
    ("(x+y)*z", "x,y,z", None),
    ("h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "W1,W2", None),
    ("-y'*log_softmax(W*x)", "W", {"y": "onehot"}),
    ("s = W*x; L = sum(max(0, s - y'*s + 1) .* (1 - y))", "W", {"y": "onehot"}),
    ("sum(G .* (W*X))", "W,X", None),
    ("\n".join([f"h{i} = f(W_{i}*{'x' if i == 1 else f'h{i - 1}'})" for i in range(1, 25)] + ["sum(h24)"]),
     "W_1,W_12,x", None),                                   # deep: every named upstream checked in turn
]


def _point(d, rng):
    env = {}
    sizes = {}
    for name, v in {**d.typed.variables, **d.variables}.items():
        shape = []
        for dim in v.shape:
            if dim.is_Integer:
                shape.append(int(dim))
            else:
                shape.append(sizes.setdefault(dim, 3 + len(sizes) % 2))
        val = rng.standard_normal(shape)
        if v.op == "var" and v.attrs[2] == "onehot":
            val = np.zeros(shape)
            val[rng.integers(shape[0]), 0] = 1.0
        env[name] = val
    return env


ANCHORS: list = []          # the variables, so that dimensions bind even for a bare eye(n)


def _ev(node, env, cache=None):
    return evaluate([node] + ANCHORS, env, FUNCS, dict(cache or {}))[0]


def _inner(a, b):
    return float(np.sum(np.broadcast_to(a, np.shape(b)) * b))


def _bound(ex, env, base):
    """``env`` with each forward placeholder (``z1``, ``h2``) bound to its node's value: the
    named steps' expressions are written over these names."""
    out = dict(env)
    for p, n in ex.forward:
        out[p.attrs[0]] = base[id(n)]
    return out


@pytest.mark.parametrize("expr,wrt,assume", CASES)
def test_every_printed_intermediate_numerically(expr, wrt, assume):
    """Each line, as the data the printers print: the upstream (its named form, written over the
    names of earlier upstreams, each bound to its value once checked) against central differences
    of the output, and everything built from it."""
    rng = np.random.default_rng(1)
    d = derive(expr, wrt, assume=assume, steps=True)
    ex = explanation(d)
    for style in ("unicode", "text", "latex", "markdown", "json"):
        assert explain(d, style)
    env = _point(d, rng)
    ANCHORS[:] = list(d.typed.variables.values())
    out = d.typed.output
    base: dict = {}
    evaluate([out], env, FUNCS, base)
    names = _bound(ex, env, base)

    def s_with(node, value):
        return float(np.sum(_ev(out, env, {id(node): value})))

    named = 0
    for st in ex.steps:
        value = base[id(st.node)]
        G = np.broadcast_to(_ev(st.upstream, names, base), value.shape)
        V = rng.standard_normal(value.shape)
        fd = (s_with(st.node, value + EPS * V) - s_with(st.node, value - EPS * V)) / (2 * EPS)
        assert _inner(G, V) == pytest.approx(fd, rel=1e-4, abs=1e-6), ("upstream", st.name)
        if st.grad_name:                      # later lines say its name: bound to the checked value
            names[st.grad.attrs[0]] = np.array(G)
            named += 1
        assert np.allclose(np.broadcast_to(_ev(st.grad, names, base), value.shape), G), ("upstream's name", st.name)
        if st.fork:
            total = sum(np.broadcast_to(_ev(c, names, base), value.shape) for _, c in st.fork)
            assert np.allclose(total, G), ("fork", st.name)
        if st.upstream_jacobian is not None:
            assert np.allclose(_ev(st.upstream_jacobian, names, base), G.T)
        for loc in st.inputs:
            x = base[id(loc.input)]
            others = {id(a): base[id(a)] for a in st.node.args if a is not loc.input}
            W = rng.standard_normal(x.shape)
            plus = _ev(st.node, env, {**others, id(loc.input): x + EPS * W})
            minus = _ev(st.node, env, {**others, id(loc.input): x - EPS * W})
            dnode = (plus - minus) / (2 * EPS)                       # the local derivative along W
            c = np.broadcast_to(_ev(loc.contribution, names, base), x.shape)
            assert _inner(c, W) == pytest.approx(_inner(G, dnode), rel=1e-4, abs=1e-6), ("downstream", st.name)
            if loc.jacobian is not None:
                J = _ev(loc.jacobian, names, base)
                assert np.allclose(np.broadcast_to(J @ W.reshape(-1, 1) if J.size > 1 or x.size > 1 else J * W,
                                                   dnode.shape), dnode, atol=1e-5), ("local", st.name)
            if loc.chain is not None:
                for node in (loc.chain, loc.chain_simplified):
                    assert np.allclose(_ev(node, names, base), c.T), ("jacobian form", st.name)
            if loc.template is not None:
                e2 = {**names, ex.G.attrs[0]: G}
                assert np.allclose(np.broadcast_to(_ev(loc.template, e2, base), x.shape), c), ("rule", st.name)
    assert named == len(ex.grads)
    for fin in ex.finals:
        x = env[fin.var]
        g = np.broadcast_to(_ev(fin.result, env), x.shape)
        V = rng.standard_normal(x.shape)
        fd = (float(np.sum(_ev(out, {**env, fin.var: x + EPS * V}))) -
              float(np.sum(_ev(out, {**env, fin.var: x - EPS * V})))) / (2 * EPS)
        assert _inner(g, V) == pytest.approx(fd, rel=1e-4, abs=1e-6), ("gradient", fin.var)
        if fin.parts:
            assert np.allclose(sum(np.broadcast_to(_ev(p, names, base), x.shape) for p in fin.parts), g)
        if fin.delta is not None:
            delta = _ev(fin.delta, names, base)
            assert np.allclose(delta, _ev(fin.delta_simplified, names, base))
            assert np.allclose(delta, _ev(fin.delta_named, names, base)), ("δ by the upstream's name", fin.var)
            e2 = {**names, fin.delta_name: delta}
            assert np.allclose(np.broadcast_to(_ev(fin.formula, e2, base), x.shape), g), ("δ formula", fin.var)


# ------------------------------------------------------------------ formats
def test_json_has_the_same_content():
    out = run("derive", "u'*f(W*x+b)", "--wrt", "W", "--steps", "--json")
    data = json.loads(out)["steps"]            # the derive document (docs/json.md) with its steps
    assert data["unicode"]["gradients"][0]["delta"] == "uᵀ diag(f'(z₂))"
    assert [s["node"] for s in data["text"]["steps"]] == ["s", "z3", "z2", "z1"]
    assert data["latex"]["gradients"][0]["formula"] == r"\delta^\top \, x^\top"


def test_markdown():
    out = run("derive", "u'*f(W*x+b)", "--wrt", "W", "--steps", "--markdown")
    assert "**Computational graph**" in out and "`δ = ∂s/∂z₁ = uᵀ diag(f'(z₂)) = (u ∘ f'(z₂))ᵀ = dz₁ᵀ`" in out
    assert "  - upstream `dz₂ = ∂s/∂z₂ = u ∘ f'(z₂)`" in out.splitlines()


def check_latex(src: str) -> None:
    """A LaTeX-aware structural check: environments nest, braces and \\left/\\right balance."""
    assert src.startswith(r"\paragraph{Computational graph}") and src.rstrip().endswith(r"\end{alignat*}")
    stack = []
    for m in re.finditer(r"\\(begin|end)\{([^}]*)\}", src):
        if m.group(1) == "begin":
            stack.append(m.group(2))
        else:
            assert stack and stack.pop() == m.group(2)
    assert not stack
    depth = 0
    i = 0
    while i < len(src):
        ch = src[i]
        if ch == "\\":
            i += 2
            continue
        depth += ch == "{"
        depth -= ch == "}"
        assert depth >= 0
        i += 1
    assert depth == 0
    assert len(re.findall(r"\\left[(\[.|\\]", src)) == len(re.findall(r"\\right[)\].|\\]", src))
    for line in re.split(r"\\\\\n|\n", src):
        assert line.count("&") <= 4, line          # alignat{2}: label, left side, right side
    assert not any(ord(c) > 127 for c in src), "non-ASCII characters would not compile with pdflatex"


@pytest.mark.parametrize("expr,wrt", [("u'*f(W*x+b)", "W"), ("norm(W*x)^2", "W"),
                                      ("h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "W1,W2")])
def test_latex_structure(expr, wrt):
    check_latex(explain(derive(expr, wrt, steps=True), "latex"))


@pytest.mark.parametrize("expr,wrt", [("u'*f(W*x+b)", "W"), ("-y'*log_softmax(W*x)", "W"),
                                      ("h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "W1,W2")])
def test_latex_parses_with_a_latex_parser(expr, wrt):
    """pylatexenc (the test extra) parses the whole derivation strictly: one alignat* display per
    block (the graph, each node, the result), so that the derivation breaks across pages."""
    walker = pytest.importorskip("pylatexenc.latexwalker")
    d = derive(expr, wrt, steps=True)
    src = explain(d, "latex")
    nodes, _, _ = walker.LatexWalker(src, tolerant_parsing=False).get_latex_nodes()
    envs = [n for n in nodes if isinstance(n, walker.LatexEnvironmentNode)]
    assert {e.environmentname for e in envs} == {"alignat*"}
    assert len(envs) == len(d.steps) + 2


@pytest.mark.parametrize("expr,wrt", [("u'*f(W*x+b)", "W"), ("sum(X.^3)", "X")])
def test_latex_compiles_when_a_tex_engine_is_installed(tmp_path, expr, wrt):
    import shutil
    import subprocess
    tex = shutil.which("pdflatex")
    if not tex:
        pytest.skip("no pdflatex on this machine: the structural check above stands in")
    body = explain(derive(expr, wrt, steps=True), "latex")
    check_latex(body)
    assert r"\^{}" not in body               # the rule table's A.^p is math (A^{\circ p}), not an escaped caret
    (tmp_path / "d.tex").write_text("\\documentclass{article}\\usepackage{amsmath,amssymb}\\begin{document}\n"
                                    + body + "\n\\end{document}\n")
    r = subprocess.run([tex, "-interaction=nonstopmode", "-halt-on-error", "d.tex"], cwd=tmp_path,
                       capture_output=True, timeout=60, check=False)
    assert r.returncode == 0, r.stdout[-2000:]


def test_steps_need_a_gradient_or_a_jacobian():
    assert "Jacobian chain" in derive("W*x", "x", steps=True).steps_text()   # tests/test_steps_jacobian.py
    d = derive("W*x", "W", steps=True)                   # 4-D: the chain in vec form (tests/test_steps_tensor.py)
    assert "in vec form" in d.steps_text()
    with pytest.raises(MatcalcError, match="--steps shows its chain in vec form"):
        explanation(d)                                   # the gradient (or index) steps need a scalar output


def test_step_names_do_not_depend_on_memory_layout():
    """A named node's simplified twin is kept alive while its name (keyed by id) is in use: once
    it was collected, a later equal node was built anew and printed unnamed (``z₁ B M`` for
    ``z₃``), or a dead id could hand its name to another node."""
    d = derive("(leaky_relu(u', 0.1) * (B * M)) * leaky_relu(min(x, y), 0.1)", "x",
               {"u": (4,), "B": (4, 3), "M": (3, 3), "x": (3,), "y": (3,)}, steps=True, verify=False)
    gc.collect()
    lines = d.steps_text().splitlines()
    assert "        local     ∂f/∂z₅ = z₃" in lines


def test_distinct_error_signals_are_numbered_by_layer():
    """Two different δ are δ₁, δ₂ (CS224n numbers them by layer, from the input); one stays δ."""
    d = derive("h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "W2,W1", steps=True)
    lines = d.steps_text().splitlines()
    assert "  δ₁ = ∂L/∂z₁ = dh ∘ h ∘ (1 − h) = dz₁" in lines            # by the upstream named at h
    assert "    upstream  dh = ∂L/∂h = 2 z₂ W2ᵀ" in lines
    assert "  ∂L/∂W1 = Xᵀ δ₁ = 2 Xᵀ((z₂ W2ᵀ) ∘ h ∘ (1 − h))" in lines
    assert "  δ₂ = ∂L/∂Yp = 2 z₂" in lines and "  ∂L/∂W2 = hᵀ δ₂ = 2 hᵀ z₂" in lines
    assert r"\delta_{2} &= " in d.steps_text("latex") and "delta1 = dL/dz1" in d.steps_text("text")
    assert "δ = ∂s/∂z₁" in derive("u'*f(W*x+b)", "W", steps=True).steps_text()
