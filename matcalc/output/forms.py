"""The printer's course forms: what a course writes where the graph's normal form would print
something else (issue 12 item 2, issue 14 item 3).

- ``𝟏ₙ``, ``𝟏ₙᵀ``, ``𝟏ₙ𝟏ₘᵀ`` for all-ones when a result holds more than one length (``𝟏``,
  ``𝟏ᵀ``, ``𝟏𝟏ᵀ`` otherwise);
- ``(x − m)ᵀ`` for a sum whose every term shows a transpose its transpose does not;
- ``sum(B, 1)ᵀ`` for ``Bᵀ𝟏`` when B is not a single name (a broadcast bias's gradient);
- a named Hadamard product printed by its name wherever all its factors appear (``G ∘ Xh``);
- ``Xh ∘ (𝟏 mean(G ∘ Xh, 1))`` for a Hadamard product holding a broadcast column sum whose
  count is among the scalar factors.

``CourseForms`` is a mixin of ``render.Printer``: its methods use the printer's ``p``, ``call``,
``juxt``, ``paren``, ``named`` and style flags.  Nothing here changes a node.
"""
from __future__ import annotations

from matcalc.core import algebra as A
from matcalc.core.graph import ONE, Node
from matcalc.core.rules.table import PROD, SUM


def fmt_dim(d) -> str:
    return str(d)


_SUB = dict(zip("0123456789aehijklmnoprstuvx+-=()", "₀₁₂₃₄₅₆₇₈₉ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ₊₋₌₍₎"))


def subscript(s: str) -> str | None:
    """``s`` in Unicode subscript letters, or None when one of its characters has none."""
    out = [_SUB.get(ch) for ch in s]
    return None if None in out else "".join(out)


class CourseForms:
    """Methods of ``render.Printer`` that write the course forms above."""

    names: dict
    hadamard_index: dict

    def ones_vector(self, d, row: bool = False) -> str:
        """𝟏 (LaTeX \\mathbf{1}), with its length as a subscript in ``sized_ones`` mode."""
        t = r"^\top" if self.latex and row else "ᵀ" if row else ""
        if self.latex:
            sub = f"_{{{fmt_dim(d)}}}" if self.sized_ones else ""
            return rf"\mathbf{{1}}{sub}{t}"
        sub = "" if not self.sized_ones else subscript(fmt_dim(d)) or f"_{fmt_dim(d)}"
        return f"𝟏{sub}{t}"

    def juxt_ones(self, a: str, b: str) -> str:
        return f"{a} {b}" if self.latex else a + b

    def transposed_sum(self, n: Node) -> Node | None:
        """The sum S with ``n = Sᵀ`` when every term of ``n`` shows a transpose that S does not
        (``ŷᵀ − eₒᵀ`` is ``(ŷ − eₒ)ᵀ``, ``xᵀWᵀ − yᵀ`` is ``(W x − y)ᵀ``), else None."""
        if n.is_scalar or len(n.args) < 2 or not all(self.shows_transpose(t) for t in n.args):
            return None
        flipped = [A.transpose(t) for t in n.args]
        if any(self.shows_transpose(f) for f in flipped):
            return None
        return A.add(*flipped)

    def shows_transpose(self, n: Node) -> bool:
        """Whether ``transposes(n)`` is not 0, looking no further than the first."""
        return self.transposes(n, first=True) > 0

    def transposes(self, n: Node, first: bool = False) -> int:
        """How many transposes ``n`` prints at its top (𝟏ᵀ and eₒᵀ included), through sums and
        products only: not inside a named node, a transposed factor or a function's argument
        (``first``: stop at the first)."""
        count, stack = 0, [n]
        while stack:
            x = stack.pop()
            if self.named(x):
                continue
            shows = x.op == "transpose" or x.op == "ones" and x.rows == ONE and x.cols != ONE
            if shows or x.op in ("kron", "commutation"):      # vec forms keep the Cookbook's layout
                count += 1
                if first:
                    return count
            elif x.op in ("add", "scale", "matmul", "hadamard", "pow"):
                stack += x.args
        return count

    def column_sums(self, chain: list[Node]) -> str | None:
        """``Bᵀ𝟏`` for a B that is not a single name, as ``sum(B, 1)ᵀ`` (a broadcast bias's
        gradient, ``db = sum(dS, axis=0)``): ``((t2 W2ᵀ) ∘ 𝟙[t1 > 0])ᵀ 𝟏`` reads badly."""
        if len(chain) != 2 or chain[1].op != "ones" or chain[1].cols != ONE:
            return None
        bt = chain[0]
        if bt.op != "transpose" or self.named(bt) or bt.args[0].op == "var" or bt.args[0].cols == ONE:
            return None
        return self.call("sum", self.p(bt.args[0], SUM), "1") + ("ᵀ" if self.u else "'" if self.t else r"^\top")

    def named_parts(self, n: Node) -> list[Node]:
        """The factors of a Hadamard product with each named Hadamard product among them (all
        its factors present) standing for them: ``G ∘ xc ⊘ (𝟏 s)`` is ``G ∘ Xh`` once
        ``Xh = xc ⊘ (𝟏 s)`` is named (larger names first)."""
        items = list(n.args)
        index = self.named_hadamards()
        found: dict[int, tuple[int, Node]] = {}
        frontier = items                       # a name stands only where its first factor is,
        while frontier:                        # which may be a name standing for its own
            later = []
            for a in frontier:
                for pos, k in index.get(id(a), ()):
                    if id(k) not in found:
                        found[id(k)] = (pos, k)
                        later.append(k)
            frontier = later
        named = [k for _, k in sorted(found.values(), key=lambda pk: pk[0])
                 if k is not n and k.shape == n.shape and len(k.args) < len(items)]
        for k in sorted(named, key=lambda k: -len(k.args)):
            if all(items.count(a) >= list(k.args).count(a) for a in k.args):
                for a in k.args:
                    items.remove(a)
                items.append(k)
        return items

    def named_hadamards(self) -> dict[int, list[tuple[int, Node]]]:
        """id of a first factor → (position among the names, named Hadamard product) for every
        named Hadamard product: built once per set of names and shared with the definition
        printers (asking every name at every product made a deep program's printing quadratic)."""
        cache = getattr(self, "hadamard_index", None)
        if cache is None:
            cache = self.hadamard_index = {}
        if cache.get("names") is not self.names or cache.get("size") != len(self.names):   # names added
            index: dict[int, list[tuple[int, Node]]] = {}
            for pos, k in enumerate(self.names):
                if isinstance(k, Node) and k.op == "hadamard":
                    index.setdefault(id(k.args[0]), []).append((pos, k))
            cache["names"], cache["size"], cache["index"] = self.names, len(self.names), index
        return cache["index"]

    def hadamard_mean(self, fs, body: Node):
        """A Hadamard product with one factor ``𝟏 sum(B, 1)`` (or ``sum(B, 2) 𝟏ᵀ``) and that sum's
        count among the scalar factors, as ``Xh ∘ (𝟏 mean(G ∘ Xh, 1))``: (the other scalar
        factors, the text), or None."""
        if body.op != "hadamard" or self.named(body):
            return None
        for f in body.args:
            if f.op != "matmul" or self.named(f):
                continue
            a, b = f.args
            if a.op == "ones" and a.cols == ONE and b.op == "sum" and b.attrs[0] == 1:
                total, axis, spread = b, 1, (a, None)
            elif b.op == "ones" and b.rows == ONE and a.op == "sum" and a.attrs[0] == 2:
                total, axis, spread = a, 2, (None, b)
            else:
                continue
            inner = total.args[0]
            _, count, _ = A.split(A.size(inner.rows if axis == 1 else inner.cols))
            rest = list(fs)
            if not count or any((leaf, -e) not in rest for leaf, e in count):
                continue
            for leaf, e in count:
                rest.remove((leaf, -e))
            text = self.call("mean", self.p(inner, SUM), str(axis))
            if not self.t:
                text = self.juxt([self.p(x, PROD + 1) for x in spread[:1] if x is not None] + [text]
                                 + [self.p(x, PROD + 1) for x in spread[1:] if x is not None])
                text = self.paren(text)
            return rest, self.op_hadamard(body, {f: text})[0]
        return None
