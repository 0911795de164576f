"""Type a parsed program and build its graph: declared shapes, inference, then construction.

Undeclared names get a kind from their spelling (LANGUAGE.md: upper case a matrix, lower case a
column vector, Greek a scalar) and fresh dimension unknowns, unified through the program
(``W*x`` forces ``cols(W) = rows(x)``; never a 1 to make things fit).  When that fails, the
undeclared lower-case names inside the failing operation are retried as scalars, so ``(x+y)*z``
is a scalar expression.  A clash that survives names both operands, their shapes and the
``--shape`` that would resolve it.
"""
from __future__ import annotations

import difflib
import itertools
import unicodedata
from dataclasses import dataclass, field
from fractions import Fraction

from matcalc.core import algebra as A
from matcalc.core.diff import jvp
from matcalc.core.dims import unknown
from matcalc.core.errors import MatcalcError, NameError_, ShapeError, UnsupportedError
from matcalc.core.graph import ONE, Node, dim
from matcalc.core.rules import DIMENSIONS, FUNCTIONS, RESERVED, RULES, binary_shape
from matcalc.core.rules.index_rules import INDEX, select
from matcalc.language import syntax as ast

GREEK_NAMES = {"alpha", "beta", "gamma", "delta", "lam", "lambda", "mu", "sigma", "eta", "rho", "tau",
               "eps", "epsilon", "theta", "kappa", "nu", "xi", "omega", "phi", "psi", "chi", "zeta"}
ASSUMPTIONS = ("symmetric", "spd", "invertible", "positive", "onehot", "onehot_rows", "probability",
               "diagonal")
FRESH_DIMS = ["n", "m", "k", "p", "q", "r", "d", "c", "l", "t", "s", "h", "j", "u", "v", "w"]


@dataclass
class Typed:
    """A typed program: its output node, variables, named intermediates and notes."""

    output: Node
    variables: dict[str, Node]
    intermediates: dict[str, Node]
    statements: list[tuple[str | None, Node]]
    source: str
    notes: list[str] = field(default_factory=list)


def kind_of(name: str) -> int:
    """Default ndim from the spelling: 0 Greek, 2 upper case, 1 otherwise."""
    first = name[0]
    if name in GREEK_NAMES or "GREEK" in unicodedata.name(first, ""):
        return 0
    return 2 if first.isupper() else 1


@dataclass
class _CallShapes:
    """What a table shape rule sees of a call: the spelling, the arguments' shapes, the syntax
    node (for errors) and the axis argument (1, 2 or None)."""

    name: str
    args: list
    node: object
    axis: int | None


class _Clash(Exception):
    def __init__(self, node, message, operands=(), final=False, namer=None):
        self.node, self.message, self.operands, self.final = node, message, operands, final
        self.namer = namer


def _paren(text: str) -> str:
    """``text`` as a factor of a product: parenthesised unless it is one primary."""
    return text if text.replace("_", "a").replace("'", "").isalnum() else f"({text})"


class _Inference:
    """Union-find over dimension unknowns, walking the AST once."""

    def __init__(self, program: ast.Program, declared: dict, scalar_names: set[str]):
        self.program = program
        self.declared = declared
        self.scalar_names = scalar_names
        self.parent: dict = {}
        self.counter = 0
        self.names: dict[str, tuple] = {}
        self.ndim: dict[str, int] = {}
        self.defined: dict[str, tuple] = {}
        self.retried: list[str] = []

    # -- union-find over dimensions; unknowns are ``dims.unknown()`` symbols
    def fresh(self):
        self.counter += 1
        d = unknown()
        self.parent[d] = d
        return d

    def find(self, d):
        """The representative of ``d``: an unknown, or the constant it was unified with."""
        if d.is_unknown:
            root = d
            while root.is_unknown and self.parent[root] != root:
                root = self.parent[root]
            while d.is_unknown and self.parent[d] != d:      # path compression
                self.parent[d], d = root, self.parent[d]
            return root
        if not d.is_Integer and d.free_symbols & self.parent.keys():
            return d.xreplace({s: self.find(s) for s in d.free_symbols if s in self.parent})
        return d

    def unify(self, a, b) -> bool:
        a, b = self.find(a), self.find(b)
        if a == b:
            return True
        if a.is_unknown and b != ONE:
            self.parent[a] = b
            return True
        if b.is_unknown and a != ONE:
            self.parent[b] = a
            return True
        return False

    def is_scalar(self, s) -> bool:
        return self.find(s[0]) == ONE and self.find(s[1]) == ONE

    # -- walking the program
    def run(self):
        shapes = []
        for st in self.program.statements:
            s = self.expr(st.value)
            if st.name is not None:
                if st.name in RESERVED:
                    raise NameError_(f"{st.name} is a function name and cannot be assigned",
                                     self.program.source, st.start, st.start + len(st.name))
                if st.name in self.names:
                    raise NameError_(f"{st.name} is used as an input before this statement defines it",
                                     self.program.source, st.start, st.start + len(st.name))
                self.defined[st.name] = s
            shapes.append(s)
        return shapes

    def name_shape(self, node: ast.Name):
        n = node.id
        if n in self.defined:
            return self.defined[n]
        if n in RESERVED:
            raise NameError_(f"{n} is a function; call it as {n}(...)", self.program.source,
                             node.start, node.end)
        if self.declared.get(n) == INDEX:
            raise ShapeError(f"{n} is an index name: use it inside brackets (x[{n}], A[:, {n}]) or as "
                             f"unit({n}, n)", self.program.source, node.start, node.end)
        if n not in self.names:
            if n in self.declared:
                shp = self.declared[n]
                self.ndim[n] = len(shp)
                dims = tuple(dim(d) for d in shp)
                s = (ONE, ONE) if len(dims) == 0 else (dims[0], ONE) if len(dims) == 1 else dims
            else:
                k = 0 if n in self.scalar_names else kind_of(n)
                self.ndim[n] = k
                s = (ONE, ONE) if k == 0 else (self.fresh(), ONE) if k == 1 else (self.fresh(), self.fresh())
            self.names[n] = s
        return self.names[n]

    def expr(self, root):
        """The shape of ``root``; an iterative walk, so a 10,000-term sum is no problem."""
        memo: dict[int, tuple] = {}
        for node in postorder(root):
            memo[id(node)] = self.one(node, memo)
        return memo[id(root)]

    def one(self, node, memo):
        if isinstance(node, ast.Num):
            return (ONE, ONE)
        if isinstance(node, ast.Name):
            return self.name_shape(node)
        if isinstance(node, ast.Neg):
            return memo[id(node.operand)]
        if isinstance(node, ast.Transpose):
            r, c = memo[id(node.operand)]
            return (c, r)
        if isinstance(node, ast.BinOp):
            return self.binop(node, memo[id(node.left)], memo[id(node.right)])
        if isinstance(node, ast.Call):
            return self.call(node, memo)
        if isinstance(node, ast.Index):
            return self.index(node, memo[id(node.base)])
        raise MatcalcError(f"unexpected syntax node {type(node).__name__}")

    def index_name(self, item) -> None:
        """An index item: a literal (checked by the parser) or a declared index name."""
        if isinstance(item, ast.Name):
            if self.declared.get(item.id) != INDEX:
                raise ShapeError(f"{item.id} is not an index name: declare it with --shape {item.id}=index "
                                 f'(Python: shapes={{"{item.id}": "index"}})', self.program.source,
                                 item.start, item.end)
            self.names.setdefault(item.id, (ONE, ONE))
            self.ndim[item.id] = 0

    def in_range(self, item, size) -> None:
        size = self.find(size)
        if isinstance(item, ast.Num) and getattr(size, "is_Integer", False) and int(item.value) > int(size):
            raise ShapeError(f"index {int(item.value)} is out of range: the size is {size}", self.program.source,
                             item.start, item.end)

    def index(self, node: ast.Index, base):
        """x[i] (a vector), A[i, j], A[:, j] (a column), A[i, :] (a row)."""
        for item in node.items:
            self.index_name(item)
        src = self.program.source
        text = src[node.base.start:node.base.end]
        if len(node.items) == 1:
            if self.is_scalar(base):
                raise ShapeError(f"{text} is a scalar: it has no entries to index", src, node.start, node.end)
            if self.find(base[1]) == ONE:
                self.in_range(node.items[0], base[0])
            elif self.find(base[0]) == ONE:
                self.in_range(node.items[0], base[1])
            else:
                raise ShapeError(f"{text} is a matrix: write {text}[i, j], {text}[:, j] or {text}[i, :]",
                                 src, node.start, node.end)
            return (ONE, ONE)
        i, j = node.items
        self.in_range(i, base[0]) if i is not None else None
        self.in_range(j, base[1]) if j is not None else None
        return (ONE if i is not None else base[0], ONE if j is not None else base[1])

    def binop(self, node: ast.BinOp, left, right):
        op = node.op
        ops = (node.left, node.right)
        if op in ("+", "-", ".*", "./"):
            return self.elementwise(node, left, right, ops)
        if op == "*":
            if self.is_scalar(left):
                return right
            if self.is_scalar(right):
                return left
            if not self.unify(left[1], right[0]):
                raise _Clash(node, "cannot multiply", ops)
            return (left[0], right[1])
        if op == "/":
            if not self.is_scalar(right):
                raise _Clash(node, "division by a non-scalar (use ./ for elementwise division)", ops)
            return left
        if op in ("^", ".^"):
            if op == ".^" and not self.is_scalar(right):           # a same-shaped exponent (v2)
                return self.elementwise(node, left, right, ops)
            if not self.is_scalar(right):
                raise _Clash(node, "the exponent must be a scalar (use .^ for an elementwise power)", ops)
            if op == ".^" or self.is_scalar(left):
                return left
            if self.find(left[1]) == ONE or self.find(left[0]) == ONE:
                raise _Clash(node, "a matrix power needs a square matrix (use .^ for an elementwise "
                                   "power, or norm(x)^2)", ops)
            if not self.unify(left[0], left[1]):
                raise _Clash(node, "a matrix power needs a square matrix", ops)
            return left
        raise MatcalcError(f"unknown operator {op}")

    def elementwise(self, node, left, right, ops):
        """Equal shapes, a scalar against anything, or (LANGUAGE.md v2) a row vector 1×m against
        an n×m matrix and a column vector n×1 against an n×m matrix, as NumPy broadcasts."""
        if self.is_scalar(left):
            return right
        if self.is_scalar(right):
            return left
        word = {"+": "add", "-": "subtract", ".*": "multiply elementwise", "./": "divide elementwise",
                ".^": "raise elementwise"}.get(getattr(node, "op", None), f"apply {getattr(node, 'func', '')} to")
        lrow, lcol = self.find(left[0]) == ONE, self.find(left[1]) == ONE
        rrow, rcol = self.find(right[0]) == ONE, self.find(right[1]) == ONE
        if (lrow and rcol) or (lcol and rrow):
            row, col = (ops[0], ops[1]) if lrow else (ops[1], ops[0])
            src, names = self.program.source, _DimNamer(self)
            rtext, ctext = src[row.start:row.end], src[col.start:col.end]
            n, m = names.dim((left if lcol else right)[0]), names.dim((left if lrow else right)[1])
            op = getattr(node, "op", "+")
            c, r = f"{_paren(ctext)}*ones(1, {m})", f"ones({n})*{_paren(rtext)}"
            pair = (c, r) if lcol else (r, c)
            suggestion = f"{pair[0]} {op} {pair[1]}" if op in ("+", "-") else f"({pair[0]}) {op} ({pair[1]})"
            raise _Clash(node, f"cannot {word} a row vector and a column vector: they never broadcast to a "
                               f"matrix (for the {n}×{m} matrix write {suggestion})", ops, final=True, namer=names)
        if lrow != rrow and not (lcol or rcol):         # a row against a matrix: every row
            if self.unify(left[1], right[1]):
                return right if lrow else left
        elif lcol != rcol and not (lrow or rrow):       # a column against a matrix: every column
            if self.unify(left[0], right[0]):
                return right if lcol else left
        elif self.unify(left[0], right[0]) and self.unify(left[1], right[1]):
            return left
        raise _Clash(node, f"cannot {word}", ops)

    def call(self, node: ast.Call, memo):
        f = node.func
        src = self.program.source
        if f in DIMENSIONS:
            rule = DIMENSIONS[f]
            if rule.indexed and node.args:
                self.index_item(node.args[0])
            dims = [ONE if rule.indexed and k == 0 else self.dim_arg(a) for k, a in enumerate(node.args)]
            lo, hi = rule.arity
            if not lo <= len(dims) <= hi:
                words = {1: "one", 2: "two"}
                takes = words[lo] if lo == hi else f"{words[lo]} or {words[hi]}"
                raise ShapeError(f"{f} takes {takes} dimension{'s' if hi > 1 else ''}", src, node.start, node.end)
            return rule.shape(dims)
        args = [memo[id(a)] for a in node.args]
        spec = FUNCTIONS.get(f)
        if spec is None:
            if len(args) != 1:
                close = difflib.get_close_matches(f, list(FUNCTIONS), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise NameError_(f"unknown function {f} with {len(args)} arguments{hint}; an unknown "
                                 "name applied to one argument is a generic elementwise function",
                                 src, node.start, node.start + len(f))
            return args[0]
        lo, hi = spec.arity
        if not lo <= len(args) <= hi:
            want = str(lo) if lo == hi else f"{lo} or {hi}"
            raise ShapeError(f"{f} takes {want} argument{'s' if hi > 1 else ''}, got {len(args)}",
                             src, node.start, node.end)
        if node.deriv and spec.prime is None:
            raise UnsupportedError(f"{f}{chr(39) * node.deriv}: only elementwise functions have f' "
                                   "in the language", src, node.start, node.end)
        axis = None
        if spec.axis and len(node.args) == 2:
            ax = node.args[1]
            if not (isinstance(ax, ast.Num) and ax.value in (1, 2)):
                raise ShapeError(f"the axis of {f} is the number 1 (columns) or 2 (rows)", src, ax.start, ax.end)
            axis = int(ax.value)
        return spec.shape(self, _CallShapes(f, args, node, axis))

    def clash(self, node, message: str, operands=()):
        """A shape rule's failure: retried with scalars, else reported with both operands."""
        raise _Clash(node, message, operands)

    def index_item(self, node) -> None:
        """The index argument of unit(o, n): an integer literal from 1 or an index name."""
        if isinstance(node, ast.Num) and node.value == int(node.value) and node.value >= 1:
            return
        if isinstance(node, ast.Name):
            self.index_name(node)
            return
        raise ShapeError("an index is an integer literal (from 1) or an index name (--shape o=index)",
                         self.program.source, node.start, node.end)

    def dim_arg(self, node):
        if isinstance(node, ast.Num) and node.value == int(node.value) and node.value >= 1:
            return dim(int(node.value))
        if isinstance(node, ast.Name):
            return dim(node.id)
        k = size_call(node, self.program.source)
        shape = self.expr(node.args[0])
        return self.find(shape[0]) * self.find(shape[1]) if k is None else self.find(shape[k - 1])


def size_call(node, source: str) -> int | None:
    """A dimension argument ``size(A, k)`` (its k) or ``numel(A)`` (None); else the error."""
    if isinstance(node, ast.Call) and not node.deriv:
        if node.func == "numel" and len(node.args) == 1:
            return None
        if node.func == "size" and len(node.args) == 2:
            ax = node.args[1]
            if isinstance(ax, ast.Num) and ax.value in (1, 2):
                return int(ax.value)
            raise ShapeError("the k of size(A, k) is the number 1 (rows) or 2 (columns)", source, ax.start, ax.end)
    raise ShapeError("a dimension is a positive integer, a name, size(A, k) or numel(A)", source,
                     node.start, node.end)


def children(node, flatten_sums: bool = False) -> list:
    """The sub-expressions of an AST node (the terms of a whole ``+``/``-`` chain if asked)."""
    if isinstance(node, (ast.Neg, ast.Transpose)):
        return [node.operand]
    if isinstance(node, ast.BinOp):
        if flatten_sums and node.op in ("+", "-"):
            return [t for _, t in sum_terms(node)]
        return [node.left, node.right]
    if isinstance(node, ast.Call) and node.func not in DIMENSIONS:
        return list(node.args)
    if isinstance(node, ast.Index):
        return [node.base]
    return []


def sum_terms(node) -> list[tuple[int, object]]:
    """The signed terms of a left-nested chain of ``+`` and ``-``."""
    terms = []
    while isinstance(node, ast.BinOp) and node.op in ("+", "-"):
        terms.append((1 if node.op == "+" else -1, node.right))
        node = node.left
    terms.append((1, node))
    return terms[::-1]


def postorder(root, flatten_sums: bool = False) -> list:
    """AST nodes children-first, without recursion."""
    out, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            out.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(children(node, flatten_sums)))
    return out


def names_in(node) -> list[str]:
    out: list[str] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Name):
            out.append(n.id)
        elif isinstance(n, (ast.Neg, ast.Transpose)):
            stack.append(n.operand)
        elif isinstance(n, ast.BinOp):
            stack += [n.left, n.right]
        elif isinstance(n, ast.Call) and n.func not in DIMENSIONS:
            stack += list(n.args)
        elif isinstance(n, ast.Index):
            stack.append(n.base)
    return out


def infer(program: ast.Program, declared: dict) -> tuple[_Inference, list]:
    """Run inference, retrying lower-case names as scalars where vectors do not fit."""
    scalar_names: set[str] = set()
    first_error = None
    for _ in range(64):
        inf = _Inference(program, declared, scalar_names)
        try:
            shapes = inf.run()
            inf.retried = [n for n in inf.names if n in scalar_names]
            return inf, shapes
        except _Clash as clash:
            first_error = (clash, inf) if clash.final else first_error or (clash, inf)
            if clash.final:
                break
            candidates = {n for n in names_in(clash.node)
                          if n not in declared and n not in scalar_names and n in inf.names
                          and inf.ndim.get(n) == 1}
            if not candidates:
                break
            scalar_names |= candidates
    clash, inf = first_error
    raise _clash_error(clash, inf, program.source)


def generic_note(f: str) -> str:
    """The note for a function name that is not known, hence generic (with a close known name)."""
    close = difflib.get_close_matches(f, list(FUNCTIONS), n=1, cutoff=0.75)
    hint = f"; did you mean {close[0]}?" if close else ""
    return (f"{f} is not a known function: taken as a generic elementwise function {f}(z) with "
            f"derivative {f}'(z){hint}")


def retry_note(name: str) -> str:
    """The note for a name whose kind came from the scalar retry, not from its spelling."""
    return (f"{name} was taken as a scalar because it did not fit as a vector; declare "
            f"--shape {name}=... to change that")


def _clash_error(clash: _Clash, inf: _Inference, source: str) -> ShapeError:
    names = clash.namer or _DimNamer(inf)
    parts = []
    for operand in clash.operands:
        text = source[operand.start:operand.end]
        try:
            s = inf.expr(operand)
            parts.append(f"{text} is {names.shape(s)}")
        except Exception:  # noqa: BLE001 - the description is best effort
            parts.append(text)
    expr_text = source[clash.node.start:clash.node.end]
    detail = f": {' but '.join(parts)}" if parts else ""
    undeclared = [n for n in dict.fromkeys(names_in(clash.node)) if n not in inf.declared]
    hint = ""
    if undeclared and not clash.final:
        hint = (" — declare the shapes, e.g. " +
                " ".join(f"--shape {n}={names.example(inf, n)}" for n in undeclared[:3]))
    return ShapeError(f"{expr_text}: {clash.message}{detail}{hint}", source, clash.node.start,
                      clash.node.end)


class _DimNamer:
    """Readable names for dimension unknowns in error messages (n, m, k, ...)."""

    def __init__(self, inf):
        self.inf, self.names = inf, {}

    def dim(self, d) -> str:
        d = self.inf.find(d)
        if d.is_unknown:
            if d not in self.names:
                self.names[d] = FRESH_DIMS[len(self.names) % len(FRESH_DIMS)]
            return self.names[d]
        return str(d)

    def shape(self, s) -> str:
        return f"{self.dim(s[0])}×{self.dim(s[1])}"

    def example(self, inf, name) -> str:
        s = inf.names.get(name)
        if s is None or inf.is_scalar(s):
            return "scalar"
        if inf.ndim.get(name) == 1:
            return self.dim(s[0])
        return f"{self.dim(s[0])},{self.dim(s[1])}"


def build(program: ast.Program, shapes: dict | None = None, assume: dict | None = None,
          sizes: bool = False) -> Typed:
    """Typed graph of ``program`` with ``shapes`` declared and ``assume`` attached to names.

    ``sizes``: a name that nothing declares or defines but that is a declared dimension stands
    for that size (``ones(n)/n``), as a printed result and an answer write a count; the reader of
    a printed result and the grader ask for it, where every variable is declared."""
    declared = dict(shapes or {})
    counts = _dimension_names(program, declared) if sizes else set()
    declared.update({n: () for n in counts})
    assume = dict(assume or {})
    for n, a in assume.items():
        if a not in ASSUMPTIONS:
            raise MatcalcError(f"unknown assumption {a!r} for {n}: one of {', '.join(ASSUMPTIONS)}")
    inf, _ = infer(program, declared)
    resolved = _resolve_dims(inf, program, declared)
    variables: dict[str, Node] = {}
    for n, s in inf.names.items():
        shape = (resolved(s[0]), resolved(s[1]))
        a = assume.get(n)
        if a in ("spd", "symmetric", "invertible", "diagonal") and shape[0] != shape[1]:
            raise ShapeError(f"{n} is assumed {a} but is {shape[0]}×{shape[1]}, not square")
        if declared.get(n) == INDEX:
            a = INDEX                      # an integer input; nothing is differentiated by it
        variables[n] = A.var(n, shape, inf.ndim[n], a)
    for n in assume:
        if n not in variables:
            raise NameError_(f"the assumption names {n}, which the expression does not use")
    builder = _Builder(program, variables)
    for n in counts:
        del variables[n]
        builder.env[n] = A.size(dim(n))
    builder.notes.extend(retry_note(n) for n in inf.retried)
    statements = []
    for st in program.statements:
        node = builder.expr(st.value)
        if st.name is not None:
            builder.env[st.name] = node
        statements.append((st.name, node))
    intermediates = {n: v for n, v in statements if n is not None}
    return Typed(statements[-1][1], variables, intermediates, statements, program.source, builder.notes)


def _dimension_names(program: ast.Program, declared: dict) -> set[str]:
    """The names ``program`` uses that no statement defines, not declared, and that name a
    declared dimension."""
    dims = {d for s in declared.values() if isinstance(s, tuple) for d in s if isinstance(d, str)}
    defined = {st.name for st in program.statements if st.name is not None}
    used = {n for st in program.statements for n in names_in(st.value)}
    return {n for n in used & dims if n not in declared and n not in defined}


def _resolve_dims(inf: _Inference, program, declared):
    used = set(inf.names) | {str(s) for shp in declared.values() if shp != INDEX for s in shp if isinstance(s, str)}
    # lazily: building the 10,000 fallback names on every call cost ~2.5 ms per build
    free = (d for d in itertools.chain(FRESH_DIMS, (f"d{i}" for i in range(1, 10_000))) if d not in used)
    mapping: dict = {}

    def resolve(d):
        d = inf.find(d)
        for s in sorted(d.free_symbols, key=lambda s: (len(s.name), s.name)):     # unknowns by serial
            if s.is_unknown and s not in mapping:
                mapping[s] = dim(next(free))
        return d.xreplace(mapping)
    for n in inf.names:           # name dimensions in order of appearance
        for d in inf.names[n]:
            resolve(d)
    return resolve


class _Builder:
    """AST → graph nodes through the rule table's builders."""

    def __init__(self, program: ast.Program, variables: dict[str, Node]):
        self.program, self.env, self.notes = program, dict(variables), []

    def expr(self, root) -> Node:
        memo: dict[int, Node] = {}
        for node in postorder(root, flatten_sums=True):
            try:
                memo[id(node)] = self.one(node, memo)
            except MatcalcError as e:
                if e.pos is None:
                    raise type(e)(e.message, self.program.source, node.start, node.end) from None
                raise
        return memo[id(root)]

    def one(self, node, memo) -> Node:
        if isinstance(node, ast.Num):
            try:
                return A.const(Fraction(node.text))
            except (ValueError, ZeroDivisionError):
                return A.const(node.value)
        if isinstance(node, ast.Name):
            return self.env[node.id]
        if isinstance(node, ast.Neg):
            return A.neg(memo[id(node.operand)])
        if isinstance(node, ast.Transpose):
            return A.transpose(memo[id(node.operand)])
        if isinstance(node, ast.BinOp):
            if node.op in ("+", "-"):
                terms = broadcast(*(memo[id(t)] for _, t in sum_terms(node)))
                return A.add(*(t if sign > 0 else A.neg(t) for (sign, _), t in zip(sum_terms(node), terms)))
            a, b = memo[id(node.left)], memo[id(node.right)]
            op = node.op
            if op in (".*", "./"):
                a, b = broadcast(a, b)
            if op == "*":
                return A.matmul(a, b)
            if op == ".*":
                return A.hadamard(a, b)
            if op == "/":
                return A.scale(A.pow_(b, -1), a) if not a.is_scalar else A.hadamard(a, A.pow_(b, -1))
            if op == "./":
                return A.hadamard(a, A.pow_(b, -1))
            return self.power(node, a, b)
        if isinstance(node, ast.Index):
            base = memo[id(node.base)]
            items = [self.index_node(i) for i in node.items]
            if len(items) == 2:
                return select(base, *items)
            return select(base, items[0], None) if base.is_column else select(base, None, items[0])
        return self.call(node, memo)

    def dim_arg(self, a):
        """A dimension argument's size: a literal, a name, ``size(A, k)`` or ``numel(A)``."""
        if isinstance(a, ast.Num):
            return dim(int(a.value))
        if isinstance(a, ast.Name):
            return dim(a.id)
        k = size_call(a, self.program.source)
        shape = self.expr(a.args[0]).shape
        return shape[0] * shape[1] if k is None else shape[k - 1]

    def index_node(self, item) -> Node | None:
        if item is None:
            return None
        return A.const(int(item.value)) if isinstance(item, ast.Num) else self.env[item.id]

    def power(self, node, a, b):
        if not A.is_const(b):
            if node.op == "^" and not a.is_scalar:
                raise UnsupportedError("a matrix power keeps an integer literal exponent (use .^ for an "
                                       "elementwise power)", self.program.source, node.right.start, node.right.end)
            if node.op == ".^":                                  # X.^p': a row exponent for every row
                a, b = broadcast(a, b)
            return RULES["power"].build(a, b)                    # any exponent, variables included
        p = b.attrs[0]
        if node.op == ".^" or a.is_scalar:
            return A.pow_(a, p)
        if p.denominator != 1:
            raise UnsupportedError("a matrix power must be an integer", self.program.source,
                                   node.right.start, node.right.end)
        return A.matpow(a, int(p))

    def call(self, node: ast.Call, memo) -> Node:
        f = node.func
        if f in DIMENSIONS:
            if DIMENSIONS[f].indexed:
                return DIMENSIONS[f].build([self.dim_arg(a) for a in node.args], self.index_node(node.args[0]))
            return DIMENSIONS[f].build([self.dim_arg(a) for a in node.args])
        args = [memo[id(a)] for a in node.args]
        if f not in FUNCTIONS:
            note = generic_note(f)
            if note not in self.notes:
                self.notes.append(note)
            return A.ew(f, args[0], node.deriv)
        if FUNCTIONS[f].shape is binary_shape:          # max, min, leaky_relu broadcast like +
            args = broadcast(*args)
        if node.deriv:
            return FUNCTIONS[f].prime(args, node.deriv, _elementwise_slope)
        return FUNCTIONS[f].build(*args)


def broadcast(*nodes: Node) -> list[Node]:
    """The operands of an elementwise operation with every row or column vector spread to the
    matrix shape among them (LANGUAGE.md v2): a 1×m row ``r`` against n×m is ``𝟏ₙ r`` (a matrix
    product with the ones column), an n×1 column ``c`` is ``c 𝟏ₘᵀ``.  Through those
    products every stage already knows the rest: the VJP of ``𝟏 r`` gives ``r`` the column sums
    ``𝟏ᵀG`` (``Gᵀ𝟏`` for the bias vector), codegen writes it as a NumPy broadcast.  Scalars are
    left as they are (every operation broadcasts them itself)."""
    full = next((x.shape for x in nodes if x.rows != ONE and x.cols != ONE), None)
    if full is None:
        return list(nodes)
    out = []
    for x in nodes:
        if x.is_scalar or x.shape == full:
            out.append(x)
        elif x.rows == ONE and x.cols == full[1]:
            out.append(A.matmul(A.ones((full[0], ONE)), x))
        elif x.cols == ONE and x.rows == full[0]:
            out.append(A.matmul(x, A.ones((ONE, full[1]))))
        else:
            raise ShapeError(f"cannot broadcast {x.rows}×{x.cols} against {full[0]}×{full[1]}")
    return out


def _elementwise_slope(expr: Node, z: Node) -> Node:
    """d expr/dz for an expression elementwise in z: its JVP along a tangent of ones."""
    return jvp(expr, {z: A.ones(z.shape)})
