"""One elementwise region through SymPy: the region as a scalar function, its candidates, soundness.

``_Region(root).best()`` converts the region rooted at ``root`` into a SymPy expression in one
symbol per leaf and function application (numbered in graph order), tries the cancelled, the
factored and the sigmoid- and one-hot-rewritten forms, rejects any candidate that drops a
denominator factor that may vanish, and maps the smallest one (``measure``) back to graph
nodes, or returns None.  ``_Skip`` is raised for a region too large or with nothing to simplify.
``elementwise`` decides which regions to hand here and memoises the result on the node.
"""
from __future__ import annotations

from fractions import Fraction

from matcalc.core import algebra as A
from matcalc.core.graph import Node
from matcalc.core.optional import lazy_module
from matcalc.core.rebuild import postorder
from matcalc.simplify.sympy_memo import remember

sp = lazy_module("sympy")    # imported by the first region worth handing to SymPy (``_scan`` says which)

MAX_REGION = 48          # region nodes (tree count) handed to SymPy at most
MAX_SYMBOLS = 10         # distinct leaves and function applications
MAX_EXPONENT = 8         # |integer exponent| inside a region
MAX_VARIANTS = 8         # rewritten forms of a region tried at most (a count: output never depends on load)
_POSITIVE = ("exp", "sigmoid", "softplus")
_NONNEGATIVE = ("sqrt",)


def is_internal(n: Node) -> bool:
    """Part of an elementwise region (function applications are atoms of the region)."""
    return n.op in ("add", "hadamard", "pow", "ew") or n.op == "scale" and bool(n.args)


def is_atom(n: Node) -> bool:
    return n.op == "ew" or n.op == "pow" and n.attrs[0].denominator != 1


def _is_constant(n: Node) -> bool:
    return n.op in ("ones", "zero") or n.op == "scale" and not n.args


class _Skip(Exception):
    """The region is too large or has nothing to simplify."""


# ---------------------------------------------------------------------- measuring
def _postorder(root: Node, into_atoms: bool) -> list[Node]:
    """The region's nodes, children first; leaves are not entered (atoms only if asked)."""
    return postorder(root, lambda n: n.args if is_internal(n) and (into_atoms or not is_atom(n)) else ())


def measure(root: Node) -> tuple[int, int]:
    """(occurrences of leaves and function applications, size) of a region as a tree: the size
    counts nodes, and a division twice (``σ(z) ∘ (1 − σ(z))`` is smaller than ``e ⊘ (1 + e)²``)."""
    memo: dict[int, tuple[int, int]] = {}
    for n in _postorder(root, into_atoms=True):
        if _is_constant(n):
            r = (0, 1)
        elif is_atom(n):
            r = (1, 1 + memo[id(n.args[0])][1])
        elif is_internal(n):
            parts = [memo[id(a)] for a in n.args]
            r = (sum(p[0] for p in parts), 1 + (n.op == "pow" and n.attrs[0] < 0) + sum(p[1] for p in parts))
        else:
            r = (1, 1)
        memo[id(n)] = r
    return memo[id(root)]


# ---------------------------------------------------------------------- one region
class _Region:
    def __init__(self, root: Node):
        self.root = root
        self.shape = root.shape
        self.sym_node: dict[sp.Symbol, Node] = {}      # symbol -> graph node it stands for
        self.keys: dict[tuple, sp.Symbol] = {}
        self.exp_args: dict[sp.Symbol, Node] = {}      # E symbol -> u, for exp(u)
        self.bounded: dict[sp.Symbol, sp.Expr] = {}    # σ, tanh in terms of a positive T
        self.memo: dict[int, sp.Expr] = {}
        self._scan()

    # ------------------------------------------------------------ when to try at all
    def _scan(self) -> None:
        """Count what the region holds; skip it unless SymPy could make it smaller."""
        adds = divisions = nested = count = 0
        uses: dict[tuple, int] = {}
        leaves: list[Node] = []
        stack: list[tuple[Node, Node | None]] = [(self.root, None)]
        while stack:
            n, parent = stack.pop()
            count += 1
            if count > MAX_REGION:
                raise _Skip
            if _is_constant(n):
                continue
            if is_atom(n) or not is_internal(n):
                related = n.op == "ew" and n.attrs[1] == 0 and n.attrs[0] in ("exp", "sigmoid")
                key = ("arg", id(n.args[0])) if related else ("n", id(n))
                uses[key] = uses.get(key, 0) + 1
                leaves.append(n)
                continue
            if n.op == "add":
                adds += 1
                if parent is not None and parent.op != "add":
                    nested += 1
            if n.op == "pow":
                e = n.attrs[0]
                if abs(e) > MAX_EXPONENT:
                    raise _Skip
                divisions += e < 0
            stack.extend((a, n) for a in n.args)
        self.divisions = divisions
        exps = divisions and any(k[0] == "arg" for k in uses)     # 1 ⊘ (1 + exp(−u)) is σ(u)
        exps = exps or _onehot_with_vectors(leaves)                # y ∘ v = (yᵀv) y
        if not adds or not (divisions or nested) or max(uses.values(), default=0) < 2 and not exps:
            raise _Skip
        if len(uses) > MAX_SYMBOLS:
            raise _Skip

    # ------------------------------------------------------------ graph -> SymPy
    def _symbol(self, key: tuple, node: Node, kind: str) -> sp.Symbol:
        if key in self.keys:
            return self.keys[key]
        name = f"{'a' if key[0] == 'n' else 'f'}{len(self.keys):02d}"   # leaves sort first
        if kind == "positive":
            s = sp.Symbol(name, positive=True)
        elif kind == "nonnegative":
            s = sp.Symbol(name, nonnegative=True)
        else:
            s = sp.Symbol(name, real=True)
        self.keys[key] = s
        self.sym_node[s] = node
        return s

    def _atom(self, n: Node) -> sp.Expr:
        if n.op == "pow":                              # b^(k/q) = (b^(1/q))^k
            e = n.attrs[0]
            base = n.args[0]
            root = A.pow_(base, Fraction(1, e.denominator))
            s = self._symbol(("root", id(base), e.denominator), root, "nonnegative")
            return s ** e.numerator
        name, order = n.attrs
        kind = "positive" if order == 0 and name in _POSITIVE else \
            "nonnegative" if order == 0 and name in _NONNEGATIVE else "real"
        s = self._symbol(("ew", name, order, id(n.args[0])), n, kind)
        if order == 0 and name == "exp":
            self.exp_args[s] = n.args[0]
        if order == 0 and name in ("sigmoid", "tanh") and s not in self.bounded:
            t = sp.Symbol(f"t{len(self.bounded):02d}", positive=True)
            self.bounded[s] = 1 / (1 + t) if name == "sigmoid" else (t - 1) / (t + 1)
        return s

    def to_sympy(self, root: Node) -> sp.Expr:
        self.nodes = _postorder(root, into_atoms=False)
        for n in self.nodes:
            self.memo[id(n)] = self._convert(n)
        return self.memo[id(root)]

    def _convert(self, n: Node) -> sp.Expr:
        if n.op == "ones":
            return sp.Integer(1)
        if n.op == "zero":
            return sp.Integer(0)
        if n.op == "scale" and not n.args:
            c = n.attrs[0]
            return sp.Rational(c.numerator, c.denominator)
        if is_atom(n):
            return self._atom(n)
        if not is_internal(n):
            n = _as_dot(n)                              # sum(y ∘ p) is yᵀp: one symbol for both
            return self._symbol(("n", id(n)), n, "positive" if _positive(n) else "real")
        args = [self.memo[id(a)] for a in n.args]
        if n.op == "add":
            return sp.Add(*args)
        if n.op == "hadamard":
            return sp.Mul(*args)
        if n.op == "pow":
            return args[0] ** int(n.attrs[0])
        c = n.attrs[0]                                  # scale
        return sp.Mul(sp.Rational(c.numerator, c.denominator), *args)

    # ------------------------------------------------------------ candidates
    def best(self) -> Node | None:
        expr = self.to_sympy(self.root)
        risky = self._risky()
        base = measure(self.root)
        found: list[tuple[tuple, int, Node]] = []
        variants = [(expr, {}, True)]
        variants += [(expr.xreplace(sub), sub, False) for sub in (self._sigmoid_substitutions() if self.exp_args else [])]
        variants += [(e, {}, False) for e in self._onehot_forms(expr)]
        for e, sub, original in variants[:MAX_VARIANTS]:
            c = remember(("cancel", e), lambda e=e: sp.cancel(e))
            forms = ([(e, False)] if original else []) + [(c, False)]
            forms += [(f, True) for f in ([] if c.is_number else self._factorings(c))]
            for form, factored in forms:
                node = self._candidate(form, risky, sub)
                if node is None:
                    continue
                m = measure(node)
                if m < base and (factored or m[0] < base[0] or self.divisions):
                    # a product is expanded only to drop terms: s ∘ (1 − s) stays
                    found.append(((m[0], 0 if factored else 1, m[1]), len(found), node))
        if not found:
            return None
        return min(found, key=lambda f: (f[0], f[1]))[2]

    def _sigmoid_substitutions(self) -> list[dict]:
        """exp(u) = σ(u) ⊘ (1 − σ(u)), or = (1 − σ(−u)) ⊘ σ(−u) when some u reads as a negation."""
        out = []
        for sign in (1, -1):
            if sign == -1 and not any(A.split(u)[0] < 0 for u in self.exp_args.values()):
                continue
            sub = {}
            for E, u in self.exp_args.items():
                v = u if sign == 1 else A.neg(u)
                S = self._atom(A.ew("sigmoid", v))
                sub[E] = S / (1 - S) if sign == 1 else (1 - S) / S
            out.append(sub)
        return out

    def _onehot_forms(self, expr: sp.Expr) -> list[sp.Expr]:
        """For a one-hot ``y``: ``y ∘ g(v) = g(yᵀv) y`` entry by entry (the hot entry of ``v`` is
        ``yᵀv``, the others are multiplied by 0), so ``softmax(z) ∘ (1 − y/(yᵀsoftmax(z)))`` is
        ``softmax(z) − y``."""
        out = []
        for Y, node in list(self.sym_node.items()):
            if not (A.assumption(node) == "onehot" and node.is_column):
                continue
            vectors = [s for s, n in self.sym_node.items() if s != Y and not n.is_scalar and s in expr.free_symbols]
            if not vectors or sp.count_ops(expr) > 4 * MAX_REGION:
                continue
            hot = {}
            for v in vectors:
                n = A.matmul(A.transpose(node), self.sym_node[v])
                hot[v] = self._symbol(("n", id(n)), n, "positive" if _positive(n) else "real")
            terms = []
            for t in sp.Add.make_args(sp.expand(expr)):
                k = sp.degree(t, Y) if t.is_polynomial(Y) else 0
                if k >= 1:
                    t = (t / Y ** k * Y).xreplace(hot)
                terms.append(t)
            out.append(sp.Add(*terms))
        return out

    def _bounded_key(self) -> tuple:
        """The bounded substitutions as a key: with the expression, all the SymPy work reads."""
        return tuple(sorted(self.bounded.items(), key=lambda kv: kv[0].name))

    def _factorings(self, c: sp.Expr) -> list[tuple]:
        """factor(c), and factor(c) in the squares of symbols that occur only squared (so
        ``3 h⁴ − 4 h² + 1`` is ``(1 − h²)(1 − 3 h²)``, not ``(h − 1)(h + 1)(3 h² − 1)``);
        memoised (``sympy_memo``)."""
        return remember(("factorings", c, self._bounded_key()), lambda: self._compute_factorings(c))

    def _compute_factorings(self, c: sp.Expr) -> list[tuple]:
        num, den = sp.fraction(c)
        out = [self._factored(num, den)]
        even = {}
        for g in sorted(c.free_symbols, key=sp.default_sort_key):
            if all(m[0] % 2 == 0 for p in (num, den) for m in sp.Poly(p, g).monoms()) \
                    and any(m[0] for m in sp.Poly(num, g).monoms()):
                even[g] = sp.Dummy(positive=True) if g.is_nonnegative else sp.Dummy(real=True)
        if even:
            sub = {g ** 2: u for g, u in even.items()}
            back = {u: g ** 2 for g, u in even.items()}
            coef, factors = self._factored(num.subs(sub), den.subs(sub))
            out.append((coef, [(b.xreplace(back), e) for b, e in factors]))
        return [f for f in out if len(f[1]) > 1 or f[1] and f[1][0][1] != 1]   # genuine products

    def _factored(self, num: sp.Expr, den: sp.Expr) -> tuple:
        """num/den factored as (coefficient, [(base, exponent)]) with readable signs: no leading
        minus, ``1 − σ`` rather than ``σ − 1``, and ``1 − s`` before a leading minus for σ and tanh."""
        cn, fn = sp.factor_list(num)
        cd, fd = sp.factor_list(den)
        coef = cn / cd
        out = [(b, int(e)) for b, e in fn] + [(b, -int(e)) for b, e in fd]
        for i, (b, e) in enumerate(out):                      # (1 − s)², not (s − 1)²
            if b.is_Add and e % 2 == 0 and b.as_coeff_Add()[0] < 0:
                out[i] = (-b, e)
        odd = [i for i, (b, e) in enumerate(out) if b.is_Add and e % 2][:6]
        const = {i: out[i][0].as_coeff_Add()[0] for i in odd}
        bounded = {i: bool(out[i][0].free_symbols & set(self.bounded)) for i in odd}

        def score(flips):
            negs = [i for i in odd if const[i] != 0 and (const[i] < 0) != (i in flips)]
            return (sum(bounded[i] for i in negs), (coef < 0) != (len(flips) % 2 == 1), len(negs), len(flips))
        subsets = [{i for k, i in enumerate(odd) if mask >> k & 1} for mask in range(1 << len(odd))]
        flips = min(subsets, key=score)
        coef = -coef if len(flips) % 2 else coef
        out = [(-b, e) if i in flips else (b, e) for i, (b, e) in enumerate(out)]
        out.sort(key=lambda f: (f[0].is_Add, f[1] < 0, sp.default_sort_key(f[0])))
        return coef, out

    # ------------------------------------------------------------ soundness
    def _risky(self) -> list[sp.Expr]:
        """Factors of the original's denominators that may vanish."""
        out: list[sp.Expr] = []
        for n in self.nodes:
            if n.op == "pow" and n.attrs[0] < 0:
                out += self._zero_factors(1 / self.memo[id(n)])
        return list(dict.fromkeys(out))

    def _zero_factors(self, e: sp.Expr) -> list[sp.Expr]:
        """The factors of the numerator of ``e`` that may vanish (memoised: ``sympy_memo``)."""
        return remember(("zero factors", e, self._bounded_key()), lambda: self._compute_zero_factors(e))

    def _compute_zero_factors(self, e: sp.Expr) -> list[sp.Expr]:
        num = sp.fraction(sp.together(e))[0]
        if num.is_number:
            return []
        return [f for f, _ in sp.factor_list(num)[1] if not self._nonzero(f)]

    def _nonzero(self, f: sp.Expr) -> bool:
        if f.is_positive or f.is_negative:
            return True
        if not (f.free_symbols & set(self.bounded)):
            return False
        num = sp.fraction(sp.cancel(f.xreplace(self.bounded)))[0]
        return bool(num.is_positive or num.is_negative)

    def _candidate(self, form, risky: list[sp.Expr], sub: dict) -> Node | None:
        """The candidate as a graph node, or None when it drops a denominator that may vanish."""
        key = (form[0], tuple(form[1])) if isinstance(form, tuple) else form
        subs = tuple(sorted(sub.items(), key=lambda kv: kv[0].name))
        if not remember(("sound", key, tuple(risky), subs, self._bounded_key()),
                        lambda: self._keeps_denominators(form, risky, sub)):
            return None
        if isinstance(form, tuple):
            coef, factors = form
            node = A.hadamard(self._back(coef), *(A.pow_(self._back(b), e) for b, e in factors))
        else:
            node = self._back(form)
        if node.is_scalar and self.shape != node.shape:
            node = A.scale(node, A.ones(self.shape))
        return node

    def _keeps_denominators(self, form, risky: list[sp.Expr], sub: dict) -> bool:
        """Whether every factor in ``risky`` that may vanish still divides a denominator of
        ``form`` (after ``sub``)."""
        if isinstance(form, tuple):
            _, factors = form
            dens = [b for b, e in factors if e < 0]
            inner = [b for b, _ in factors]
        else:
            dens, inner = [], [form]
        for x in inner:
            dens += [p.base for p in sp.preorder_traversal(x) if p.is_Pow and p.exp.is_negative]
        pieces = [sp.fraction(sp.together(d))[0] for d in dens]
        for q in risky:
            for f in self._zero_factors(q.xreplace(sub)) if sub else [q]:
                if not any(sp.fraction(sp.cancel(p / f))[1].is_number for p in pieces):
                    return False
        return True

    # ------------------------------------------------------------ SymPy -> graph
    def _back(self, e: sp.Expr) -> Node:
        """``e`` as graph nodes, through its ``_recipe`` (SymPy's term order, memoised)."""
        leaves = frozenset(s for s in e.free_symbols if s in self.sym_node)
        return self._build(remember(("recipe", e, leaves), lambda: _recipe(e, leaves)))

    def _build(self, recipe: tuple) -> Node:
        kind = recipe[0]
        if kind == "const":
            return A.const(recipe[1])
        if kind == "symbol":
            return self.sym_node[recipe[1]]
        if kind == "add":
            return A.add(*(self._build(r) for r in recipe[1]))
        if kind == "hadamard":
            return A.hadamard(*(self._build(r) for r in recipe[1]))
        if kind == "pow":
            return A.pow_(self._build(recipe[1]), recipe[2])
        raise _Skip


def _recipe(e: sp.Expr, symbols: set) -> tuple:
    """How ``e`` is built back: nested ``("add" | "hadamard", parts)``, ``("pow", base, k)``,
    ``("const", c)``, ``("symbol", s)``, or ``("skip",)`` for what has no graph form.  Only
    the symbols the region knows (``symbols``) are leaves; the memo key is ``e`` and those."""
    if e.is_Rational:
        return ("const", Fraction(int(e.p), int(e.q)))
    if e.is_Symbol and e in symbols:
        return ("symbol", e)
    if e.is_Add:
        return ("add", tuple(_recipe(t, symbols) for t in e.as_ordered_terms()))
    if e.is_Mul:
        return ("hadamard", tuple(_recipe(f, symbols) for f in e.as_ordered_factors()))
    if e.is_Pow and e.exp.is_Integer:
        return ("pow", _recipe(e.base, symbols), int(e.exp))
    return ("skip",)


def _positive(n: Node) -> bool:
    """A leaf known to be entrywise positive: an assumed-positive variable, a softmax, or
    ``yᵀp`` for a one-hot or probability ``y`` and such a ``p``."""
    if n.op == "var":
        return A.assumption(n) == "positive"
    if n.op == "softmax" or n.op == "ew" and n.attrs[1] == 0 and n.attrs[0] in _POSITIVE:
        return True
    if n.op == "matmul" and n.is_scalar:
        a, b = n.args
        y = a.args[0] if a.op == "transpose" else None
        return y is not None and A.assumption(y) in ("onehot", "probability") and _positive(b)
    return False


def _onehot_with_vectors(leaves: list[Node]) -> bool:
    """A one-hot vector beside another vector leaf: ``y ∘ v = (yᵀv) y`` may shorten the region."""
    hot = any(A.assumption(n) == "onehot" and n.is_column for n in leaves)
    return hot and len({id(n) for n in leaves if not n.is_scalar}) >= 2


def _as_dot(n: Node) -> Node:
    """``sum(a ∘ b)`` of two column vectors as ``aᵀb``; any other node as it is."""
    if n.op == "sum" and n.attrs[0] is None:
        body = n.args[0]
        if body.op == "hadamard" and len(body.args) == 2 and body.is_column \
                and all(a.op != "pow" for a in body.args):
            return A.matmul(A.transpose(body.args[0]), body.args[1])
    return n
