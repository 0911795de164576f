"""The syntax tree the parser produces: plain frozen records with source spans.

Aliases are normalised by the parser (``@ · ×`` are ``*``; ``∘ ⊙ hadamard`` are ``.*``; ``**`` is
``^``; ``−`` is ``-``; ``.T ᵀ transpose(.)`` are a Transpose; ``‖A‖`` is ``norm(A)``; ``²`` is ``^2``;
``⁻¹`` is ``inv(.)``; ``⁻ᵀ`` is ``inv(.)'``; ``dot(x, y)`` stays a Call), so later stages see one
spelling of each construct.  Spans are character offsets ``[start, end)`` into the source.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Num:
    value: float
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Name:
    id: str
    start: int
    end: int


@dataclass(frozen=True)
class Call:
    """``func(args)``; ``deriv`` counts the primes of ``f'(z)`` / ``f''(z)``."""

    func: str
    args: tuple[Expr, ...]
    deriv: int
    start: int
    end: int


@dataclass(frozen=True)
class Neg:
    operand: Expr
    start: int
    end: int


@dataclass(frozen=True)
class Transpose:
    operand: Expr
    start: int
    end: int


@dataclass(frozen=True)
class BinOp:
    """``op`` is one of ``+ - * .* / ./ ^ .^``."""

    op: str
    left: Expr
    right: Expr
    start: int
    end: int


@dataclass(frozen=True)
class Index:
    """``base[i]`` or ``base[i, j]`` (LANGUAGE.md v2); an item is a ``Num`` (counted from 1), a
    ``Name`` (an index name) or None for ``:`` (a whole row or column)."""

    base: Expr
    items: tuple
    start: int
    end: int


Expr = Num | Name | Call | Neg | Transpose | BinOp | Index


@dataclass(frozen=True)
class Assign:
    """``name = value``; ``name`` is None for a bare expression statement."""

    name: str | None
    value: Expr
    start: int
    end: int


@dataclass(frozen=True)
class Program:
    statements: tuple[Assign, ...]
    source: str
