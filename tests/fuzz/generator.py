"""Random well-typed matcalc programs (LANGUAGE.md v1), built by shape so that they type-check.

A program is a list of statements ``(name, Expr)`` whose last one (name ``None``) is the output.
An ``Expr`` is a small tree: ``op``, ``args`` (sub-``Expr``s) and ``shape`` (rows, cols; a scalar is
``(1, 1)``, a column vector ``(n, 1)``, a row vector ``(1, n)``).  The same tree is rendered to
matcalc text (``render``) and evaluated by the independent NumPy evaluator in ``evaluator.py``,
so the oracle never needs matcalc to tell it what the program means.

Reproducible: ``generate(seed, index)`` draws from ``random.Random(f"{seed}:{index}")`` only.
Domains are kept by construction: ``log``/``sqrt``/``./`` get positive arguments (``exp(.)``,
``softplus(.)``, ``x.*x + 1``, positive-assumed names), ``inv``/``logdet`` get ``A'*A + eye(n)``
or an spd-assumed name.  Size and depth are bounded by counts (``max_depth``, ``statements``).

Extension point for LANGUAGE.md v2 (broadcasting, ones/mean/size, indexing, variable exponents,
more functions): add entries to ``V2_BUILDERS`` — a list of ``(shape predicate, builder)`` like
the v1 ones in ``Generator._builders``, the builder a function ``builder(gen, shape, depth)`` of
the generator — and the matching cases in ``evaluator.OPS``.
"""
from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field

SCALAR = (1, 1)

# Names the language allows: letters (Unicode letters included), digits, '_'.  'ｘ' and 'Ｗ' are
# full-width letters that NFKC-normalise onto 'x' and 'W' (a collision the tool must keep apart).
SCALAR_NAMES = ["α", "λ", "s", "t", "c_1", "η"]
VECTOR_NAMES = ["x", "y", "u", "δ", "v2", "ｘ", "lambda", "fn_f"]
MATRIX_NAMES = ["W", "A", "B", "Ω", "W_out", "Ｗ", "np"]
ASSUMPTIONS = {"vector": ["positive", "onehot", "probability"],
               "matrix": ["symmetric", "spd", "positive", "diagonal"]}
# Assumed names are not differentiated by, except 'positive' (a perturbation keeps it valid).
DIFFERENTIABLE_ASSUMPTIONS = {None, "positive"}

ELEMENTWISE = ["exp", "sin", "cos", "tanh", "sigmoid", "relu", "hardtanh", "elu", "softplus", "abs",
               "atan", "erf", "gelu", "silu", "sign"]          # the last five: LANGUAGE.md v2
POSITIVE_ONLY = ["log", "sqrt"]
DERIVATIVE_FORMS = ["tanh", "sigmoid", "sin", "cos", "exp", "softplus"]
GENERIC = ["f", "g"]
V2_BUILDERS: list = []          # (shape predicate, builder(generator, shape, depth))
BROADCAST_OPS = ["add", "sub", "had", "ediv", "max", "min"]


def b_broadcast(gen, s, d) -> Expr:
    """LANGUAGE.md v2: a row vector (1×m) or a column vector (n×1) against an n×m matrix, in any
    elementwise operation of two operands, on either side (NumPy broadcasting in the oracle)."""
    op = gen.rng.choice(BROADCAST_OPS)
    vshape = (1, s[1]) if gen.rng.random() < 0.5 else (s[0], 1)
    mat = gen.expr(s, d)
    vec = gen.positive(vshape, d) if op == "ediv" else gen.expr(vshape, d)
    if op == "ediv":
        return Expr(op, (mat, vec), s)
    if op != "sub" and gen.rng.random() < 0.5:
        return Expr(op, (vec, mat), s)
    return Expr(op, (mat, vec) if gen.rng.random() < 0.7 else (vec, mat), s)


V2_BUILDERS.append((lambda s: s[0] > 1 and s[1] > 1, b_broadcast))


def b_mean(gen, s, d) -> Expr:
    """LANGUAGE.md v2: mean(A) (a scalar), mean(A, 1) (a row), mean(A, 2) (a column)."""
    if s == SCALAR:
        return Expr("mean", (gen.expr(gen.rng.choice([(gen.dim(), 1), (gen.dim(), gen.dim())]), d),), s)
    if s[0] == 1:
        return Expr("mean", (gen.expr((gen.dim(), s[1]), d),), s, 1)
    return Expr("mean", (gen.expr((s[0], gen.dim()), d),), s, 2)


def b_per_size(gen, s, d) -> Expr:
    """LANGUAGE.md v2: an expression over a size constant, size(A, k) or numel(A)."""
    k = gen.rng.choice([1, 2, None])
    size = Expr("size", (gen.expr((gen.dim(), gen.dim()), 0),), SCALAR, k)
    return Expr("sdiv", (gen.expr(s, d), size), s)


V2_BUILDERS.append((lambda s: s == SCALAR or s[0] == 1 or s[1] == 1, b_mean))
V2_BUILDERS.append((lambda s: True, b_per_size))

def _b_index(g, s, d):
    """LANGUAGE.md v2 indexing with a literal (from 1): x[k] of a vector, A[:, k], A[k, :]."""
    r, c = s
    if s == SCALAR:
        n = g.dim()
        return Expr("index", (g.expr((n, 1), d),), s, ("entry", g.rng.randint(1, n)))
    if c == 1:
        m = g.dim()
        return Expr("index", (g.expr((r, m), d),), s, ("col", g.rng.randint(1, m)))
    n = g.dim()
    return Expr("index", (g.expr((n, c), d),), s, ("row", g.rng.randint(1, n)))


V2_BUILDERS.append((lambda s: s[0] == 1 or s[1] == 1, _b_index))


@dataclass(eq=False)
class Expr:
    op: str
    args: tuple = ()
    shape: tuple = SCALAR
    attr: object = None           # name, number, function name, axis ...

    def walk(self):
        yield self
        for a in self.args:
            yield from a.walk()


@dataclass
class Variable:
    name: str
    shape: tuple                  # (), (n,), (n, m) as given to matcalc
    assume: str | None = None


@dataclass
class Program:
    statements: list               # [(name or None, Expr)]
    variables: dict                # name -> Variable
    dim_names: dict = field(default_factory=dict)   # symbolic dim name -> int (shapes use names)

    def text(self) -> str:
        carried = {d for v in self.variables.values() for d in v.shape}
        dims = {v: k for k, v in self.dim_names.items() if v in carried}   # eye(k) needs an input with k
        return "; ".join(render(e, dims) if n is None else f"{n} = {render(e, dims)}" for n, e in self.statements)

    def shapes(self) -> dict:
        back = {v: k for k, v in self.dim_names.items()}
        return {n: tuple(back.get(d, d) for d in v.shape) for n, v in self.variables.items()}

    def assume(self) -> dict:
        return {n: v.assume for n, v in self.variables.items() if v.assume}

    @property
    def output(self) -> Expr:
        return self.statements[-1][1]

    def used_variables(self) -> list[str]:
        used = {e.attr for _, s in self.statements for e in s.walk() if e.op == "var"}
        return [n for n in self.variables if n in used]

    def wrt_candidates(self) -> list[str]:
        return [n for n in self.used_variables() if self.variables[n].assume in DIFFERENTIABLE_ASSUMPTIONS]


def _num(x: float) -> str:
    return repr(x) if x >= 0 else f"({x!r})"


def render(e: Expr, dims: dict | None = None) -> str:
    """matcalc text, fully parenthesised so that precedence never decides a meaning; ``dims``
    maps a concrete size to its symbolic name (for ``eye``)."""
    a = [render(x, dims) for x in e.args]
    op = e.op
    if op in ("var", "ref"):
        return e.attr
    if op == "num":
        return _num(e.attr)
    if op == "eye":
        return f"eye({(dims or {}).get(e.attr, e.attr)})"
    binary = {"add": "+", "sub": "-", "mul": "*", "had": ".*", "ediv": "./", "sdiv": "/"}
    if op in binary:
        return f"({a[0]} {binary[op]} {a[1]})"
    if op == "neg":
        return f"(-{a[0]})"
    if op == "T":
        return f"({a[0]})'"
    if op == "epow":
        return f"({a[0]}).^{_num(e.attr)}"
    if op == "pow":
        return f"({a[0]})^{e.attr}"
    if op == "vpow":
        return f"({a[0]}).^({a[1]})"
    if op == "fn":
        return f"{e.attr}({a[0]})"
    if op == "index":
        kind, k = e.attr
        return f"({a[0]})[{k}]" if kind == "entry" else f"({a[0]})[:, {k}]" if kind == "col" else f"({a[0]})[{k}, :]"
    if op == "dfn":
        return f"{e.attr}'({a[0]})"
    if op == "leaky_relu":
        return f"leaky_relu({a[0]}, {e.attr})"
    if op in ("max", "min", "dot", "kron"):
        return f"{op}({a[0]}, {a[1]})"
    if op in ("sum", "softmax", "log_softmax", "logsumexp", "mean"):
        return f"{op}({a[0]})" if e.attr is None else f"{op}({a[0]}, {e.attr})"
    if op == "size":
        return f"numel({a[0]})" if e.attr is None else f"size({a[0]}, {e.attr})"
    if op in ("tr", "det", "logdet", "norm", "inv", "diagm", "diagv", "vec"):
        return {"diagm": "diag", "diagv": "diag"}.get(op, op) + f"({a[0]})"
    raise ValueError(op)


class Generator:
    """Draws one program; every choice comes from ``self.rng``."""

    def __init__(self, rng: random.Random, max_depth: int = 3):
        self.rng = rng
        self.max_depth = max_depth
        self.variables: dict[str, Variable] = {}
        self.intermediates: list[tuple[str, Expr]] = []
        self.dims = rng.sample([2, 3, 4], 3)
        self.symbolic = rng.random() < 0.3
        self.budget = 28                      # nodes per program

    # ------------------------------------------------------------------ leaves
    def dim(self) -> int:
        return self.rng.choice(self.dims)

    def var(self, shape, assume_ok=True) -> Expr:
        r, c = shape
        kind = "scalar" if shape == SCALAR else "vector" if c == 1 else "matrix" if r > 1 else "row"
        if kind == "row":
            return Expr("T", (self.var((c, 1)),), shape)
        pool = {"scalar": SCALAR_NAMES, "vector": VECTOR_NAMES, "matrix": MATRIX_NAMES}[kind]
        existing = [v for v in self.variables.values() if _shape2(v.shape) == shape]
        if existing and self.rng.random() < 0.6:
            return Expr("var", (), shape, self.rng.choice(existing).name)
        free = [n for n in pool if n not in self.variables]
        if not free:
            free = [f"{pool[0]}_{len(self.variables)}"]
        name = self.rng.choice(free)
        assume = None
        if assume_ok and kind != "scalar" and self.rng.random() < 0.15:
            options = ASSUMPTIONS[kind] if (kind == "vector" or r == c) else ["positive"]
            assume = self.rng.choice(options)
        ext = () if kind == "scalar" else (r,) if kind == "vector" else (r, c)
        self.variables[name] = Variable(name, ext, assume)
        return Expr("var", (), shape, name)

    def leaf(self, shape) -> Expr:
        refs = [(n, e) for n, e in self.intermediates if e.shape == shape]
        roll = self.rng.random()
        if refs and roll < 0.6:
            n, _ = self.rng.choice(refs)
            return Expr("ref", (), shape, n)
        if shape == SCALAR and roll < 0.25:
            return Expr("num", (), shape, self.rng.choice([2.0, 0.5, 3.0, -1.5, 1.0]))
        if shape[0] == shape[1] and roll < 0.12:
            return Expr("eye", (), shape, shape[0])
        return self.var(shape)

    # ------------------------------------------------------------------ builders
    def expr(self, shape, depth) -> Expr:
        self.budget -= 1
        if depth <= 0 or self.budget <= 0:
            return self.leaf(shape)
        if shape == SCALAR and self.rng.random() < 0.6:      # scalars mostly from vectors/matrices
            return self.rng.choice([self.b_reduce, self.b_reduce, self.b_mul])(shape, depth - 1)
        builders = [b for ok, b in self._builders() if ok(shape)] + \
            [functools.partial(b, self) for ok, b in V2_BUILDERS if ok(shape)]
        return self.rng.choice(builders)(shape, depth - 1)

    def _builders(self):
        anys = lambda s: True
        sq = lambda s: s[0] == s[1] and s != SCALAR
        col = lambda s: s[1] == 1 and s[0] > 1
        row = lambda s: s[0] == 1 and s[1] > 1
        sca = lambda s: s == SCALAR
        # kron and vec make products of sizes, which symbolic dimensions cannot match
        kronable = lambda s: not self.symbolic and any(_kron_split(s, self.dims))
        return [
            (anys, self.b_add), (anys, self.b_add), (anys, self.b_sub), (anys, self.b_neg),
            (anys, self.b_had), (anys, self.b_elem), (anys, self.b_elem), (anys, self.b_scale),
            (anys, self.b_sdiv), (anys, self.b_ediv), (anys, self.b_epow), (anys, self.b_maxmin),
            (anys, self.b_generic), (anys, self.b_dform), (anys, self.b_leaky), (anys, self.b_plog),
            (anys, self.b_mul), (anys, self.b_mul), (lambda s: s != SCALAR, self.b_transpose),
            (sca, self.b_reduce), (sca, self.b_reduce), (sca, self.b_reduce), (sca, self.b_spow),
            (sq, self.b_inv), (sq, self.b_mpow), (sq, self.b_diagm), (col, self.b_diagv), (lambda s: col(s) and not self.symbolic, self.b_vec),
            (col, self.b_sum2), (row, self.b_sum1), (row, self.b_lse_rows), (col, self.b_lse_cols2),
            (lambda s: s[0] > 1, self.b_softmax), (kronable, self.b_kron),
        ]

    def b_add(self, s, d):
        return Expr("add", (self.expr(s, d), self.expr(s, d)), s)

    def b_sub(self, s, d):
        return Expr("sub", (self.expr(s, d), self.expr(s, d)), s)

    def b_neg(self, s, d):
        return Expr("neg", (self.expr(s, d),), s)

    def b_had(self, s, d):
        return Expr("had", (self.expr(s, d), self.expr(s, d)), s)

    def b_elem(self, s, d):
        return Expr("fn", (self.expr(s, d),), s, self.rng.choice(ELEMENTWISE))

    def b_generic(self, s, d):
        return Expr("fn", (self.expr(s, d),), s, self.rng.choice(GENERIC))

    def b_dform(self, s, d):
        return Expr("dfn", (self.expr(s, d),), s, self.rng.choice(DERIVATIVE_FORMS))

    def b_leaky(self, s, d):
        return Expr("leaky_relu", (self.expr(s, d),), s, self.rng.choice([0.1, 0.01, 0.2]))

    def b_plog(self, s, d):
        return Expr("fn", (self.positive(s, d),), s, self.rng.choice(POSITIVE_ONLY))

    def b_scale(self, s, d):
        k = self.expr(SCALAR, d - 1) if self.rng.random() < 0.5 else self.leaf(SCALAR)
        pair = (k, self.expr(s, d)) if self.rng.random() < 0.5 else (self.expr(s, d), k)
        return Expr("mul", pair, s)

    def b_sdiv(self, s, d):
        return Expr("sdiv", (self.expr(s, d), self.positive(SCALAR, d - 1)), s)

    def b_ediv(self, s, d):
        return Expr("ediv", (self.expr(s, d), self.positive(s, d - 1)), s)

    def b_epow(self, s, d):
        if self.rng.random() < 0.5:
            return Expr("epow", (self.expr(s, d),), s, self.rng.choice([2.0, 3.0]))
        return Expr("epow", (self.positive(s, d),), s, self.rng.choice([0.5, 1.5, -1.0, 2.5]))

    def b_spow(self, s, d):
        return Expr("pow", (self.expr(s, d),), s, self.rng.choice([2, 3]))

    def b_maxmin(self, s, d):
        op = self.rng.choice(["max", "min"])
        a, b = self.expr(s, d), self.expr(s, d) if self.rng.random() < 0.7 else self.leaf(SCALAR)
        return Expr(op, (a, b) if self.rng.random() < 0.8 else (b, a), s)

    def b_mul(self, s, d):
        k = self.dim() if self.rng.random() < 0.8 else 1
        return Expr("mul", (self.expr((s[0], k), d), self.expr((k, s[1]), d)), s)

    def b_transpose(self, s, d):
        return Expr("T", (self.expr((s[1], s[0]), d),), s)

    def b_reduce(self, s, d):
        n, m = self.dim(), self.dim()
        kind = self.rng.choice(["sum", "tr", "det", "logdet", "norm", "dot", "lse", "quad", "sumhad"])
        if kind == "sum":
            return Expr("sum", (self.expr(self.rng.choice([(n, 1), (n, m)]), d),), s)
        if kind == "tr":
            return Expr("tr", (self.expr((n, n), d),), s)
        if kind == "det":
            return Expr("det", (self.expr((2, 2) if 2 in self.dims else (n, n), d - 1),), s)
        if kind == "logdet":
            return Expr("logdet", (self.spd(n, d),), s)
        if kind == "norm":
            return Expr("norm", (self.expr(self.rng.choice([(n, 1), (n, m)]), d),), s)
        if kind == "dot":
            return Expr("dot", (self.expr((n, 1), d), self.expr((n, 1), d)), s)
        if kind == "lse":
            return Expr("logsumexp", (self.expr((n, 1), d),), s)
        if kind == "quad":
            x = self.expr((n, 1), d - 1)
            return Expr("mul", (Expr("mul", (Expr("T", (x,), (1, n)), self.expr((n, n), d - 1)), (1, n)), x), s)
        return Expr("sum", (Expr("had", (self.expr((n, m), d), self.expr((n, m), d)), (n, m)),), s)

    def b_inv(self, s, d):
        return Expr("inv", (self.spd(s[0], d),), s)

    def b_mpow(self, s, d):
        return Expr("pow", (self.expr(s, d),), s, 2)

    def b_diagm(self, s, d):
        return Expr("diagm", (self.expr((s[0], 1), d),), s)

    def b_diagv(self, s, d):
        return Expr("diagv", (self.expr((s[0], s[0]), d),), s)

    def b_vec(self, s, d):
        splits = [(p, s[0] // p) for p in self.dims if s[0] % p == 0 and s[0] // p in self.dims]
        if not splits:
            return self.b_softmax(s, d)
        return Expr("vec", (self.expr(self.rng.choice(splits), d),), s)

    def b_sum2(self, s, d):
        return Expr("sum", (self.expr((s[0], self.dim()), d),), s, 2)

    def b_sum1(self, s, d):
        return Expr("sum", (self.expr((self.dim(), s[1]), d),), s, 1)

    def b_lse_rows(self, s, d):
        return Expr("logsumexp", (self.expr((self.dim(), s[1]), d),), s)

    def b_lse_cols2(self, s, d):
        return Expr("logsumexp", (self.expr((s[0], self.dim()), d),), s, 2)

    def b_softmax(self, s, d):
        op = self.rng.choice(["softmax", "log_softmax"])
        axis = None if s[1] == 1 or self.rng.random() < 0.5 else 2
        if axis is None and s[1] > 1 and self.rng.random() < 0.3:
            axis = 1
        return Expr(op, (self.expr(s, d),), s, axis)

    def b_kron(self, s, d):
        (a, b) = self.rng.choice(list(_kron_split(s, self.dims)))
        return Expr("kron", (self.expr(a, d), self.expr(b, d)), s)

    # ------------------------------------------------------------------ domains
    def positive(self, s, d) -> Expr:
        """An expression with positive entries whatever the point."""
        roll = self.rng.randrange(6)
        inner = self.expr(s, d - 1)
        if roll == 0:
            return Expr("fn", (inner,), s, "exp")
        if roll == 1:
            return Expr("fn", (inner,), s, "softplus")
        if roll == 2:
            return Expr("fn", (inner,), s, "sigmoid")
        if roll == 3:
            return Expr("add", (Expr("had", (inner, inner), s), Expr("num", (), SCALAR, 1.0)), s)
        if roll == 4 and s != SCALAR and s[0] > 1:
            v = self.var(s, assume_ok=False)
            if self.variables[v.attr].assume is None and self.variables[v.attr].name not in self._used_names():
                self.variables[v.attr].assume = "positive"
            if self.variables[v.attr].assume == "positive":
                return v
        return Expr("add", (Expr("epow", (inner,), s, 2.0), Expr("num", (), SCALAR, 0.5)), s)

    def _used_names(self):
        return {e.attr for _, s in self.intermediates for e in s.walk() if e.op == "var"}

    def spd(self, n, d) -> Expr:
        spd_vars = [v for v in self.variables.values() if v.assume == "spd" and v.shape == (n, n)]
        if spd_vars and self.rng.random() < 0.5:
            return Expr("var", (), (n, n), spd_vars[0].name)
        k = self.dim()
        a = self.expr((k, n), d - 1)
        return Expr("add", (Expr("mul", (Expr("T", (a,), (n, k)), a), (n, n)), Expr("eye", (), (n, n), n)), (n, n))


def _shape2(ext: tuple) -> tuple:
    return SCALAR if len(ext) == 0 else (ext[0], 1) if len(ext) == 1 else ext


def _kron_split(s, dims):
    for p in dims + [1]:
        for q in dims + [1]:
            if s[0] % p == 0 and s[1] % q == 0 and (p, q) != (1, 1) and (s[0] // p, s[1] // q) != (1, 1) \
                    and (p, q) != s and s[0] // p in dims + [1] and s[1] // q in dims + [1]:
                yield (p, q), (s[0] // p, s[1] // q)


INTERMEDIATE_NAMES = ["z", "h", "ζ", "t1", "a_2", "σ", "z1"]


def generate(seed: int, index: int, max_depth: int = 3) -> Program:
    """Example ``index`` of ``seed``: always the same program."""
    rng = random.Random(f"matcalc-fuzz:{seed}:{index}")
    g = Generator(rng, max_depth)
    statements = []
    for name in rng.sample(INTERMEDIATE_NAMES, rng.choice([0, 0, 1, 2, 3])):
        shape = rng.choice([SCALAR, (g.dim(), 1), (g.dim(), 1), (g.dim(), g.dim())])
        e = g.expr(shape, rng.randint(1, max_depth - 1))
        g.budget = max(g.budget, 12)
        g.intermediates.append((name, e))
        statements.append((name, e))
    out_shape = SCALAR if rng.random() < 0.8 else rng.choice([(g.dim(), 1), (g.dim(), g.dim())])
    out = g.expr(out_shape, max_depth)
    statements.append((None, out))
    program = Program(statements, g.variables)
    used = set(program.used_variables())
    program.variables = {n: v for n, v in g.variables.items() if n in used}
    if g.symbolic:
        names = {d: nm for d, nm in zip(sorted(set(g.dims)), ["n", "m", "k"])}
        program.dim_names = {nm: d for d, nm in names.items()}
    return program


def b_vpow(gen, s, d):
    """A variable exponent (LANGUAGE.md v2): a positive base .^ a scalar or same-shaped exponent."""
    roll = gen.rng.random()
    base = gen.positive(SCALAR if roll < 0.2 else s, d - 1)
    p = gen.expr(SCALAR if 0.2 <= roll < 0.6 else s, d - 1)
    return Expr("vpow", (base, p), s)


V2_BUILDERS.append((lambda s: True, b_vpow))
