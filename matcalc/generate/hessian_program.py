"""Generated code for second order: ``codegen_hessian(expr, wrt)`` adds ``hessian`` and ``hvp``.

Forward over reverse, as ``matcalc.hessian`` derives it: the gradient ``g = ∂s/∂x`` is reverse
mode (``diff.gradients``) and its forward-mode derivative along a tangent ``v`` is the
Hessian-vector product, ``H v = jvp(g, {x: v})``.  The module is the first-order one (``forward``,
``backward``, ``Model``: ``codegen._Program``) plus

- ``hvp(cache, v)``: that JVP printed as NumPy over forward's cache, one line per shared step, so
  it costs a forward plus a backward pass and never forms ``H`` (``x'*A*x`` → ``A @ v + A.T @ v``,
  ``logsumexp(x)`` → ``p * v - p * (p.T @ v)``);
- ``hessian(**inputs)`` / ``hessian_from_cache(cache)``: the closed form ``matcalc.hessian`` reads
  off the JVP (a matrix for vectors, the Kronecker form for matrices, written into the 4-D array
  ``x.shape + x.shape`` without forming a Kronecker product; failing both, the JVP applied to each
  basis direction in a loop).

Before printing, ``codegen_rewrite`` puts the graphs in evaluation order (products by cost,
``Xᵀ diag(d) X`` → ``X.T @ (d * X)``, ``(A + Aᵀ) v`` → ``A v + Aᵀ v``, Kronecker products multiplied
out), and a diagonal term of a Hessian is added to its diagonal in place instead of building
``diag``/``eye``.  Vector-or-matrix cases with no closed form fall back to the basis loop.
Several variables: ``hessian`` returns every block in a dict keyed ``"x"``, ``"x,y"``, ``"y,x"``,
``"y"`` (block ``"a,b"`` is ∂²s/∂a∂bᵀ, indexed ``a.shape + b.shape``, as ``matcalc.hessian(expr,
"a,b").numpy()``) and ``hvp`` takes and returns dicts keyed by name.
"""
from __future__ import annotations

import re

from matcalc.core import algebra as A
from matcalc.core.diff import gradients, jvp
from matcalc.core.errors import ShapeError
from matcalc.core.graph import Node, depends_on, topo_order
from matcalc.core.naming import identifiers
from matcalc.generate.hessian_rewrite import Rewriter
from matcalc.generate.plan import plan
from matcalc.generate.program import (
    ATOM,
    LEAVES,
    MUL,
    Code,
    _Emitter,
    _external,
    _ndim,
    _Program,
    _shared,
    normalize_dtype,
    wrap,
)
from matcalc.language.program import resolve_wrt, typed_program, wrt_names
from matcalc.second_order.kronecker import linear_map_form
from matcalc.simplify.rewrite import simplify_all

HELPERS = {
    "_kron4": '''def _kron4(a, b):
    """kron(a, b) as the 4-D block [i, j, k, l] = b[i, k] * a[j, l] (column-major vec), unformed."""
    return b[:, None, :, None] * a[None, :, None, :]''',
    "_kron4_t": '''def _kron4_t(a, b):
    """kron(a, b) times a commutation matrix as the 4-D block [i, j, k, l] = b[i, l] * a[j, k]."""
    return b[:, None, None, :] * a[None, :, :, None]''',
    "_commutation4": '''def _commutation4(p, q):
    """The commutation matrix K(p, q) as the 4-D block [i, j, k, l] = 1 if i == l and j == k."""
    out = np.zeros((q, p, p, q), dtype=DTYPE)
    i, j = np.ogrid[:q, :p]
    out[i, j, j, i] = 1.0
    return out''',
    "_eye_kron4": '''def _eye_kron4(m, b):
    """kron(eye(m), b) as the 4-D block [i, j, k, l] = b[i, k] if j == l, else 0."""
    out = np.zeros((b.shape[0], m, b.shape[1], m), dtype=DTYPE)
    j = np.arange(m)
    out[:, j, :, j] = b
    return out''',
    "_kron4_eye": '''def _kron4_eye(a, n):
    """kron(a, eye(n)) as the 4-D block [i, j, k, l] = a[j, l] if i == k, else 0."""
    out = np.zeros((n, a.shape[0], n, a.shape[1]), dtype=DTYPE)
    i = np.arange(n)
    out[i, :, i, :] = a
    return out''',
}


def codegen_hessian_source(expr: str, wrt, shapes: dict | None = None, assume: dict | None = None,
                           dtype: str | None = None) -> str:
    """Python source of the first-order module of ``expr`` by ``wrt`` plus ``hessian(**inputs)``
    (the Hessian array; a dict of blocks for several variables) and ``hvp(cache, v)`` (H v).
    Unverified: ``matcalc.codegen_hessian`` checks gradients, Hessians and H v before returning it."""
    names = wrt_names(wrt)
    dtype = normalize_dtype(dtype)
    typed = typed_program(expr, shapes, assume)
    if not typed.output.is_scalar:
        raise ShapeError("a Hessian needs a scalar output; use codegen for the first-order module")
    wrt_nodes, _ = resolve_wrt(typed, names, shapes)
    typed = plan(typed)                      # as codegen() does: the same first-order module
    return _HessianProgram(expr, typed, names, wrt_nodes, dtype).source()


def block_keys(names: list[str]) -> list[tuple[str, str, str]]:
    """(key, a, b) for every block ∂²s/∂a∂bᵀ, in the order hessian() returns them."""
    return [(a if a == b else f"{a},{b}", a, b) for a in names for b in names]


class _HessianProgram(_Program):
    """The first-order program; its backward pass also prints hvp and hessian_from_cache."""

    def backward(self, fwd: _Emitter) -> _Emitter:
        bwd = super().backward(fwd)
        out = self.typed.output
        self.second_helpers: set[str] = set()
        grads = gradients(out, list(self.wrt_nodes))
        gs = simplify_all([grads[v] for v in self.wrt_nodes])
        self.tangents = {n: A.var(f"\0tangent {n}", v.shape, _ndim(v)) for n, v in zip(self.wrt, self.wrt_nodes)}
        tangent_of = {v: self.tangents[n] for n, v in zip(self.wrt, self.wrt_nodes)}
        hv = simplify_all([jvp(g, tangent_of) for g in gs])
        blocks = []
        for key, a, b in block_keys(self.wrt):
            g = gs[self.wrt.index(a)]
            T = self.tangents[b]
            (dg,) = simplify_all([jvp(g, {self.wrt_nodes[self.wrt.index(b)]: T})])
            form, node = linear_map_form(dg, T)
            blocks.append((key, a, b, form, node, dg))
        self.hvp_em, self.hvp_results = self._emit_hvp(fwd, hv)
        self.hess_em, self.hess_results = self._emit_hessian(fwd, blocks)
        for em in (self.hvp_em, self.hess_em):
            bwd.used |= {t for t in em.used if t in self.forward_locals or t in self.namer.function_slots.values()}
            bwd.dims_used |= em.dims_used
        return bwd

    # ------------------------------------------------------------ helpers
    def _emitter(self, fwd: _Emitter) -> _Emitter:
        em = _Emitter(self.namer, self.dim_names, self.helpers)
        em.named = {k: Code(v.text, ATOM, v.full, v.text) for k, v in fwd.named.items()}
        em.forward_of = fwd.forward_of
        return em

    def _internal_shape(self, em: _Emitter, v: Node) -> str:
        return "()" if _ndim(v) == 0 else em.shape(v)

    def _external_dims(self, em: _Emitter, v: Node) -> list[str]:
        nd = _ndim(v)
        if nd == 0:
            return []
        if nd == 1:
            return [em.dim(v.rows if v.is_column else v.cols)]
        return [em.dim(v.rows), em.dim(v.cols)]

    def _fresh_result(self, em: _Emitter, name: str, shape_node: Node, root: Node) -> str:
        """Lines ending in ``name`` = root, a fresh array with shape_node's shape."""
        if A.is_zero(root):
            em.lines.append(f"    {name} = " + ("DTYPE(0.0)" if shape_node.is_scalar else
                                                f"np.zeros({em.shape(shape_node)}, dtype=DTYPE)"))
            return name
        if root.op == "add" and not root.is_scalar:
            info = em.define(name, shape_node, root, False)
        else:
            info = em.assign(name, shape_node, em.expr(root), False)
        if shape_node.is_scalar:
            return name
        if not info.full:
            em.lines.append(f"    {name} = np.broadcast_to({name}, {em.shape(shape_node)}).copy()")
        elif info.alias is not None:
            em.lines.append(f"    {name} = {name}.copy()")
        return name

    # ------------------------------------------------------------ hvp
    def _emit_hvp(self, fwd: _Emitter, roots: list[Node]):
        em = self._emitter(fwd)
        keep = set(em.named)
        conversions = []
        for n, T in self.tangents.items():
            loc = self.namer.local(f"v_{n}")
            em.named[id(T)] = Code(loc, ATOM, True, loc)
            keep.add(id(T))
            conv = {0: ".reshape(())", 1: ".reshape(-1, 1)"}.get(_ndim(T), "")
            if T.is_row and _ndim(T) == 1:
                conv = ".reshape(1, -1)"
            src = "v" if len(self.wrt) == 1 else f"v[{n!r}]"
            conversions.append((loc, f"    {loc} = np.asarray({src}, dtype=DTYPE){conv}"))
        roots = Rewriter(keep).rewrite(roots)
        em.hoist = _shared(roots, em.named, em.pending)
        results = []
        for n, v, r in zip(self.wrt, self.wrt_nodes, roots):
            name = self._fresh_result(em, self.namer.local(f"hv_{n}"), v, r)
            results.append((n, _external(_ndim(v), name)))
        self.hvp_conversions = [line for loc, line in conversions if loc in em.used]
        return em, results

    # ------------------------------------------------------------ hessian
    def _emit_hessian(self, fwd: _Emitter, blocks: list):
        em = self._emitter(fwd)
        keep = set(em.named) | {id(T) for T in self.tangents.values()}
        rw = Rewriter(keep)
        prepared = []
        for key, a, b, form, node, dg in blocks:
            node = rw.rewrite([node])[0]
            if form == "vec" and not all(_vec_term(t) for t in (node.args if node.op == "add" else [node])) \
                    or not all(_Emitter.emits(n.op) or form == "vec" and n.op == "commutation"
                               for n in topo_order([node])):
                form, node = "jvp", rw.rewrite([dg])[0]      # never multiply Kronecker products out
            prepared.append((key, a, b, form, node))
        em.hoist = _shared([p[4] for p in prepared if p[3] != "jvp"], em.named, em.pending)
        results = []
        for key, a, b, form, node in prepared:
            va, vb = self.wrt_nodes[self.wrt.index(a)], self.wrt_nodes[self.wrt.index(b)]
            name = self.namer.local("H" if len(self.wrt) == 1 else f"H_{a}" if a == b else f"H_{a}_{b}")
            ext = self._external_dims(em, va) + self._external_dims(em, vb)
            ext_text = _tuple(ext)
            if form == "matrix":
                self._matrix_block(em, name, va, vb, node)
                if not ext:
                    em.lines.append(f"    {name} = np.asarray({name}, dtype=DTYPE).reshape(())")
                elif not (_ndim(va) == 1 and _ndim(vb) == 1 and va.is_column and vb.is_column):
                    em.lines.append(f"    {name} = {name}.reshape({ext_text})")
            elif form == "vec":
                self._vec_block(em, name, va, vb, node)
                if not (_ndim(va) == 2 and _ndim(vb) == 2):
                    em.lines.append(f"    {name} = {name}.reshape({ext_text})")
            else:
                self._jvp_block(em, name, va, vb, node, self.tangents[b], ext, ext_text)
            results.append((key, name))
        return em, results

    def _matrix_block(self, em: _Emitter, name: str, va: Node, vb: Node, node: Node) -> None:
        """The len(a) x len(b) block; diagonal terms are added to its diagonal in place."""
        shape_node = A.zero((va.rows * va.cols, vb.rows * vb.cols))
        terms = list(node.args) if node.op == "add" else [node]
        dense, diagonal = [], []
        for t in terms:
            c, fs, body = A.split(t)
            if body is not None and body.op == "diag" and body.args[0].is_column:
                diagonal.append(A.product(c, fs, body.args[0]))
            elif body is not None and body.op == "eye":
                diagonal.append(A.product(c, fs, None))
            else:
                dense.append(t)
        if not diagonal:
            self._fresh_result(em, name, shape_node, node)
            return
        if dense:
            self._fresh_result(em, name, shape_node, A.add(*dense) if len(dense) > 1 else dense[0])
        else:
            em.lines.append(f"    {name} = np.zeros({em.shape(shape_node)}, dtype=DTYPE)")
        stride = em.dim(shape_node.cols + 1)
        for d in diagonal:
            c = em.expr(d)
            text = c.text if d.is_scalar else f"{wrap(c, ATOM)}.reshape(-1)"
            em.lines.append(f"    {name}.flat[::{stride}] += {text}")

    def _vec_block(self, em: _Emitter, name: str, va: Node, vb: Node, node: Node) -> None:
        """The 4-D block from its Kronecker form, no Kronecker product, identity or diag formed:
        each P ⊗ Q is broadcast (``_kron4``; with an identity factor, written on a diagonal), and
        I or diag(vec(C)) terms are added to the diagonal of the block seen as an N x N matrix."""
        r, c, p, q = (em.dim(d) for d in (va.rows, va.cols, vb.rows, vb.cols))
        size = em.dim(va.rows * va.cols)
        dense, diagonal = [], []
        for t in (node.args if node.op == "add" else [node]):
            coef, fs, body = A.split(t)
            scalar = A.product(coef, fs, None)
            if body.op == "commutation":           # K vec(T) = vec(Tᵀ): [i, j, k, l] = δ_il δ_jk
                self.second_helpers.add("_commutation4")
                dense.append((scalar, f"_commutation4({em.dim(body.attrs[0])}, {em.dim(body.attrs[1])})"))
            elif body.op == "matmul":                # (P ⊗ Q) K: [i, j, k, l] = P[j, k] Q[i, l]
                P, Q = body.args[0].args
                self.second_helpers.add("_kron4_t")
                dense.append((scalar, f"_kron4_t({em.full(P).text}, {em.full(Q).text})"))
            elif body.op == "kron":
                P, Q = body.args
                if P.op == "eye":
                    self.second_helpers.add("_eye_kron4")
                    text = f"_eye_kron4({em.dim(P.rows)}, {em.full(Q).text})"
                elif Q.op == "eye":
                    self.second_helpers.add("_kron4_eye")
                    text = f"_kron4_eye({em.full(P).text}, {em.dim(Q.rows)})"
                else:
                    self.second_helpers.add("_kron4")
                    text = f"_kron4({em.full(P).text}, {em.full(Q).text})"
                dense.append((scalar, text))
            elif body.op == "eye":
                diagonal.append((scalar, None))
            elif body.args[0].op == "vec":          # diag(vec(C)): C[i, j] at [i, j, i, j]
                diagonal.append((scalar, f"{wrap(em.full(body.args[0].args[0]), ATOM)}.reshape(-1)"))
            else:                                   # diag(v): v in column-major order
                v = em.full(body.args[0])
                diagonal.append((scalar, f"{wrap(v, ATOM)}.reshape({c}, {r}).T.reshape(-1)"))
        for i, (scalar, text) in enumerate(dense):
            op = "-=" if A.is_const(scalar, -1) else "+="
            if not (A.is_const(scalar, -1) or A.is_const(scalar, 1)):
                text = f"{wrap(em.expr(scalar), MUL)} * {text}"
            if i == 0:                               # the helpers return new arrays
                em.lines.append(f"    {name} = {'-' if op == '-=' else ''}{text}")
            else:
                em.lines.append(f"    {name} {op} {text}")
        if not dense:
            em.lines.append(f"    {name} = np.zeros(({r}, {c}, {p}, {q}), dtype=DTYPE)")
        for scalar, text in diagonal:
            s = em.expr(scalar)
            text = s.text if text is None else text if A.is_const(scalar, 1) else f"{wrap(s, MUL)} * {text}"
            em.lines.append(f"    {name}.reshape({size}, {size}).flat[::{size} + 1] += {text}")

    def _jvp_block(self, em, name, va, vb, node, T, ext, ext_text) -> None:
        """No closed form: the JVP applied to each basis direction (loop-invariant parts first)."""
        size = em.dim(vb.rows * vb.cols)
        order = topo_order([node])
        moving = {id(n) for n in order if depends_on(n, T)}
        for n in order:                              # hoist what does not move with the tangent
            if id(n) in moving or id(n) in em.named or n.op in LEAVES or A.is_const(n):
                continue
            if n.op == "transpose" and (id(n.args[0]) in em.named or n.args[0].op in LEAVES):
                continue
            if any(id(p) in moving and any(a is n for a in p.args) for p in order):
                em.assign(self.namer.fresh("t"), n, em.expr(n))
        a_dims = self._external_dims(em, va)
        em.lines.append(f"    {name} = np.empty({_tuple(a_dims + [size])}, dtype=DTYPE)")
        basis = self.namer.local(f"e_{T.attrs[0].split()[-1]}")
        k = self.namer.local("k")
        child = _Emitter(self.namer, self.dim_names, self.helpers)
        child.named = dict(em.named)
        child.forward_of = em.forward_of
        child.named[id(T)] = Code(basis, ATOM, True, basis)
        child.hoist = _shared([node], child.named, child.pending)
        col = self.namer.local(f"{name}_col")
        self._fresh_result(child, col, va, node)
        em.used |= child.used
        em.dims_used |= child.dims_used
        em.lines.append(f"    for {k} in range({size}):")
        em.lines.append(f"        {basis} = np.zeros({self._internal_shape(em, vb)}, dtype=DTYPE)")
        em.lines.append(f"        {basis}.flat[{k}] = 1.0")
        em.lines += ["    " + line for line in child.lines]
        em.lines.append(f"        {name}[..., {k}] = " + (f"{col}.reshape({_tuple(a_dims)})" if a_dims else col))
        em.lines.append(f"    {name} = {name}.reshape({ext_text})")

    # ------------------------------------------------------------ module
    def source(self) -> str:
        src = super().source()
        return _Splice(self, src).text()


class _Splice:
    """Adds hessian, hessian_from_cache and hvp to the first-order module's source."""

    def __init__(self, prog: _HessianProgram, src: str):
        self.prog, self.src = prog, src

    def reads(self, em: _Emitter) -> list[str]:
        """The cached values the function's lines use."""
        p = self.prog
        words = set().union(*(identifiers(line) for line in em.lines))
        names = sorted(t for t in em.used if t in p.forward_locals or t in p.namer.function_slots.values())
        names += sorted({p.dim_names[s] for s in em.dims_used})
        return [t for t in names if t in words]

    def text(self) -> str:
        p = self.prog
        src = _drop_unused_cache_reads(self.src)
        wrt = ", ".join(p.wrt)
        several = len(p.wrt) > 1
        doc = [
            f"hessian(**inputs) returns the Hessian of the output by {wrt}: "
            + ("a dict of blocks keyed " + ", ".join(repr(k) for k, _, _ in block_keys(p.wrt))
               + ' (block "a,b" is d2s/da db\', indexed a.shape + b.shape)' if several else
               "an (n, n) array for a vector, x.shape + x.shape for a matrix")
            + "; hessian_from_cache(cache) the same from forward's cache.",
            (f"hvp(cache, v) returns H v{' (v and the result are dicts keyed by name)' if several else ''}"
             " from forward's cache without forming H: the forward-mode derivative of the gradient along v."),
        ]
        src = src.replace('"""Generated by matcalc: forward and backward for',
                          '"""Generated by matcalc: forward, backward, hessian and hvp for', 1)
        src = src.replace("\ndtype: ", "\n" + "\n".join(doc) + "\ndtype: ", 1)
        lines = []
        for h in sorted(p.second_helpers):
            lines += [HELPERS[h], "", ""]
        lines.append("def hessian(functions=None, **inputs):")
        lines.append(f'    """The Hessian of the output by {wrt} at the inputs (see the module docstring)."""')
        lines.append("    _, cache = forward(functions=functions, **inputs)")
        lines.append("    return hessian_from_cache(cache)")
        lines += ["", ""]
        lines.append("def hessian_from_cache(cache):")
        lines.append('    """The Hessian from forward\'s cache: fresh arrays, the cache is left untouched."""')
        lines += [f"    {t} = cache[{t!r}]" for t in self.reads(p.hess_em)]
        lines += p.hess_em.lines
        if several:
            lines.append("    return {" + ", ".join(f"{k!r}: {n}" for k, n in p.hess_results) + "}")
        else:
            lines.append(f"    return {p.hess_results[0][1]}")
        lines += ["", ""]
        lines.append("def hvp(cache, v):")
        lines.append('    """H v from forward\'s cache, never forming H: a fresh array of the variable\'s shape'
                     + (' per name."""' if several else '."""'))
        lines += p.hvp_conversions                    # first: a variable named v must not hide it
        lines += [f"    {t} = cache[{t!r}]" for t in self.reads(p.hvp_em)]
        lines += p.hvp_em.lines
        if several:
            lines.append("    return {" + ", ".join(f"{n!r}: {t}" for n, t in p.hvp_results) + "}")
        else:
            lines.append(f"    return {p.hvp_results[0][1]}")
        block = "\n".join(lines)
        methods = ("\n    def hessian(self):\n        return hessian_from_cache(self.cache)\n"
                   "\n    def hvp(self, v):\n        return hvp(self.cache, v)\n")
        at = src.find("\n\n\nclass Model:")
        if at < 0:
            return src + "\n\n" + block
        return src[:at] + "\n\n\n" + block + src[at:] + methods


def _vec_term(node: Node) -> bool:
    """Whether a term of a Kronecker form is written without forming it: c P ⊗ Q, c (P ⊗ Q) K, c K,
    c I, c diag(v)."""
    body = A.split(node)[2]
    if body is None:
        return False
    if body.op == "matmul":
        return body.args[0].op == "kron" and body.args[1].op == "commutation"
    return body.op in ("kron", "eye", "commutation") or body.op == "diag" and body.args[0].is_column


def _tuple(items: list[str]) -> str:
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _drop_unused_cache_reads(src: str) -> str:
    """backward() reads only what it uses (forward now caches what hvp and hessian need too)."""
    start = src.find("\ndef backward(")
    if start < 0:
        return src
    end = src.find("\n\n\n", start)
    end = len(src) if end < 0 else end
    body = src[start:end].split("\n")
    kept = []
    for i, line in enumerate(body):
        m = re.fullmatch(r"    (\w+) = cache\['(\w+)'\]", line)
        if m and m.group(1) == m.group(2):
            rest = "\n".join(body[i + 1:])
            if not re.search(rf"\b{re.escape(m.group(1))}\b", rest):
                continue
        kept.append(line)
    return src[:start] + "\n".join(kept) + src[end:]
