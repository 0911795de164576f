"""Steps for a derivative printed in index form (issue 14, item 4): the chain entry by entry
(``second_order.index_chain``), where the vec-form chain has no Kronecker factor (``diag``).
Every printed form — each node's upstream ∂Fᵢⱼ/∂zᵣₛ, each local ∂zᵣₛ/∂xₖₗ, the product summed over
r, s as written and contracted, what the input receives along the edge, the result — is evaluated
and compared with central differences of the 4-D tensor; the printed strings in every style
(Unicode, text, LaTeX, and the JSON made of them) are those of the forms checked."""
from __future__ import annotations

import json

import numpy as np
import pytest
from cli_run import run
from steps_support import EPS, FUNCS, random_env

from matcalc import derive
from matcalc.core.errors import MatcalcError
from matcalc.numeric.evaluate import bind_dims, concrete, evaluate
from matcalc.output.render import Printer
from matcalc.second_order.index_chain import _content, index_chain
from matcalc.second_order.indexform import render_index


def test_diag_times_a_matrix_entry_by_entry():
    code, out = run("derive", "diag(x)*A", "--wrt", "x", "--steps")
    assert code == 0, out
    for line in ["upstream  ∂fᵢⱼ/∂(z₁)ᵣₛ = Aₛⱼ δᵢᵣ",
                 "local     ∂(z₁)ᵣₛ/∂xₖ = δₖᵣ δᵣₛ",
                 "chain     ∂fᵢⱼ/∂xₖ = Σᵣₛ ∂fᵢⱼ/∂(z₁)ᵣₛ ∂(z₁)ᵣₛ/∂xₖ = Σᵣₛ Aₛⱼ δᵢᵣ δₖᵣ δᵣₛ = Aᵢⱼ δᵢₖ",
                 "∂fᵢⱼ/∂xₖ = Aᵢⱼ δᵢₖ"]:
        assert line in out, line
    _, printed = run("derive", "diag(x)*A", "--wrt", "x")
    assert printed.startswith("∂(diag(x) A)ᵢⱼ/∂xₖ = Aᵢⱼ δᵢₖ")      # the result derive prints


def test_a_vector_through_diag_ends_at_its_jacobian():
    text = derive("diag(x)*A*y", "x", steps=True).steps_text()
    assert text.rstrip().endswith("∂fᵢ/∂xₖ = (A y)ᵢ δᵢₖ\n  ∂f/∂x = diag(A y)")


def test_styles_and_json_kind():
    d = derive("X*diag(x)", "x", steps=True)
    assert "df[i,j]/dx[k] = X[i,j]*delta[j,k]" in d.steps_text("text")
    latex = d.steps_text("latex")
    assert r"\sum_{r,s}" in latex and r"\delta_{jk}" in latex and all(ord(c) < 128 for c in latex)
    assert "(i, j index the output's entries, r, s a node's, k, l its input's)" in d.steps_text("markdown")
    data = json.loads(d.steps_text("json"))
    assert data["kind"] == "index_steps"                  # the index steps' shape: their web panel shows it
    first = data["latex"]["steps"][0]["inputs"][0]
    assert first["matrix"] is None and "matrix_label" in first
    code, out = run("derive", "X*diag(x)", "--wrt", "x", "--steps", "--json")
    assert code == 0 and json.loads(out)["steps"]["unicode"]["legend"].startswith("i, j index the output's")


def test_no_form_at_all_says_why():
    code, out = run("derive", "kron(x, A)", "--wrt", "x", "--steps")
    assert code == 2
    assert "no Kronecker form (no Kronecker form through kron)" in out and "without steps" in out
    with pytest.raises(MatcalcError, match="without steps"):
        derive("kron(x, A)", "x", steps=True).steps_text()


CASES = [
    ("diag(x)*A", "x"),
    ("diag(x)", "x"),
    ("X*diag(x)", "x"),
    ("diag(X*x)", "x"),
    ("diag(X)", "X"),
    ("diag(x)*A*y", "x"),                  # a vector by a vector through a diag
    ("exp(diag(x))*A", "x"),               # elementwise on the way
    ("diag(x)*A*diag(x)", "x"),            # a fork: x reaches the output twice
    ("diag(f(X*x))*B", "x,X"),             # a generic function; two variables
]


def _fd(fn, x):
    """∂fn(x)[a, b]/∂x[c, e] by central differences, as a 4-D array (internal 2-D shapes)."""
    x = np.asarray(x, dtype=float)
    y = np.atleast_2d(np.asarray(fn(x), dtype=float))
    out = np.zeros(y.shape + x.shape)
    for k in np.ndindex(*x.shape):
        e = np.zeros(x.shape)
        e[k] = EPS
        out[(..., *k)] = (np.atleast_2d(fn(x + e)) - np.atleast_2d(fn(x - e))) / (2 * EPS)
    return out


@pytest.mark.parametrize("expr,wrt", CASES)
def test_every_printed_form_numerically(expr, wrt):
    rng = np.random.default_rng(7)
    d = derive(expr, wrt, steps=True)
    ch = index_chain(d)
    env = random_env(d, rng, alternate=False)
    leaves = list(d.typed.variables.values()) + list(d.variables.values())
    dims = bind_dims(leaves, env)
    out = d.typed.output
    base: dict = {}
    evaluate([out] + leaves, env, FUNCS, base)

    def value(n):
        return np.atleast_2d(np.asarray(evaluate([n] + leaves, env, FUNCS, dict(base))[0], dtype=float))

    def of(form):
        return form.evaluate({id(n): value(n) for n in form.nodes()}, lambda x: concrete(x, dims))

    def out_by(node):                                     # ∂F/∂node, every path from the node on
        return _fd(lambda v: evaluate([out] + leaves, env, FUNCS, {id(node): v})[0], base[id(node)])

    checked = 0
    for link in ch.links:
        up = out_by(link.node)
        assert np.allclose(of(link.upstream), up, atol=1e-5), ("upstream", expr)
        for inp in link.inputs:
            others = {id(a): base[id(a)] for a in link.node.args if a is not inp.input}
            local = _fd(lambda v, node=link.node, inp=inp, others=others:
                        evaluate([node] + leaves, env, FUNCS, {**others, id(inp.input): v})[0], base[id(inp.input)])
            assert np.allclose(of(inp.local), local, atol=1e-5), ("local", expr)
            along = np.einsum("abrs,rskl->abkl", up, local)
            for what in ("summed", "contracted", "entry"):
                assert np.allclose(of(getattr(inp, what)), along, atol=1e-5), (what, expr)
            checked += 1
    assert checked >= 1
    for w, form, matrix in ch.finals:
        var = d.variables[w]
        want = out_by(var)
        assert np.allclose(of(form), want, atol=1e-5), ("result", expr)
        if matrix is not None:                            # a Jacobian: the matrix, rows by output entries
            assert np.allclose(value(matrix), want.reshape(want.shape[0] * want.shape[1], -1), atol=1e-5)
    # the printed strings in each style are those of the forms checked above
    for style in ("unicode", "text", "latex"):
        c = _content(ch, style)
        pr = Printer(style, ch.names_for(style))
        for link, st in zip(ch.links, c["steps"], strict=True):
            assert st["upstream"] == render_index(link.upstream, pr, style)
            for inp, i in zip(link.inputs, st["inputs"], strict=True):
                assert [i[k] for k in ("local", "summed", "contracted", "entry")] == [
                    render_index(getattr(inp, k), pr, style) for k in ("local", "summed", "contracted", "entry")]
        assert c["gradients"][0]["gradient"].split(" = ")[0] == render_index(ch.finals[0][1], pr, style)
    json.loads(d.steps_text("json"))
