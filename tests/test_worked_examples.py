"""The worked examples are regenerated and compared (stale pages fail), and the computational-graph
picture of (x+y)*z at (-2, 5, -4) shows the lecture's numbers."""
from __future__ import annotations

import functools
import importlib.util
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from matcalc import derive
from matcalc.core.errors import MatcalcError
from matcalc.output.explain import parse_at
from matcalc.api import graph_model
from matcalc.output.picture import to_dot, to_svg, write

ROOT = Path(__file__).resolve().parent.parent / "worked_examples"


@functools.lru_cache(maxsize=1)
def generated() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location("worked_examples_generate", ROOT / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module              # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.outputs()


EXPECTED = ["add_mul_gates.md", "sigmoid_neuron.md", "norm_Wx.md", "neuron_layer.md", "layer_by_weights.md",
            "two_layer_net.md",
            "multiclass_svm.md", "softmax_cross_entropy.md", "two_layer_net_biases.md", "softmax_batch.md",
            "svm_batch.md", "batchnorm.md", "word2vec.md", "attention.md", "matmul_gradient.md", "add_mul_gates.svg",
            "sigmoid_neuron.svg", "README.md"]


@pytest.mark.parametrize("name", EXPECTED)
def test_worked_example_is_fresh(name):
    files = generated()
    assert name in files
    path = ROOT / name
    assert path.exists(), f"{name} missing: run python worked_examples/generate.py"
    assert path.read_text(encoding="utf-8") == files[name], \
        f"{name} is stale: run python worked_examples/generate.py and commit the result"


def _texts(svg: str) -> tuple[list[str], list[str]]:
    root = ET.fromstring(svg)
    values, grads = [], []
    for el in root.iter():
        if el.tag.endswith("text") and el.text:
            fill = el.get("fill", "")
            (values if fill == "#1a7f37" else grads if fill == "#cf222e" else []).append(el.text.strip())
    return values, grads


def test_svg_of_add_mul_circuit_shows_values_and_gradients():
    model = graph_model("(x+y)*z", at=parse_at("x=-2,y=5,z=-4"))
    values, grads = _texts(to_svg(model))
    assert sorted(values) == sorted(["-2", "5", "3", "-4", "-12"])
    assert sorted(grads) == sorted(["-4", "-4", "-4", "3", "1"])      # x, y, x+y, z, and the seed
    assert "-12" in values and grads.count("-4") >= 2 and "3" in grads


def test_written_svg_builtin_and_graphviz(tmp_path):
    model = graph_model("(x+y)*z", at=parse_at("x=-2,y=5,z=-4"))
    out = tmp_path / "g.svg"
    assert write(model, str(out), "builtin") == "builtin"
    values, grads = _texts(out.read_text())
    assert "-12" in values and sorted(grads)[:3] == ["-4", "-4", "-4"] and "3" in grads
    if shutil.which("dot"):
        out2 = tmp_path / "g2.svg"
        assert write(model, str(out2), "auto") == "graphviz"
        values, grads = _texts(out2.read_text())
        assert "-12" in values and grads.count("-4") == 3 and "3" in grads


def test_dot_text_and_png_without_renderers(tmp_path, monkeypatch):
    model = graph_model("(x+y)*z", at=parse_at("x=-2,y=5,z=-4"))
    dot = to_dot(model)
    assert "-12" in dot and 'color="#cf222e">3<' in dot and dot.startswith("digraph")
    write(model, str(tmp_path / "g.dot"))
    assert (tmp_path / "g.dot").read_text() == dot
    monkeypatch.setattr(shutil, "which", lambda name: None)
    if importlib.util.find_spec("cairosvg") is None:       # no dot, no rsvg-convert, no cairosvg
        with pytest.raises(MatcalcError, match="cairosvg"):
            write(model, str(tmp_path / "g.png"))
    with pytest.raises(MatcalcError):
        write(model, str(tmp_path / "g.jpg"))


def test_graph_cli(tmp_path, capsys):
    from matcalc.cli.main import main
    assert main(["graph", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "-o", str(tmp_path / "a.svg"),
                 "--renderer", "builtin"]) == 0
    assert "-12" in (tmp_path / "a.svg").read_text()
    assert main(["graph", "u'*f(W*x+b)", "-o", "-"]) == 0
    assert "digraph" in capsys.readouterr().out


def test_two_layer_net_matches_the_lecture_code():
    """grad_w1, grad_w2 of the lecture's NumPy loop equal the derived gradients."""
    rng = np.random.default_rng(0)
    N, D_in, H, D_out = 6, 5, 4, 3
    x, y = rng.standard_normal((N, D_in)), rng.standard_normal((N, D_out))
    w1, w2 = rng.standard_normal((D_in, H)), rng.standard_normal((H, D_out))
    h = 1 / (1 + np.exp(-x.dot(w1)))
    y_pred = h.dot(w2)
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h.T.dot(grad_y_pred)
    grad_h = grad_y_pred.dot(w2.T)
    grad_w1 = x.T.dot(grad_h * h * (1 - h))
    d = derive("h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "W1,W2")
    got = d.numpy()(X=x, Y=y, W1=w1, W2=w2)
    assert np.allclose(got["W1"], grad_w1) and np.allclose(got["W2"], grad_w2)


def test_staged_sigmoid_neuron_numbers():
    d = derive("1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0,x0,w1,x1,w2")
    g = d.numpy()(w0=2.0, x0=-1.0, w1=-3.0, x1=-2.0, w2=-3.0)
    dot = 2 * -1 + -3 * -2 + -3
    f = 1 / (1 + np.exp(-dot))
    ddot = (1 - f) * f
    assert np.allclose([g["w0"], g["w1"], g["w2"]], [-1 * ddot, -2 * ddot, ddot])
    assert np.allclose([g["x0"], g["x1"]], [2 * ddot, -3 * ddot])
