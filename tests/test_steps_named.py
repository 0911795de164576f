"""The steps' named upstreams (``dz₂ = ∂s/∂z₂ = …``, later lines saying ``dz₂``): what is printed,
the printed text parsed back and evaluated (the graph's definitions and each named upstream are
a program), and the growth: each line stays short, so the steps are linear in the program.

``tests/test_explain.py`` checks the same lines as data against central differences; here the
printed ``--text`` strings are evaluated and compared with those checked values."""
from __future__ import annotations

import json

import numpy as np
import pytest
from deep_programs import nested, program

from matcalc import derive
from matcalc.numeric.evaluate import evaluate
from matcalc.numeric.finite_differences import parse_printed
from matcalc.output.explain import explain, explanation

FUNCS = {"f": (np.tanh, lambda z: 1 - np.tanh(z) ** 2)}


def test_a_long_upstream_is_named_once_and_then_referred_to():
    lines = derive(program(3), "W_1", steps=True).steps_text().splitlines()
    assert "    upstream  dh2 = ∂f/∂h2 = W_3ᵀ dz₃" in lines
    assert "        gradient  ∂f/∂z₂ = dh2 ∘ (1 − h2²)   (shape convention)" in lines
    assert "    upstream  dz₁ = ∂f/∂z₁ = dh1 ∘ (1 − h1²)" in lines
    assert "  δ = ∂f/∂z₁ = dh1ᵀ diag(1 − h1²) = (dh1 ∘ (1 − h1²))ᵀ = dz₁ᵀ" in lines
    assert "    upstream  ∂f/∂h3 = 𝟏" in lines                     # as short as a name: written out
    text = derive(program(3), "W_1", steps=True).steps_text("text").splitlines()
    assert "    upstream  dh2 = df/dh2 = W_3'*dz3" in text


def test_every_style_names_the_upstream():
    d = derive("u'*f(W*x+b)", "W", steps=True)
    assert "    upstream  dz₂ = ∂s/∂z₂ = u ∘ f'(z₂)" in d.steps_text().splitlines()
    assert "  - upstream `dz₂ = ∂s/∂z₂ = u ∘ f'(z₂)`" in d.steps_text("markdown").splitlines()
    assert r"\text{upstream} \quad & \mathrm{dz}_{2} &= \frac{\partial s}{\partial z_{2}}" in d.steps_text("latex")
    data = json.loads(d.steps_text("json"))
    names = [st["upstream_name"] for st in data["text"]["steps"]]
    assert names == [None, None, "dz2", "dz1"] and [st["upstream_name"] for st in data["unicode"]["steps"]][2] == "dz₂"
    assert data["text"]["gradients"][0]["delta_named"] == "dz1'"


def test_a_name_never_takes_a_programs_own_name():
    text = derive("dz = W*x; z = dz + b; s = u'*tanh(z)", "W", steps=True).steps_text("text").splitlines()
    assert "    upstream  d_z = ds/dz = u .* (1 - z1.^2)" in text      # dz is the program's
    assert "    upstream  ddz = ds/ddz = d_z" in text


CASES = [
    ("u'*f(W*x+b)", "W,b,x,u", None),
    ("z = W*x + b; h = f(z); s = u'*h", "W,b", None),
    ("a = x*y; c = (a + x)*a", "x,y", None),
    ("h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "W1,W2", None),
    ("s = W*x; L = sum(max(0, s - y'*s + 1) .* (1 - y))", "W", {"y": "onehot"}),
    ("-y'*log_softmax(W*x)", "W", {"y": "onehot"}),
    (program(8), "W_1,W_3", None),
    (nested(6), "W_1,x", None),
]


@pytest.mark.parametrize("expr,wrt,assume", CASES)
def test_the_printed_text_parses_back_to_each_checked_value(expr, wrt, assume):
    """The ``--text`` steps are a program: the graph's definitions, then each named upstream.
    Every printed upstream, contribution, Jacobian form and δ form, parsed back with it and
    evaluated, equals the value of the line's data (which tests/test_explain.py checks against
    central differences)."""
    rng = np.random.default_rng(3)
    d = derive(expr, wrt, assume=assume, steps=True)
    ex = explanation(d)
    text = json.loads(explain(d, "json"))["text"]
    variables = d.variables_all()
    env = {}
    for name, v in variables.items():
        shape = [3 if not dim.is_Integer else int(dim) for dim in v.shape]
        env[name] = rng.standard_normal(shape)
        if v.attrs[2] == "onehot":
            env[name] = np.zeros(shape)
            env[name][1, 0] = 1.0
    leaves = list(variables.values())
    base: dict = {}
    evaluate([d.typed.output], env, FUNCS, base, leaves=leaves)
    names = dict(env)
    for p, n in ex.forward:
        names[p.attrs[0]] = base[id(n)]
    statements = [f"{g['name']} = {g['definition']}" for g in text["graph"]]
    statements += [f"{st['upstream_name']} = {st['upstream']}" for st in text["steps"] if st["upstream_name"]]

    def printed(s: str, shape) -> np.ndarray:
        node = parse_printed("; ".join(statements + [s]), variables).output
        return np.broadcast_to(evaluate([node], env, FUNCS, leaves=leaves)[0], shape)

    def value(node, shape) -> np.ndarray:
        return np.broadcast_to(evaluate([node], names, FUNCS, dict(base), leaves=leaves)[0], shape)

    checked = 0
    for st, shown in zip(ex.steps, text["steps"], strict=True):
        shape = base[id(st.node)].shape
        up = value(st.upstream, shape)
        if st.grad_name:
            names[st.grad.attrs[0]] = np.array(up)
        assert np.allclose(printed(shown["upstream"], shape), up), ("upstream", shown["node"])
        for loc, inp in zip(st.inputs, shown["inputs"], strict=True):
            x = base[id(loc.input)].shape
            c = value(loc.contribution, x)
            assert np.allclose(printed(inp["shape_convention"], x), c), ("gradient", shown["node"])
            for key in ("jacobian_form", "jacobian_form_simplified"):
                if inp[key] is not None:
                    assert np.allclose(printed(inp[key], x[::-1]), c.T), (key, shown["node"])
            checked += 1
    for fin, shown in zip(ex.finals, text["gradients"], strict=True):
        x = env[fin.var].shape
        assert np.allclose(printed(shown["gradient"], x), value(fin.result, x)), ("result", fin.var)
        if "delta" in shown:
            delta = value(fin.delta_named, np.shape(evaluate([fin.delta_named], names, FUNCS, dict(base),
                                                                  leaves=leaves)[0]))
            for key in ("delta", "delta_simplified", "delta_named"):
                assert np.allclose(printed(shown[key], delta.shape), delta), (key, fin.var)
    assert checked


@pytest.mark.parametrize("build", [program, nested], ids=["statements", "nested"])
def test_the_steps_grow_linearly(build):
    """Counted, not timed: doubling the depth doubles the backward pass's text and leaves its
    longest line as it was (printed in full, line k held the whole chain above it)."""
    def backward(n):
        text = derive(build(n), "W_1", steps=True, verify=False).steps_text("text")
        return text.split("Backward pass")[1].split("\nResult:")[0].splitlines()
    small, large = backward(20), backward(40)
    assert max(map(len, large)) == max(map(len, small))
    assert 1.9 < sum(map(len, large)) / sum(map(len, small)) < 2.1


@pytest.mark.parametrize("style", [(), ("--text",), ("--latex",)])
@pytest.mark.parametrize("expr,wrt", [("x'*A*x", "x"), ("u'*tanh(W*x + b)", "W,x")])
def test_steps_with_the_jacobian_form_end_in_the_jacobian_form(expr, wrt, style):
    """``--form jacobian --steps``: the steps' result is the gradient (shape convention), so the
    Jacobian form asked for follows it, exactly as ``derive --form jacobian`` prints (and
    verifies) it; without ``--form`` it is not printed."""
    from cli_run import run
    code, plain = run("derive", expr, "--wrt", wrt, "--form", "jacobian", *style)
    assert code == 0
    code, steps = run("derive", expr, "--wrt", wrt, "--form", "jacobian", "--steps", *style)
    assert code == 0
    head = "% Jacobian form (numerator layout):" if style == ("--latex",) else "Jacobian form (numerator layout):"
    tail = steps.split(head + "\n", 1)[1]
    assert [line.strip() for line in tail.strip().splitlines()] == [line.strip() for line in plain.strip().splitlines()]
    assert head not in run("derive", expr, "--wrt", wrt, "--steps", *style)[1]
