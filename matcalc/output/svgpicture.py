"""The built-in SVG writer of the graph picture: a layered layout in which no label overlaps an
edge, a node or another label (issue 14: pictures that fit).

Columns of nodes (by topological generation) alternate with label gaps.  Every edge crosses each
gap it spans on a horizontal run of its own, a slot of the gap's height; the run carries the
forward value above it (green) and the gradient below it (red), as on the lecture's slides, and
short sloped connectors join the runs to the nodes.  An edge that spans several columns passes
the columns between on a dummy slot, so it never runs through a node.  Labels sit only on runs,
runs only in gaps, and slots are spaced by the labels' height, so the picture is overlap-free by
construction; ``tests/test_pictures.py`` checks it geometrically on the SVG's bounding boxes.
Text widths are estimated (``text_width``) generously for DejaVu Sans, the first font.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

FONT = 13                # edge labels
NAME_FONT = 11           # a node's name and shape under it
R = 22                   # a gate's circle
SLOT = 46                # height of one run: value above, gradient below
ROW = 84                 # height of one node row (circle, name line, margin)
CONNECT = 26             # horizontal room for the sloped connectors at each side of a gap
PAD = 16


_NARROW = frozenset(" ,.·:;'|!ilijIJftr-[](){}ᵀ⁻¹²³ᵢⱼ₀₁₂₃₄₅₆₇₈₉ₙₘₖ")
_WIDE = frozenset("mwMW")
_OPERATOR = frozenset("−+×∘⊘⊗=<>≤≥")


def text_width(s: str, size: float = FONT) -> float:
    """A generous estimate of the width of ``s`` at ``size`` px in the picture's first font,
    DejaVu Sans: its bold advance widths, grouped (narrow ≤ 0.49 em, m and w up to 1.1 em,
    operators 0.84 em, the rest ≤ 0.85 em), rounded up within each group."""
    em = 0.0
    for c in s:
        em += 0.5 if c in _NARROW else 1.1 if c in _WIDE else 0.84 if c in _OPERATOR else 0.76
    return em * size + 2


# DejaVu Sans first: it has every glyph the labels use (ᵀ, ∘, ⊘, subscripts), and cairosvg,
# which draws with the first family only, would otherwise fall back to a font without them
FONT_FAMILY = "DejaVu Sans, Helvetica, Arial, sans-serif"
_BOLD_DIGITS = {chr(0x1D7CE + d): str(d) for d in range(10)}       # 𝟏: no common font has it


def svg_text(s: str) -> str:
    """``s`` escaped for SVG, with mathematical bold digits (𝟏 for all-ones) written as a bold
    digit, which is what the character means and what every font can draw."""
    out = []
    for c in s:
        out.append(f'<tspan font-weight="bold">{_BOLD_DIGITS[c]}</tspan>' if c in _BOLD_DIGITS
                   else escape(c))
    return "".join(out)


@dataclass
class Run:
    """One edge's crossing of one gap: its slot's height and whether it carries the labels."""

    edge: int
    gap: int
    y: float
    labelled: bool


def _levels(model) -> tuple[dict[int, int], dict[int, list[int]]]:
    inputs: dict[int, list[int]] = {n.key: [] for n in model.nodes}
    for e in model.edges:
        if e.dst is not None:
            inputs[e.dst].append(e.src)
    level: dict[int, int] = {}
    for n in model.nodes:                                    # nodes come in topological order
        level[n.key] = 1 + max((level[s] for s in inputs[n.key]), default=-1)
    for n in model.nodes:                                    # a leaf sits just before its first use
        if n.leaf:
            uses = [level[e.dst] for e in model.edges if e.src == n.key and e.dst is not None]
            if uses:
                level[n.key] = min(uses) - 1
    return level, inputs


def _spread(wish: dict, gap: float) -> dict:
    """Positions near the wished ones, in the wished order, at least ``gap`` apart."""
    out, last = {}, None
    for k in sorted(wish, key=lambda k: (wish[k], k)):
        y = wish[k] if last is None else max(wish[k], last + gap)
        out[k] = last = y
    return out


def layout(model):
    """(node positions, runs per edge, column x positions, gap x ranges, width, height)."""
    level, inputs = _levels(model)
    last = max(level.values())
    span = {i: (level[e.src], level[e.dst] if e.dst is not None else last + 1) for i, e in enumerate(model.edges)}
    # rows: column by column, a gate at the mean height of its inputs, leaves and dummies placed too
    row: dict[int, float] = {}
    dummy: dict[tuple[int, int], float] = {}                 # (edge, column) -> y of a passing edge
    for lv in range(last + 1):
        wish: dict = {}
        for n in model.nodes:
            if level[n.key] != lv:
                continue
            ins = [row[s] for s in inputs[n.key] if s in row]
            wish[("n", n.key)] = sum(ins) / len(ins) if ins else None
        for i, (a, b) in span.items():
            if a < lv < b:
                prev = row[model.edges[i].src] if a == lv - 1 else dummy[(i, lv - 1)]
                wish[("d", i)] = prev
        top = max((w for w in wish.values() if w is not None), default=-ROW)
        for k, w in list(wish.items()):
            if w is None:
                top += ROW
                wish[k] = top
        for (kind, k), y in _spread(wish, ROW).items():
            (row.__setitem__(k, y) if kind == "n" else dummy.__setitem__((k, lv), y))
    # runs: in every gap an edge crosses, a slot near the height it comes from
    runs: dict[int, list[Run]] = {i: [] for i in span}
    for g in range(last + 1):                                # gap g lies between columns g and g+1
        wish = {}
        for i, (a, b) in span.items():
            if a <= g < b:
                src_y = row[model.edges[i].src] if a == g else dummy[(i, g)]
                wish[i] = src_y
        for i, y in _spread(wish, SLOT).items():
            runs[i].append(Run(i, g, y, labelled=(g == span[i][0])))
    # x: each column as wide as its widest node, each gap as wide as its widest label
    col_w = {lv: 2 * R + 8 for lv in range(last + 1)}
    for n in model.nodes:
        w = max(text_width(n.label, 14 if n.leaf else 13), text_width(n.caption(), NAME_FONT), 2 * R)
        col_w[level[n.key]] = max(col_w[level[n.key]], w + 8)
    gap_w = {g: 40.0 for g in range(last + 1)}
    for i, rs in runs.items():
        e = model.edges[i]
        for r in rs:
            if r.labelled:
                gap_w[r.gap] = max(gap_w[r.gap], text_width(e.value), text_width(e.grad))
    xs, gaps, x = {}, {}, PAD
    edges = {}
    for lv in range(last + 1):
        xs[lv] = x + col_w[lv] / 2
        edges[lv] = (x, x + col_w[lv])
        x += col_w[lv]
        gaps[lv] = (x + CONNECT, x + CONNECT + gap_w[lv])
        x += gap_w[lv] + 2 * CONNECT
    ys = [*row.values(), *dummy.values(), *(r.y for rs in runs.values() for r in rs)]
    y0 = min(ys) - (SLOT / 2 + PAD)
    shift = -y0
    pos = {k: (xs[level[k]], y + shift) for k, y in row.items()}
    dummies = {k: (xs[k[1]], y + shift) for k, y in dummy.items()}
    for rs in runs.values():
        for r in rs:
            r.y += shift
    height = max(ys) + shift + ROW / 2 + PAD
    width = gaps[last][1] + PAD + 14                        # the output's arrow ends in the last gap
    return pos, dummies, runs, gaps, level, edges, width, height


def to_svg(model) -> str:
    """A self-contained SVG of the graph (no dependencies)."""
    pos, dummies, runs, gaps, level, cols, width, height = layout(model)
    leaf = {n.key for n in model.nodes if n.leaf}
    half = {n.key: (text_width(n.label, 14) / 2 if n.leaf else R) for n in model.nodes}
    out = [(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{FONT_FAMILY}" font-size="{FONT}">'),
           ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#444"/></marker></defs>'),
           '<rect width="100%" height="100%" fill="white"/>']
    labels = []
    for i, e in enumerate(model.edges):
        sx, sy = pos[e.src]
        pts = [(sx + half[e.src], sy), (cols[level[e.src]][1], sy)]       # a stub to the column's edge
        for r in runs[i]:
            x0, x1 = gaps[r.gap]
            pts += [(x0, r.y), (x1, r.y)]
            if r.labelled:
                mx = (x0 + x1) / 2
                if e.value:
                    labels.append(f'<text x="{mx:.1f}" y="{r.y - 6:.1f}" text-anchor="middle" fill="#1a7f37" '
                                  f'class="value">{svg_text(e.value)}</text>')
                if e.grad:
                    labels.append(f'<text x="{mx:.1f}" y="{r.y + 16:.1f}" text-anchor="middle" fill="#cf222e" '
                                  f'class="grad">{svg_text(e.grad)}</text>')
            nxt = r.gap + 1
            if (i, nxt) in dummies:                        # passing a column on a slot of its own
                _, dy = dummies[(i, nxt)]
                pts += [(cols[nxt][0], dy), (cols[nxt][1], dy)]
        if e.dst is not None:
            dx, dy = pos[e.dst]
            pts += [(cols[level[e.dst]][0], dy), (dx - half[e.dst] - (2 if e.dst in leaf else 0), dy)]
        else:
            pts.append((pts[-1][0] + 12, pts[-1][1]))
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="#444" stroke-width="1.5" '
                   'marker-end="url(#arrow)"/>')
    out += labels
    for n in model.nodes:
        x, y = pos[n.key]
        if n.leaf:
            out.append(f'<text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle" font-size="14" '
                       f'font-weight="bold" class="node">{svg_text(n.label)}</text>')
        else:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{R}" fill="#f6f8fa" stroke="#444" stroke-width="1.5"/>')
            out.append(f'<text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle" class="node">{svg_text(n.label)}</text>')
        if n.caption():
            below = y + (R + 14 if not n.leaf else 20)
            out.append(f'<text x="{x:.1f}" y="{below:.1f}" text-anchor="middle" font-size="{NAME_FONT}" '
                       f'fill="#555" class="name">{svg_text(n.caption())}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
