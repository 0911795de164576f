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
from matcalc.core.errors import InternalError, UnsupportedError
from matcalc.core.graph import ONE, Node, depends_on, topo_order
from matcalc.output.render import Printer, commutation_symbol, fmt_dim, program
from matcalc.second_order.indexform import index_form, index_label, render_index
from matcalc.simplify.rewrite import flatten, simplify_all


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
    if bb.op == "add" and any(f.op == "commutation" for f in flatten(ba)):
        return A.product(ca * cb, fa + fb, A.add(*(kmatmul(ba, t) for t in bb.args)))
    chain = flatten(ba) + flatten(bb)
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
    return A.product(ca * cb, fa + fb, _chain(chain, a))


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
            lines.append(rf"K_{{({fmt_dim(m)},{fmt_dim(n)})}} \operatorname{{vec}}({shown}) = "
                         rf"\operatorname{{vec}}({shown}^\top)\text{{, the commutation matrix{where}}}")
        else:
            lines.append(f"{commutation_symbol(fmt_dim(m), fmt_dim(n))} vec({shown}) = vec({shown}ᵀ), "
                         f"the commutation matrix{where}")
    return lines


def _chain(factors: list[Node], n: Node | None = None) -> Node:
    out = factors[0]
    for f in factors[1:]:
        out = A.matmul(out, f)
    return out


def vec_coefficient(expr: Node, T: Node) -> Node:
    """M with vec(expr) = M vec(T), for ``expr`` linear in ``T``."""
    N = T.rows * T.cols
    memo: dict[Node, Node] = {}                     # keyed by node: a temporary's id may be reused

    def coef(e: Node) -> Node:
        if e not in memo:
            r = _coef(e)
            if r.shape != (e.rows * e.cols, N):
                raise InternalError(f"vec coefficient of {e.op} has shape {r.shape}")
            memo[e] = r
        return memo[e]

    def _coef(e: Node) -> Node:
        if e is T:
            return A.eye(N)
        if not depends_on(e, T):
            return A.zero((e.rows * e.cols, N))
        op = e.op
        if op == "add":
            return A.add(*(coef(t) for t in e.args))
        if op == "scale":
            c, fs, body = A.split(e)
            factors = e.args if body is None else e.args[:-1]
            hit = [i for i, f in enumerate(factors) if depends_on(f, T)]
            body_hit = body is not None and depends_on(body, T)
            if len(hit) + body_hit != 1:
                raise UnsupportedError("not linear in the tangent")
            if body_hit:
                return A.product(c, fs, coef(body))
            i = hit[0]
            rest = [(g, 1) for j, g in enumerate(factors) if j != i]
            lin = coef(factors[i])                                   # 1 × N
            if body is None:
                return A.product(c, rest, lin)
            return A.product(c, rest, kmatmul(A.vec(body), lin))
        if op == "matmul":
            chain = flatten(e)
            hit = [i for i, f in enumerate(chain) if depends_on(f, T)]
            if len(hit) != 1:
                raise UnsupportedError("not linear in the tangent")
            i = hit[0]
            F = chain[i]
            if F.op == "transpose" and not F.args[0].is_column and (e.is_column or e.is_row):
                L = _chain(chain[:i], e) if i > 0 else A.eye(F.rows)        # e = (Rᵀ P Lᵀ)ᵀ, a vector
                R = _chain(chain[i + 1:], e) if i + 1 < len(chain) else A.eye(F.cols)
                return kmatmul(kron(L, A.transpose(R)), coef(F.args[0]))
            L = _chain(chain[:i], e) if i > 0 else A.eye(F.rows)
            R = _chain(chain[i + 1:], e) if i + 1 < len(chain) else A.eye(F.cols)
            return kmatmul(kron(A.transpose(R), L), coef(F))     # vec(L dXᵀ R) = (Rᵀ ⊗ L) K vec(dX)
        if op == "hadamard":
            hit = [i for i, f in enumerate(e.args) if depends_on(f, T)]
            if len(hit) != 1:
                raise UnsupportedError("not linear in the tangent")
            others = A.hadamard(*(f for j, f in enumerate(e.args) if j != hit[0]))
            return kmatmul(A.diag(A.vec(others)), coef(e.args[hit[0]]))
        if op == "transpose":                                    # vec(Pᵀ) = K₍ₘ,ₙ₎ vec(P), P m×n
            P = e.args[0]
            return kmatmul(A.commutation(P.rows, P.cols), coef(P))
        if op == "sum" and e.attrs[0] is None:
            P = e.args[0]
            return A.matmul(A.ones((ONE, P.rows * P.cols)), coef(P))
        if op == "sum":                          # sum(P, 1) = 𝟏ᵀ P, sum(P, 2) = P 𝟏 (Cookbook 520)
            P = e.args[0]
            if e.attrs[0] == 1:
                return kmatmul(kron(A.eye(P.cols), A.ones((ONE, P.rows))), coef(P))
            return kmatmul(kron(A.ones((ONE, P.cols)), A.eye(P.rows)), coef(P))
        if op == "trace":
            P = e.args[0]
            chain = flatten(P)
            hit = [i for i, f in enumerate(chain) if depends_on(f, T)]
            if len(chain) > 1 and len(hit) == 1:                 # tr(F M) = vec(Mᵀ)ᵀ vec(F)
                i = hit[0]
                F, M = chain[i], _chain(chain[i + 1:] + chain[:i])
                if F.op == "transpose":                          # tr(Gᵀ M) = vec(M)ᵀ vec(G)
                    return kmatmul(A.transpose(A.vec(M)), coef(F.args[0]))
                return kmatmul(A.transpose(A.vec(A.transpose(M))), coef(F))
            return A.matmul(A.transpose(A.vec(A.eye(P.rows))), coef(P))
        if op in ("vec", "unvec"):
            return coef(e.args[0])
        if op == "diag" and e.args[0].op == "diagpart":          # diag(diag(P)) = I ∘ P
            P = e.args[0].args[0]
            return kmatmul(A.diag(A.vec(A.eye(P.rows))), coef(P))
        if op == "diag" and e.args[0].is_column:                    # vec(diag(v)) = W v, no name
            raise UnsupportedError("vec(diag(v)) needs a selection matrix")
        raise UnsupportedError(f"no Kronecker form through {op}")

    return coef(expr)


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
        return "vec", M
    try:
        return "index", index_form(dY, T)
    except UnsupportedError:
        return "jvp", dY


def render_tensor(d, style: str) -> str:
    """A tensor-kind Derivation: ∂vec(F)/∂vec(X)ᵀ = M (with a legend for any commutation matrix),
    ∂Fᵢⱼ/∂Xₖₗ = … (index form) or, failing both, the differential dF = … in the tangent ∂X."""
    roots: list[Node] = []
    for name, dY in d.results.items():
        form = d.forms.get(name, "jvp")
        roots += d.closed[name].nodes() if form == "index" else [d.closed[name] if form == "vec" else dY]
    names = d._names(roots)
    defs, _ = program(roots, style, names)
    printer = Printer(style, names)
    out = d.output_name
    if out == "f" and d.typed.statements[-1][0] is None:
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
        texts.append(printer(d.closed[name] if form == "vec" else dY))
        if form == "vec":
            labels.append(vec_label(out, var, style))
        else:
            labels.append(differential_label(out, style))
    if style == "text" and all(d.forms.get(w) != "index" for w in d.results):   # matcalc syntax (but ∂X)
        if len(texts) == 1:
            return "; ".join(lines + texts)
        return "\n".join(lines + [f"d{d.output_name}_d{w} = {t}" for w, t in zip(d.results, texts)])
    lines += [f"{label} = {t}" for label, t in zip(labels, texts)]
    if style != "text":
        vec_roots = [d.closed[w] for w in d.results if d.forms.get(w) == "vec"]
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
            return "matrix", simplify_all([linear_coefficient(dg, T)])[0]
        except UnsupportedError:
            pass
    M = try_vec_coefficient(dg, T)
    if M is not None:
        vector_like = (dg.is_column or dg.is_scalar) and (T.is_column or T.is_scalar)
        return ("matrix" if vector_like else "vec"), M
    return "jvp", dg
