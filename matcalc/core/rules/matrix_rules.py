"""The matrix primitives: one entry per graph operation (``RULES``), plus composed spellings.

Each entry is read by every stage: shapes (aliases, arity, shape rule, builder), evaluation
(``numpy``), diff (``vjp``/``jvp``), the simplifier (``rebuild``), the printers (``printed``,
``picture``), codegen (``code``), ``to_sympy`` (``sympy``), sampling (``kinks``) and the steps
(``doc``, ``gate``).  An entry whose ``printed`` or ``code`` is None is laid out by the stage
itself (sums, products, powers, leaves): those are structure, not a per-op table.
"""
from __future__ import annotations

import numpy as np

from matcalc.core import algebra as A
from matcalc.core.errors import UnsupportedError
from matcalc.core.graph import ONE, Node
from matcalc.core.rules import clip_rules as C
from matcalc.core.rules import elementwise_rules as E
from matcalc.core.rules import index_rules as X
from matcalc.core.rules import matrix_calculus as M
from matcalc.core.rules import sympy_forms as S
from matcalc.core.rules.table import (
    ATOM,
    POW,
    PROD,
    CodeForm,
    Form,
    Function,
    Primitive,
    Printed,
    called,
    defbilinear,
    defleaf,
    deflinear,
    reduce_shape,
    same_shape,
    scalar_shape,
    square_to,
)


def _axis_arg(a: Node, axis: Node | None) -> int | None:
    if axis is None:
        return None
    if A.is_const(axis) and axis.attrs[0] in (1, 2):
        return int(axis.attrs[0])
    raise UnsupportedError("the axis is the number 1 (down columns) or 2 (across rows)")


def _softmax_like(op: str):
    def build(z, axis=None):
        return A.softmax_family(op, z, _axis_arg(z, axis) or 1)
    return build


def _axis_shown(n: Node) -> tuple[str, ...]:
    """softmax(z, 2) prints its axis unless the builder would choose it (a row)."""
    return ("2",) if n.attrs[0] == 2 and not n.args[0].is_row else ()


def _sum_axis(n: Node) -> tuple[str, ...]:
    return () if n.attrs[0] is None else (str(n.attrs[0]),)


def _diag_shape(inf, call):
    a = call.args[0]
    if inf.find(a[1]) == ONE:
        return (a[0], a[0])
    if not inf.unify(a[0], a[1]):
        inf.clash(call.node, "diag needs a vector or a square matrix", call.node.args[:1])
    return (a[0], ONE)


def _kron_shape(inf, call):
    a, b = call.args
    return (inf.find(a[0]) * inf.find(b[0]), inf.find(a[1]) * inf.find(b[1]))


def _vec_shape(inf, call):
    a = call.args[0]
    return (inf.find(a[0]) * inf.find(a[1]), ONE)


def _dot_shape(inf, call):
    a, b = call.args
    if not (inf.unify(a[0], b[0]) and inf.unify(a[1], b[1])):
        inf.clash(call.node, "dot needs two vectors of the same length", call.node.args)
    return (ONE, ONE)


def _norm2_shape(inf, call):
    a = call.args[0]
    if not inf.is_scalar(a) and inf.find(a[1]) != ONE and inf.find(a[0]) != ONE:
        inf.clash(call.node, "norm2 is the 2-norm of a vector; for a matrix write norm(A) (the Frobenius norm): "
                  "the spectral norm is not supported", call.node.args[:1])
    return (ONE, ONE)


def _tangents(n: Node, ts, f):
    """Σᵢ f(n, i, tᵢ) over the arguments that have a tangent."""
    return A.add(*(f(n, i, t) for i, t in enumerate(ts) if t is not None))


def _others(n: Node, i: int):
    return [b for j, b in enumerate(n.args) if j != i]


RULES: dict[str, Primitive] = {r.op: r for r in [
    defleaf("var", "a variable", M.np_var, constant=False, sympy=S.var),
    defleaf("ones", "𝟏, all entries 1", M.np_ones, aliases=("ones",), dims=True, arity=(1, 2),
            build=lambda d: A.ones((d[0], d[1] if len(d) == 2 else ONE)),
            shape=lambda d: (d[0], d[1] if len(d) == 2 else ONE), sympy=S.ones, picture="𝟏"),
    defleaf("zero", "0", M.np_zero, sympy=S.zero, picture="0"),
    defleaf("eye", "I", M.np_eye, aliases=("eye",), dims=True, build=lambda d: A.eye(d[0]),
            shape=lambda d: (d[0], d[0]), sympy=S.eye, picture="I"),
    defleaf("commutation", "K₍ₘ,ₙ₎ vec(X) = vec(Xᵀ): a constant permutation", M.np_commutation,
            aliases=("commutation",), dims=True, arity=(2, 2), build=lambda d: A.commutation(d[0], d[1]),
            shape=lambda d: (d[0] * d[1], d[0] * d[1]), sympy=S.commutation(M.commutation_matrix)),
    defleaf("size", "n, a size: a scalar constant with no derivative (size(A, k), numel(A))", M.np_size,
            printed=Printed(Form("{n.attrs[0]}"), Form("{n.attrs[0]}"), Form("{n.attrs[1]}")),
            code=CodeForm("DTYPE({dim})", torch="float({dim})", jax="float({dim})"), sympy=S.size, picture=lambda n: str(n.attrs[0])),
    Primitive("unit", "eᵢ, the unit vector: a constant (nothing is differentiated by an index)", X.np_unit,
              lambda n, G: (None,), lambda n, ts: None, rebuild=lambda n, a: X.unit(a[0], n.rows),
              aliases=("unit",), dims=True, indexed=True, arity=(2, 2), shape=X.unit_shape,
              build=lambda d, index: X.unit(index, d[1]),
              code=CodeForm("_unit({x}, {shape}, {a0})", helpers=("_unit",), torch="_unit({x}, {shape}, {a0}, DTYPE, DEVICE)",
                            jax="_unit({x}, {shape}, {a0}, DTYPE)"), picture="e"),
    Primitive("scale", "c · Π fᵢ · B: the product rule over scalar factors", M.np_scale, M.scale_vjp, M.scale_jvp,
              rebuild=M.rebuild_scale, sympy=S.scale,
              gate="mul switches: each factor receives the upstream gradient times the other factors"),
    Primitive("add", "d(A + B) = dA + dB: add distributes", lambda n, *v: sum(v[1:], v[0]),
              lambda n, G: tuple(M.unbroadcast(a, G) for a in n.args),
              lambda n, ts: A.add(*(t for t in ts if t is not None)), structure="linear", terms=True,
              rebuild=lambda n, a: A.add(*a), sympy=S.add, picture="+",
              gate="add distributes: each input receives the upstream gradient"),
    defbilinear("matmul", "d(AB) = dA B + A dB; ∂/∂A = G Bᵀ, ∂/∂B = Aᵀ G: mul switches", M.np_matmul,
                lambda n, G: A.matmul(G, A.transpose(n.args[1])), lambda n, G: A.matmul(A.transpose(n.args[0]), G),
                lambda n, a: A.matmul(a[0], a[1]), sympy=S.matmul, picture="×",
                gate="mul switches: each factor receives the upstream gradient times the other factor"),
    deflinear("transpose", "d(Aᵀ) = (dA)ᵀ", lambda n, a: a.T, lambda n, G: A.transpose(G),
              lambda n, a: A.transpose(a[0]), sympy=S.transpose, picture="ᵀ",
              gate="transpose: the gradient is transposed back"),
    Primitive("hadamard", "d(A ∘ B) = dA ∘ B + A ∘ dB", M.np_hadamard,
              lambda n, G: tuple(A.hadamard(G, *_others(n, i)) for i in range(len(n.args))),
              lambda n, ts: _tangents(n, ts, lambda n, i, t: A.hadamard(t, *_others(n, i))),
              structure="bilinear", rebuild=lambda n, a: A.hadamard(*a), sympy=S.hadamard, picture="∘",
              gate="mul switches, elementwise: each factor receives G ∘ the other factors"),
    Primitive("pow", "d(A.^p) = p A.^(p-1) ∘ dA", M.np_pow,
              lambda n, G: (A.hadamard(G, A.scale(n.attrs[0], A.pow_(n.args[0], n.attrs[0] - 1))),),
              M.lin(lambda n, t: A.hadamard(t, A.scale(n.attrs[0], A.pow_(n.args[0], n.attrs[0] - 1)))),
              structure="elementwise", rebuild=lambda n, a: A.pow_(a[0], n.attrs[0]), sympy=S.power),
    Primitive("power", "d(A.^P) = P ∘ A.^(P-1) ∘ dA + A.^P ∘ log(A) ∘ dP (any exponent; A positive)",
              M.np_power, M.power_vjp, M.power_jvp, structure="elementwise",
              rebuild=lambda n, a: M.power(a[0], a[1]), build=M.power,
              printed=Printed(Form("{0}^{1}", prec=POW, arg=ATOM), Form("{0}^{{{1}}}", prec=POW, arg=ATOM),
                              Form("{0}.^{1}", prec=POW, arg=ATOM)),
              code=CodeForm("np.power({x}, {y})", torch="torch.pow({x}, {y})", jax="jnp.power({x}, {y})"), sympy=S.variable_power, kinks=M.power_kinks, picture=".^",
              gate="power: the base receives G ∘ P ∘ A.^(P-1), the exponent G ∘ A.^P ∘ log(A)", domain="positive"),
    Primitive("matpow", "d(Aᵏ) = Σᵢ Aⁱ dA Aᵏ⁻¹⁻ⁱ", M.np_matpow, M.matpow_vjp, M.matpow_jvp,
              rebuild=lambda n, a: A.matpow(a[0], n.attrs[0]), code=CodeForm("np.linalg.matrix_power({x}, {k})", torch="torch.linalg.matrix_power({x}, {k})",
                                                      jax="jnp.linalg.matrix_power({x}, {k})"),
              sympy=S.matpow, picture="^"),
    Primitive("ew", "d f(Z) = f'(Z) ∘ dZ", E.ew_numpy_node, E.ew_vjp, E.ew_jvp, structure="elementwise",
              rebuild=lambda n, a: A.ew(n.attrs[0], a[0], n.attrs[1]), sympy=S.function_named,
              kinks=E.ew_kinks, picture=E.function_label, gate="elementwise: the local Jacobian is diagonal, so code multiplies elementwise"),
    Primitive("ew2", "max routes: d max(A, B) = 𝟙[A > B] ∘ dA + 𝟙[B > A] ∘ dB", E.ew2_numpy_node, E.ew2_vjp,
              E.ew2_jvp, structure="elementwise", rebuild=lambda n, a: A.ew2(n.attrs[0], a[0], a[1], n.attrs[1]),
              sympy=S.function_named, kinks=E.ew2_kinks, picture=E.function_label,
              gate="max routes: the upstream gradient goes to the larger input"),
    deflinear("sum", "d sum(A) = sum(dA); the gradient of sum is 𝟏", M.np_sum, lambda n, G: M.sum_vjp(n, G)[0],
              lambda n, a: A.sum_(a[0], n.attrs[0]), aliases=("sum",), arity=(1, 2), axis=True,
              build=lambda a, axis=None: A.sum_(a, _axis_arg(a, axis)), shape=reduce_shape("scalar"),
              printed=called("sum", extra=_sum_axis), picture="sum",
              gate="sum copies the upstream gradient to every entry"),
    deflinear("trace", "d tr(A) = tr(dA); ∂/∂A = I", lambda n, a: np.trace(a),
              lambda n, G: A.scale(G, A.eye(n.args[0].rows)), lambda n, a: A.trace(a[0]),
              aliases=("tr", "trace"), build=A.trace, shape=square_to("scalar"),
              printed=called("tr", r"\operatorname{tr}"), code=CodeForm("np.trace({x})", torch="torch.trace({x})", jax="jnp.trace({x})"), sympy=S.trace, picture="tr"),
    Primitive("det", "d det(A) = det(A) tr(A⁻¹ dA); ∂/∂A = det(A) A⁻ᵀ", lambda n, a: np.linalg.det(a),
              lambda n, G: (A.scale(G, A.scale(n, A.transpose(A.inv(n.args[0])))),),
              M.lin(lambda n, t: A.scale(n, A.trace(A.matmul(A.inv(n.args[0]), t)))),
              rebuild=lambda n, a: A.det(a[0]), aliases=("det",), build=A.det, shape=square_to("scalar"),
              printed=called("det", r"\det"), code=CodeForm("np.linalg.det({x})", torch="torch.linalg.det({x})", jax="jnp.linalg.det({x})"), sympy=S.determinant,
              picture="det", domain="invertible"),
    Primitive("logdet", "d log|det A| = tr(A⁻¹ dA); ∂/∂A = A⁻ᵀ", lambda n, a: np.linalg.slogdet(a)[1],
              lambda n, G: (A.scale(G, A.transpose(A.inv(n.args[0]))),),
              M.lin(lambda n, t: A.trace(A.matmul(A.inv(n.args[0]), t))),
              rebuild=lambda n, a: A.logdet(a[0]), aliases=("logdet",), build=A.logdet, shape=square_to("scalar"),
              printed=Printed(Form("logdet", call=True), Form(r"\log\left\lvert\det {0}\right\rvert", arg=ATOM),
                              Form("logdet", call=True)),
              code=CodeForm("np.linalg.slogdet({x})[1]", torch="torch.linalg.slogdet({x})[1]",
                                jax="jnp.linalg.slogdet({x})[1]"), sympy=S.logdet, picture="logdet", domain="invertible"),
    Primitive("inv", "d(A⁻¹) = -A⁻¹ dA A⁻¹", lambda n, a: np.linalg.inv(a),
              lambda n, G: (A.neg(A.matmul(A.matmul(A.transpose(n), G), A.transpose(n))),),
              M.lin(lambda n, t: A.neg(A.matmul(A.matmul(n, t), n))),
              rebuild=lambda n, a: A.inv(a[0]), aliases=("inv",), build=A.inv, shape=square_to("same"),
              printed=Printed(Form("{0}⁻¹", prec=POW, arg=ATOM), Form("{0}^{{-1}}", prec=POW, arg=ATOM),
                              Form("inv", call=True)),
              code=CodeForm("np.linalg.inv({x})", torch="torch.linalg.inv({x})", jax="jnp.linalg.inv({x})"), sympy=S.inverse, picture="inv", domain="invertible"),
    Primitive("norm", "d‖A‖ = ⟨A, dA⟩ / ‖A‖", lambda n, a: np.linalg.norm(a),
              lambda n, G: (A.scale(G, A.scale(A.pow_(n, -1), n.args[0])),),
              M.lin(lambda n, t: A.scale(A.pow_(n, -1), M.inner(n.args[0], t))),
              rebuild=lambda n, a: A.norm(a[0]), aliases=("norm",), build=A.norm, shape=scalar_shape,
              printed=Printed(Form("‖{0}‖"), Form(r"\left\lVert {0} \right\rVert"), Form("norm", call=True)),
              code=CodeForm("np.linalg.norm({x})", torch="torch.linalg.norm({x})", jax="jnp.linalg.norm({x})"), picture="‖·‖"),
    deflinear("diag", "diag(v): d diag(v) = diag(dv)", lambda n, v: np.diagflat(v), lambda n, G: A.diag(G),
              lambda n, a: A.diag(a[0]), aliases=("diag",), build=A.diag, shape=_diag_shape,
              printed=called("diag"), code=CodeForm("np.diagflat({x})", torch="torch.diagflat({x})", jax="jnp.diagflat({x})"), picture="diag"),
    deflinear("diagpart", "diag(A) as a vector: linear", lambda n, a: np.diag(a).reshape(-1, 1).copy(),
              lambda n, G: A.diag(G), lambda n, a: A.diag(a[0]), printed=called("diag"),
              code=CodeForm("np.diagonal({x}).reshape(-1, 1)", alias="view",
                            torch="torch.diagonal({x}).reshape(-1, 1)", jax="jnp.diagonal({x}).reshape(-1, 1)"), picture="diag"),
    Primitive("softmax", "d p = p ∘ (dz - 𝟏 pᵀdz), p = softmax(z)",
              lambda n, z: np.exp(z - M.np_lse(z, n.attrs[0] - 1)), M.softmax_vjp, M.softmax_jvp,
              rebuild=lambda n, a: A.softmax_family("softmax", a[0], n.attrs[0]), aliases=("softmax",),
              arity=(1, 2), axis=True, build=_softmax_like("softmax"), shape=same_shape,
              printed=called("softmax", extra=_axis_shown), picture="softmax"),
    Primitive("log_softmax", "d log_softmax(z) = dz - 𝟏 pᵀdz", lambda n, z: z - M.np_lse(z, n.attrs[0] - 1),
              M.log_softmax_vjp, M.log_softmax_jvp,
              rebuild=lambda n, a: A.softmax_family("log_softmax", a[0], n.attrs[0]), aliases=("log_softmax",),
              arity=(1, 2), axis=True, build=_softmax_like("log_softmax"), shape=same_shape,
              printed=called("log_softmax", extra=_axis_shown), picture="log_softmax"),
    Primitive("logsumexp", "d logsumexp(z) = pᵀ dz, p = softmax(z)", lambda n, z: M.np_lse(z, n.attrs[0] - 1),
              M.logsumexp_vjp, M.logsumexp_jvp,
              rebuild=lambda n, a: A.softmax_family("logsumexp", a[0], n.attrs[0]), aliases=("logsumexp",),
              arity=(1, 2), axis=True, build=_softmax_like("logsumexp"), shape=reduce_shape("per column"),
              printed=called("logsumexp", extra=_axis_shown),
              code=CodeForm("_logsumexp({x}, {axis})", helpers=("_logsumexp",),
                            torch="torch.logsumexp({x}, dim={axis}, keepdim=True)",
                            jax="jax.nn.logsumexp({x}, axis={axis}, keepdims=True)"), picture="logsumexp"),
    defbilinear("kron", "d(A ⊗ B) = dA ⊗ B + A ⊗ dB", lambda n, a, b: np.kron(a, b), None, None,
                lambda n, a: A.kron(a[0], a[1]), vjp=M.no_vjp("kron"), aliases=("kron",), arity=(2, 2),
                build=A.kron, shape=_kron_shape,
                printed=Printed(Form("{0} ⊗ {1}", prec=PROD, arg=PROD + 1), Form(r"{0} \otimes {1}", prec=PROD,
                                                                               arg=PROD + 1), Form("kron", call=True)),
                code=CodeForm("np.kron({x}, {y})", torch="torch.kron({x}, {y})", jax="jnp.kron({x}, {y})"), picture="⊗"),
    deflinear("vec", "vec: stack columns (linear)", lambda n, a: a.reshape(-1, 1, order="F"),
              lambda n, G: A.unvec(G, n.args[0].shape), lambda n, a: A.vec(a[0]), aliases=("vec",), build=A.vec,
              shape=_vec_shape, printed=called("vec", r"\operatorname{vec}"),
              code=CodeForm('{x_}.reshape((-1, 1), order="F")', alias="view", torch="{x_}.T.reshape(-1, 1)",
                                      jax="{x_}.T.reshape(-1, 1)"), picture="vec"),
    Primitive("clip", "clip(z, lo, hi): d clip = clip'(z, lo, hi) ∘ dz, 1 strictly inside (lo, hi), 0 outside",
              C.clip_numpy, C.clip_vjp, C.clip_jvp, rebuild=lambda n, a: C.clip(a[0], *n.attrs),
              printed=called("clip", extra=C.clip_bounds_text), code=CodeForm("np.clip({x}, {a0}, {a1})", torch="torch.clamp({x}, {a0}, {a1})",
                                                                  jax="jnp.clip({x}, {a0}, {a1})"),
              kinks=C.clip_kinks, picture="clip", gate="clip passes the gradient where lo < z < hi, blocks it outside"),
    Primitive("clip'", "clip'(z, lo, hi) = 𝟙[lo < z < hi]: piecewise constant, its derivative is 0",
              C.clip_numpy, C.clip_vjp, C.clip_jvp, rebuild=lambda n, a: C.clip(a[0], *n.attrs, 1),
              printed=called("clip'", extra=C.clip_bounds_text),
              code=CodeForm("((({x}) > {a0}) & (({x}) < {a1})).astype(DTYPE)",
                            torch="((({x}) > {a0}) & (({x}) < {a1})).to(DTYPE)",
                            jax="((({x}) > {a0}) & (({x}) < {a1})).astype(DTYPE)"), kinks=C.clip_kinks, picture="clip'"),
    deflinear("unvec", "the inverse of vec (linear)", M.np_unvec, lambda n, G: A.vec(G),
              lambda n, a: A.unvec(a[0], n.shape),
              code=CodeForm('{x_}.reshape({shape}, order="F")', alias="view", torch="{x_}.reshape({shape_t}).T",
                            jax="{x_}.reshape({shape_t}).T")),
]}

# Spellings of the language that are not one primitive: composed (dot) or chosen by shape (diag).
COMPOSED = [
    Function("dot", (2, 2), lambda x, y: A.matmul(A.transpose(x), y), "xᵀy", _dot_shape),
    Function("size", (2, 2), lambda a, axis: A.size(a.shape[_axis_arg(a, axis) - 1]),
             "size(A, k): the number of rows (k = 1) or columns (k = 2), a constant", scalar_shape, axis=True),
    Function("numel", (1, 1), lambda a: A.size(a.rows * a.cols), "numel(A): the number of entries, a constant",
             scalar_shape),
    Function("mean", (1, 2), lambda a, axis=None: A.mean(a, _axis_arg(a, axis)),
             "mean(A) = sum(A)/numel(A); mean(A, 1) down each column, mean(A, 2) across each row",
             reduce_shape("scalar"), axis=True),
    Function("clip", (3, 3), C.clip_build, "clip(z, lo, hi), constant bounds; clip'(z, lo, hi) = 𝟙[lo < z < hi]",
             C.clip_shape, prime=C.clip_prime),
    Function("norm1", (1, 1), lambda a: A.sum_(A.ew("abs", a)), "‖A‖₁ = sum(|A|), the sum of absolute values",
             scalar_shape),
    Function("norm2", (1, 1), A.norm, "‖x‖₂, the 2-norm of a vector (norm(x))", _norm2_shape),
]

# Module-level helpers the generated code calls (templates name them in ``helpers``).
CODE_HELPERS = {
    "_unit": X.UNIT_CODE,
    "_logsumexp": '''def _logsumexp(z, axis):
    """log Σ exp along axis, with the max subtracted first (no overflow)."""
    m = z.max(axis=axis, keepdims=True)
    return m + np.log(np.exp(z - m).sum(axis=axis, keepdims=True))''',
    "_softmax": '''def _softmax(z, axis):
    """softmax along axis, with the max subtracted first (no overflow)."""
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)''',
    "_commutation": '''def _commutation(m, n):
    """K with K @ vec(X) = vec(X.T) for an m×n X (vec column-major): a permutation matrix."""
    K = np.zeros((m * n, m * n), dtype=DTYPE)
    i, j = np.meshgrid(np.arange(m), np.arange(n), indexing="ij")
    K[(j + i * n).ravel(), (i + j * m).ravel()] = 1.0
    return K''',
}
