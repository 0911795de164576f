"""Issue 14: Jupyter first.  docs/matcalc_in_jupyter.ipynb is executed (``jupyter nbconvert
--execute``, the ``notebook`` extra) and each cell's display is checked: the derivation as LaTeX,
its steps as Markdown with MathJax, its graph as SVG, a verdict as HTML/Markdown, and an error as
the message with its caret only.  The same displays are checked without Jupyter below."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from extras import need

import matcalc
from matcalc.core.errors import MatcalcError
from matcalc.grading.verdict import Verdict

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "matcalc_in_jupyter.ipynb"


def _have_jupyter() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("nbconvert", "nbformat", "ipykernel"))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    need(_have_jupyter(), "Jupyter (pip install matcalc[notebook])")
    import nbformat
    out = tmp_path_factory.mktemp("nb")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", str(NOTEBOOK),
                        "--output-dir", str(out), "--output", "run.ipynb"],
                       capture_output=True, text=True, env=env, timeout=600, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    nb = nbformat.read(out / "run.ipynb", as_version=4)
    return {tag: cell.outputs for cell in nb.cells if cell.cell_type == "code"
            for tag in cell.metadata.get("tags", [])}


def _data(outputs) -> dict:
    (result,) = [o for o in outputs if o.output_type == "execute_result"]
    return result["data"]


def test_the_derivation_cell_shows_latex(executed):
    data = _data(executed["derivation"])
    assert data["text/latex"].startswith("$$") and r"\frac{\partial s}{\partial W}" in data["text/latex"]   # s: f is the function


def test_the_steps_cell_shows_markdown_with_mathjax(executed):
    data = _data(executed["steps"])
    md = data["text/markdown"]
    assert "**Node**" in md and r"\begin{alignedat}{2}" in md and r"\text{upstream}" in md
    assert "Backward pass (from s back" in data["text/plain"]      # printed: the Unicode steps


def test_the_graph_cell_shows_svg(executed):
    svg = _data(executed["graph"])["image/svg+xml"]
    assert svg.lstrip().startswith("<svg") and "-12" in svg


def test_the_verdict_cell_shows_html_and_markdown(executed):
    data = _data(executed["verdict"])
    assert "<b" in data["text/html"] and "wrong" in data["text/html"]
    assert data["text/markdown"].startswith("**wrong**")


def test_the_error_cell_shows_only_the_caret_message(executed):
    (err,) = [o for o in executed["error"] if o.output_type == "error"]
    assert err.traceback == ["error: W*x: cannot multiply: W is 3×4 but x is 5×1 (line 1, column 1)",
                             "  W*x", "  ^^^"]


# ---------------------------------------------------------------------- the same, without Jupyter
def test_steps_stay_a_list_and_print_as_unicode():
    d = matcalc.derive("u'*f(W*x+b)", "W", steps=True)
    assert isinstance(d.steps, list) and len(d.steps) == 4 and d.steps[0].node is d.typed.output
    assert str(d.steps) == d.steps_text("unicode")
    assert d.steps._repr_markdown_().startswith("**Steps for** `u'*f(W*x+b)`")
    assert "derive with steps=True" in matcalc.derive("norm(W*x)^2", "W").steps._repr_markdown_()
    chain = matcalc.derive("tanh(W*x + b)", "x", steps=True).steps       # a vector output: the Jacobian chain
    assert r"\text{Jacobian}" in chain._repr_markdown_() and "∂f/∂x" in str(chain)


def test_graph_is_a_picture_with_svg():
    d = matcalc.derive("(x+y)*z", "x,y,z")
    pic = d.graph(at={"x": -2, "y": 5, "z": -4})
    assert pic._repr_svg_() == pic.svg() and "digraph" in pic.dot()
    with pytest.raises(MatcalcError, match="scalar output"):
        matcalc.derive("W*x", "x").graph(at={"W": [[1.0]], "x": [1.0]})


def test_verdict_displays():
    right = matcalc.check("norm(W*x)^2", "W", answer="2*W*x*x'")
    assert "correct" in right._repr_html_() and right._repr_markdown_().startswith("**correct**")
    wrong = matcalc.check("x'*x", "x", answer="3*x")
    assert "counterexample" in wrong._repr_markdown_() and "<code>2*x</code>" in wrong._repr_html_()
    odd = Verdict(False, "wrong", "a <b> reason", "x<y", "z", "gradient")
    assert "a &lt;b&gt; reason" in odd._repr_html_() and "<code>x&lt;y</code>" in odd._repr_html_()


def test_render_traceback_is_the_caret_message():
    with pytest.raises(MatcalcError) as e:
        matcalc.derive("W*", "W")
    lines = e.value._render_traceback_()
    assert lines[0].startswith("error: ") and lines[-1].strip().startswith("^")


def test_terminal_repr_is_the_result_not_the_fields():
    """A terminal REPL (no rich display) shows the question and the printed result of a
    derivation, a Hessian and a verdict, not a screenful of dataclass fields and graph nodes."""
    d = matcalc.derive("norm(W*x)^2", "W")
    assert repr(d) == "<Derivation of 'norm(W*x)^2' by W>\n∂f/∂W = 2 W x xᵀ"
    h = matcalc.hessian("x'*A*x", "x")
    assert repr(h).startswith('<Hessian of "x\'*A*x" by x>\n') and repr(h).endswith(str(h))
    v = matcalc.check("norm(W*x)^2", "W", "W*x*x'")
    assert repr(v).startswith("<Verdict: wrong, factor>\nwrong: ") and "Typed(" not in repr(d) + repr(v)
