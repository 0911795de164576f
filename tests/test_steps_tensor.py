"""Steps for a 4-D derivative (issue 14, item 4): the Jacobian chain in vec form, ``∂vec(F)/∂vec(X)ᵀ``
read node by node (Kronecker local derivatives, their entries in index form), ending at the result
derive prints.  Every printed intermediate (upstream, local, entries, downstream as written and
simplified, the result's product, fork parts, the reshaped result) is evaluated and compared with
central finite differences of the column-major vec."""
from __future__ import annotations

import json

import numpy as np
import pytest
from cli_run import run
from steps_support import FUNCS, random_env, vec_jacobian

from matcalc import derive
from matcalc.numeric.evaluate import bind_dims, concrete, evaluate
from matcalc.numeric.finite_differences import parse_printed
from matcalc.output.chain_print import chain_content
from matcalc.second_order.indexform import IndexForm
from matcalc.second_order.kronecker import vec_to_tensor
from matcalc.second_order.tensor_steps import tensor_chain


# ------------------------------------------------------------------ what is printed
def test_layer_by_its_weights_is_the_lectures_chain_in_vec_form():
    code, out = run("derive", "tanh(W*x + b)", "--wrt", "W", "--steps")
    assert code == 0, out
    for piece in ["z₁ = W x", "z₂ = z₁ + b", "f = tanh(z₂)", "Jacobian chain (in vec form",
                  "local     ∂f/∂z₂ = diag(1 − f²)",
                  "local     ∂z₁/∂vec(W)ᵀ = xᵀ ⊗ I",
                  "entries   ∂(z₁)ᵢ/∂Wⱼₖ = xₖ δᵢⱼ",
                  "Jacobian  ∂f/∂vec(W)ᵀ = ∂f/∂z₁ ∂z₁/∂vec(W)ᵀ = diag(1 − f²)(xᵀ ⊗ I)",
                  "  ∂vec(f)/∂vec(W)ᵀ = ∂f/∂z₂ ∂z₂/∂vec(W)ᵀ = diag(1 − f²)(xᵀ ⊗ I)",
                  "  ∂fᵢ/∂Wⱼₖ = (1 − f²)ᵢ xₖ δᵢⱼ   (entry by entry)"]:
        assert any(line.startswith(piece) or line.strip() == piece.strip() for line in out.splitlines()), piece
    # the result line ends at what derive prints (with f = tanh(z₂), z₂ = W x + b)
    _, printed = run("derive", "tanh(W*x + b)", "--wrt", "W")
    assert printed.strip() == "∂vec(tanh(W x + b))/∂vec(W)ᵀ = diag(1 − tanh(W x + b)²)(xᵀ ⊗ I)"


def test_matrix_by_matrix_is_cookbook_520():
    d = derive("A*X*B", "X", steps=True)
    text = d.steps_text()
    assert "local     ∂vec(f)/∂vec(z₁)ᵀ = Bᵀ ⊗ I" in text
    assert "local     ∂vec(z₁)/∂vec(X)ᵀ = I ⊗ A" in text
    assert "entries   ∂(z₁)ᵢⱼ/∂Xₖₗ = Aᵢₖ δⱼₗ" in text
    assert "  ∂vec(f)/∂vec(X)ᵀ = ∂vec(f)/∂vec(z₁)ᵀ ∂vec(z₁)/∂vec(X)ᵀ = Bᵀ ⊗ A" in text.splitlines()
    assert text.rstrip().endswith("∂fᵢⱼ/∂Xₖₗ = Aᵢₖ Bₗⱼ   (entry by entry)")
    assert str(d) == "∂vec(A X B)/∂vec(X)ᵀ = Bᵀ ⊗ A"


def test_matrix_by_a_scalar_ends_in_the_outputs_shape():
    text = derive("t*A + t^2*B", "t", steps=True).steps_text()
    assert "∂vec(f)/∂t = 2 t vec(B) + vec(A) = vec(A + 2 t B)   (fork: the paths' products added)" in text
    assert text.rstrip().endswith("∂f/∂t = A + 2 t B   (the same entries in the output's shape)")


def test_every_style_prints_and_json_says_vec_chain():
    d = derive("tanh(W*x + b)", "W", steps=True)
    for style in ("unicode", "text", "latex", "markdown", "mathjax"):
        assert d.steps_text(style)
    assert "entries   dz1[i]/dW[j,k] = x[k]*delta[i,j]" in d.steps_text("text")
    assert d.steps_text("text").isascii()
    latex = d.steps_text("latex")
    assert latex.isascii() and r"\text{entries}" in latex and r"\operatorname{vec}(W)^\top" in latex
    assert r"\left(z_{1}\right)_{i}" in latex                # never a double subscript z_{1}_{i}
    assert "entries `∂(z₁)ᵢ/∂Wⱼₖ = xₖ δᵢⱼ`" in d.steps_text("markdown")
    data = json.loads(d.steps_text("json"))
    assert data["kind"] == "vec_chain"
    assert data["text"]["jacobians"][0]["result"] == "diag(1 - f.^2)*kron(x', eye(n))"
    # Jupyter: d.steps displays the same chain
    assert "in vec form" in d.steps._repr_markdown_() and "in vec form" in str(d.steps)


def test_latex_steps_compile_without_overfull_boxes(tmp_path):
    import shutil

    from extras import need
    need(shutil.which("pdflatex") is not None, "pdflatex (apt-get install texlive-latex-recommended)")
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worked_examples"))
    import latex_pages

    from matcalc.output.latexsteps import document
    for expr, wrt in [("tanh(W*x + b)", "W"), ("A*X*B", "X"), ("X'*A*X", "X"), ("t*A + t^2*B", "t")]:
        code, log = latex_pages.compile_pdf(document(derive(expr, wrt, steps=True).steps_text("latex")), tmp_path)
        assert code == 0, log[-2000:]
        assert not [line for line in log.splitlines() if line.startswith(("!", "Overfull"))], expr


def test_no_kronecker_form_gives_the_chain_entry_by_entry():
    """diag(v) has no Kronecker form: the steps are the same chain in index notation
    (tests/test_steps_index_chain.py checks every line of it)."""
    code, out = run("derive", "diag(x)*A", "--wrt", "x", "--steps")
    assert code == 0 and "Backward pass in index notation" in out
    assert derive("X*diag(v)", "v", steps=True).steps_text().rstrip().endswith("∂fᵢⱼ/∂vₖ = Xᵢⱼ δⱼₖ")


def test_the_output_is_named_alike_in_result_and_steps():
    """``u'*f(W*x + b)``: f is the function, so the output is s in the result as in the steps."""
    d = derive("u'*f(W*x + b)", "W", steps=True)
    assert str(d) == "∂s/∂W = (u ∘ f'(W x + b)) xᵀ"
    assert "∂s/∂W = δᵀ xᵀ = (u ∘ f'(z₂)) xᵀ" in d.steps_text()
    d4 = derive("f(W*x + b)", "W", steps=True)
    assert "∂vec(s)/∂vec(W)ᵀ" in d4.steps_text() and "s = f(z₂)" in d4.steps_text()
    assert str(derive("u'*tanh(W*x + b)", "W")).startswith("∂f/∂W")


# ------------------------------------------------------------------ the numbers behind every line
CASES = [
    ("tanh(W*x + b)", "W"),
    ("f(W*x + b)", "W,b"),
    ("z = W*x + b; h = f(z)", "W"),
    ("A*X*B", "X"),
    ("X*X", "X"),
    ("X'*A*X", "X"),                   # a transpose (commutation matrix) and a fork
    ("x*x'", "x"),                     # a matrix by a vector
    ("exp(X) .* X", "X"),              # elementwise on a matrix, a fork
    ("W*tanh(V*X)", "V"),
    ("sigmoid(A*X)*B", "X"),
    ("inv(X)", "X"),
    ("A*X'", "X"),
    ("sum(X, 1)", "X"),                # a row by a matrix
    ("x'*X", "X"),
    ("t*A + t^2*B", "t"),              # a matrix by a scalar
    ("t*A", "t"),
    ("(x*x')*a", "x"),                 # a vector by a vector through a matrix
]


@pytest.mark.parametrize("expr,wrt", CASES)
def test_every_printed_step_numerically(expr, wrt):
    rng = np.random.default_rng(5)
    d = derive(expr, wrt, steps=True)
    ch = tensor_chain(d)
    env = random_env(d, rng, conditioned=("X",))
    anchors = list(d.typed.variables.values()) + list(d.variables.values())
    dims = bind_dims(anchors, env)
    out = d.typed.output
    base: dict = {}
    evaluate([out] + anchors, env, FUNCS, base)

    def size(n):
        return concrete(n.rows, dims) * concrete(n.cols, dims)

    def shape2(n):
        return concrete(n.rows, dims), concrete(n.cols, dims)

    def ev(node, rows, cols, cache=None):
        v = np.asarray(evaluate([node] + anchors, env, FUNCS, dict(base if cache is None else cache))[0], dtype=float)
        return np.broadcast_to(v, (rows, cols)) if v.size == 1 else v.reshape(rows, cols, order="F")

    text = chain_content(ch, "text")                  # what --steps --text prints, parsed back below
    program = "; ".join(f"{g['name']} = {g['definition']}" for g in text["graph"])
    variables = d.variables_all()

    def ev_text(printed: str, rows, cols):
        """The printed text form, parsed back by matcalc's parser (the graph's names defined) and evaluated."""
        node = parse_printed(f"{program}; {printed}" if program else printed, variables).output
        v = np.asarray(evaluate([node] + anchors, env, FUNCS)[0], dtype=float)
        return np.broadcast_to(v, (rows, cols)) if v.size == 1 else v.reshape(rows, cols, order="F")

    def jac_of_output(node):
        return vec_jacobian(lambda v: evaluate([out] + anchors, env, FUNCS, {id(node): v})[0], base[id(node)])

    m = size(out)
    checked = 0
    for link, printed in zip(ch.links, text["steps"], strict=True):
        n = size(link.node)
        up = ev(link.upstream, m, n)
        assert np.allclose(up, jac_of_output(link.node), atol=1e-5), ("upstream", expr)
        assert np.allclose(ev_text(printed["upstream"], m, n), up, atol=1e-8), ("printed upstream", expr)
        if link.fork:
            assert np.allclose(sum(ev(p, m, n) for _, p in link.fork), up, atol=1e-8), ("fork", expr)
        for i, shown in zip(link.inputs, printed["inputs"], strict=True):
            x = base[id(i.input)]
            others = {id(a): base[id(a)] for a in link.node.args if a is not i.input}
            local = vec_jacobian(lambda v, nd=link.node, o=others, k=id(i.input):
                         evaluate([nd] + anchors, env, FUNCS, {**o, k: v})[0], x)
            assert np.allclose(ev(i.local, n, size(i.input)), local, atol=1e-5), ("local", expr)
            if isinstance(i.entries, IndexForm):
                nodes = i.entries.nodes()
                vals = evaluate(nodes, env, FUNCS, dict(base)) if nodes else []
                entries = i.entries.evaluate({id(a): v for a, v in zip(nodes, vals)}, lambda dim: concrete(dim, dims))
                want = vec_to_tensor(local, shape2(link.node), shape2(i.input))
                assert np.allclose(entries, want, atol=1e-5), ("entries", expr)
                checked += 1
            assert np.allclose(ev_text(shown["local"], n, size(i.input)), local, atol=1e-5), ("printed local", expr)
            downstream = up @ local
            for node in (i.product, i.simplified):
                assert np.allclose(ev(node, m, size(i.input)), downstream, atol=1e-5), ("Jacobian", expr)
            for key in ("product", "simplified"):
                assert np.allclose(ev_text(shown[key], m, size(i.input)), downstream, atol=1e-5), (key, expr)
    for fin, shown in zip(ch.finals, text["jacobians"], strict=True):
        var = d.variables[fin.var]
        x = env[fin.var]
        J = vec_jacobian(lambda v, w=fin.var: evaluate([out] + anchors, {**env, w: v}, FUNCS)[0], x)
        q = size(var)
        assert np.allclose(ev(fin.result, m, q, {}), J, atol=1e-5), ("result", expr)
        assert np.allclose(ev_text(shown["result"], m, q), J, atol=1e-5), ("printed result", expr)
        for part in shown["fork"]:
            ev_text(part, m, q)                           # each printed part parses back (their sum: below)
        if shown["fork"]:
            assert np.allclose(sum(ev_text(p, m, q) for p in shown["fork"]), J, atol=1e-5), ("printed fork", expr)
        if shown["chain"]:
            assert np.allclose(ev_text(shown["chain"]["product"], m, q), J, atol=1e-5), ("printed product", expr)
        if shown["reshaped"]:
            assert np.allclose(ev_text(shown["reshaped"]["result"], *shape2(out)), J.reshape(shape2(out), order="F"),
                               atol=1e-5), ("printed reshaped", expr)
        if isinstance(fin.entries, IndexForm):        # the result entry by entry: the 4-D array itself
            nodes = fin.entries.nodes()
            vals = evaluate(nodes, env, FUNCS, dict(base)) if nodes else []
            got = fin.entries.evaluate({id(a): v for a, v in zip(nodes, vals)}, lambda dim: concrete(dim, dims))
            assert np.allclose(got, vec_to_tensor(J, shape2(out), shape2(var)), atol=1e-5), ("result entries", expr)
            checked += 1
        if fin.reshaped is not None:
            assert np.allclose(ev(fin.reshaped, *shape2(out), {}), J.reshape(shape2(out), order="F"), atol=1e-5)
        if fin.product is not None:
            assert np.allclose(ev(fin.product, m, q, {}), J, atol=1e-5), ("chain product", expr)
            for a, b, seg in zip(fin.path, fin.path[1:], fin.locals):
                inner = vec_jacobian(lambda v, a=a, k=id(b): evaluate([a] + anchors, env, FUNCS, {k: v})[0], base[id(b)])
                assert np.allclose(ev(seg, size(a), size(b)), inner, atol=1e-5), ("segment", expr)
        if fin.parts:
            assert np.allclose(sum(ev(p, m, q, {}) for p in fin.parts), J, atol=1e-5), ("fork parts", expr)
    if any(not (v.is_column or v.is_row or v.is_scalar) for v in d.variables.values()):
        assert checked, "a matrix variable's local derivative is shown entry by entry"


def test_the_check_can_fail():
    """The comparison above is not vacuous: a wrong local derivative is caught."""
    d = derive("A*X*B", "X", steps=True)
    ch = tensor_chain(d)
    rng = np.random.default_rng(5)
    env = random_env(d, rng, conditioned=("X",))
    anchors = list(d.typed.variables.values()) + list(d.variables.values())
    base: dict = {}
    evaluate([d.typed.output] + anchors, env, FUNCS, base)
    link = ch.links[-1]
    i = link.inputs[0]
    local = vec_jacobian(lambda v: evaluate([link.node] + anchors, env, FUNCS, {id(i.input): v})[0], base[id(i.input)])
    n = env["X"].shape[1]
    assert np.allclose(np.kron(np.eye(n), env["A"]), local, atol=1e-5)      # I ⊗ A, as printed
    assert not np.allclose(np.kron(env["A"], np.eye(n)), local, atol=1e-5)  # the factors swapped
