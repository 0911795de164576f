"""Print graph nodes as text: pretty Unicode, round-trippable matcalc syntax, or LaTeX.

One printer, three styles, driven by a precedence table: sums bind loosest, then products
(juxtaposition in Unicode, ``*`` in text), then negation, then powers and postfix transposes.
Named intermediates print as their names; ``output.programs`` writes the definitions a result
needs before it, so a deep network's gradient stays linear in size.  Nothing here changes a
node: what is printed is exactly what was derived and checked.
"""
from __future__ import annotations

from fractions import Fraction

from matcalc.core import algebra as A
from matcalc.core.graph import ONE, Node, dim, make
from matcalc.core.kinds import is_sum, is_variable
from matcalc.core.rebuild import postorder
from matcalc.core.rules import ELEMENTWISE, RULES, Form, Printed
from matcalc.core.rules.table import ATOM, NEG, POW, PROD, SUM
from matcalc.output.forms import CourseForms, fmt_dim, subscript
from matcalc.output.latexname import _latex_chars, latex_name

_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def fmt_number(c: Fraction, style: str) -> str:
    if c.denominator == 1:
        return str(c.numerator)
    d = c.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d == 1:                                       # a finite decimal
        return format(float(c), ".15g") if abs(float(c)) >= 1e-4 else repr(float(c))
    if style == "latex":
        sign = "-" if c < 0 else ""
        return rf"{sign}\frac{{{abs(c.numerator)}}}{{{c.denominator}}}"
    return f"{c.numerator}/{c.denominator}"


def _unit_row(x: Node) -> Node | None:
    """The unit vector u of a node uᵀ, else None."""
    return x.args[0] if x.op == "transpose" and x.args[0].op == "unit" else None


def commutation_symbol(m: str, n: str) -> str:
    """K₍ₘ,ₙ₎ (Cookbook 9.3), or K_(m,n) when a size has no subscript form."""
    sm, sn = subscript(m), subscript(n)
    return f"K₍{sm},{sn}₎" if sm is not None and sn is not None else f"K_({m},{n})"


def _is_product(d) -> bool:
    """A dimension such as m*n: the language's size arguments are a name or an integer only."""
    return bool(getattr(d, "is_Mul", False) or getattr(d, "is_Pow", False))


def _dim_factors(d) -> list:
    """m*n*2 as [2, m, n] (powers repeated): sizes whose Kronecker product has size d."""
    try:
        c, powers = d.coefficient_and_powers()
    except ValueError:                              # a sum of sizes is one factor
        return [d]
    return ([dim(c)] if c != 1 else []) + [base for base, e in powers for _ in range(e)]


def _kron_text(parts: list[str]) -> str:
    out = parts[0]
    for p in parts[1:]:
        out = f"kron({out}, {p})"
    return out


def _has_int_keys(names: dict) -> bool:
    return any(isinstance(k, int) for k in names)



def _spread(body: Node | None) -> Node | None:
    """The vector of a broadcast ``𝟏 r`` (a row down the rows) or ``c 𝟏ᵀ`` (a column across the
    columns), else None (LANGUAGE.md v2 writes both as the bare vector beside a matrix)."""
    if body is None or body.op != "matmul":
        return None
    a, b = body.args
    if a.op == "ones" and a.cols == ONE and b.rows == ONE:
        return b
    if b.op == "ones" and b.rows == ONE and a.cols == ONE:
        return a
    return None


def _full_term(t: Node) -> bool:
    """A term of a sum that has the sum's full shape by itself (not a broadcast, not a scalar 𝟏)."""
    _, _, body = A.split(t)
    return body is not None and body.op != "ones" and _spread(body) is None

_TALL = (r"\frac", r"\sum", r"\prod", r"\begin", r"\sqrt", r"\left")


def latex_arguments(args) -> str:
    r"""A function's arguments in LaTeX: ``(x)`` as a textbook sets them; ``\left(…\right)`` only
    around a tall argument (a fraction), after ``\mathopen{}`` so that no gap opens between
    the name and the parenthesis (``\operatorname{softmax}\left(`` sets a thin space)."""
    inner = ", ".join(args)
    if any(t in inner for t in _TALL):
        return rf"\mathopen{{}}\left({inner}\right)"
    return f"({inner})"


class Printer(CourseForms):
    """Prints nodes in one style ("unicode", "text" or "latex")."""

    def __init__(self, style: str = "unicode", names: dict | None = None, sized_ones: bool = False,
                 unnamed: Node | None = None):
        """``names``: node (or its id) → the name it prints as; ``sized_ones``: all-ones printed
        with their lengths; ``unnamed``: one node of them printed as its body (a definition's
        right side)."""
        self.style = style
        self.sized_ones = sized_ones             # 𝟏ₙ, 𝟏ₘᵀ: all-ones of more than one length
        self.ones_lengths: set = set()           # the lengths of the all-ones this printer wrote
        self.names = dict(names or {})
        self.unnamed = unnamed
        self.int_keys = _has_int_keys(self.names)
        self.hadamard_index: dict = {}           # forms.named_hadamards, shared with definitions
        self.reset()

    def definition(self, node: Node) -> Printer:
        """A printer for the right side of ``node``'s definition: these names, ``node`` printed
        as its body (sharing the names, not copying them: a program prints one per name)."""
        inner = object.__new__(Printer)
        inner.style, inner.names, inner.int_keys, inner.unnamed = self.style, self.names, self.int_keys, node
        inner.sized_ones, inner.ones_lengths = self.sized_ones, set()
        inner.hadamard_index = self.hadamard_index
        inner.reset()
        return inner

    def reset(self) -> None:
        """Forget what was printed (the memos and the references)."""
        # Keyed by the node itself (identity hash), never by id(): the printer makes temporary
        # nodes (op_pow, op_hadamard), and a dead node's id is reused by the next one, so an
        # id-keyed memo printed one subexpression in place of another.  Holding the node here
        # keeps it alive for the printer's lifetime.
        self.memo: dict[tuple[Node, int], str] = {}
        # A node's body, printed once: (text, precedence, the (node, context) keys it printed,
        # in order).  Bodies are filled children first (``warm``), so printing recurses only a
        # bounded number of levels into what is already printed, however deep the expression.
        self.bodies: dict[Node, tuple[str, int, list[tuple[Node, int]]]] = {}
        self.calls: list[list[tuple[Node, int]]] = []    # the keys printed by each body being built
        self.seen: set[tuple[Node, int]] = set()          # keys already accounted in ``referenced``
        self.referenced: list[Node] = []         # named nodes this printer's text mentions, in order

    # ---------------------------------------------------------------- entry points
    def __call__(self, node: Node) -> str:
        return self.p(node, SUM)

    def p(self, node: Node, ctx: int) -> str:
        key = (node, ctx)
        if self.calls:
            self.calls[-1].append(key)
        else:                                            # an outside call: children first, no recursion
            self.warm(node)
        if key not in self.memo:
            s, prec = self.name_or_body(node)
            self.memo[key] = self.paren(s) if prec < ctx else s
        if not self.calls:
            self.account(key)
        return self.memo[key]

    def warm(self, root: Node) -> None:
        """Print the body of every unnamed node below ``root`` children first (the factors of a
        product chain, not its inner products), so that no print recurses deeper than a few
        levels.  A body that fails here is left to fail where it is really printed."""
        def children(n: Node) -> tuple:
            if self.named(n) or n in self.bodies:
                return ()
            return tuple(self.product_chain(n)) if n.op == "matmul" else n.args
        for n in postorder(root, children):
            if n in self.bodies or self.named(n):
                continue
            try:
                self.build_body(n)
            except Exception:                            # noqa: BLE001, S112 - raised again when printed
                continue

    def build_body(self, node: Node) -> tuple[str, int]:
        self.calls.append([])
        try:
            s, prec = self.body(node)
        finally:
            calls = self.calls.pop()
        self.bodies[node] = (s, prec, calls)
        return s, prec

    def account(self, key: tuple[Node, int]) -> None:
        """Add the named nodes printing ``key`` mentions to ``referenced``, in the order and
        number a depth-first print meets them (each key once per printer), without recursion."""
        stack = [key]
        while stack:
            k = stack.pop()
            if k in self.seen:
                continue
            self.seen.add(k)
            if self.named(k[0]):
                self.referenced.append(k[0])
                continue
            if k[0].op == "ones" and not self.t:         # what the text shows, not what warm() printed
                self.ones_lengths |= {d for d in k[0].shape if d != ONE}
            stack.extend(reversed(self.bodies[k[0]][2]))

    def name_of(self, node: Node) -> str | None:
        """The name given to ``node``: names are keyed by node; int keys (``id(node)``, from
        callers that keep their nodes alive while printing) are still accepted."""
        if node is self.unnamed:
            return None
        name = self.names.get(node)
        if name is None and self.int_keys:
            name = self.names.get(id(node))
        return name

    def named(self, node: Node) -> bool:
        return self.name_of(node) is not None

    def name_or_body(self, node: Node) -> tuple[str, int]:
        name = self.name_of(node)
        if name is not None:
            return self.var_name(name), ATOM
        hit = self.bodies.get(node)
        if hit is not None:
            return hit[0], hit[1]
        return self.build_body(node)

    def paren(self, s: str) -> str:
        return rf"\left({s}\right)" if self.style == "latex" and any(t in s for t in _TALL) else f"({s})"

    @property
    def u(self) -> bool:
        return self.style == "unicode"

    @property
    def t(self) -> bool:
        return self.style == "text"

    @property
    def latex(self) -> bool:
        return self.style == "latex"

    def var_name(self, name: str) -> str:
        if not self.latex:
            return name
        return latex_name(name)

    # ---------------------------------------------------------------- pieces
    def juxt(self, parts: list[str]) -> str:
        if self.t:
            return "*".join(parts)
        sep = r" \, " if self.latex else " "
        out = parts[0]
        for part in parts[1:]:
            out += ("" if part.startswith("(") or part.startswith(r"\left(") and not self.latex
                    else sep) + part
        return out

    def sup(self, base: str, e: Fraction, elementwise_matrix: bool = False) -> str:
        if self.t:
            op = ".^" if elementwise_matrix else "^"
            es = fmt_number(e, "text")
            return f"{base}{op}{es}" if e > 0 and e.denominator == 1 else f"{base}{op}({es})"
        if self.latex:
            es = fmt_number(e, "latex")
            return f"{base}^{{\\circ {es}}}" if elementwise_matrix else f"{base}^{{{es}}}"
        es = fmt_number(e, "unicode")
        if e.denominator == 1 and not elementwise_matrix:
            return base + es.translate(_SUP)
        return f"{base}^∘{es}" if elementwise_matrix else f"{base}^{es}"

    def call(self, name: str, *args: str) -> str:
        if self.latex:
            fn = name if name.startswith("\\") else rf"\operatorname{{{_latex_chars(name)}}}"
            return fn + latex_arguments(args)
        return f"{name}({', '.join(args)})"

    # ---------------------------------------------------------------- node bodies
    def body(self, n: Node) -> tuple[str, int]:
        rule = RULES.get(n.op)
        if rule is not None and rule.printed is not None:
            return self.form(rule.printed, n)
        method = getattr(self, "op_" + n.op, None)        # structure: sums, products, powers, leaves
        if method is None:
            return self.call(n.op, *(self.p(a, SUM) for a in n.args)), ATOM
        return method(n)

    def form(self, printed: Printed, n: Node) -> tuple[str, int]:
        """A primitive's printed form from the rule table, in this printer's style."""
        f: Form = getattr(printed, self.style)
        args = [self.p(a, f.arg_context(i)) for i, a in enumerate(n.args)]
        if f.call:
            return self.call(f.template, *args, *(printed.extra(n) if printed.extra else ())), f.prec
        return f.template.format(*args, n=n), f.prec

    def op_var(self, n):
        return self.var_name(n.attrs[0]), ATOM

    def op_ones(self, n):
        row = n.rows == ONE and n.cols != ONE               # 𝟏ᵀ: a row of ones is a transposed 𝟏
        if not self.t:
            if n.rows != ONE and n.cols != ONE:             # the matrix of ones, 𝟏𝟏ᵀ (𝟏ₙ𝟏ₘᵀ)
                return self.juxt_ones(self.ones_vector(n.rows), self.ones_vector(n.cols, True)), PROD
            return self.ones_vector(n.cols if row else n.rows, row), ATOM
        if _is_product(n.rows) or _is_product(n.cols):       # ones(m*n) does not parse: a kron does
            rows, cols = _dim_factors(n.rows), _dim_factors(n.cols)
            k = max(len(rows), len(cols))
            rows, cols = rows + [ONE] * (k - len(rows)), cols + [ONE] * (k - len(cols))
            return _kron_text([f"ones({fmt_dim(r)})" if c == ONE else f"ones({fmt_dim(r)}, {fmt_dim(c)})"
                               for r, c in zip(rows, cols)]), ATOM
        if n.cols == ONE:
            return f"ones({fmt_dim(n.rows)})", ATOM
        return f"ones({fmt_dim(n.rows)}, {fmt_dim(n.cols)})", ATOM

    def op_zero(self, n):
        if self.t and not n.is_scalar:
            return self.juxt(["0", self.op_ones(A.ones(n.shape))[0]]), PROD
        return "0", ATOM

    def op_eye(self, n):
        if self.t and _is_product(n.rows):                   # eye(m*n) = kron(eye(m), eye(n))
            return _kron_text([f"eye({fmt_dim(d)})" for d in _dim_factors(n.rows)]), ATOM
        return (f"eye({fmt_dim(n.rows)})" if self.t else "I"), ATOM

    def op_unit(self, n):
        """eₒ (LaTeX e_{o}); text ``unit(o, n)``, which parses back (a literal index as written)."""
        i = n.args[0]
        index = str(int(i.attrs[0])) if A.is_const(i) else self.var_name(i.attrs[0])
        if self.t:
            return f"unit({index}, {fmt_dim(n.rows)})", ATOM
        if self.latex:
            return f"e_{{{index}}}", ATOM
        sub = subscript(index)
        return (f"e{sub}" if sub is not None else f"e_{index}"), ATOM

    def op_commutation(self, n):
        m, k = (fmt_dim(d) for d in n.attrs)
        if self.t:
            return f"commutation({m}, {k})", ATOM
        if self.latex:
            return f"K_{{({m},{k})}}", ATOM
        return commutation_symbol(m, k), ATOM

    def op_add(self, n):
        flipped = self.transposed_sum(n)
        if flipped is not None:                          # (x − m)ᵀ, not xᵀ − mᵀ
            inner = self.p(flipped, POW)
            return inner + ("ᵀ" if self.u else "'" if self.t else r"^\top"), POW
        order = list(n.args)
        first_pos = next((i for i, t in enumerate(order) if not A.split(t)[0] < 0), None)
        if first_pos:                                    # lead with a positive term
            order.insert(0, order.pop(first_pos))
        bare = self.t and _full_term(order[0])           # X*W + b': the language broadcasts it back
        offset = not any(self.shows_matrix_product(t) for t in order)   # W − 1, s + 1: an entrywise offset
        terms = [self.signed_term(t, n, bare, offset) for t in order]
        minus = "−" if self.u else "-"
        out = ("-" if self.t or self.latex else "−") + terms[0][1] if terms[0][0] else terms[0][1]
        for neg, s in terms[1:]:
            out += f" {minus if neg else '+'} {s}"
        return out, SUM

    def shows_matrix_product(self, t: Node) -> bool:
        """A term of a sum printed as a matrix product (``2 W x xᵀ``): not a name (``s``), not a
        broadcast (``z₁ 𝟏``, ``𝟏 bᵀ``: a scalar or a vector copied).  Beside it a bare ``1`` would
        read as the number, so the all-ones prints as ``𝟏𝟏ᵀ``."""
        _, _, body = A.split(t)
        return (body is not None and body.op == "matmul" and not self.named(body)
                and not any(a.is_scalar or a.op == "ones" for a in body.args))

    def signed_term(self, t: Node, parent: Node, bare: bool = False, offset: bool = True) -> tuple[bool, str]:
        """(negative?, text of |t|) for a term of a sum; a broadcast scalar prints bare in an
        entrywise ``offset`` (``W − 1``: no term is a matrix product), else as the all-ones it is
        (``𝟏𝟏ᵀ + 2 z₁ xᵀ``, never a bare ``1`` beside a matrix); a broadcast vector (``𝟏 bᵀ`` as
        ``b'``) prints bare with ``bare`` (a full matrix leads the sum)."""
        c, fs, body = A.split(t)
        neg = c < 0
        if neg:
            c = -c
        if body is not None and body.op == "ones" and not parent.is_scalar and offset:
            body = None
        if bare and _spread(body) is not None:
            body = _spread(body)
        return neg, self.product_str(c, fs, body, SUM)[0]

    def op_scale(self, n):
        c, fs, body = A.split(n)
        if c < 0:
            s, _ = self.product_str(-c, fs, body, NEG)
            return ("-" if not self.u else "−") + s, NEG
        return self.product_str(c, fs, body, PROD)

    def product_str(self, c: Fraction, fs, body: Node | None, ctx: int) -> tuple[str, int]:
        mean = self.as_mean(fs, body)
        if mean is None and body is not None:
            hm = self.hadamard_mean(fs, body)
            if hm is not None:
                mean = (hm[0], True, hm[1], "hadamard")
        if mean is not None:
            fs, body = mean[0], None if mean[1] else body
        known = [(b, e) for b, e in fs if e > 0 and b.op == "size" and getattr(b.attrs[0], "is_Integer", False)]
        for b, e in known:                   # 2 times the count 5 prints 10, not "2 5"
            c *= int(b.attrs[0]) ** int(e)
        fs = [f for f in fs if f not in known]
        # variables last (f(1 − f) G); a named variable stands for an intermediate (the steps' placeholders)
        num = sorted(((b, e) for b, e in fs if e > 0), key=lambda f: is_variable(f[0]) and not self.named(f[0]))
        den = [(b, -e) for b, e in fs if e < 0]
        parts = []
        if c != 1 or (not num and body is None and mean is None):
            parts.append(fmt_number(c, self.style) if c.denominator == 1 or not self.latex
                         else fmt_number(c, "latex"))
        parts += [self.factor(b, e) for b, e in num]
        if mean is not None:
            product = len(mean) > 3                  # a Hadamard product: parenthesised after a factor
            parts.append(self.paren(mean[2]) if product and parts else mean[2])
        if body is not None:
            flat = not parts or body.op in ("matmul", "ones") and not self.named(body)
            parts.append(self.p(body, PROD if flat else PROD + 1))
        if not parts:
            parts = ["1"]
        s = parts[0] if len(parts) == 1 else self.juxt(parts)
        if den:
            ds = [self.factor(b, e) for b, e in den]
            d = ds[0] if len(ds) == 1 else self.paren(self.juxt(ds))
            if self.latex:
                return rf"\frac{{{s}}}{{{self.juxt(ds)}}}", PROD
            if len(parts) > 1 and body is not None and is_sum(body) and self.transposed_sum(body) is None:
                s = self.paren(s)
            return f"{s}/{d}", PROD
        return s, PROD if len(parts) > 1 else (ATOM if len(parts) == 1 and not parts[0].startswith("-") and
                                                 (body is None or self.p(body, ATOM) == parts[0]) else PROD)

    def as_mean(self, fs, body: Node | None):
        """``sum(B)/numel(B)`` (and ``sum(B, k)`` over its count), as a factor or the body,
        printed as ``mean(B)``, the form it was written in: (the other factors, whether the body
        was the sum, the mean's text), or None."""
        candidates = [(b, False) for b, e in fs if e == 1] + ([(body, True)] if body is not None else [])
        for total, is_body in candidates:
            spread = spread_after = None     # 𝟏 sum(B, 1)/n: the column means copied down, 𝟏 mean(B, 1)
            if is_body and total.op == "matmul" and not self.named(total) and total.args[0].op == "ones" \
                    and total.args[0].cols == ONE and total.args[1].op == "sum":
                spread, total = total.args[0], total.args[1]
            elif is_body and total.op == "matmul" and not self.named(total) and total.args[1].op == "ones" \
                    and total.args[1].rows == ONE and total.args[0].op == "sum":    # mean(B, 2) 𝟏ᵀ
                spread_after, total = total.args[1], total.args[0]
            ones_sum = self.ones_sum(total) if is_body and spread is None and spread_after is None else None
            if ones_sum is not None:
                before, a, axis, after = ones_sum
                if a.op in ("transpose", "diag") and not self.named(a):
                    continue                 # Gᵀ𝟏/n, a bias's gradient; 𝟏ᵀ diag(z)/n: not means
            elif total.op != "sum" or self.named(total):
                continue
            else:
                before, a, axis, after = [], total.args[0], total.attrs[0], []
            _, count, _ = A.split(A.size(a.rows * a.cols if axis is None else a.rows if axis == 1 else a.cols))
            rest = list(fs)
            if not is_body:
                rest.remove((total, 1))
            if not count or any((leaf, -e) not in rest for leaf, e in count):
                continue
            for leaf, e in count:
                rest.remove((leaf, -e))
            args = [self.p(a, SUM)] + ([] if axis is None else [str(axis)])
            text = self.call("mean", *args)
            if spread is not None:
                before = [spread]
            if spread_after is not None:
                after = [spread_after]
            parts = [self.p(x, PROD + 1) for x in before] + [text] + [self.p(x, PROD + 1) for x in after]
            return rest, is_body, parts[0] if len(parts) == 1 else self.juxt(parts)

    def ones_sum(self, body: Node):
        """A product chain ``… 𝟏ᵀ B`` or ``B 𝟏 …`` (the sums of B down its columns or across its
        rows, as broadcasting writes them): (the factors before, B, the axis, the factors after)."""
        if body.op != "matmul" or self.named(body):
            return None
        chain = self.product_chain(body)
        for i, f in enumerate(chain):
            if f.op != "ones":
                continue
            if f.cols == ONE and i > 0:
                b = chain[0] if i == 1 else A.matmul(*chain[:2]) if i == 2 else None
                if b is not None:
                    return [], b, None if b.rows == ONE else 2, chain[i + 1:]
            if f.rows == ONE and i == len(chain) - 2:
                b = chain[-1]
                return chain[:i], b, None if b.cols == ONE else 1, []
        return None

    def product_chain(self, n: Node) -> list[Node]:
        """The factors of a product, left to right, not looking inside a named intermediate."""
        chain, stack = [], [n]
        while stack:
            x = stack.pop()
            if x.op == "matmul" and not self.named(x):
                stack += [x.args[1], x.args[0]]
            else:
                chain.append(x)
        return chain

    def factor(self, b: Node, e: Fraction) -> str:
        if e == 1:
            return self.p(b, PROD + 1)
        return self.sup(self.p(b, ATOM), e)

    def op_matmul(self, n):
        chain = self.product_chain(n)
        parts = self.selections(chain) if not self.latex and any(x.op == "unit" or _unit_row(x)
                                                                   for x in chain) else None
        if parts is not None:
            return (parts[0], ATOM) if len(parts) == 1 else (self.juxt(parts), PROD)
        summed = self.column_sums(chain)
        if summed is not None:
            return summed, POW
        parts = [self.p(x, PROD if x.op == "ones" and not self.t else PROD + 1) for x in chain]   # 𝟏𝟏ᵀ𝟏
        if self.u and len(parts) == 2 and n.is_scalar and chain[0].op == "transpose":
            return parts[0] + parts[1], PROD
        return self.juxt(parts), PROD

    def selections(self, chain: list[Node]) -> list[str]:
        """A product chain with its unit vectors read as indexing (LANGUAGE.md v2): eₒᵀ x is
        ``x[o]``, A eₒ is ``A[:, o]``, eᵢᵀ A is ``A[i, :]``, eᵢᵀ A eⱼ is ``A[i, j]``; a unit vector
        beside nothing it can select from stays eₒ."""
        out, i, k = [], 0, len(chain)
        while i < k:
            x = chain[i]
            row = _unit_row(x)
            nxt = chain[i + 1] if i + 1 < k else None
            if row is not None and nxt is not None and nxt.op != "unit" and _unit_row(nxt) is None:
                col = chain[i + 2] if i + 2 < k and chain[i + 2].op == "unit" else None
                out.append(self.selection(nxt, row, col))
                i += 3 if col is not None else 2
            elif row is None and x.op != "unit" and nxt is not None and nxt.op == "unit":
                out.append(self.selection(x, None, nxt))
                i += 2
            else:
                out.append(self.p(x, PROD + 1))
                i += 1
        return out

    def selection(self, base: Node, row: Node | None, col: Node | None) -> str:
        """base[row, col] printed (either may be None for ':'); a transposed base selects from
        what it transposes: (Uᵀ)eᵢ... is U[i, :]ᵀ."""
        flip = base.op == "transpose" and not self.named(base)
        inner = base.args[0] if flip else base
        r, c = (col, row) if flip else (row, col)
        text = self.p(inner, ATOM)
        idx = [self.index_text(u) if u is not None else ":" for u in (r, c)]
        if inner.cols == ONE and c is None:
            out, scalar = f"{text}[{idx[0]}]", True
        elif inner.rows == ONE and r is None:
            out, scalar = f"{text}[{idx[1]}]", True
        else:
            out, scalar = f"{text}[{idx[0]}, {idx[1]}]", r is not None and c is not None
        if flip and not scalar:
            out += "ᵀ" if self.u else "'"
        return out

    def index_text(self, u: Node) -> str:
        i = u.args[0]
        return str(int(i.attrs[0])) if A.is_const(i) else self.var_name(i.attrs[0])

    def op_transpose(self, n):
        a = n.args[0]
        if a.op == "inv" and not self.named(a):
            inner = self.p(a.args[0], ATOM)
            if self.t:
                return f"inv({self.p(a.args[0], SUM)})'", POW
            return (inner + "⁻ᵀ" if self.u else f"{inner}^{{-\\top}}"), POW
        inner = self.p(a, ATOM)
        return inner + ("ᵀ" if self.u else "'" if self.t else r"^\top"), POW

    def op_matpow(self, n):
        return self.sup(self.p(n.args[0], ATOM), Fraction(n.attrs[0])), POW

    def op_hadamard(self, n, overrides: dict | None = None):
        """A ∘ B ⊘ C; ``overrides``: the text of some factors (a mean read from a sum)."""
        args = self.named_parts(n)
        num = [a for a in args if not (a.op == "pow" and a.attrs[0] < 0)]
        den = [A.pow_(a.args[0], -a.attrs[0]) for a in args if a.op == "pow" and a.attrs[0] < 0]
        dot = " .* " if self.t else r" \odot " if self.latex else " ∘ "
        div = " ./ " if self.t else r" \oslash " if self.latex else " ⊘ "
        overrides = overrides or {}
        num = [a for a in num if a not in overrides] + [a for a in num if a in overrides]   # x̂ ∘ mean(…)
        if self.t and num and _full_term(num[0]):          # X .* g': a full matrix first, vectors bare
            num = num[:1] + [a if a in overrides else _spread(a) or a for a in num[1:]]
            den = [_spread(a) or a for a in den]
        s = dot.join(overrides.get(a) or self.p(a, PROD + 1) for a in num) if num else "1"
        for d in den:
            s += div + self.p(d, PROD + 1)
        return s, PROD

    def op_pow(self, n):
        a, e = n.args[0], n.attrs[0]
        if not n.is_scalar and e < 0:
            div = " ./ " if self.t else r" \oslash " if self.latex else " ⊘ "
            return "1" + div + self.p(A.pow_(a, -e), PROD + 1), PROD
        matrix = not n.is_scalar and not n.is_column and not n.is_row
        elementwise = not n.is_scalar and (self.t or matrix)
        return self.sup(self.p(a, ATOM), e, elementwise_matrix=elementwise), POW

    def op_ew(self, n):
        name, order = n.attrs
        z = self.p(n.args[0], SUM)
        spec = ELEMENTWISE.get(name)
        if spec is None:                                   # a generic f
            latex = rf"\operatorname{{{_latex_chars(name)}}}" if len(name) > 1 else _latex_chars(name)
            return self.function(name, latex, order, z), ATOM
        if order in spec.forms and not self.t:             # 𝟙[z > 0], |z|, sign(z)
            unicode, latex = spec.forms[order]
            return (unicode if self.u else latex).format(z), ATOM
        latex = spec.latex or rf"\operatorname{{{_latex_chars(name)}}}"
        return self.function(spec.label if self.u else name, latex, order, z), ATOM

    def op_ew2(self, n):
        name, order = n.attrs
        a, b = (self.p(x, SUM) for x in n.args)
        return self.function(name, rf"\operatorname{{{_latex_chars(name)}}}", order, a, b), ATOM

    def function(self, name: str, latex: str, order: int, *args: str) -> str:
        r"""f(args), f'(args), f''(args); in LaTeX f^{\prime} and f^{(k)}."""
        if self.latex:
            mark = "" if not order else r"^{\prime}" if order == 1 else rf"^{{({order})}}"
            return latex + mark + latex_arguments(args)
        return f"{name}{chr(39) * order}({', '.join(args)})"

    def op_unvec(self, n):
        """unvec is not in the language: text writes X = (vec(Iₙ)ᵀ ⊗ Iₘ)(Iₙ ⊗ vec X) for an m×n X,
        so that the printed program parses back to the same value."""
        if not self.t:
            return self.call("unvec" if not self.latex else r"\operatorname{unvec}", self.p(n.args[0], SUM)), ATOM
        m, k = n.shape
        v = n.args[0]
        left = make("kron", (A.transpose(A.vec(A.eye(k))), A.eye(m)), (m, k * k * m))
        right = make("kron", (A.eye(k), v), (k * v.rows, k))
        return self.p(make("matmul", (left, right), n.shape), PROD), PROD
