"""Memoised pure SymPy work for the elementwise simplifier, bounded by a count.

A deep network's regions are the same scalar function again and again (``(1 − h) ∘ (1 + h) ∘ t
∘ h`` at every layer): the region converts its leaves to symbols numbered in graph order, named
by that number and carrying their assumptions (``region._Region._symbol``), so two regions of
the same shape give *equal* SymPy expressions.  What SymPy does with an expression (``cancel``,
``factor_list``, the soundness tests) is a function of that expression and of the bounded
substitutions (``σ = 1/(1 + t)``, ``tanh = (t − 1)/(t + 1)``), which is part of every key; it
is computed once and looked up afterwards.  That turns the per-region SymPy cost of a deep
Hessian (about 40 ms a layer) into a dictionary lookup without changing any result.

``remember`` keeps at most ``MAX_ENTRIES`` results and forgets the oldest first (a count, never
time or memory pressure, so what is computed never depends on the machine).
"""
from __future__ import annotations

from collections.abc import Callable, Hashable

MAX_ENTRIES = 4096       # results kept; the oldest are forgotten first
_MEMO: dict[Hashable, object] = {}


def remember(key: Hashable, compute: Callable[[], object]) -> object:
    """``compute()``, looked up by ``key`` when it was computed before."""
    try:
        return _MEMO[key]
    except KeyError:
        pass
    value = compute()
    if len(_MEMO) >= MAX_ENTRIES:
        del _MEMO[next(iter(_MEMO))]
    _MEMO[key] = value
    return value


def forget() -> None:
    """Empty the memo (tests: the same answers computed afresh)."""
    _MEMO.clear()
