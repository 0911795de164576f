"""Issue 14: pictures that fit.  On the built-in SVG no label overlaps an edge, a node or another
label, and nothing leaves the canvas (checked geometrically on bounding boxes); vector and matrix
nodes show their shape and short values; green values above, red gradients below the edge in
both renderers; PNG without matplotlib."""
from __future__ import annotations

import importlib.util
import itertools
import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from extras import need

from matcalc.api import graph_model
from matcalc.cli.main import main
from matcalc.core.errors import MatcalcError
from matcalc.output import picture
from matcalc.output.picture import short_value, to_dot, to_svg, write
from matcalc.output.svgpicture import text_width

NS = "{http://www.w3.org/2000/svg}"
CASES = [
    ("(x+y)*z", "x=-2,y=5,z=-4"),
    ("1/(1+exp(-(w0*x0+w1*x1+w2)))", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3"),
    ("u'*tanh(W*x+b)", "W=[1,2,0;3,4,1],x=[1,2,3],b=[0.5,-1],u=[1,-1]"),
    ("x'*A*x + sum(exp(A*x))", "A=[1,2;3,4],x=[0.1,0.2]"),
    ("h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2",
     "X=[1,2;3,4;5,6],W1=[0.1,0.2;0.3,0.4],W2=[1;-1],Y=[1;0;1]"),
    ("norm(W*x)^2", "W=[1,2,3;4,5,6],x=[1,-1,2]"),
]


def boxes(svg: str):
    """(label boxes, node boxes, segments, canvas) of a built-in SVG."""
    root = ET.fromstring(svg)
    width, height = float(root.get("width")), float(root.get("height"))
    labels, nodes, segments = [], [], []
    for el in root.iter():
        tag = el.tag.replace(NS, "")
        if tag == "text":
            size = float(el.get("font-size", 13))
            w = text_width(el.text or "", size)
            x, y = float(el.get("x")), float(el.get("y"))
            box = (x - w / 2, y - size, x + w / 2, y + 0.25 * size)
            (labels if el.get("class") in ("value", "grad") else nodes).append((box, el.text, el.get("class")))
        elif tag == "circle":
            cx, cy, r = (float(el.get(k)) for k in ("cx", "cy", "r"))
            nodes.append(((cx - r, cy - r, cx + r, cy + r), "circle", "circle"))
        elif tag == "polyline":
            pts = [tuple(map(float, p.split(","))) for p in el.get("points").split()]
            segments += list(itertools.pairwise(pts))
    return labels, nodes, segments, (width, height)


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def hits(box, seg) -> bool:
    """Whether the segment passes through the box (sampled finely: segments are short)."""
    (x1, y1), (x2, y2) = seg
    n = max(2, int(max(abs(x2 - x1), abs(y2 - y1))))
    return any(box[0] < x1 + (x2 - x1) * t / n < box[2] and box[1] < y1 + (y2 - y1) * t / n < box[3]
               for t in range(n + 1))


@pytest.mark.parametrize("expr,at", CASES)
def test_labels_never_overlap_edges_nodes_or_each_other(expr, at):
    from matcalc.output.values import parse_at
    labels, nodes, segments, (width, height) = boxes(to_svg(graph_model(expr, at=parse_at(at))))
    assert labels
    for i, (box, text, _) in enumerate(labels):
        assert 0 <= box[0] and box[2] <= width and 0 <= box[1] and box[3] <= height, f"{text} leaves the canvas"
        for other, t2, _ in labels[i + 1:]:
            assert not overlap(box, other), f"labels {text!r} and {t2!r} overlap"
        for nb, what, _ in nodes:
            assert not overlap(box, nb), f"label {text!r} overlaps node {what!r}"
        for seg in segments:
            assert not hits(box, seg), f"label {text!r} crosses an edge {seg}"
    for nb, what, _ in nodes:
        assert 0 <= nb[0] and nb[2] <= width, f"{what} is clipped"


@pytest.mark.parametrize("expr,at", CASES)
def test_values_above_and_gradients_below_their_run(expr, at):
    from matcalc.output.values import parse_at
    svg = to_svg(graph_model(expr, at=parse_at(at)))
    labels, _, segments, _ = boxes(svg)
    runs = [s for s in segments if s[0][1] == s[1][1]]
    for box, text, kind in labels:
        cx, mid = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        run = min((s for s in runs if s[0][0] <= cx <= s[1][0]), key=lambda s: abs(s[0][1] - mid))
        assert (mid < run[0][1]) == (kind == "value"), f"{text} ({kind}) on the wrong side"


def test_vector_and_matrix_nodes_show_shape_and_short_values():
    from matcalc.output.values import parse_at
    model = graph_model("u'*tanh(W*x+b)", at=parse_at("W=[1,2,0;3,4,1],x=[1,2,3],b=[0.5,-1],u=[1,-1]"))
    caps = {n.label: n.caption() for n in model.nodes}
    assert caps["W"] == "2×3" and caps["x"] == "3×1" and caps["tanh"].endswith("2×1")
    values = [e.value for e in model.edges]
    assert "2×3" in values and "[1, 2, 3]" in values and "[5, 14]" in values
    assert short_value(np.array([[1.23456, 2.0], [3.0, 4.0]])) == "[[1.23, 2], [3, 4]]"
    assert short_value(0.123456, 2) == "0.12" and short_value(np.zeros((3, 4))) == "3×4"
    assert all(len(e.value) <= 24 and len(e.grad) <= 40 for e in model.edges)


def test_precision_option(tmp_path, capsys):
    assert main(["graph", "sigmoid(w'*x)", "--at", "w=[2,-3],x=[-1,-2]", "--precision", "5", "-o", "-"]) == 0
    assert "0.98201" in capsys.readouterr().out
    assert main(["graph", "x*y", "--at", "x=1,y=2", "--precision", "0", "-o", "-"]) == 2


def test_dot_puts_values_above_and_gradients_below():
    """Each labelled edge passes through a node of its own whose middle row is the line: the
    value in the row above, the gradient in the row below."""
    from matcalc.output.values import parse_at
    dot = to_dot(graph_model("(x+y)*z", at=parse_at("x=-2,y=5,z=-4")))
    rows = re.findall(r"<tr>(.*?)</tr>", dot)
    assert len(rows) == 3 * 5                                 # five labelled edges, the output's included
    for above, line, below in zip(rows[0::3], rows[1::3], rows[2::3]):
        assert "#1a7f37" in above and 'port="p" sides="b"' in line and "#cf222e" in below
    assert re.search(r'color="#1a7f37">-12<.*color="#cf222e">1<', dot)
    assert "label=<<font" not in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed (optional)")
def test_graphviz_values_above_gradients_below(tmp_path):
    from matcalc.output.values import parse_at
    model = graph_model("u'*tanh(W*x+b)", at=parse_at("W=[1,2,0;3,4,1],x=[1,2,3],b=[0.5,-1],u=[1,-1]"))
    assert write(model, str(tmp_path / "g.svg"), "dot") == "graphviz"
    root = ET.fromstring((tmp_path / "g.svg").read_text())
    texts = {}
    for el in root.iter(f"{NS}text"):
        texts.setdefault(el.get("fill"), []).append(float(el.get("y")))
    assert texts["#1a7f37"] and texts["#cf222e"]
    for g in root.iter(f"{NS}g"):
        if g.get("class") == "node" and any(t.get("fill") == "#1a7f37" for t in g.iter(f"{NS}text")):
            (green,) = [float(t.get("y")) for t in g.iter(f"{NS}text") if t.get("fill") == "#1a7f37"]
            (red,) = [float(t.get("y")) for t in g.iter(f"{NS}text") if t.get("fill") == "#cf222e"]
            assert green < red                               # SVG y grows downwards: green above


@pytest.mark.parametrize("renderer", ["dot", "builtin"])
def test_an_edge_with_a_value_and_no_gradient_draws(tmp_path, renderer):
    """Under --wrt x only the edges on x's path carry a gradient; the others have an empty
    gradient cell, which Graphviz once rejected as a syntax error (an internal error, exit 3)."""
    need(renderer == "builtin" or shutil.which("dot") is not None, "Graphviz (apt-get install graphviz)")
    out = tmp_path / "g.svg"
    assert main(["graph", "(x+y)*z", "--at", "x=-2,y=5,z=-4", "--wrt", "x", "--renderer", renderer,
                 "-o", str(out)]) == 0
    root = ET.fromstring(out.read_text())
    words = [t.text for t in root.iter(f"{NS}text")]
    assert "5" in words and "-4" in words and "-12" in words      # values, the gradient-less edges' too
    reds = [t.text for t in root.iter(f"{NS}text") if t.get("fill") == "#cf222e"]
    assert reds and len(reds) < len([t for t in root.iter(f"{NS}text") if t.get("fill") == "#1a7f37"])


def test_png_without_matplotlib(tmp_path, monkeypatch):
    from matcalc.output.values import parse_at
    model = graph_model("(x+y)*z", at=parse_at("x=-2,y=5,z=-4"))
    have = importlib.util.find_spec("cairosvg") is not None or shutil.which("rsvg-convert") is not None
    need(have, "an SVG→PNG converter (pip install matcalc[picture], or apt-get install librsvg2-bin)")
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "dot" else real_which(name))
    used = write(model, str(tmp_path / "g.png"))
    assert used in ("cairosvg", "rsvg-convert")
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_with_no_converter_is_a_clear_message(tmp_path, monkeypatch):
    from matcalc.output.values import parse_at
    model = graph_model("(x+y)*z", at=parse_at("x=-2,y=5,z=-4"))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(picture, "optional_module", lambda *a: (_ for _ in ()).throw(
        MatcalcError("writing .png without Graphviz needs cairosvg: pip install \"matcalc[picture]\"")))
    with pytest.raises(MatcalcError, match="cairosvg") as e:
        write(model, str(tmp_path / "g.png"))
    assert e.value.exit_code == 2


def test_png_through_cairosvg_when_no_program_is_installed(tmp_path, monkeypatch):
    from matcalc.output.values import parse_at
    need(importlib.util.find_spec("cairosvg") is not None, "cairosvg (pip install matcalc[picture])")
    model = graph_model("(x+y)*z", at=parse_at("x=-2,y=5,z=-4"))
    monkeypatch.setattr(shutil, "which", lambda name: None)         # no dot, no rsvg-convert
    assert write(model, str(tmp_path / "g.png")) == "cairosvg"
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


def test_cairosvg_draws_every_glyph_the_labels_use():
    """cairosvg draws with the first font family only; with Helvetica first it drew ᵀ, ∘ and the
    subscripts as empty boxes.  Each character is drawn alone and compared with the drawing of a
    character no font has (a private-use code point): a missing glyph draws the same box."""
    need(importlib.util.find_spec("cairosvg") is not None, "cairosvg (pip install matcalc[picture])")
    import cairosvg

    from matcalc.output.svgpicture import FONT_FAMILY, svg_text

    def drawn(text: str) -> bytes:
        svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="48" height="40" font-family="{FONT_FAMILY}">'
               f'<text x="4" y="30" font-size="24">{svg_text(text)}</text></svg>')
        return cairosvg.svg2png(bytestring=svg.encode())

    missing = drawn("\ue000")
    used = set()
    for expr in ("sum(tanh(W'*x + ones(n)) ./ x)", "norm(W*x)^2", "sum(exp(A) .* B)"):
        model = graph_model(expr)
        used |= {c for n in model.nodes for c in n.label + n.caption()}
    used |= set("ᵀ∘⊘ₙ₁₂δ∂−×𝟏")
    assert not [c for c in sorted(used) if not c.isspace() and drawn(c) == missing]
