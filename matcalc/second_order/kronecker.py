"""Vec/Kronecker form of a linear map: ``vec(dY) = M vec(dX)`` read off a JVP ``dY`` in ``dX``.

The Matrix Cookbook's column-major ``vec`` turns a matrix-by-matrix derivative into one matrix:

    vec(L dX R) = (Rᵀ ⊗ L) vec(dX)          (Cookbook 520)
    vec(dXᵀ)    = K₍ₘ,ₙ₎ vec(dX)            (X m×n; the commutation matrix, Cookbook 9.3)
    vec(C ∘ dX) = diag(vec(C)) vec(dX)
    vec(s · dY) = vec(Y) · (ds)             for a scalar s linear in dX

``vec_coefficient(expr, T)`` returns ``M`` (``rows·cols(expr) × rows·cols(T)``) with
``vec(expr) = M vec(T)``, or raises ``UnsupportedError`` when the map has no such form without
a nameless selection matrix (``diag(v)``, ``diag(A)``, ``kron``) or is not linear in ``T``;
``closed_form`` then tries the index form (``indexform``) and last the JVP (differential) itself.
Products are kept in the Cookbook's normal form (``kmatmul``): commutation matrices to the right,
``X'*A`` → ``(Aᵀ ⊗ I) K₍ₘ,ₙ₎``, and none at all where they cancel (K₍₁,ₙ₎ = I, K₍ₘ,ₙ₎K₍ₙ,ₘ₎ = I,
``vec(C)ᵀ K = vec(Cᵀ)ᵀ``).  ``render_tensor`` prints a ``derive`` result of kind ``tensor``:
``∂vec(A X B)/∂vec(X)ᵀ = Bᵀ ⊗ A``, with a legend line under any result that uses K.
"""
from __future__ import annotations

from matcalc.core import algebra as A
from matcalc.core.diff import linear_coefficient
from matcalc.core.errors import UnsupportedError
from matcalc.core.graph import ONE, Node, depends_on, topo_order
from matcalc.core.kinds import is_sum
from matcalc.core.linear import MatrixTarget, factors, fold
from matcalc.output.programs import program
from matcalc.output.render import Printer, commutation_symbol, fmt_dim
from matcalc.second_order.indexform import index_form, index_label, render_index
from matcalc.simplify.rewrite import simplify_all
from matcalc.simplify.shared_suffix import pull_shared_tails

# The printed forms of a derivative (``Derivation.forms``): a matrix, a Kronecker/vec coefficient,
# index notation, or the differential itself (a JVP).  Form names, not graph operations.
MATRIX_FORM, VEC_FORM, INDEX_FORM, JVP_FORM = "matrix", "vec", "index", "jvp"


def kron(a: Node, b: Node) -> Node:
    """a ⊗ b with I ⊗ I = I."""
    if a.op == "eye" and b.op == "eye":
        return A.eye(a.rows * b.rows)
    return A.kron(a, b)


def kmatmul(a: Node, b: Node) -> Node:
    """a b with the product chain in normal form: the mixed-product rule (A ⊗ B)(C ⊗ D) = AC ⊗ BD,
    commutation matrices moved to the right (K₍ₚ,ₘ₎(A ⊗ B) = (B ⊗ A)K₍q,n₎ for A m×n and B p×q,
    K₍ₘ,ₙ₎ diag(vec(C)) = diag(vec(Cᵀ)) K₍ₘ,ₙ₎, K₍ₘ,ₙ₎ vec(C) = vec(Cᵀ)) and K₍ₘ,ₙ₎ K₍ₙ,ₘ₎ = I."""
    if a.is_scalar or b.is_scalar:
        return A.matmul(a, b)
    ca, fa, ba = A.split(a)
    cb, fb, bb = A.split(b)
    if is_sum(bb) and any(f.op == "commutation" for f in factors(ba)):
        return A.product(ca * cb, fa + fb, A.add(*(kmatmul(ba, t) for t in bb.args)))
    chain = factors(ba) + factors(bb)
    changed = True
    while changed:
        changed = False
        for i in range(len(chain) - 1):
            new = _pair(chain[i], chain[i + 1])
            if new is not None:
                chain[i:i + 2] = [f for f in new if f.op != "eye"]
                changed = True
                break
    if not chain:
        return A.product(ca * cb, fa + fb, A.eye(a.rows))
    return A.product(ca * cb, fa + fb, fold(chain))


def _pair(p: Node, q: Node) -> list[Node] | None:
    """The product p q rewritten (a list of factors), or None to keep it."""
    if p.op == "kron" and q.op == "kron":
        (a, b), (c, d) = p.args, q.args
        if a.cols == c.rows and b.cols == d.rows:
            return [kron(A.matmul(a, c), A.matmul(b, d))]
        return None
    if p.op == "transpose" and p.args[0].op == "vec" and q.op == "commutation" \
            and p.args[0].args[0].shape == q.attrs[::-1]:      # vec(C)ᵀ K₍ₘ,ₙ₎ = vec(Cᵀ)ᵀ, C n×m
        return [A.transpose(A.vec(A.transpose(p.args[0].args[0])))]
    if p.op != "commutation":
        return None
    m, n = p.attrs
    if q.op == "commutation" and q.attrs == (n, m):
        return []
    if q.op == "kron":
        a, b = q.args
        if (b.rows, a.rows) == (m, n):                      # K₍ₚ,ₘ₎(A ⊗ B) = (B ⊗ A)K₍q,n₎
            return [kron(b, a), A.commutation(b.cols, a.cols)]
        return None
    if q.op == "diag" and q.args[0].op == "vec" and q.args[0].args[0].shape == (m, n):
        return [A.diag(A.vec(A.transpose(q.args[0].args[0]))), p]
    if q.op == "vec" and q.args[0].shape == (m, n):
        return [A.vec(A.transpose(q.args[0]))]
    return None


def commutation_legend(roots: list[Node], variables: dict[str, Node], style: str) -> list[str]:
    """One line per commutation matrix the printed result uses: K₍ₘ,ₙ₎ vec(X) = vec(Xᵀ)."""
    seen = []
    for node in topo_order(roots):
        if node.op == "commutation" and node.attrs not in seen:
            seen.append(node.attrs)
    lines = []
    for m, n in seen:
        name = next((w for w, v in variables.items() if v.shape == (m, n)), None)
        shown = "M" if name is None else Printer(style).var_name(name)
        where = f" for any {fmt_dim(m)}×{fmt_dim(n)} matrix M" if name is None else ""
        if style == "latex":
            lines.append(rf"\text{{where }} K_{{({fmt_dim(m)},{fmt_dim(n)})}} \operatorname{{vec}}({shown}) = "
                         rf"\operatorname{{vec}}({shown}^\top)\text{{, the commutation matrix{where}}}")
        else:
            lines.append(f"{commutation_symbol(fmt_dim(m), fmt_dim(n))} vec({shown}) = vec({shown}ᵀ), "
                         f"the commutation matrix{where}")
    return lines


def vec_coefficient(expr: Node, T: Node) -> Node:
    """M with vec(expr) = M vec(T), for ``expr`` linear in ``T``."""
    return VecCoefficient(T, T.rows * T.cols)(expr)


class VecCoefficient(MatrixTarget):
    """The target ``M`` with vec(e) = M vec(T) (``rows·cols(e) × rows·cols(T)``)."""

    missing = "no Kronecker form through {}"
    label = "vec coefficient"

    def scalar(self, c, rest, factor: Node, body: Node | None) -> Node:
        lin = self(factor)                                          # 1 × N
        if body is None:
            return A.product(c, rest, lin)
        return A.product(c, rest, kmatmul(A.vec(body), lin))       # vec(s · Y) = vec(Y) ds

    def hadamard(self, others: Node, inner: Node) -> Node:
        return kmatmul(A.diag(A.vec(others)), self(inner))         # vec(C ∘ dX) = diag(vec(C)) vec(dX)

    def op_matmul(self, e: Node) -> Node:
        left, F, right = self.split_chain(factors(e))
        L = fold(left) if left else A.eye(F.rows)
        R = fold(right) if right else A.eye(F.cols)
        if F.op == "transpose" and not F.args[0].is_column and (e.is_column or e.is_row):
            return kmatmul(kron(L, A.transpose(R)), self(F.args[0]))   # e = (Rᵀ P Lᵀ)ᵀ, a vector
        return kmatmul(kron(A.transpose(R), L), self(F))           # vec(L dXᵀ R) = (Rᵀ ⊗ L) K vec(dX)

    def op_transpose(self, e: Node) -> Node:                       # vec(Pᵀ) = K₍ₘ,ₙ₎ vec(P), P m×n
        P = e.args[0]
        return kmatmul(A.commutation(P.rows, P.cols), self(P))

    def op_sum(self, e: Node) -> Node:                 # sum(P, 1) = 𝟏ᵀ P, sum(P, 2) = P 𝟏 (Cookbook 520)
        P = e.args[0]
        if e.attrs[0] is None:
            return A.matmul(A.ones((ONE, P.rows * P.cols)), self(P))
        if e.attrs[0] == 1:
            return kmatmul(kron(A.eye(P.cols), A.ones((ONE, P.rows))), self(P))
        return kmatmul(kron(A.ones((ONE, P.cols)), A.eye(P.rows)), self(P))

    def op_trace(self, e: Node) -> Node:
        P = e.args[0]
        chain = factors(P)
        hit = [i for i, f in enumerate(chain) if depends_on(f, self.T)]
        if len(chain) > 1 and len(hit) == 1:                        # tr(F M) = vec(Mᵀ)ᵀ vec(F)
            i = hit[0]
            F, M = chain[i], fold(chain[i + 1:] + chain[:i])
            if F.op == "transpose":                                 # tr(Gᵀ M) = vec(M)ᵀ vec(G)
                return kmatmul(A.transpose(A.vec(M)), self(F.args[0]))
            return kmatmul(A.transpose(A.vec(A.transpose(M))), self(F))
        return A.matmul(A.transpose(A.vec(A.eye(P.rows))), self(P))

    def op_vec(self, e: Node) -> Node:
        return self(e.args[0])

    op_unvec = op_vec

    def op_diag(self, e: Node) -> Node:
        if e.args[0].op == "diagpart":                              # diag(diag(P)) = I ∘ P
            P = e.args[0].args[0]
            return kmatmul(A.diag(A.vec(A.eye(P.rows))), self(P))
        if e.args[0].is_column:                                     # vec(diag(v)) = W v, no name
            raise UnsupportedError("vec(diag(v)) needs a selection matrix")
        raise UnsupportedError(self.missing.format(e.op))


def try_vec_coefficient(expr: Node, T: Node) -> Node | None:
    """The simplified vec coefficient, or None when there is no Kronecker form."""
    try:
        return simplify_all([vec_coefficient(expr, T)])[0]
    except UnsupportedError:
        return None


def vec_to_tensor(M, out_shape: tuple, var_shape: tuple):
    """The 4-D array d out[i,j]/d X[k,l] from the column-major vec-Jacobian ``M``."""
    r, c = out_shape
    p, q = var_shape
    return M.reshape(c, r, q, p).transpose(1, 0, 3, 2)


def vec_label(out: str, var: str, style: str) -> str:
    """∂vec(F)/∂vec(X)ᵀ in each printing style."""
    if style == "latex":
        return (rf"\frac{{\partial \operatorname{{vec}}({out})}}"
                rf"{{\partial \operatorname{{vec}}({var})^\top}}")
    if style == "text":
        return f"dvec({out})/dvec({var})'"
    return f"∂vec({out})/∂vec({var})ᵀ"


def closed_form(dY: Node, T: Node) -> tuple[str, object]:
    """The best printed form of the linear map ``dY`` of ``T``: ("vec", M) with vec(dY) = M vec(T),
    ("index", IndexForm) with the entries ∂Yᵢⱼ/∂Tₖₗ, or ("jvp", dY), the differential itself."""
    M = try_vec_coefficient(dY, T)
    if M is not None:
        return VEC_FORM, M
    try:
        return INDEX_FORM, index_form(dY, T)
    except UnsupportedError:
        return JVP_FORM, dY


def render_tensor(d, style: str) -> str:
    """A tensor-kind Derivation: ∂vec(F)/∂vec(X)ᵀ = M (with a legend for any commutation matrix),
    ∂Fᵢⱼ/∂Xₖₗ = … (index form) or, failing both, the differential dF = … in the tangent ∂X."""
    roots: list[Node] = []
    for name, dY in d.results.items():
        form = d.forms.get(name, "jvp")
        roots += d.closed[name].nodes() if form == INDEX_FORM else [d.closed[name] if form == VEC_FORM else dY]
    names = d._names(roots)
    defs, _ = program(roots, style, names)
    printer = Printer(style, names)
    out = d.output_name
    if d.typed.statements[-1][0] is None:
        shown = Printer(style)(d.typed.output)
        if len(shown) <= 24:
            out = shown
    if style == "latex" and out == d.output_name:
        out = Printer("latex").var_name(out)
    lines = [f"{n} = {t}" for n, t in defs]
    texts, labels = [], []
    for name, dY in d.results.items():
        form = d.forms.get(name, "jvp")
        var = Printer(style).var_name(name) if style == "latex" else name
        if form == "index":
            texts.append(render_index(d.closed[name], printer, style))
            labels.append(index_label(out, var, d.closed[name], style))
            continue
        texts.append(printer(d.closed[name] if form == VEC_FORM else dY))
        if form == VEC_FORM:
            labels.append(vec_label(out, var, style))
        else:
            labels.append(differential_label(out, style))
    if style == "text" and all(d.forms.get(w) != "index" for w in d.results):   # matcalc syntax (but ∂X)
        if len(texts) == 1:
            return "; ".join(lines + texts)
        return "\n".join(lines + [f"d{d.output_name}_d{w} = {t}" for w, t in zip(d.results, texts)])
    lines += [f"{label} = {t}" for label, t in zip(labels, texts)]
    if style != "text":
        vec_roots = [d.closed[w] for w in d.results if d.forms.get(w) == VEC_FORM]
        lines += commutation_legend(vec_roots, d.variables, style)
    return "\n".join(lines)


def differential_label(out: str, style: str) -> str:
    """d(F) for a differential in the tangent ∂X (no closed form)."""
    simple = out.replace("_", "").isalnum()
    if style == "latex":
        return rf"d{out}" if simple else rf"d\left({out}\right)"
    return f"d{out}" if simple else f"d({out})"


def linear_map_form(dg: Node, T: Node) -> tuple[str, Node]:
    """The best closed form of the linear map ``dg`` of ``T``: a matrix, a vec form, or itself."""
    if (dg.is_column or dg.is_scalar) and (T.is_column or T.is_scalar):
        try:
            return "matrix", simplify_all(pull_shared_tails([linear_coefficient(dg, T)]))[0]
        except UnsupportedError:
            pass
    M = try_vec_coefficient(dg, T)
    if M is not None:
        vector_like = (dg.is_column or dg.is_scalar) and (T.is_column or T.is_scalar)
        return (MATRIX_FORM if vector_like else VEC_FORM), M
    return "jvp", dg
