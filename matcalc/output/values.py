"""Numbers at a point (``matcalc derive --at``): the value of a scalar program and its gradients.

``parse_at`` reads ``x=-2,y=5`` or ``w=[2,-3,-3]`` (numbers only, never ``eval``); ``values_at``
evaluates the output, every cached node and each gradient there; ``values_text`` prints them;
``format_value`` is how steps and pictures print a number.
"""
from __future__ import annotations

import json
import re

import numpy as np

from matcalc.core.errors import MatcalcError
from matcalc.core.graph import Node
from matcalc.numeric.evaluate import evaluate, to_external, to_internal
from matcalc.output.render import Printer


def parse_at(text: str) -> dict[str, list]:
    """``x=-2,y=5,z=-4``, ``w=[2,-3,-3],x=[-1,-2]`` or a matrix by rows ``W=[1,2;3,4]`` →
    {name: value}; numbers only, never eval."""
    out: dict[str, object] = {}
    pos = 0
    text = text.strip()
    item = re.compile(r"\s*([^\W\d]\w*)\s*=\s*(\[[^\]]*\]|[^,\[\]]+)\s*(,|$)")
    while pos < len(text):
        m = item.match(text, pos)
        if not m:
            raise MatcalcError(f"--at {text!r}: write NAME=NUMBER, NAME=[n1,n2,...] or a matrix by rows "
                               "NAME=[1,2;3,4], separated by commas (e.g. x=-2,y=5,z=-4)")
        name, raw = m.group(1), m.group(2).strip()
        try:
            if raw.startswith("["):
                rows = [r for r in raw[1:-1].split(";")]
                vals = [[float(v) for v in r.replace(",", " ").split()] for r in rows]
                out[name] = vals[0] if len(vals) == 1 else vals
            else:
                out[name] = float(raw)
        except ValueError:
            raise MatcalcError(f"--at: {name}={raw} is not a number or a list of numbers "
                               "(a matrix is written by rows: W=[1,2;3,4])") from None
        pos = m.end()
    return out


def format_value(v) -> str:
    """A value as the steps and pictures print it: 6 significant digits, 0 for −0."""
    a = np.asarray(v, dtype=float)
    if a.ndim == 0 or a.size == 1:
        x = float(a.reshape(-1)[0])
        return format(0.0 if x == 0 else x, ".6g")
    return np.array2string(a, precision=6, suppress_small=True, separator=", ",
                           formatter={"float_kind": lambda x: format(0.0 if x == 0 else x, ".6g")})


def values_at(d, point: dict, functions: dict | None = None) -> dict:
    """Forward value, value of every named node, and each gradient at ``point`` (external values)."""
    if d.kind != "gradient":
        raise MatcalcError("--at evaluates a scalar output and its gradients; this derivation is a " + d.kind)
    env = {}
    for name, var in {**d.typed.variables, **d.variables}.items():
        if name not in point:
            raise MatcalcError(f"--at gives no value for {name}")
        env[name] = _point_value(name, var, point[name])
    out = d.typed.output
    cache: dict = {}
    (val,) = evaluate([out], env, functions, cache)
    grads = {}
    for w in d.wrt:
        g = evaluate([d.results[w]], env, functions)[0]
        grads[w] = to_external(g if g.shape == env[w].shape else np.broadcast_to(g, env[w].shape),
                               d.variables[w].attrs[1])
    return {"value": to_external(val, 0 if out.is_scalar else 2), "gradients": grads, "cache": cache, "env": env}


_KINDS = ("a scalar", "a vector", "a matrix")


def _point_value(name: str, var: Node, value) -> np.ndarray:
    """``--at``'s value for ``var`` as an internal array, refused (exit 2) when its kind or a
    declared size differs from the variable's: a list for a scalar, a number for a matrix."""
    ndim = var.attrs[1]
    a = np.asarray(value, dtype=float)
    given = 0 if a.size == 1 and a.ndim <= 1 and not isinstance(value, list) else min(a.ndim, 2)
    if given != ndim:
        shown = "one number" if given == 0 else f"{a.size} values" if a.ndim == 1 else f"a {a.shape[0]}×{a.shape[1]} array"
        raise MatcalcError(f"--at: {name} is {_KINDS[ndim]} in this expression, but {shown} "
                           f"{'was' if given == 0 else 'were'} given for it"
                           + (" (declare its shape with --shape to change its kind)" if ndim == 0 else ""))
    if var.attrs[2] == "index":                 # a user's point counts an index from 1, NumPy from 0
        if a.size != 1 or a.reshape(-1)[0] != int(a.reshape(-1)[0]) or a.reshape(-1)[0] < 1:
            raise MatcalcError(f"--at: {name} is an index, a whole number counted from 1")
        a = a - 1
    internal = to_internal(a, ndim)
    for d, size in zip(var.shape, internal.shape):
        if d.is_Integer and int(d) != size:
            raise MatcalcError(f"--at: {name} has {int(d)} {'rows' if d is var.shape[0] else 'columns'}, "
                               f"but its value has {size}")
    return internal


def values_text(d, point: dict, style: str = "unicode") -> str:
    """``f = -12`` then ``∂f/∂x = -4``, … at the point (value-only evaluation)."""
    vals = values_at(d, point)
    ex_name = d.typed.statements[-1][0] or d.output_name
    lines = [f"at {', '.join(f'{k} = {format_value(v)}' for k, v in point.items())}:", f"{ex_name} = {format_value(vals['value'])}"]
    for w, g in vals["gradients"].items():
        lab = f"d{ex_name}/d{w}" if style == "text" else f"∂{ex_name}/∂{w}"
        lines.append(f"{lab} = {format_value(g)}")
    if style == "latex":
        return _values_latex(ex_name, point, vals)
    if style == "json":
        return json.dumps({"value": _jsonable(vals["value"]),
                           "gradients": {w: _jsonable(g) for w, g in vals["gradients"].items()}}, indent=2)
    return "\n".join(lines)


def _values_latex(name: str, point: dict, vals: dict) -> str:
    """The values at a point as a LaTeX paragraph and display (``--steps --at --latex``)."""
    pl = Printer("latex")
    at = ", ".join(f"${pl.var_name(k)} = {format_value(v)}$" for k, v in point.items())
    rows = [f"{pl.var_name(name)} &= {format_value(vals['value'])}"]
    rows += [rf"\frac{{\partial {pl.var_name(name)}}}{{\partial {pl.var_name(w)}}} &= {format_value(g)}"
             for w, g in vals["gradients"].items()]
    return rf"\paragraph{{At}} {at}:" + "\n\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"


def _jsonable(v):
    a = np.asarray(v, dtype=float)
    return float(a) if a.ndim == 0 else a.tolist()

