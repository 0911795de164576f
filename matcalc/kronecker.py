"""Vec/Kronecker form of a linear map: ``vec(dY) = M vec(dX)`` read off a JVP ``dY`` in ``dX``.

The Matrix Cookbook's column-major ``vec`` turns a matrix-by-matrix derivative into one matrix:

    vec(L dX R) = (Rᵀ ⊗ L) vec(dX)          (Cookbook 520)
    vec(C ∘ dX) = diag(vec(C)) vec(dX)
    vec(s · dY) = vec(Y) · (ds)             for a scalar s linear in dX

``vec_coefficient(expr, T)`` returns ``M`` (``rows·cols(expr) × rows·cols(T)``) with
``vec(expr) = M vec(T)``, or raises ``UnsupportedError`` when the map needs a commutation matrix
(``dXᵀ``) or is not linear in ``T``; callers then fall back to the JVP (differential) form.
``render_tensor`` prints a ``derive`` result of kind ``tensor`` that way:
``∂vec(A X B)/∂vec(X)ᵀ = Bᵀ ⊗ A``.
"""
from __future__ import annotations

from . import algebra as A
from .errors import InternalError, UnsupportedError
from .graph import ONE, Node, depends_on
from .simplify import flatten, simplify_all


def kron(a: Node, b: Node) -> Node:
    """a ⊗ b with I ⊗ I = I."""
    if a.op == "eye" and b.op == "eye":
        return A.eye(a.rows * b.rows)
    return A.kron(a, b)


def kmatmul(a: Node, b: Node) -> Node:
    """a b, using the mixed-product rule (A ⊗ B)(C ⊗ D) = AC ⊗ BD when the shapes allow."""
    ca, fa, ba = A.split(a)
    cb, fb, bb = A.split(b)
    if ba is not None and bb is not None and ba.op == "kron" and bb.op == "kron":
        (p, q), (r, s) = ba.args, bb.args
        if p.cols == r.rows and q.cols == s.rows:
            return A.product(ca * cb, fa + fb, kron(A.matmul(p, r), A.matmul(q, s)))
    return A.matmul(a, b)


def _chain(factors: list[Node], n: Node) -> Node:
    out = factors[0]
    for f in factors[1:]:
        out = A.matmul(out, f)
    return out


def vec_coefficient(expr: Node, T: Node) -> Node:
    """M with vec(expr) = M vec(T), for ``expr`` linear in ``T``."""
    N = T.rows * T.cols
    memo: dict[int, Node] = {}

    def coef(e: Node) -> Node:
        if id(e) not in memo:
            r = _coef(e)
            if r.shape != (e.rows * e.cols, N):
                raise InternalError(f"vec coefficient of {e.op} has shape {r.shape}")
            memo[id(e)] = r
        return memo[id(e)]

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
            return A.product(c, rest, A.matmul(A.vec(body), lin))
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
            return kmatmul(kron(A.transpose(R), L), coef(F))
        if op == "hadamard":
            hit = [i for i, f in enumerate(e.args) if depends_on(f, T)]
            if len(hit) != 1:
                raise UnsupportedError("not linear in the tangent")
            others = A.hadamard(*(f for j, f in enumerate(e.args) if j != hit[0]))
            return A.matmul(A.diag(A.vec(others)), coef(e.args[hit[0]]))
        if op == "transpose" and (e.is_column or e.is_row):
            return coef(e.args[0])
        if op == "sum" and e.attrs[0] is None:
            P = e.args[0]
            return A.matmul(A.ones((ONE, P.rows * P.cols)), coef(P))
        if op == "trace":
            P = e.args[0]
            return A.matmul(A.transpose(A.vec(A.eye(P.rows))), coef(P))
        if op in ("vec", "unvec"):
            return coef(e.args[0])
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


def render_tensor(d, style: str) -> str | None:
    """A tensor-kind Derivation in vec/Kronecker form, or None when some result has none."""
    from .render import Printer, program
    coefs = {}
    for name, dY in d.results.items():
        T = d.tangents.get(name)
        M = None if T is None else try_vec_coefficient(dY, T)
        if M is None:
            return None
        coefs[name] = M
    roots = list(coefs.values())
    names = d._names(roots)
    defs, texts = program(roots, style, names)
    out = d.output_name
    if out == "f" and d.typed.statements[-1][0] is None:
        shown = Printer(style)(d.typed.output)
        if len(shown) <= 24:
            out = shown
    if style == "text":
        lines = [f"{n} = {t}" for n, t in defs]
        if len(texts) == 1:
            lines.append(texts[0])
            return "; ".join(lines)
        lines += [f"d{d.output_name}_d{w} = {t}" for w, t in zip(coefs, texts)]
        return "\n".join(lines)
    lines = [f"{n} = {t}" for n, t in defs]
    for w, t in zip(coefs, texts):
        var = Printer(style).var_name(w) if style == "latex" else w
        lines.append(f"{vec_label(out, var, style)} = {t}")
    return "\n".join(lines)
