"""Steps in index notation (``--index``), as the lecture derives ‖W x‖² by W, every printed form
(the upstream entries, the local partials, the sum over k, the contracted sum, the entry of the
gradient) evaluated and compared with the step's gradient and with central differences."""
from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from matcalc import derive
from matcalc.cli.main import main
from matcalc.numeric.evaluate import bind_dims, concrete, evaluate
from matcalc.numeric.finite_differences import parse_printed
from matcalc.second_order.index_steps import explain_index, index_steps

FUNCS = {"f": (np.tanh, lambda z: 1 - np.tanh(z) ** 2)}
EPS = 1e-6


def run(*argv: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(list(argv))
    assert code == 0
    return buf.getvalue()


def test_the_lectures_norm_example():
    out = run("derive", "q = W*x; f = norm(q)^2", "--wrt", "W", "--index")
    for piece in ["upstream  ∂f/∂qₖ = 2 qₖ",
                  "local     ∂qₖ/∂Wᵢⱼ = 1{k=i} xⱼ",
                  "chain     ∂f/∂Wᵢⱼ = Σₖ ∂f/∂qₖ ∂qₖ/∂Wᵢⱼ = Σₖ 2 qₖ 1{k=i} xⱼ = 2 qᵢ xⱼ",
                  "matrix    ∂f/∂W = 2 q xᵀ",
                  "∂f/∂W = 2 q xᵀ = 2 W x xᵀ"]:
        assert piece in out, piece


def test_unnamed_intermediates_are_parenthesised():
    out = run("derive", "norm(W*x)^2", "--wrt", "W", "--index")
    assert "Σₖ 2 (z₁)ₖ 1{k=i} xⱼ = 2 (z₁)ᵢ xⱼ" in out
    latex = run("derive", "norm(W*x)^2", "--wrt", "W", "--index", "--latex")
    assert r"\sum_{k} 2 \, (z_{1})_{k} \, \mathbf{1}\{k=i\} \, x_{j}" in latex
    assert all(ord(c) < 128 for c in latex) and "_{1}_" not in latex


def test_styles():
    d = derive("norm(W*x)^2", "W", steps=True)
    text = explain_index(d, "text")
    assert "sum[k] 2*z1[k]*1{k=i}*x[j]" in text
    assert "**Backward pass**" in explain_index(d, "markdown")
    data = json.loads(explain_index(d, "json"))
    assert data["kind"] == "index_steps"
    assert data["unicode"]["steps"][-1]["inputs"][0]["contracted"] == "2 (z₁)ᵢ xⱼ"
    assert d.steps_text(index=True) == explain_index(d)


CASES = [
    ("q = W*x; f = norm(q)^2", "W,x"),
    ("u'*f(W*x+b)", "W,b"),
    ("x'*A*x", "x,A"),
    ("h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "W1,W2"),
    ("sum(G .* (W*X))", "W,X"),
    ("tr(X'*A*X)", "X"),
    ("-y'*log_softmax(W*x)", "W"),
    ("norm(W*x)^2 + sum(W)", "W,x"),
]


@pytest.mark.parametrize("expr,wrt", CASES)
def test_every_printed_index_form_numerically(expr, wrt):
    rng = np.random.default_rng(5)
    d = derive(expr, wrt, steps=True)
    s = index_steps(d)
    assert explain_index(d) and explain_index(d, "latex")
    sizes, env = {}, {}
    for name, v in {**d.typed.variables, **d.variables}.items():
        shape = [int(x) if x.is_Integer else sizes.setdefault(x, 2 + len(sizes)) for x in v.shape]
        env[name] = rng.standard_normal(shape)
    leaves = list(d.typed.variables.values()) + list(d.variables.values())
    dims = bind_dims(leaves, env)
    base: dict = {}
    evaluate([d.typed.output] + leaves, env, FUNCS, base)

    def value(n):
        return np.atleast_2d(np.asarray(evaluate([n] + leaves, env, FUNCS, dict(base))[0], dtype=float))

    def of(form):
        nodes = form.nodes()
        vals = {id(n): value(n) for n in nodes}
        return form.evaluate(vals, lambda x: concrete(x, dims))

    for st in s.steps:
        G = np.broadcast_to(value(st.upstream), base[id(st.node)].shape)
        assert np.allclose(of(st.upstream_entry)[0, 0], G), ("upstream", expr)
        for inp in st.inputs:
            c = np.broadcast_to(value(inp.contribution), base[id(inp.input)].shape)
            assert np.allclose(of(inp.entry)[0, 0], c), ("entry", expr)
            if inp.local is None:
                continue
            x = base[id(inp.input)]
            others = {id(a): base[id(a)] for a in st.node.args if a is not inp.input}
            fd = np.zeros(base[id(st.node)].shape + x.shape)
            for k in np.ndindex(*x.shape):
                e = np.zeros(x.shape)
                e[k] = EPS
                plus, minus = ({**others, id(inp.input): x + sgn * e} for sgn in (1, -1))
                fd[(..., *k)] = (evaluate([st.node] + leaves, env, FUNCS, plus)[0]
                                 - evaluate([st.node] + leaves, env, FUNCS, minus)[0]) / (2 * EPS)
            assert np.allclose(of(inp.local), fd, atol=1e-5), ("local", expr)
            assert np.allclose(of(inp.summed)[0, 0], c), ("sum over k", expr)
            assert np.allclose(of(inp.contracted)[0, 0], c), ("contracted", expr)


@pytest.mark.parametrize("expr,wrt,index", [
    ("norm(W*x)^2", "W", True),
    ("h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "W1,W2", True),
    ("tanh(W*x + b)", "x,b", False),                      # the Jacobian chain (tests/test_steps_jacobian.py)
    ("diag(x)*A*y", "x", False),                          # entry by entry (tests/test_steps_index_chain.py)
])
def test_latex_compiles_without_overfull_boxes(tmp_path, expr, wrt, index):
    """Long sums are one aligned line per equality, so the page holds them (pdflatex, an extra)."""
    import os
    import shutil
    import subprocess
    tex = shutil.which("pdflatex")
    if not tex:
        if os.environ.get("MATCALC_REQUIRE_EXTRAS") == "1":
            pytest.fail("pdflatex is required (MATCALC_REQUIRE_EXTRAS=1)")
        pytest.skip("no pdflatex on this machine (the TeX extra)")
    body = derive(expr, wrt, steps=True).steps_text("latex", index=index)
    (tmp_path / "d.tex").write_text("\\documentclass{article}\\usepackage{amsmath,amssymb}\\begin{document}\n"
                                    "\\allowdisplaybreaks\n" + body + "\n\\end{document}\n")
    r = subprocess.run([tex, "-interaction=nonstopmode", "-halt-on-error", "d.tex"], cwd=tmp_path,
                       capture_output=True, timeout=120, check=False)
    assert r.returncode == 0, r.stdout[-2000:]
    assert "Overfull" not in (tmp_path / "d.log").read_text(errors="replace")


def test_index_steps_of_a_vector_output_point_to_the_jacobian_chain():
    from matcalc.core.errors import MatcalcError
    with pytest.raises(MatcalcError, match="--steps shows the Jacobian chain"):
        derive("tanh(W*x)", "x", steps=True).steps_text(index=True)


def test_an_all_ones_term_is_never_a_bare_one():
    """∂/∂W of sum(W) is the all-ones matrix: beside 2 z₁ xᵀ it prints as 𝟏𝟏ᵀ (ones(n, m) in the
    text), in every style, and the printed text of each result parses back to the gradient."""
    expr = "norm(W*x)^2 + sum(W)"
    d = derive(expr, "W,x", steps=True)
    uni = explain_index(d)
    assert "∂f/∂W = 𝟏𝟏ᵀ + 2 z₁ xᵀ = 𝟏𝟏ᵀ + 2 W x xᵀ" in uni and "= 1 +" not in uni
    assert r"\mathbf{1} \mathbf{1}^\top + 2 \, z_{1} \, x^\top" in explain_index(d, "latex")
    assert "= 1 +" not in explain_index(d, "latex")
    data = json.loads(explain_index(d, "json"))
    assert "= 1 +" not in json.dumps(data, ensure_ascii=False)
    assert "𝟏𝟏ᵀ + 2 W x xᵀ" in json.dumps(data, ensure_ascii=False)
    plain = derive(expr, "W,x")
    assert str(plain).splitlines()[0] == "∂f/∂W = 𝟏ₙ𝟏ₘᵀ + 2 W x xᵀ"
    assert "∂f/∂W = 𝟏𝟏ᵀ + 2 z₁ xᵀ   (fork: paths added)" in d.steps_text()
    # the text form of the result line, parsed back (graph names defined) and evaluated
    text = explain_index(d, "text")
    line = next(x for x in text.splitlines() if x.strip().startswith("df/dW ="))
    assert "ones(n, m) + 2*z1*x'" in line
    rng = np.random.default_rng(3)
    env = {"W": rng.standard_normal((3, 2)), "x": rng.standard_normal((2, 1))}
    want = 2 * env["W"] @ env["x"] @ env["x"].T + 1
    variables = d.variables_all()
    for printed in line.split(" = ")[1:]:
        node = parse_printed(f"z1 = W*x; {printed}", variables).output
        got = evaluate([node] + list(variables.values()), env, FUNCS)[0]
        assert np.allclose(np.broadcast_to(got, want.shape), want), printed


def test_an_entrywise_offset_keeps_its_bare_scalar():
    assert str(derive("norm(W - 1)^2", "W")) == "∂f/∂W = 2(W − 1)"
    assert str(derive("sum(log(x + 1))", "x")) == "∂f/∂x = 1 ⊘ (x + 1)"
