"""The expression emitter: one graph node as one line of generated code, for every target.

``Emitter`` prints a node's value as NumPy (or torch, or JAX) text from its arguments' names, with
precedence levels (``ADD`` … ``ATOM``) so that parentheses appear only where needed; it never
builds a diagonal, identity-times or ones matrix it can broadcast instead (``diag(v) A`` →
``v * A``).  A primitive's text is the rule table's template for the emitter's target; what no
primitive owns (broadcasts, zeros, dot products, ...) is spelled by the target's ``Target``
record (``core.rules.targets``), so no line here compares a target's name.  ``Program``
(``generate.program``) decides which nodes get lines and names.
"""
from __future__ import annotations

import re
from fractions import Fraction

from matcalc.core import algebra as A
from matcalc.core.errors import MatcalcError, UnsupportedError
from matcalc.core.graph import ONE, Node, dim
from matcalc.core.kinds import is_sum
from matcalc.core.naming import Namer
from matcalc.core.rules import BINARY, ELEMENTWISE, RULES, CodeForm
from matcalc.core.rules.targets import NUMPY, TARGET_HELPERS, Target
from matcalc.generate.code import ADD, ATOM, HELPERS, MUL, POW, UNARY, Code, known_size, literal, number_literal, wrap

_EINSUM_OUTER = (2 ** 14, 2 ** 21)   # outer products of this many entries: einsum beats broadcasting (below,
                                     # broadcasting's smaller call overhead wins: 0.84x einsum at 64 x 64)
_NARROW = 16                # Aᵀ B with at most this many columns is computed as (Bᵀ A)ᵀ
_SKINNY = 2 ** 19           # A B with a narrow B and at least this many entries in A: (Bᵀ Aᵀ)ᵀ
_TALL = 1000                # ... or at least this many rows in A
_VIEW = re.compile(r"^[\w.]+$|^np\.broadcast_to\(|^[\w.]+\.reshape\(")   # texts that may alias an array



def _is_large(n: Node, entries: int) -> bool:
    """Whether the shapes declare ``n`` with at least ``entries`` entries, from where a rule's
    ``large`` code beats its plain one (an undeclared size keeps the plain one)."""
    rows, cols = known_size(n.rows), known_size(n.cols)
    return max(rows, cols) < known_size("unknown") and rows * cols >= entries


class Emitter:
    """Prints graph nodes as NumPy expressions, hoisting shared subexpressions into lines."""

    def __init__(self, namer: Namer, dim_names: dict, helpers: set, target: Target = NUMPY):
        self.namer, self.dim_names, self.helpers = namer, dim_names, helpers
        self.target = target                   # the framework's spellings (core.rules.targets)
        self.helper_sources = TARGET_HELPERS.get(target.name, HELPERS)
        self.named: dict[int, Code] = {}       # nodes with a local
        self.lines: list[str] = []
        self.dims_used: set = set()
        self.used: set[str] = set()            # locals read
        self.hoist: set[int] = set()           # shared subexpressions to give their own line
        self.pending: dict[int, tuple[str, Node, Node]] = {}   # placeholder -> (name, node, adjoint expr)
        self.forward_of: dict[int, Node] = {}  # id -> forward node (for reuse of softmax etc.)
        self.line_names: dict[str, str | None] = {}
        self.fresh: dict[str, tuple] = {}      # locals holding a new array of the node's full shape
        self.arrays: set[str] = set()          # locals holding an array (not a scalar): releasable
        # the locals each line reads, tracked as the graph is printed (never read off the text):
        # reads[-1] collects the line being printed, a hoisted subexpression pushes its own set
        self.reads: list[set[str]] = [set()]
        self.line_reads: dict[int, set[str]] = {}
        self.prepared: set[int] = set()        # hoisted nodes whose own dependencies were defined first

    def read(self, name: str) -> None:
        """Record that the line being printed reads the local ``name``."""
        self.used.add(name)
        self.reads[-1].add(name)

    def emit(self, line: str, reads: set[str]) -> None:
        """Append ``line``, which reads the locals ``reads``."""
        self.line_reads[len(self.lines)] = set(reads)
        self.lines.append(line)

    # ------------------------------------------------------------ naming and lines
    def dim(self, d) -> str:
        d = dim(d)
        if d.is_Integer:
            return str(int(d))
        mapping = {}
        for s in d.free_symbols:
            self.dims_used.add(s)
            self.reads[-1].add(self.dim_names[s])
            mapping[s] = dim(self.dim_names[s])
        return str(d.xreplace(mapping))

    def shape(self, node: Node) -> str:
        return f"({self.dim(node.rows)}, {self.dim(node.cols)})"

    def assign(self, name: str, node: Node, c: Code, register: bool = True) -> Code:
        if not c.full and not node.is_scalar and not c.scaled:   # a named broadcast is stored full:
            c = Code(self.target.full.format(shape=self.shape(node), v=c.text), ATOM, True)   # readers see its shape
        reads, self.reads[-1] = self.reads[-1], set()
        if c.scaled:                                    # P = A @ B; P *= s: no full-size temporary
            self.emit(f"    {name} = {c.scaled[0]}", reads)
            self.emit(f"    {name} *= {c.scaled[1]}", reads | {name})
        else:
            self.emit(f"    {name} = {c.text}", reads)
        if c.alias is None and c.full and not node.is_scalar and not _VIEW.match(c.text):
            self.fresh[name] = node.shape
        if not node.is_scalar:
            self.arrays.add(name)
        info = Code(name, ATOM, c.full or node.is_scalar, c.alias)
        if register:
            self.named[id(node)] = info
        return info

    def expr(self, node: Node) -> Code:
        info = self.named.get(id(node))
        if info is None and id(node) in self.pending:
            self.define_pending(node)
            info = self.named[id(node)]
        if info is not None:
            self.read(info.text)
            return Code(info.text, ATOM, info.full, info.alias or info.text)
        hoisted = id(node) in self.hoist
        if hoisted and id(node) not in self.prepared:   # what it reads that has a line, first
            self.prepared.add(id(node))
            self.run(self.definition_actions(node)[:-1])
        if hoisted:
            self.reads.append(set())
        c = self.op(node)
        if hoisted:
            info = self.assign(self.namer.temporary(), node, c)
            self.reads.pop()
            self.read(info.text)
            return Code(info.text, ATOM, info.full, info.alias or info.text)
        return c

    def define(self, name: str, node: Node, value: Node, register: bool = True) -> Code:
        """``name = value`` with ``+=`` accumulation when the first term is a fresh array."""
        if is_sum(value) and not value.is_scalar:
            state = self.open_sum(name, value.args[0])
            for t in value.args[1:]:
                self.add_term(state, t)
            return self.close_sum(state, node, register)
        return self.assign(name, node, self.expr(value), register)

    def open_sum(self, name: str, first_term: Node) -> list:
        """Start ``name = first + …``: its first line if the first term is a fresh array (the
        others are added with ``+=``), else the terms are collected into one line."""
        first = self.expr(first_term)
        if first.full and first.alias is None:
            reads, self.reads[-1] = self.reads[-1], set()
            self.emit(f"    {name} = {first.text}", reads)
            return [name, True]
        return [name, False, first]

    def add_term(self, state: list, term: Node) -> None:
        c = self.expr(term)
        if not state[1]:
            state.append(c)
            return
        name = state[0]
        reads, self.reads[-1] = self.reads[-1] | {name}, set()
        if c.text.startswith("-") and c.prec in (MUL, UNARY):
            self.emit(f"    {name} -= {c.text[1:]}", reads)
        else:
            self.emit(f"    {name} += {c.text}", reads)

    def close_sum(self, state: list, node: Node, register: bool) -> Code:
        name = state[0]
        if not state[1]:
            return self.assign(name, node, self._add_text(state[2:]), register)
        info = Code(name, ATOM, True, None)
        self.arrays.add(name)
        if register:
            self.named[id(node)] = info
        return info

    def define_pending(self, placeholder: Node) -> None:
        """Define an adjoint placeholder and, first, the placeholders and hoisted subexpressions
        its adjoint reads, in the order reading it depth first and left to right would (the same
        lines), but from a loop: the backward pass of a 500-layer network is a chain of 500
        adjoints, each read by the next, and reading them recursively overflowed the stack."""
        self.run(self.definition_actions(placeholder))

    def run(self, actions: list[tuple[str, Node, Node | None]]) -> None:
        """Carry out ``definition_actions`` in order."""
        sums: dict[int, list] = {}
        for action, n, term in actions:
            if action == "hoist":
                self.expr(n)
            elif action == "define":
                name, _, adjoint = self.pending.pop(id(n))
                self.define(name, n, adjoint)
            elif action == "open":
                name, _, adjoint = self.pending.pop(id(n))
                sums[id(n)] = self.open_sum(name, adjoint.args[0])
            elif action == "term":
                self.add_term(sums[id(n)], term)
            else:
                self.close_sum(sums.pop(id(n)), n, True)

    def definition_actions(self, placeholder: Node) -> list[tuple[str, Node, Node | None]]:
        """What defining ``placeholder`` (or a hoisted node) does, in order, as (action, node, term): ``hoist`` a
        shared subexpression, ``define`` a placeholder, or ``open`` a placeholder whose adjoint is
        a sum, add each further ``term`` and ``close`` it (as ``define`` does, lines between)."""
        actions: list[tuple[str, Node, Node | None]] = []
        seen: set[int] = set()

        def items(n: Node) -> list:
            if id(n) in self.pending:
                G = self.pending[id(n)][2]
                if is_sum(G) and not G.is_scalar:
                    out = [G.args[0], ("open", n, None)]
                    for t in G.args[1:]:
                        out += [t, ("term", n, t)]
                    return out + [("close", n, None)]
                return [G, ("define", n, None)]
            if id(n) in self.named or not n.args:
                return []
            args = list(n.args)
            if n.op == "matmul":                      # diag(v) B and A diag(v) read v, not diag(v)
                args = [a.args[0] if a.op == "diag" else a for a in args]
            elif n.op == "sum" and n.attrs[0] is None and args[0].op == "pow" and args[0].attrs[0] == 2:
                args = list(args[0].args)             # Σ x² reads x (np.vdot)
            return [*args, ("hoist", n, None)] if id(n) in self.hoist else args
        seen.add(id(placeholder))
        stack = [iter(items(placeholder))]
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
            elif isinstance(item, tuple):
                actions.append(item)
            elif id(item) not in seen:
                seen.add(id(item))
                stack.append(iter(items(item)))
        return actions

    def full(self, node: Node) -> Code:
        """The node's value with its full shape (broadcasting materialised as a view)."""
        c = self.expr(node)
        if c.full or node.is_scalar:
            return c
        return Code(self.target.broadcast.format(x=c.text, shape=self.shape(node)), ATOM, True, "broadcast")

    # ------------------------------------------------------------ operations
    def op(self, n: Node) -> Code:
        rule = RULES.get(n.op)
        if rule is not None and rule.code is not None:
            return self.template(rule.code, n)
        method = getattr(self, "op_" + n.op, None)     # structure: products, sums, broadcasts, leaves
        if method is None:
            raise UnsupportedError(f"no {self.target.name} code for {n.op}")
        return method(n)

    @classmethod
    def emits(cls, op: str) -> bool:
        """Whether there is NumPy code for the graph operation ``op``."""
        rule = RULES.get(op)
        return rule is not None and rule.code is not None or hasattr(cls, "op_" + op)

    def template(self, code: CodeForm, n: Node) -> Code:
        """The rule table's code template, filled with the arguments at their full shapes."""
        args = [self.full(a) for a in n.args]
        fields = {}
        if args:
            fields.update(x=args[0].text, x_=wrap(args[0], ATOM))
        if len(args) > 1:
            fields["y"] = args[1].text
        if n.attrs:
            fields["k"] = n.attrs[0]
            fields.update({f"a{i}": number_literal(a) if isinstance(a, Fraction) else a for i, a in enumerate(n.attrs)})
            if isinstance(n.attrs[0], int):
                fields["axis"] = n.attrs[0] - 1
        text = code.text(self.target.name)
        if text is None:
            raise UnsupportedError(f"no {self.target.name} code for {n.op}")
        if "{shape}" in text:
            fields["shape"] = self.shape(n)
        if "{shape_t}" in text:
            fields["shape_t"] = f"({self.dim(n.cols)}, {self.dim(n.rows)})"
        if "{dim}" in text:                             # a size leaf: the dimension's local
            fields["dim"] = self.dim(n.attrs[0])
        self.use_helpers(code.helpers)
        return Code(text.format(**fields), ATOM, True, code.alias)

    def use_helpers(self, names) -> None:
        """Record the module-level helpers an entry names that this target defines."""
        self.helpers.update(h for h in names if h in self.helper_sources)

    def op_ones(self, n):
        return Code("1.0", ATOM, n.is_scalar)

    def op_zero(self, n):
        return Code("0.0", ATOM, n.is_scalar)

    def op_commutation(self, n):
        self.use_helpers(("_commutation",))
        return Code(self.target.commutation.format(m=self.dim(n.attrs[0]), n=self.dim(n.attrs[1])))

    def op_eye(self, n):
        return Code(self.target.eye.format(n=self.dim(n.rows)))

    def op_var(self, n):
        raise MatcalcError(f"variable {n.attrs[0]} has no local")

    def _product(self, parts: list[Code], coef: Fraction) -> Code:
        parts = [p for p in parts if p.text != "1.0"]
        neg = coef < 0
        coef = abs(coef)
        if coef != 1 or not parts:
            parts = [literal(coef)] + parts
        text = wrap(parts[0], MUL) + "".join(" * " + wrap(p, MUL + 1) for p in parts[1:])
        prec = MUL if len(parts) > 1 else parts[0].prec
        if neg:
            if prec == ATOM or prec == POW or len(parts) > 1:
                text, prec = "-" + (text if len(parts) > 1 else wrap(parts[0], UNARY)), MUL if len(parts) > 1 else UNARY
            else:                                       # a single sum: -(a - b), not -((a - b))
                text, prec = "-" + wrap(parts[0], UNARY + 1), UNARY
        return Code(text, prec)

    def op_scale(self, n):
        coef, _, body = A.split(n)
        factors = n.args if body is None else n.args[:-1]
        parts = [self.expr(f) for f in factors]
        b = None
        if body is not None:
            b = self.expr(body)
            parts.append(b)
        c = self._product(parts, coef)
        c.full = True if body is None else (b.full and b.text != "1.0")
        if body is not None and body.op == "matmul" and b.alias is None and b.full and (len(parts) > 1 or coef != 1) \
                and not n.is_scalar:
            c.scaled = (b.text, self._product(parts[:-1], coef).text)
        return c

    def op_hadamard(self, n):
        parts = [self.expr(a) for a in n.args]
        c = self._product(parts, Fraction(1))
        c.full = any(p.full and p.text != "1.0" for p in parts)
        if len(parts) == 2 and not n.is_scalar:
            # cached u ∘ (1 - h²): t = 1 - h²; t *= u, one temporary fewer (a fresh local of this
            # function, read once, is made the buffer by ``inplace`` instead)
            for k in (0, 1):
                p, a = parts[k], n.args[k]
                if p.alias is None and p.full and p.prec != ATOM and a.shape == n.shape \
                        and parts[1 - k].text not in self.fresh:
                    c.scaled = (p.text, wrap(parts[1 - k], ATOM if parts[1 - k].prec < MUL else MUL))
                    break
        return c

    def _add_text(self, terms: list[Code]) -> Code:
        text = wrap(terms[0], ADD)
        for t in terms[1:]:
            if t.text.startswith("-") and t.prec in (MUL, UNARY):
                text += " - " + t.text[1:]
            else:
                text += " + " + wrap(t, ADD + 1)
        return Code(text, ADD, any(t.full for t in terms))

    def op_add(self, n):
        terms = [self.expr(a) for a in n.args]
        c = self._add_text(terms)
        c.full = any(t.full for t, a in zip(terms, n.args) if not a.is_scalar) or n.is_scalar
        return c

    def op_transpose(self, n):
        c = self.expr(n.args[0])
        return Code(wrap(c, ATOM) + ".T", ATOM, c.full, c.alias)

    def op_matmul(self, n):
        a, b = n.args
        t = A.transpose(n)                              # xᵀ Bᵀ is a cached (B x), transposed
        if id(t) in self.named:
            c = self.expr(t)
            return Code(wrap(c, ATOM) + ".T", ATOM, c.full, c.alias)
        if a.op == "diag":                              # diag(v) B = v ∘ rows of B
            v, B = self.full(a.args[0]), self.expr(b)
            return Code(f"{wrap(v, MUL)} * {wrap(B, MUL + 1)}", MUL, B.full or b.cols == ONE)
        if b.op == "diag":                              # A diag(v) = columns of A scaled by v
            Am, v = self.expr(a), self.full(b.args[0])
            return Code(f"{wrap(Am, MUL)} * {wrap(v, ATOM)}.T", MUL, Am.full or a.rows == ONE)
        if a.op == "ones":
            if a.cols == ONE:                           # 𝟏 r: r broadcast down the rows
                c = self.expr(b)
                return Code(c.text, c.prec, c.full and a.rows == ONE, c.alias)
            B = self.full(b)
            return Code(f"{wrap(B, ATOM)}.sum(axis=0, keepdims=True)", ATOM, a.rows == ONE)
        if b.op == "ones":
            if b.rows == ONE:                           # c 𝟏ᵀ: c broadcast across the columns
                c = self.expr(a)
                return Code(c.text, c.prec, c.full and b.cols == ONE, c.alias)
            Am = self.full(a)
            return Code(f"{wrap(Am, ATOM)}.sum(axis=1, keepdims=True)", ATOM, b.cols == ONE)
        x, y = self.full(a), self.full(b)
        if n.is_scalar:                                 # uᵀv: a dot product, a NumPy scalar
            u = self.full(a.args[0]) if a.op == "transpose" else x
            return Code(self.target.vdot.format(a=u.text, b=y.text, a_=wrap(u, ATOM), b_=wrap(y, ATOM)))
        if a.cols == ONE and a.rows != ONE and b.cols != ONE:   # outer product
            if _EINSUM_OUTER[0] <= known_size(a.rows) * known_size(b.cols) <= _EINSUM_OUTER[1]:
                return Code(self.target.outer.format(a=x.text, b=y.text))
            return Code(f"{wrap(x, MUL)} * {wrap(y, MUL + 1)}", MUL)
        if self.target.narrow and a.op == "transpose" and b.cols != ONE and known_size(b.cols) <= _NARROW < known_size(a.rows):
            # Aᵀ B with a few columns: (Bᵀ A)ᵀ, which OpenBLAS computes about twice as fast
            xa = self.full(a.args[0])
            return Code(f"({wrap(y, ATOM)}.T @ {wrap(xa, MUL + 1)}).T")
        if a.op != "transpose" and b.cols != ONE and known_size(b.cols) <= _NARROW \
                and (known_size(a.rows) * known_size(a.cols) >= _SKINNY or known_size(a.rows) >= _TALL):
            # A B with a few columns and a large or tall A (X W in softmax regression): (Bᵀ Aᵀ)ᵀ,
            # which OpenBLAS computes 1.1-1.45x as fast from about 2¹⁹ entries or 1000 rows of A
            # (benchmarks/bench_codegen.py --orientations); below that the plain product is faster
            return Code(f"({wrap(y, ATOM)}.T @ {wrap(x, ATOM)}.T).T")
        return Code(f"{wrap(x, MUL)} @ {wrap(y, MUL + 1)}", MUL)

    def op_pow(self, n):
        p = n.attrs[0]
        c = self.expr(n.args[0])
        if p == Fraction(1, 2):
            return Code(f"{self.target.module}.sqrt({c.text})", ATOM, c.full)
        if p == Fraction(-1, 2):
            return Code(f"1.0 / {self.target.module}.sqrt({c.text})", MUL, c.full)
        if p < 0:
            q = -p
            den = wrap(c, ATOM) if q == 1 else f"{wrap(c, ATOM)} ** {number_literal(q)}"
            return Code(f"1.0 / {den}", MUL, c.full)
        return Code(f"{wrap(c, ATOM)} ** {number_literal(p)}", POW, c.full)

    def op_ew(self, n):
        name, order = n.attrs
        z = self.expr(n.args[0])
        spec = ELEMENTWISE.get(name)
        if spec is not None:
            if spec.large and order == 0 and self.target.name == "numpy" and _is_large(n, spec.large[2]):
                template, helper, _ = spec.large
                self.use_helpers((helper,))
                return Code(template.format(z.text), ATOM, z.full)
            codes = spec.codes(self.target.name)
            if order < len(codes):
                self.use_helpers(spec.helpers)
                return Code(codes[order].format(z.text), ATOM, z.full)
            if order >= len(spec.numpy):
                return Code("0.0", ATOM, False)
            raise UnsupportedError(f"no {self.target.name} code for derivative {order} of {name}")
        fn = self.namer.function(name)
        self.read(fn)
        # a user's function may hand back its argument: its result is never written into
        return Code(f"{fn}[{order}]({self.full(n.args[0]).text})", ATOM, True, "call")

    def op_ew2(self, n):
        name, order = n.attrs
        a, b = self.expr(n.args[0]), self.expr(n.args[1])
        codes = BINARY[name].codes(self.target.name)
        spec = BINARY[name]
        text = codes[min(order, len(codes) - 1)].format(a=a.text, b=b.text, a_=wrap(a, MUL + 1),
                                                                 b_=wrap(b, MUL))
        if not spec.broadcast:
            return Code(text, ATOM, a.full)
        full = any(c.full and not arg.is_scalar for c, arg in zip((a, b), n.args)) or n.is_scalar
        if not full and not n.is_scalar:                # max(𝟏, s): both broadcast, the result must not
            return Code(self.target.full.format(shape=self.shape(n), v=text), ATOM, True)
        return Code(text, ATOM, full)

    def op_sum(self, n):
        axis = n.attrs[0]
        a = n.args[0]
        if axis is None and a.op == "pow" and a.attrs[0] == 2 and id(a) not in self.named:
            x = self.full(a.args[0])                   # Σ x² as a dot product: no temporary
            return Code(self.target.vdot.format(a=x.text, b=x.text, a_=wrap(x, ATOM), b_=wrap(x, ATOM)))
        c = self.full(n.args[0])
        if axis is None:
            return Code(f"{self.target.module}.sum({c.text})")
        return Code(f"{wrap(c, ATOM)}.sum(axis={axis - 1}, keepdims=True)")

    def op_softmax(self, n):
        z, axis = n.args[0], n.attrs[0] - 1
        ls = A.softmax_family("log_softmax", z, n.attrs[0])
        lse = A.softmax_family("logsumexp", z, n.attrs[0])
        exp = f"{self.target.module}.exp"
        if id(ls) in self.forward_of:                   # reuse the cached log-softmax
            return Code(f"{exp}({self.expr(ls).text})")
        if id(lse) in self.forward_of:
            return Code(f"{exp}({self.full(z).text} - {wrap(self.expr(lse), ADD + 1)})")
        self.use_helpers(self.target.softmax_helpers)
        return Code(self.target.softmax.format(x=self.full(z).text, axis=axis))

    def op_log_softmax(self, n):
        z, axis = n.args[0], n.attrs[0] - 1
        lse = RULES["logsumexp"].code                   # the logsumexp entry's template, per target
        self.use_helpers(lse.helpers)
        zc = self.full(z)
        return Code(f"{wrap(zc, ADD)} - " + lse.text(self.target.name).format(x=zc.text, axis=axis), ADD)
