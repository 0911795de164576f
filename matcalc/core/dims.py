"""Dimensions: positive integers, named sizes, and integer sums and products of them.

A shape is ``(rows, cols)`` of ``Dim`` values.  A ``Dim`` is a polynomial with integer
coefficients in named sizes, kept in one canonical form, so equal dimensions are equal objects
by value (``m*n == n*m``), hash alike, and a known size equals and hashes like its ``int``
(``Dim(1) == 1``).  That is all the graph, shape inference, the Kronecker/vec forms and the
numeric check need of dimensions, and it is why deriving does not import SymPy (its import
alone cost more than matcalc's whole derivation); ``output.to_sympy`` makes SymPy symbols from
these at the edge.

The attribute names that read a dimension (``is_Integer``, ``is_Symbol``, ``free_symbols``,
``subs``, ``xreplace``) are SymPy's spellings, so code written against SymPy dimensions reads
these unchanged.
"""
from __future__ import annotations

import itertools
from collections.abc import Mapping

Monomial = tuple[tuple[str, int], ...]          # ((name, exponent), ...) sorted by name


class Dim:
    """An integer polynomial in named sizes; build with ``dim``, ``unknown`` or arithmetic."""

    __slots__ = ("_hash", "terms")

    terms: tuple[tuple[Monomial, int], ...]     # ((monomial, coefficient), ...) canonical order

    def __init__(self, terms: tuple[tuple[Monomial, int], ...]):
        self.terms = terms
        if len(terms) == 1 and not terms[0][0]:
            self._hash = hash(terms[0][1])      # a known size hashes like its int
        elif not terms:
            self._hash = 0
        else:
            self._hash = hash(terms)

    # ------------------------------------------------------------ what a dimension is
    @property
    def is_Integer(self) -> bool:
        """A known size (the zero polynomial counts: 0)."""
        return not self.terms or len(self.terms) == 1 and not self.terms[0][0]

    is_number = is_Integer

    @property
    def is_Symbol(self) -> bool:
        """One named size (``n``), not a product or a sum."""
        return len(self.terms) == 1 and self.terms[0][1] == 1 and len(self.terms[0][0]) == 1 \
            and self.terms[0][0][0][1] == 1

    @property
    def is_Add(self) -> bool:
        return len(self.terms) > 1

    @property
    def is_Mul(self) -> bool:
        """A product of at least two factors (``m*n``, ``2*n``)."""
        if len(self.terms) != 1:
            return False
        mono, c = self.terms[0]
        return sum(e for _, e in mono) + (c != 1) >= 2 and not (len(mono) == 1 and c == 1)

    @property
    def is_Pow(self) -> bool:
        """One named size to a power above one (``n**2``)."""
        return len(self.terms) == 1 and self.terms[0][1] == 1 and len(self.terms[0][0]) == 1 \
            and self.terms[0][0][0][1] > 1

    @property
    def is_unknown(self) -> bool:
        """A shape-inference unknown (``unknown()``); a typed graph never holds one."""
        return self.is_Symbol and self.terms[0][0][0][0].startswith("?")

    @property
    def name(self) -> str:
        """The name of a named size."""
        if not self.is_Symbol:
            raise AttributeError(f"{self} is not a named size")
        return self.terms[0][0][0][0]

    @property
    def free_symbols(self) -> frozenset[Dim]:
        """The named sizes ``self`` is made of."""
        return frozenset(_symbol(n) for mono, _ in self.terms for n, _ in mono)

    def coefficient_and_powers(self) -> tuple[int, list[tuple[Dim, int]]]:
        """A product ``c n^a m^b`` as ``(c, [(m, b), (n, a)])`` (names in order); a sum raises
        ``ValueError`` (it is not a product of dimensions)."""
        if not self.terms:
            return 0, []
        if len(self.terms) != 1:
            raise ValueError(f"{self} is not a product of dimensions")
        mono, c = self.terms[0]
        return c, [(_symbol(n), e) for n, e in mono]

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other) -> Dim:
        other = dim(other)
        acc = dict(self.terms)
        for mono, c in other.terms:
            acc[mono] = acc.get(mono, 0) + c
        return _canonical(acc)

    __radd__ = __add__

    def __mul__(self, other) -> Dim:
        other = dim(other)
        acc: dict[Monomial, int] = {}
        for ma, ca in self.terms:
            for mb, cb in other.terms:
                mono = _mono_mul(ma, mb)
                acc[mono] = acc.get(mono, 0) + ca * cb
        return _canonical(acc)

    __rmul__ = __mul__

    def __pow__(self, k: int) -> Dim:
        out = ONE
        for _ in range(int(k)):
            out = out * self
        return out

    def __int__(self) -> int:
        if not self.is_Integer:
            raise TypeError(f"the dimension {self} is not a known size")
        return self.terms[0][1] if self.terms else 0

    __index__ = __int__

    def __bool__(self) -> bool:
        return bool(self.terms)              # only the size 0 is false, as for an int

    # ------------------------------------------------------------ comparisons (with ints too)
    def __eq__(self, other) -> bool:
        if isinstance(other, Dim):
            return self.terms == other.terms
        if isinstance(other, int) and not isinstance(other, bool):
            return self.is_Integer and int(self) == other
        return NotImplemented

    def __ne__(self, other) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return self._hash

    def _known(self, other) -> tuple[int, int]:
        if not self.is_Integer or not (isinstance(other, int) or isinstance(other, Dim) and other.is_Integer):
            raise TypeError(f"cannot order the dimensions {self} and {other}")
        return int(self), int(other)

    def __lt__(self, other) -> bool:
        a, b = self._known(other)
        return a < b

    def __le__(self, other) -> bool:
        a, b = self._known(other)
        return a <= b

    def __gt__(self, other) -> bool:
        a, b = self._known(other)
        return a > b

    def __ge__(self, other) -> bool:
        a, b = self._known(other)
        return a >= b

    # ------------------------------------------------------------ substitution
    def subs(self, mapping: Mapping) -> Dim:
        """``self`` with named sizes replaced (keys: named sizes or their names; values: ints or
        dimensions); names not in ``mapping`` stay."""
        if not mapping:
            return self
        out = ZERO
        for mono, c in self.terms:
            term = dim(c)
            for n, e in mono:
                value = mapping.get(_symbol(n), mapping.get(n))
                base = _symbol(n) if value is None else dim(value)
                term = term * base ** e
            out = out + term
        return out

    xreplace = subs

    def evaluate(self, sizes: Mapping) -> int | None:
        """The size at ``sizes`` (named size ↦ int), or None when a name is missing."""
        terms = self.terms
        if len(terms) == 1 and len(terms[0][0]) < 2:         # a known size or c·n: most dimensions
            mono, c = terms[0]
            if not mono:
                return c
            v = sizes.get(_SYMBOLS.get(mono[0][0]) or _symbol(mono[0][0]))
            return None if v is None else c * int(v) ** mono[0][1]
        total = 0
        for mono, c in terms:
            for n, e in mono:
                v = sizes.get(_symbol(n))
                if v is None:
                    return None
                c *= int(v) ** e
            total += c
        return total

    # ------------------------------------------------------------ printing
    def __str__(self) -> str:
        if not self.terms:
            return "0"
        parts = []
        for k, (mono, c) in enumerate(self.terms):
            factors = [n if e == 1 else f"{n}**{e}" for n, e in mono]
            if not factors:
                text = str(abs(c))
            elif abs(c) == 1:
                text = "*".join(factors)
            else:
                text = "*".join([str(abs(c)), *factors])
            if k == 0:
                parts.append(text if c > 0 else f"-{text}")
            else:
                parts.append(f"{'+' if c > 0 else '-'} {text}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return str(self)


def _mono_mul(a: Monomial, b: Monomial) -> Monomial:
    if not a:
        return b
    if not b:
        return a
    acc = dict(a)
    for n, e in b:
        acc[n] = acc.get(n, 0) + e
    return tuple(sorted(acc.items()))


def _order(mono: Monomial) -> tuple:
    """Printing order of a sum's terms: higher degree first, then by names; the constant last."""
    return (-sum(e for _, e in mono), tuple((n, -e) for n, e in mono))


def _canonical(acc: dict[Monomial, int]) -> Dim:
    terms = tuple(sorted(((m, c) for m, c in acc.items() if c), key=lambda t: _order(t[0])))
    if len(terms) == 1 and not terms[0][0]:
        return dim(terms[0][1])
    return Dim(terms)


_INTS: dict[int, Dim] = {}
_SYMBOLS: dict[str, Dim] = {}
_UNKNOWN_SERIAL = itertools.count(1)


def _symbol(name: str) -> Dim:
    d = _SYMBOLS.get(name)
    if d is None:
        mono: Monomial = ((name, 1),)
        d = Dim(((mono, 1),))
        if not name.startswith("?"):        # unknowns die with their inference
            _SYMBOLS[name] = d
    return d


def dim(d) -> Dim:
    """A dimension: a ``Dim``, a positive integer, or a name (a SymPy integer or symbol is read
    by value, so callers holding SymPy sizes still build matcalc shapes)."""
    if isinstance(d, Dim):
        return d
    if isinstance(d, bool):
        raise TypeError("a dimension is an int or a name")
    if isinstance(d, int):
        out = _INTS.get(d)
        if out is None:
            out = Dim((((), d),) if d else ())
            if -1024 <= d <= 1024:
                _INTS[d] = out
        return out
    if isinstance(d, str):
        return _symbol(d)
    if getattr(d, "is_Integer", False):
        return dim(int(d))
    if getattr(d, "is_Symbol", False):
        return _symbol(str(d.name))
    raise TypeError(f"a dimension is an int or a name, not {type(d).__name__}")


def unknown() -> Dim:
    """A fresh dimension unknown for shape inference (unique for the process)."""
    return _symbol(f"?u{next(_UNKNOWN_SERIAL)}")


ONE = dim(1)
ZERO = dim(0)
