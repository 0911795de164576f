"""Indexing (LANGUAGE.md v2): ``x[i]``, ``A[i, j]``, ``A[:, j]``, ``A[i, :]`` through the unit vector.

A selection is a product with ``unit(i, n)`` (eᵢ, the n-vector with a 1 at entry i): ``x[i]`` is
eᵢᵀx, ``A[:, j]`` is A eⱼ, ``A[i, :]`` is eᵢᵀA, so every later stage (derivatives, simplification,
printing, code) sees products it already knows, and results read ``softmax(z) − eₒ``.  The index is
the unit node's one argument: an integer literal ``k`` (counted from 1, as written) or an index
name, a scalar input that nothing is differentiated by, whose value NumPy callables and generated
code receive counted from 0 (``attrs[0]``, the base, is 1 for a literal and 0 for a name).
"""
from __future__ import annotations

import numpy as np

from matcalc.core import algebra as A
from matcalc.core.errors import ShapeError
from matcalc.core.graph import ONE, Node, make
from matcalc.core.rules.table import with_context

INDEX = "index"          # the assumption an index name's variable carries


class IndexOutOfRange(ValueError, IndexError):
    """An index beyond its vector at the sizes evaluated (a sampler draws other sizes)."""


def is_index(n: Node) -> bool:
    return n.op == "var" and n.attrs[2] == INDEX


def unit(index: Node, n) -> Node:
    """eᵢ of length ``n``: ``index`` a constant k (from 1) or an index name's variable (from 0)."""
    if A.is_const(index):
        k = index.attrs[0]
        if k.denominator != 1 or k < 1:
            raise ShapeError(f"an index is an integer counted from 1, got {k}")
        if getattr(n, "is_Integer", False) and k > int(n):
            raise ShapeError(f"index {k} is out of range for a vector of length {n}")
        return make("unit", (index,), (n, ONE), (1,))
    if not is_index(index):
        raise ShapeError("an index is an integer literal (from 1) or an index name (--shape o=index)")
    return make("unit", (index,), (n, ONE), (0,))


def select(base: Node, rows: Node | None, cols: Node | None) -> Node:
    """base[rows, cols]: None for ``:``; a vector takes one index (``x[i]``)."""
    out = base
    if rows is not None:
        out = A.matmul(A.transpose(unit(rows, base.rows)), out)
    if cols is not None:
        out = A.matmul(out, unit(cols, base.cols))
    return out


def unit_position(node: Node, value) -> int:
    k = round(float(np.asarray(value).reshape(-1)[0])) - node.attrs[0]
    return k


@with_context
def np_unit(node, ctx, index):
    n = ctx.size(node.rows)
    k = unit_position(node, index)
    if not 0 <= k < n:
        raise IndexOutOfRange(f"index {k + node.attrs[0]} is out of range for a vector of length {n} "
                         f"({'counted from 1' if node.attrs[0] else 'NumPy counts from 0'})")
    e = np.zeros((n, 1))
    e[k, 0] = 1.0
    return e


def unit_shape(d):
    return (d[1], ONE)


UNIT_CODE = '''def _unit(i, shape, base):
    """e_i: zeros with a 1 at entry i (an index name's value counts from 0, a literal from 1)."""
    k = int(i) - base
    if not 0 <= k < shape[0]:
        raise IndexError(f"index {k} (counted from 0) is out of range for a vector of length {shape[0]}")
    e = np.zeros(shape, dtype=DTYPE)
    e[k, 0] = 1.0
    return e'''
