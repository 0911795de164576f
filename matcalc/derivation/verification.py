"""Verification before a result is returned: ``derive`` and ``hessian`` call ``verified``.

What is checked is what is shown: the printed ``.text()`` parsed back by matcalc's own parser
and evaluated, besides the graph behind it, against central differences (``fdcheck``).  The
check runs at small concrete sizes: declared sizes above ``sampling.LARGEST_CHECKED`` are
replaced and the derivation rebuilt there, so a declared 100000×100000 never allocates; where
that is impossible the check is skipped and a note says so.  Seeded, so deterministic.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from matcalc.core.errors import MatcalcError, VerificationError
from matcalc.core.graph import Node, topo_order
from matcalc.language.program import normalize_shapes
from matcalc.numeric.evaluate import evaluate
from matcalc.numeric.finite_differences import CheckReport
from matcalc.numeric.sampling import MAX_CHECK_ENTRIES, largest_entries, small_shapes


def verified(d, rebuild: Callable, shapes: dict | None, seed: int = 0):
    """Run ``d.verify`` (graph and printed text) at small concrete sizes, store the report in
    ``d.check``, note what was skipped or not verified, and raise ``VerificationError`` on a
    mismatch.  Declared sizes above ``sampling.LARGEST_CHECKED`` are replaced by small ones and
    the derivation is rebuilt there (``rebuild(small_shapes)``) when the expression allows; the
    declared sizes are never allocated beyond ``sampling.MAX_CHECK_ENTRIES`` entries."""
    small, mapping = small_shapes(normalize_shapes(shapes) if shapes else shapes)
    target, why = d, ""
    if mapping:
        try:
            target = rebuild(small)
        except MatcalcError as e:                    # a literal pins a size (eye(150), ones(150))
            target, why = d, f"the expression fixes a declared size ({e})"
    nodes = topo_order([target.typed.output, *target.results.values(), *target.variables.values(),
                        *target.typed.variables.values()])   # an input may fix a size its value cancels
    entries = largest_entries(nodes)                 # any value the check computes, not only inputs
    if entries > MAX_CHECK_ENTRIES:
        d.check = CheckReport("skipped", detail=f"verification skipped: it would need {entries} entries "
                              f"for one value at the declared sizes{'; ' + why if why else ''}")
        d.notes.append(d.check.detail)
        return d
    if target is not d:                              # the shown text must parse at the declared sizes too
        try:
            d.parse_back()
        except MatcalcError as e:
            raise VerificationError(f"internal error: the printed text does not parse back ({e}); "
                                    "not returning it. Please report this expression.") from None
        except RecursionError:
            d.notes.append("the printed text could not be rebuilt at the declared sizes to check it")
    report = target.verify(seed=seed)
    if mapping and target is not d:
        shown = ", ".join(f"{k} → {v}" for k, v in mapping.items())
        report.detail = (report.detail + "; " if report.detail else "") + f"checked at sizes {shown}"
    d.check = report
    if report.status == "mismatch":
        raise VerificationError("internal error: the derived result failed its finite-difference check "
                                f"({report.detail}); not returning it. Please report this expression.")
    if report.status == "skipped":
        d.notes.append(f"numeric check skipped: {report.detail}")
    d.notes.extend(report.unverified)
    return d


def printed_value(node: Node, functions, leaves, transpose: bool):
    """value_of(env, graph value): a printed result's value, shaped like the graph's."""
    def value_of(env, graph_value):
        live = [v for v in leaves if env.get(v.attrs[0]) is not None]
        (val,) = evaluate([node], env, functions, leaves=live)
        val = np.asarray(val, dtype=float)
        val = val.T if transpose else val
        try:
            return np.broadcast_to(val, np.shape(graph_value))
        except ValueError:                  # a printed result of the wrong shape is a mismatch
            return np.full(np.shape(graph_value), np.nan)
    return value_of


UNREBUILT = ("the printed text could not be rebuilt to check it (recursion in the builder): only the "
             "graph behind it was verified")


def printed_forms(build: Callable[[], tuple[dict, list]]) -> tuple[dict, list] | CheckReport:
    """``build()``: the printed forms parsed back (label -> what to evaluate) and notes on what has
    no parseable form; a mismatch report where the printed text does not parse back; nothing to
    check (and a note) where rebuilding it recursed too deeply, a bug in building, not in what
    is shown."""
    try:
        return build()
    except MatcalcError as e:
        return CheckReport("mismatch", detail=f"the printed text does not parse back ({e})")
    except RecursionError:
        return {}, [UNREBUILT]
