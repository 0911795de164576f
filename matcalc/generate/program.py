"""NumPy forward/backward code from the graph: ``codegen_source(expr, wrt)`` returns a module's source.

The forward program is the typed graph in topological order, one line per operation, named
after the program's intermediates (CSE is free: nodes are hash-consed), printed by
``emitter.Emitter``.  The backward program is reverse mode over the same graph, by the one
reverse loop (``core.reverse.backpropagate``): each node's adjoint is a placeholder ``dL_dh``,
the rule table's symbolic VJP applied to it is the adjoint template (``dL_dz = dL_dh * (1 - h **
2)`` reuses the cached ``h``), contributions meeting at a fork are accumulated with ``+=``, and
only the adjoints the requested gradients need are emitted.  ``Program.parts`` says what the
module holds and ``template.module_source`` lays it out.  Values are 2-D inside (a vector
``(n, 1)``); inputs and results follow LANGUAGE.md's NumPy conventions at the boundary.
"""
from __future__ import annotations

from matcalc.core import algebra as A
from matcalc.core.errors import MatcalcError, ShapeError, UnsupportedError
from matcalc.core.graph import ONE, Node, topo_order
from matcalc.core.kinds import generic_function, is_leaf, is_sum, is_variable
from matcalc.core.naming import Namer, identifiers
from matcalc.core.reverse import backpropagate
from matcalc.core.rules.targets import NUMPY, TARGETS, Target
from matcalc.generate.buffers import early_gradients, into_buffers, release
from matcalc.generate.code import ATOM, Code, external, ndim, wrap
from matcalc.generate.emitter import Emitter
from matcalc.generate.inplace import in_place
from matcalc.generate.plan import plan
from matcalc.generate.target_template import LAYOUTS
from matcalc.generate.template import Parts
from matcalc.language.program import resolve_wrt, typed_program, wrt_names

DTYPES = {None: "float64", "float64": "float64", "float32": "float32", "double": "float64", "single": "float32"}


def normalize_dtype(dtype) -> str:
    """``None``, ``"float32"``, ``np.float32``, ``"single"``, ... as ``"float64"`` or ``"float32"``."""
    key = dtype if dtype is None else str(dtype).replace("np.", "").replace("numpy.", "")
    if key not in DTYPES:
        raise MatcalcError("dtype is float64 or float32")
    return DTYPES[key]


def prepare(expr: str, wrt, shapes: dict | None, assume: dict | None, dtype, scalar: str | None = None) -> tuple:
    """What every generated module starts from: (wrt names, typed and planned program, the wrt
    variables' nodes, the dtype); ``scalar``: the message of the ``ShapeError`` raised when the
    output is not a scalar."""
    names = wrt_names(wrt)
    dtype = normalize_dtype(dtype)
    typed = typed_program(expr, shapes, assume)
    if scalar is not None and not typed.output.is_scalar:
        raise ShapeError(scalar)
    wrt_nodes, _ = resolve_wrt(typed, names, shapes)
    return names, plan(typed), wrt_nodes, dtype


def codegen_source(expr: str, wrt, shapes: dict | None = None, assume: dict | None = None,
                   dtype: str | None = None, target: str = "numpy") -> str:
    """Python source of a module with ``forward(**inputs) -> (output, cache)`` and
    ``backward(cache, upstream=1.0) -> {name: gradient}`` for ``expr`` by ``wrt``, unverified
    (``matcalc.codegen`` gradchecks it with ``generate.verify`` before returning it).
    ``target``: ``"numpy"``, ``"torch"`` (plus a ``torch.autograd.Function``) or ``"jax"``
    (plus a ``jax.custom_vjp`` function); see ``generate.target_template``."""
    if target not in TARGETS:
        raise MatcalcError(f"unknown target {target!r}: the targets are {', '.join(TARGETS)}")
    names, typed, wrt_nodes, dtype = prepare(expr, wrt, shapes, assume, dtype)
    return Program(expr, typed, names, wrt_nodes, dtype, TARGETS[target]).source()


class Program:
    """One generated module: its names, the forward and backward emitters, and its parts."""

    def __init__(self, expr, typed, wrt, wrt_nodes, dtype, target: Target = NUMPY):
        self.expr, self.typed, self.wrt, self.wrt_nodes, self.dtype = expr, typed, wrt, wrt_nodes, dtype
        self.target = target
        generic = sorted({g for g in map(generic_function, topo_order([typed.output])) if g is not None})
        if generic and target is not NUMPY:
            raise UnsupportedError(f"generic functions ({', '.join(generic)}) need the NumPy target: "
                                   f"the {target.name} module has no way to be handed them")
        self.namer = Namer()
        self.helpers: set[str] = set()
        self.inputs: dict[str, Node] = dict(typed.variables)
        for name, v in zip(wrt, wrt_nodes):
            self.inputs.setdefault(name, v)
        self.local = {name: self.namer.local(name) for name in self.inputs}
        dims = {}
        for v in self.inputs.values():
            for d in v.shape:
                for s in getattr(d, "free_symbols", ()):
                    dims.setdefault(s, self.namer.dim(str(s)))
        self.dim_names = dims
        out = typed.output
        last = typed.statements[-1][0]
        self.out_name = self.namer.output(last if last and not is_variable(out) else None)
        self.grad_prefix = last if last and last.isidentifier() and not is_variable(out) else "L"

    # ------------------------------------------------------------ forward
    def forward(self) -> tuple[list[str], Emitter]:
        em = Emitter(self.namer, self.dim_names, self.helpers, self.target)
        self.fwd = em
        self.own_locals: set[str] = set()
        for name, v in self.inputs.items():
            em.named[id(v)] = Code(self.local[name])
        named = {}
        for name, node in self.typed.intermediates.items():
            named.setdefault(id(node), name)
        out = self.typed.output
        order = topo_order([out])
        consumers: dict[int, list[Node]] = {}
        for node in order:
            for a in node.args:
                consumers.setdefault(id(a), []).append(node)
        for node in order:
            if is_leaf(node) or A.is_const(node) or id(node) in em.named or node.op in ("transpose", "diag"):
                continue
            if node is not out and id(node) not in named and _inlined(node, consumers.get(id(node), [])):
                continue
            if node is out:
                name = self.out_name
            elif id(node) in named:
                name = self.namer.local(named[id(node)])
                self.own_locals.add(name)
            else:
                name = self.namer.step()
            em.forward_of[id(node)] = node
            em.assign(name, node, em.op(node))
        if id(out) not in em.named:                     # a constant or a bare variable
            em.assign(self.out_name, out, em.op(out) if not is_variable(out) else Code(self.local[out.attrs[0]]))
        info = em.named[id(out)]
        if not info.full and not out.is_scalar:
            shape = em.shape(out)
            view = Code(self.target.broadcast.format(x=info.text, shape=shape))
            em.emit(f"    {info.text} = {self.target.copy.format(x_=view.text)}", em.reads[-1] | {info.text})
            em.reads[-1] = set()
        return order, em

    # ------------------------------------------------------------ backward
    def backward(self, fwd: Emitter) -> Emitter:
        out = self.typed.output
        em = self.emitter(fwd)
        self.forward_locals = {v.text for v in fwd.named.values()}
        pre = self.grad_prefix
        self.seed_name = self.namer.seed(self.out_name, pre, out.is_scalar)
        # a scalar output's backward is linear in upstream: the NumPy module computes the gradients
        # of upstream 1 (no `G * u` temporary) and scales them only when the caller passes another
        self.unit_seed = out.is_scalar and self.target.buffers
        if self.unit_seed:
            seed = A.const(1)
        else:
            seed = A.var("\0seed", out.shape, ndim(out))
            em.named[id(seed)] = Code(self.seed_name)
        wrt = list(self.wrt_nodes)

        def adjoint(node: Node, G: Node) -> Node:
            """The adjoint as a placeholder that prints as its own line (``dL_dh``), unless it is
            the seed, a constant, a cached value read as it is, a broadcast constant or a scaled
            cached value (kept structured)."""
            if is_variable(G) and G.attrs[0].startswith("\0") or A.is_const(G) or id(G) in fwd.named \
                    or _broadcast_constant(G) or _scaled_value(G, fwd.named):
                return G
            P = A.var(f"\0adj{node.serial}", node.shape, ndim(node))
            own = fwd.named[id(node)].text if id(node) in fwd.named else None
            inner = fwd.named[id(node.args[0])].text if node.op == "transpose" and id(node.args[0]) in fwd.named else None
            em.pending[id(P)] = (self.namer.adjoint(own, inner, pre), P, G)
            return P

        reached = backpropagate(out, wrt, seed, adjoint)
        finals = {k: A.add(*parts) if len(parts) > 1 else parts[0] for k, parts in reached.items()}
        # shared subexpressions of the backward program get their own line
        roots = [finals[id(v)] for v in wrt if id(v) in finals] + [p[2] for p in em.pending.values()]
        em.hoist = shared_nodes(roots, em.named, em.pending)
        self.grads = []
        self.grad_locals: list[str] = []
        returned_roots: set[str] = set()
        for name, v in zip(self.wrt, wrt):
            gname = self.namer.grad(self.local[name], pre)
            self.grad_locals.append(gname)
            ext = ndim(v)
            if id(v) not in finals:
                text = "0.0" if ext == 0 else self.target.zeros.format(shape=em.shape(v))
                em.lines.append(f"    {gname} = {text}")
                self.grads.append((name, external(ext, gname, self.target)))
                continue
            info = em.define(gname, v, finals[id(v)], False) if is_sum(finals[id(v)]) else None
            if info is not None and not info.full and not v.is_scalar:     # a sum of broadcasts
                em.lines.append(f"    {gname} = {self.target.full_dtype.format(shape=em.shape(v), v=gname)}")
            if info is None:
                c = em.expr(finals[id(v)])
                if not c.full and not v.is_scalar:
                    c = Code(self.target.full_dtype.format(shape=em.shape(v), v=c.text), ATOM, True, None)
                elif c.alias is not None and not v.is_scalar:
                    root = c.alias
                    if root in self.forward_locals or root in returned_roots or root in ("broadcast", "view", "call") \
                            or c.alias == c.text and c.text in self.forward_locals:
                        c = Code(self.target.copy.format(x_=wrap(c, ATOM)), ATOM, True, None)
                    returned_roots.add(root)
                em.assign(gname, v, c, False)
            self.grads.append((name, external(ext, gname, self.target)))
        # the caller's buffers (a target whose backward takes out=), by the gradients' outside shapes
        self.buffers = [(name, self.namer.buffer(self.local[name]), _external_shape(em, v))
                        for name, v in zip(self.wrt, wrt)] if self.target.buffers else []
        em.reads[-1] = set()
        return em

    def emitter(self, fwd: Emitter) -> Emitter:
        """An emitter for code after forward: forward's locals read as cached values."""
        em = Emitter(self.namer, self.dim_names, self.helpers, self.target)
        em.named = {k: Code(v.text, ATOM, v.full, v.text) for k, v in fwd.named.items()}
        em.forward_of = fwd.forward_of
        return em

    # ------------------------------------------------------------ module
    def source(self) -> str:
        order, fwd = self.forward()
        bwd = self.backward(fwd)
        return LAYOUTS[self.target.name](self.parts(order, fwd, bwd))

    def parts(self, order: list[Node], fwd: Emitter, bwd: Emitter, later: tuple[Emitter, ...] = ()) -> Parts:
        """What the module holds; ``later`` are emitters of functions after backward that read
        forward's cache too (hessian, hvp)."""
        out = self.typed.output
        seed_shape = bwd.shape(out) if self.seed_name in bwd.used and not out.is_scalar else None
        cached = {t for em in (bwd, *later) for t in em.used}
        cached_dims = {s for em in (bwd, *later) for s in em.dims_used}
        # what backward and the later functions read from the cache
        made = [self.local[n] for n in self.inputs] + [ln.split(" = ")[0].strip() for ln in fwd.lines]
        rank = {t: i for i, t in reversed(list(enumerate(made)))}
        needed = sorted((t for t in cached if t in self.forward_locals), key=lambda t: rank.get(t, len(rank)))
        generic = sorted({g for g in map(generic_function, order) if g is not None})
        fn_needed = [self.namer.function(g) for g in generic if self.namer.function(g) in cached]
        dims_needed = sorted({self.dim_names[s] for s in cached_dims})   # after the seed's shape
        fdims = sorted({self.dim_names[s] for s in fwd.dims_used | cached_dims})
        own = bwd.used | {self.dim_names[s] for s in bwd.dims_used}
        body = list(self.target.backward_prologue)
        if self.seed_name in bwd.used:
            if out.is_scalar:
                body.append(f"    {self.seed_name} = {self.target.seed_scalar}")
            else:
                seed = self.target.seed_column if ndim(out) == 1 and out.is_column else self.target.seed_other
                body.append(f"    {self.seed_name} = {seed.format(shape=seed_shape)}")
        if self.target.buffers:
            body += self._backward_lines(bwd) + self._upstream_lines()
        else:
            body += in_place(bwd.lines, bwd.fresh, set(self.grad_locals), module=self.target.module) \
                if self.target.in_place else bwd.lines
        helpers = self.helpers | set(self.target.helpers)
        if self._uses_scalar():
            helpers |= set(self.target.scalar_helpers)
        if self.target.buffers:
            helpers |= {"_buffers", "_give"} | ({"_fill"} if any("_fill(" in t for t in body) else set())
        return Parts(self.expr, [(name, _shape_doc(v)) for name, v in self.inputs.items()], self.wrt, self.dtype,
                     generic, helpers, self._forward_body(fwd, fdims, generic, needed + fn_needed + dims_needed),
                     [t for t in needed + fn_needed + dims_needed if t in own], body, self.grads,
                     buffers=[buf for _, buf, _ in self.buffers])

    def _backward_lines(self, bwd: Emitter) -> list[str]:
        """backward's body: temporaries reused (``inplace``), each gradient as early as it can be,
        matrix gradients written into the caller's buffers, dead temporaries released
        (``buffers``); first the line that checks the caller's buffers."""
        grads = set(self.grad_locals)
        lines = early_gradients(in_place(bwd.lines, bwd.fresh, grads, module=self.target.module), self.grad_locals)
        matrices = {g: buf for g, (_, buf, shape), v in zip(self.grad_locals, self.buffers, self.wrt_nodes)
                    if ndim(v) == 2}
        lines = release(into_buffers(lines, matrices), bwd.arrays, grads)
        shapes = ", ".join(f"({name!r}, {shape})" for name, _, shape in self.buffers)
        locals_ = ", ".join(buf for _, buf, _ in self.buffers)
        one = "," if len(self.buffers) == 1 else ""
        k = len(self.buffers)
        nones = "(None,)" if k == 1 else "(None, None)" if k == 2 else f"(None,) * {k}"
        # no out (the common call): no function call at all, only the test
        return [f"    {locals_}{one} = {nones} if out is None else _buffers(out, cache, ({shapes}{one}))", *lines]

    def _upstream_lines(self) -> list[str]:
        """With a unit seed (``backward``): the gradients of upstream 1 scaled by another upstream,
        in place (each gradient is an array of this call's, or the caller's buffer, or a scalar)."""
        if not self.unit_seed:
            return []
        G = self.seed_name
        return ["    # backward is linear in upstream: the gradients above are those of upstream 1",
                "    if upstream != 1.0:", f"        {G} = DTYPE(upstream)",
                *(f"        {g} *= {G}" for g in self.grad_locals)]

    def _forward_body(self, fwd: Emitter, fdims: list[str], generic: list[str], cached: list[str]) -> list[str]:
        out = self.typed.output
        keep = set(cached) | {fwd.named[id(out)].text}
        live, read = _live(fwd.lines, fwd.line_reads, keep)
        read |= keep | {self._dim_source(d).partition(".shape")[0] for d in fdims}
        lines = list(self.target.forward_prologue)
        for name, v in self.inputs.items():             # an input nothing reads gets no line
            loc = self.local[name]
            if loc not in read:
                continue
            nd = v.attrs[1]
            value = self.target.convert.format(value=f"inputs[{name!r}]")
            conv = {0: f"{value}.reshape(())", 1: f"{value}.reshape(-1, 1)"}.get(nd, value)
            if v.is_row and nd == 1:
                conv = f"{value}.reshape(1, -1)"
            lines.append(f"    {loc} = {conv}")
        for g in generic:
            lines.append(f"    if functions is None or {g!r} not in functions:")
            lines.append(f"        raise ValueError(\"pass functions={{{g!r}: (f, f_prime)}} to forward()\")")
            lines.append(f"    {self.namer.function(g)} = functions[{g!r}]")
        for dname in fdims:
            lines.append(f"    {dname} = {self._dim_source(dname)}")
        lines += in_place(live, fwd.fresh, keep, frozenset(self.own_locals), self.target.module) if self.target.in_place else live
        lines.append("    cache = {" + ", ".join(f"{t!r}: {t}" for t in cached) + "}")
        lines.append(f"    return {external(ndim(out), fwd.named[id(out)].text, self.target)}, cache")
        return lines

    def _uses_scalar(self) -> bool:
        return ndim(self.typed.output) == 0 or any(t.startswith("_scalar(") for _, t in self.grads)

    def _dim_source(self, dname: str) -> str:
        for s, nm in self.dim_names.items():
            if nm != dname:
                continue
            for name, v in self.inputs.items():
                for i, d in enumerate(v.shape):
                    if d == s and v.attrs[1] > 0:
                        return f"{self.local[name]}.shape[{i}]"
        raise UnsupportedError(f"cannot read the dimension {dname} off the inputs")



def _live(lines: list[str], line_reads: dict[int, set[str]], keep: set[str]) -> tuple[list[str], set[str]]:
    """Drop forward lines whose result nobody reads (a step the printer folded into another);
    also the locals the kept lines read (as the emitter recorded them from the graph)."""
    live = set(keep)
    out = []
    for k in range(len(lines) - 1, -1, -1):
        line = lines[k]
        name = line.strip().split(" ", 1)[0]
        if name in live:
            out.append(line)
            live.update(line_reads[k] if k in line_reads else identifiers(line))
    return out[::-1], live


def _inlined(node: Node, consumers: list[Node]) -> bool:
    """Forward steps not worth a line of their own: ``-Y`` read once (``z - Y`` instead), and
    ``x²`` read only by ``sum`` (``np.vdot(x, x)``, no temporary); and a broadcast vector
    ``𝟏 bᵀ`` / ``c 𝟏ᵀ`` (LANGUAGE.md v2), which NumPy broadcasting spreads where it is read
    (``X @ W + b.T``), never a materialised matrix."""
    _, _, body = A.split(node)
    if body is not None and body.op == "matmul" and (
            (body.args[0].op == "ones" and body.args[0].cols == ONE) or
            (body.args[1].op == "ones" and body.args[1].rows == ONE)):
        return True
    if len(consumers) != 1:
        return False
    if node.op == "scale" and len(node.args) == 1 and is_variable(node.args[0]) and not node.is_scalar:
        return True
    return node.op == "pow" and node.attrs[0] == 2 and not node.is_scalar and consumers[0].op == "sum" \
        and consumers[0].attrs[0] is None


def _scaled_value(G: Node, named: dict) -> bool:
    """A scalar times a cached forward value (``2 G z`` for ``‖z‖²``): kept structured, so the
    scalar lands on whatever product reads it (``dW = z Xᵀ; dW *= 2 G``), not on a temporary."""
    _, _, body = A.split(G)
    return body is not None and G is not body and id(body) in named and not is_variable(body)


def _broadcast_constant(G: Node) -> bool:
    """A scalar times a ones matrix (the adjoint of ``sum``): kept structured, never given a
    local, so that ``𝟏𝟏ᵀ Wᵀ`` prints as a column sum instead of a matmul by a broadcast array."""
    _, _, body = A.split(G)
    return body is not None and body.op == "ones"


def _external_shape(em: Emitter, v: Node) -> str:
    """The text of a variable's shape as forward takes it (a vector ``(n,)``, a scalar ``()``)."""
    nd = ndim(v)
    if nd == 0:
        return "()"
    if nd == 1:
        return f"({em.dim(v.rows if v.is_column else v.cols)},)"
    return em.shape(v)


def _shape_doc(v: Node) -> str:
    nd = v.attrs[1]
    if v.attrs[2] == "index":
        return "index, an int counted from 0 as NumPy counts"
    if nd == 0:
        return "scalar"
    dims = [str(d) for d in v.shape]
    if nd == 1:
        return f"vector ({dims[0] if v.is_column else dims[1]},)"
    extra = f", {v.attrs[2]}" if v.attrs[2] else ""
    return f"matrix ({dims[0]}, {dims[1]}){extra}"


def shared_nodes(roots: list[Node], named: dict, pending: dict) -> set[int]:
    """Nodes referenced more than once in the expressions ``roots`` (below the named ones): the
    subexpressions to hoist into lines of their own."""
    count: dict[int, int] = {}
    stack = list(roots)
    while stack:
        n = stack.pop()
        if id(n) in named or id(n) in pending or is_leaf(n) or A.is_const(n):
            continue
        if n.op == "transpose" and (id(n.args[0]) in named or is_leaf(n.args[0])):
            continue                                    # a view: free to print twice
        count[id(n)] = count.get(id(n), 0) + 1
        if count[id(n)] == 1:
            stack.extend(n.args)
    return {k for k, c in count.items() if c > 1} | deep_nodes(roots, count)


MAX_INLINE_DEPTH = 40
"""The deepest expression the emitter prints inline: below it a node gets its own line, so that
printing a deep Hessian's single expression never recurses as deep as the network."""


def deep_nodes(roots: list[Node], region: dict[int, int]) -> set[int]:
    """Nodes of ``region`` (ids of the nodes printed inline) at every ``MAX_INLINE_DEPTH``
    levels of inline nesting, counted children first (none in programs of ordinary depth)."""
    depth: dict[int, int] = {}
    out: set[int] = set()
    for n in topo_order(roots):
        if id(n) not in region:
            depth[id(n)] = 0
            continue
        d = 1 + max((depth[id(a)] for a in n.args), default=0)
        if d >= MAX_INLINE_DEPTH:
            out.add(id(n))
            d = 0
        depth[id(n)] = d
    return out
