"""Generated code for second order: ``codegen_hessian(expr, wrt)`` adds ``hessian`` and ``hvp``.

Forward over reverse, as ``matcalc.hessian`` derives it: the gradient ``g = ∂s/∂x`` is reverse
mode (``diff.gradients``) and its forward-mode derivative along a tangent ``v`` is the
Hessian-vector product, ``H v = jvp(g, {x: v})``.  The module is the first-order one (``forward``,
``backward``, ``Model``: ``program.Program``, the same preparation) plus

- ``hvp(cache, v)``: that JVP printed as NumPy over forward's cache, one line per shared step, so
  it costs a forward plus a backward pass and never forms ``H`` (``x'*A*x`` → ``A @ v + A.T @ v``,
  ``logsumexp(x)`` → ``p * v - p * (p.T @ v)``);
- ``hessian(**inputs)`` / ``hessian_from_cache(cache)``: the closed form ``matcalc.hessian`` reads
  off the JVP (a matrix for vectors, the Kronecker form for matrices, written into the 4-D array
  ``x.shape + x.shape`` without forming a Kronecker product; failing both, the JVP applied to each
  basis direction in a loop).

Before printing, ``hessian_rewrite`` puts the graphs in evaluation order (products by cost,
``Xᵀ diag(d) X`` → ``X.T @ (d * X)``, ``(A + Aᵀ) v`` → ``A v + Aᵀ v``, Kronecker products multiplied
out), and a diagonal term of a Hessian is added to its diagonal in place instead of building
``diag``/``eye``.  Vector-or-matrix cases with no closed form fall back to the basis loop.
Several variables: ``hessian`` returns every block in a dict keyed ``"x"``, ``"x,y"``, ``"y,x"``,
``"y"`` (block ``"a,b"`` is ∂²s/∂a∂bᵀ, indexed ``a.shape + b.shape``, as ``matcalc.hessian(expr,
"a,b").numpy()``) and ``hvp`` takes and returns dicts keyed by name.
"""
from __future__ import annotations

from matcalc.core import algebra as A
from matcalc.core.diff import gradients, jvp
from matcalc.core.graph import Node, depends_on, topo_order
from matcalc.core.kinds import is_leaf, is_sum, terms
from matcalc.core.naming import identifiers
from matcalc.generate.code import ATOM, MUL, Code, external, ndim, wrap
from matcalc.generate.emitter import Emitter
from matcalc.generate.hessian_rewrite import Rewriter
from matcalc.generate.program import Program, prepare, shared_nodes
from matcalc.generate.template import SecondOrder, module_source
from matcalc.second_order.kronecker import VEC_FORM, linear_map_form
from matcalc.simplify.rewrite import simplify_all


def codegen_hessian_source(expr: str, wrt, shapes: dict | None = None, assume: dict | None = None,
                           dtype: str | None = None) -> str:
    """Python source of the first-order module of ``expr`` by ``wrt`` plus ``hessian(**inputs)``
    (the Hessian array; a dict of blocks for several variables) and ``hvp(cache, v)`` (H v).
    Unverified: ``matcalc.codegen_hessian`` checks gradients, Hessians and H v before returning it."""
    names, typed, wrt_nodes, dtype = prepare(expr, wrt, shapes, assume, dtype,
                                             scalar="a Hessian needs a scalar output; use codegen for the first-order module")
    return _HessianProgram(expr, typed, names, wrt_nodes, dtype).source()


def block_keys(names: list[str]) -> list[tuple[str, str, str]]:
    """(key, a, b) for every block ∂²s/∂a∂bᵀ, in the order hessian() returns them."""
    return [(a if a == b else f"{a},{b}", a, b) for a in names for b in names]


class _HessianProgram(Program):
    """The first-order program, and after its backward pass hvp and hessian_from_cache, all laid
    out by the one template (``template.module_source`` with its ``SecondOrder`` part)."""

    def source(self) -> str:
        order, fwd = self.forward()
        bwd = self.backward(fwd)
        self.second_order(fwd)
        parts = self.parts(order, fwd, bwd, later=(self.hvp_em, self.hess_em))
        parts.second = SecondOrder(self.wrt, [k for k, _, _ in block_keys(self.wrt)], self.second_helpers,
                                   self._reads(self.hess_em), self.hess_em.lines, self.hess_results,
                                   self.hvp_conversions, self._reads(self.hvp_em), self.hvp_em.lines,
                                   self.hvp_results)
        return module_source(parts)

    def second_order(self, fwd: Emitter) -> None:
        """The lines of hvp and hessian_from_cache, over forward's cache."""
        out = self.typed.output
        self.second_helpers: set[str] = set()
        grads = gradients(out, list(self.wrt_nodes))
        gs = simplify_all([grads[v] for v in self.wrt_nodes])
        self.tangents = {n: A.var(f"\0tangent {n}", v.shape, ndim(v)) for n, v in zip(self.wrt, self.wrt_nodes)}
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

    # ------------------------------------------------------------ helpers
    def _internal_shape(self, em: Emitter, v: Node) -> str:
        return "()" if ndim(v) == 0 else em.shape(v)

    def _external_dims(self, em: Emitter, v: Node) -> list[str]:
        nd = ndim(v)
        if nd == 0:
            return []
        if nd == 1:
            return [em.dim(v.rows if v.is_column else v.cols)]
        return [em.dim(v.rows), em.dim(v.cols)]

    def _fresh_result(self, em: Emitter, name: str, shape_node: Node, root: Node) -> str:
        """Lines ending in ``name`` = root, a fresh array with shape_node's shape."""
        if A.is_zero(root):
            em.lines.append(f"    {name} = " + ("DTYPE(0.0)" if shape_node.is_scalar else
                                                f"np.zeros({em.shape(shape_node)}, dtype=DTYPE)"))
            return name
        if is_sum(root) and not root.is_scalar:
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
    def _emit_hvp(self, fwd: Emitter, roots: list[Node]):
        em = self.emitter(fwd)
        keep = set(em.named)
        conversions = []
        for n, T in self.tangents.items():
            loc = self.namer.tangent(n)
            em.named[id(T)] = Code(loc, ATOM, True, loc)
            keep.add(id(T))
            conv = {0: ".reshape(())", 1: ".reshape(-1, 1)"}.get(ndim(T), "")
            if T.is_row and ndim(T) == 1:
                conv = ".reshape(1, -1)"
            src = "v" if len(self.wrt) == 1 else f"v[{n!r}]"
            conversions.append((loc, f"    {loc} = np.asarray({src}, dtype=DTYPE){conv}"))
        roots = Rewriter(keep).rewrite(roots)
        em.hoist = shared_nodes(roots, em.named, em.pending)
        results = []
        for n, v, r in zip(self.wrt, self.wrt_nodes, roots):
            name = self._fresh_result(em, self.namer.hvp_result(n), v, r)
            results.append((n, external(ndim(v), name)))
        self.hvp_conversions = [line for loc, line in conversions if loc in em.used]
        return em, results

    # ------------------------------------------------------------ hessian
    def _emit_hessian(self, fwd: Emitter, blocks: list):
        em = self.emitter(fwd)
        keep = set(em.named) | {id(T) for T in self.tangents.values()}
        rw = Rewriter(keep)
        prepared = []
        for key, a, b, form, node, dg in blocks:
            node = rw.rewrite([node])[0]
            if form == VEC_FORM and not all(_vec_term(t) for t in terms(node)) \
                    or not all(Emitter.emits(n.op) or form == VEC_FORM and n.op == "commutation"
                               for n in topo_order([node])):
                form, node = "jvp", rw.rewrite([dg])[0]      # never multiply Kronecker products out
            prepared.append((key, a, b, form, node))
        em.hoist = shared_nodes([p[4] for p in prepared if p[3] != "jvp"], em.named, em.pending)
        results = []
        for key, a, b, form, node in prepared:
            va, vb = self.wrt_nodes[self.wrt.index(a)], self.wrt_nodes[self.wrt.index(b)]
            name = self.namer.hessian_block(a, b, len(self.wrt) > 1)
            ext = self._external_dims(em, va) + self._external_dims(em, vb)
            ext_text = _tuple(ext)
            if form == "matrix":
                self._matrix_block(em, name, va, vb, node)
                if not ext:
                    em.lines.append(f"    {name} = np.asarray({name}, dtype=DTYPE).reshape(())")
                elif not (ndim(va) == 1 and ndim(vb) == 1 and va.is_column and vb.is_column):
                    em.lines.append(f"    {name} = {name}.reshape({ext_text})")
            elif form == VEC_FORM:
                self._vec_block(em, name, va, vb, node)
                if not (ndim(va) == 2 and ndim(vb) == 2):
                    em.lines.append(f"    {name} = {name}.reshape({ext_text})")
            else:
                self._jvp_block(em, name, va, vb, node, self.tangents[b], ext, ext_text)
            results.append((key, name))
        return em, results

    def _matrix_block(self, em: Emitter, name: str, va: Node, vb: Node, node: Node) -> None:
        """The len(a) x len(b) block; diagonal terms are added to its diagonal in place."""
        shape_node = A.zero((va.rows * va.cols, vb.rows * vb.cols))
        dense, diagonal = [], []
        for t in terms(node):
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

    def _vec_block(self, em: Emitter, name: str, va: Node, vb: Node, node: Node) -> None:
        """The 4-D block from its Kronecker form, no Kronecker product, identity or diag formed:
        each P ⊗ Q is broadcast (``_kron4``; with an identity factor, written on a diagonal), and
        I or diag(vec(C)) terms are added to the diagonal of the block seen as an N x N matrix."""
        r, c, p, q = (em.dim(d) for d in (va.rows, va.cols, vb.rows, vb.cols))
        size = em.dim(va.rows * va.cols)
        dense, diagonal = [], []
        for t in terms(node):
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
            if id(n) in moving or id(n) in em.named or is_leaf(n) or A.is_const(n):
                continue
            if n.op == "transpose" and (id(n.args[0]) in em.named or is_leaf(n.args[0])):
                continue
            if any(id(p) in moving and any(a is n for a in p.args) for p in order):
                em.assign(self.namer.temporary(), n, em.expr(n))
        a_dims = self._external_dims(em, va)
        em.lines.append(f"    {name} = np.empty({_tuple(a_dims + [size])}, dtype=DTYPE)")
        basis = self.namer.basis(T.attrs[0].split()[-1])
        k = self.namer.loop_index()
        child = Emitter(self.namer, self.dim_names, self.helpers)
        child.named = dict(em.named)
        child.forward_of = em.forward_of
        child.named[id(T)] = Code(basis, ATOM, True, basis)
        child.hoist = shared_nodes([node], child.named, child.pending)
        col = self.namer.column(name)
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
    def _reads(self, em: Emitter) -> list[str]:
        """The cached values a function's lines use."""
        words = set().union(*(identifiers(line) for line in em.lines))
        names = sorted(t for t in em.used if t in self.forward_locals or t in self.namer.function_slots.values())
        names += sorted({self.dim_names[s] for s in em.dims_used})
        return [t for t in names if t in words]


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
