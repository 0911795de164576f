"""Steps for a 4-D derivative: the Jacobian chain in vec form, ending at the result derive prints.

A matrix-by-matrix derivative (``A X B`` by ``X``), a vector by a matrix (``tanh(W x + b)`` by
``W``), a matrix by a vector or a matrix by a scalar (``t A`` by ``t``) has four indices; derive
prints it as the Matrix Cookbook does, one matrix in vec form, ``∂vec(F)/∂vec(X)ᵀ = M`` with
``vec(F) = M vec(X)`` (``kronecker``).  Its steps are the lecture's chain of local Jacobians
(``chain_steps``), with a matrix ``M`` on the way read as the column ``vec(M)``:

- the local derivative of a node by an input is the vec coefficient of the rule table's JVP
  (``vec(L dX R) = (Rᵀ ⊗ L) vec(dX)``: ``∂z/∂vec(W)ᵀ = xᵀ ⊗ I`` for ``z = W x``), and where a
  matrix is involved it is also shown entry by entry, in index form with Kronecker deltas
  (``∂zᵢ/∂Wⱼₖ = δᵢⱼ xₖ``), as a course first derives it;
- downstream ``∂vec(F)/∂vec(input)ᵀ = ∂vec(F)/∂vec(node)ᵀ ∂vec(node)/∂vec(input)ᵀ``, multiplied
  in the Cookbook's normal form (``kmatmul``: ``(A ⊗ B)(C ⊗ D) = AC ⊗ BD``), then simplified;
- the result line ends at the printed result (by a scalar: ``vec(A)``, then ``A`` in the
  output's shape).

A derivative whose printed form is not a vec form (index form: ``diag(v)`` of a matrix's entries
needs a selection matrix with no standard name) has no such chain: the error says so.  Every
printed expression is a graph node (an ``IndexForm`` for the entries), so the tests evaluate each
against central differences.  Nothing here changes the derivation.
"""
from __future__ import annotations

from matcalc.core import algebra as A
from matcalc.core.errors import MatcalcError, UnsupportedError
from matcalc.core.graph import ONE, Node
from matcalc.core.rules import RULES
from matcalc.output.chain_print import render_chain
from matcalc.output.chain_steps import ChainForm, JacobianChain, jacobian_chain, jacobian_local, vectorlike
from matcalc.output.render import Printer
from matcalc.second_order.index_chain import explain_index_chain
from matcalc.second_order.indexform import IndexForm, _subscripts, index_form, render_index
from matcalc.second_order.kronecker import VEC_FORM, kmatmul, vec_coefficient
from matcalc.simplify.rewrite import simplify_all


def _tangent(node: Node, inp: Node, naming) -> tuple[Node, tuple]:
    """A tangent variable shaped like ``inp`` and the JVP's tangent tuple for ``node``'s arguments."""
    ndim = 0 if inp.is_scalar else 1 if inp.is_column else 2
    T = A.var("∂" + naming.label(inp), inp.shape, ndim)
    return T, tuple(T if a is inp else None for a in node.args)


def vec_local(node: Node, inp: Node, naming) -> Node:
    """∂vec(node)/∂vec(inp)ᵀ: the Jacobian where both are vectors or scalars, else the vec
    coefficient of the JVP; a clear error where it has no Kronecker form."""
    if vectorlike(node) and vectorlike(inp):
        return jacobian_local(node, inp, naming)
    T, ts = _tangent(node, inp, naming)
    try:
        M = vec_coefficient(RULES[node.op].jvp(node, ts), T)
    except UnsupportedError as e:
        shown = Printer("unicode", naming.names)
        raise UnsupportedError(f"steps for a 4-D derivative are a chain in vec form, and the local derivative "
                               f"of {shown(node)} by {shown(inp)} has none ({e.message})") from None
    return simplify_all([M])[0]


def vec_entries(node: Node, inp: Node, naming) -> IndexForm | None:
    """∂nodeᵢⱼ/∂inpₖₗ in index form where a matrix is involved (None: a vector's Jacobian, read as
    it is, or no index form)."""
    if vectorlike(node) and vectorlike(inp):
        return None
    T, ts = _tangent(node, inp, naming)
    return _entries(RULES[node.op].jvp(node, ts), T)


def _entries(dY: Node, T: Node) -> IndexForm | None:
    """∂dYᵢⱼ/∂Tₖₗ for ``dY`` linear in ``T``, its free indices lettered i, j, k, … in order
    (``∂zᵢ/∂Wⱼₖ``, as a course writes a vector by a matrix); None where it has no index form."""
    axes = [dY.rows != ONE, dY.cols != ONE, T.rows != ONE, T.cols != ONE]
    letters = iter("ijkl")
    free = tuple(next(letters) if used else "ijkl"[n] for n, used in enumerate(axes))
    try:
        return index_form(dY, T, free)
    except UnsupportedError:
        return None


def vec_times(up: Node, J: Node) -> Node:
    """upstream × local in the Kronecker normal form (a scalar local Jacobian scaling)."""
    return A.scale(J, up) if J.is_scalar else kmatmul(up, J)


VEC_CHAIN = ChainForm(vec_local, vec_times, matrices=True, entries=vec_entries)


def _not_vec_reason(d, w: str) -> str:
    """Why ∂F/∂w has no vec form: the Kronecker reader's own words."""
    try:
        vec_coefficient(d.results[w], d.tangents[w])
    except UnsupportedError as e:
        return e.message
    return "its vec form was not found"


def tensor_chain(d) -> JacobianChain:
    """The vec-form chain of a derivation with a matrix on either side (a ``tensor``, or a matrix
    output by a scalar) or on the way (a vector by a vector through ``x xᵀ``), its results those
    derive prints."""
    out = d.typed.output
    if d.kind == "gradient":
        raise MatcalcError("the vec-form chain is shown for a derivative with a matrix on either side or on "
                           "the way; this one is a gradient: --steps shows the gradient passed back")
    for w in d.wrt:
        form = d.forms.get(w, VEC_FORM) if d.kind == "tensor" else VEC_FORM
        if form != VEC_FORM:
            printed = "in index form" if form == "index" else "as the differential"
            reason = _not_vec_reason(d, w)
            if "selection matrix" in reason:
                reason += ", a matrix with no standard name"
            raise UnsupportedError(
                f"--steps shows a 4-D derivative as a chain of Kronecker (vec-form) factors ending at the printed "
                f"∂vec(F)/∂vec({w})ᵀ, and this one has no Kronecker form ({reason}), so derive prints it "
                f"{printed}, without steps")
    ch = jacobian_chain(d, VEC_CHAIN)
    ch.vec_result = d.kind == "tensor"                 # labelled as derive prints it
    for fin in ch.finals:
        if d.kind == "tensor":
            fin.result = d.closed[fin.var]
            if not (vectorlike(out) and vectorlike(d.variables[fin.var])):   # ∂fᵢ/∂Wⱼₖ = f'(zᵢ) δᵢⱼ xₖ
                fin.entries = _entries(d.results[fin.var], d.tangents[fin.var])
        elif not vectorlike(out):                 # a matrix by a scalar: vec(∂F/∂t), then ∂F/∂t
            fin.reshaped = fin.result
            (fin.result,) = simplify_all([A.vec(fin.result)])
    return ch


def _entries_printer(of: Node, by: Node, form, style: str, names: dict) -> tuple[str, str] | None:
    """(label, right side) of ∂ofᵢⱼ/∂byₖₗ entry by entry."""
    if not isinstance(form, IndexForm):
        return None
    pr = Printer(style, names)

    def lab(n: Node) -> str:
        return pr.var_name(names[id(n)]) if id(n) in names else pr.p(n, 3)

    i_, j, k, l_ = form.free
    num = _indexed(lab(of), [x for x in (i_, j) if x is not None], style)
    den = _indexed(lab(by), [x for x in (k, l_) if x is not None], style)
    if style == "latex":
        label = rf"\frac{{\partial {num}}}{{\partial {den}}}"
    else:
        label = f"d{num}/d{den}" if style == "text" else f"∂{num}/∂{den}"
    return label, render_index(form, pr, style)


def _indexed(base: str, ixs: list[str], style: str) -> str:
    r"""An entry ``Aᵢⱼ``; a base with a subscript of its own in parentheses: ``(z₁)ᵢ``, ``\left(z_{1}\right)_{i}``."""
    sub = _subscripts(ixs, style)
    if sub and style == "latex" and "_" in base:
        base = rf"\left({base}\right)"
    elif sub and style == "unicode" and any(ch in base for ch in "₀₁₂₃₄₅₆₇₈₉"):
        base = f"({base})"
    return base + sub


def explain_tensor(d, style: str = "unicode") -> str:
    """The vec-form chain of a 4-D derivative printed in ``style`` (as ``render_chain``); where
    it has none (``diag`` of a vector on the way, a result printed in index form) the same chain
    entry by entry (``index_chain``), or the vec form's own error if that has none either."""
    try:
        ch = tensor_chain(d)
    except UnsupportedError as vec_error:
        try:
            return explain_index_chain(d, style)
        except UnsupportedError:
            raise vec_error from None
    return render_chain(ch, style, _entries_printer)
