"""The Hessian of a deep network in work linear in its depth, asserted by counts, never time.

``simplify.shared_suffix`` pulls a long right-nested tail shared by every term of a sum out
before the simplifier folds chains to the left (where peeling it cost a factor per layer at
every layer), and transposes are memoised on the nodes (the printer asks for the transpose of
every sum of the nest).  Each change is checked for what it computes, not only for its speed.
"""
from __future__ import annotations

import sys

import numpy as np
import pytest
from deep_programs import nested
from deep_programs import program as _program

import matcalc
from matcalc.core import algebra as A
from matcalc.core.dims import dim
from matcalc.numeric.evaluate import evaluate
from matcalc.output.forms import CourseForms
from matcalc.second_order import kronecker
from matcalc.simplify import rewrite
from matcalc.simplify.shared_suffix import MIN_TAIL, pull_shared_tails, shared_tail, spine_length

SQUARE = (dim("n"), dim("n"))


def statements(n: int) -> str:
    return _program(n, output="u")


def _matrices(k: int):
    return [A.var(f"M{i}", SQUARE, 2) for i in range(k)]


def _right_nested(factors):
    out = factors[-1]
    for f in reversed(factors[:-1]):
        out = A.matmul(f, out)
    return out


def _values(nodes, leaves, seed=0):
    rng = np.random.default_rng(seed)
    env = {v.attrs[0]: rng.standard_normal((3, 3)) for v in leaves}
    return evaluate(list(nodes), env)


def test_a_long_shared_tail_comes_out_of_the_sum_and_the_value_stays():
    ms = _matrices(MIN_TAIL + 3)
    P, Q, R = (A.var(name, SQUARE, 2) for name in "PQR")
    tail = _right_nested(ms)
    total = A.add(A.matmul(P, A.matmul(Q, tail)), A.scale(-2, A.matmul(R, tail)))
    (out,) = pull_shared_tails([total])
    assert out.op == "matmul" and out.args[1] is tail           # (P Q − 2 R) J, J once
    got, want = _values([out, total], ms + [P, Q, R])
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_short_shared_tail_is_left_to_the_simplifier():
    ms = _matrices(MIN_TAIL - 2)
    P, Q = A.var("P", SQUARE, 2), A.var("Q", SQUARE, 2)
    tail = _right_nested(ms)
    total = A.add(A.matmul(P, tail), A.matmul(Q, tail))
    assert pull_shared_tails([total]) == [total]


def test_shared_tail_is_the_longest_node_ending_both_chains():
    ms = _matrices(8)
    P, Q = A.var("P", SQUARE, 2), A.var("Q", SQUARE, 2)
    tail = _right_nested(ms[2:])
    a = _right_nested([P, Q, ms[0], ms[1]] + ms[2:])         # a different head, same tail node
    b = A.matmul(Q, A.matmul(P, tail))
    assert shared_tail(a, b) is tail
    assert spine_length(a) == len(ms) + 1
    assert shared_tail(A.matmul(P, ms[0]), A.matmul(P, ms[1])) is None


def test_the_factoring_work_doubles_with_depth(monkeypatch):
    """Peels of a shared factor (rewrite._factor calls) for 32 and 64 layers: about twice as
    many, not four times (before: 1,242 and 4,538)."""
    calls = [0]
    factor = rewrite._factor

    def counted(total):
        calls[0] += 1
        return factor(total)
    monkeypatch.setattr(rewrite, "_factor", counted)
    counts = []
    for n in (32, 64):
        calls[0] = 0
        matcalc.hessian(statements(n), "x", verify=False)
        counts.append(calls[0])
    assert counts[1] <= 2.2 * counts[0], counts


def test_transpose_of_a_deep_nest_needs_no_deep_stack():
    W, b = A.var("W", SQUARE, 2), A.var("b", SQUARE, 2)
    n = b
    for _ in range(3 * sys.getrecursionlimit()):
        n = A.add(A.matmul(W, n), b)
    t = A.transpose(n)
    assert A.transpose(t) is n
    assert t.op == "add" and t.args[0].op == "matmul" and t.args[0].args[1] is A.transpose(W)


@pytest.mark.parametrize("build", [statements, nested])
@pytest.mark.parametrize("n", [3, 7, 24])
def test_deep_hessians_print_as_the_simplifier_alone_gave_them(monkeypatch, build, n):
    """Past MIN_TAIL the sums are factored here first: the text is byte for byte the one the
    simplifier gives without that, and verified."""
    h = matcalc.hessian(build(n), "x")
    assert h.check.status == "ok", h.check.detail
    monkeypatch.setattr(kronecker, "pull_shared_tails", lambda roots: roots)
    alone = matcalc.hessian(build(n), "x", verify=False)
    assert h.text() == alone.text() and str(h) == str(alone)


def test_the_printer_indexes_named_hadamard_products_once_per_set_of_names(monkeypatch):
    """Every definition printer shares its parent's index of named Hadamard products (asking
    every name at every product made printing quadratic in depth)."""
    builds = [0]
    ask = CourseForms.named_hadamards

    def counted(self):
        cache = getattr(self, "hadamard_index", {})
        builds[0] += cache.get("names") is not self.names or cache.get("size") != len(self.names)
        return ask(self)
    monkeypatch.setattr(CourseForms, "named_hadamards", counted)
    h = matcalc.hessian(statements(24), "x", verify=False)
    text = h.text()
    assert text.count(" = ") >= 40 and builds[0] <= 4, builds
