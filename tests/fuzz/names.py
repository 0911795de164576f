"""Renaming a generated program to plain ASCII names (``run.py --plain-names``)."""
from __future__ import annotations

from .generator import Expr, Program, Variable

HAZARDOUS = {"np", "fn_f", "lambda"}


def plain_names(program: Program) -> Program:
    """The same program with every non-ASCII or module-colliding name (α, ｘ, np, fn_f, ...)
    renamed to a plain ASCII one, so a run can look past naming bugs at everything else."""
    taken = set(program.variables) | {n for n, _ in program.statements if n}
    mapping, k = {}, 0
    for name in [*program.variables, *(n for n, _ in program.statements if n)]:
        if name.isascii() and name not in HAZARDOUS:
            continue
        while f"p{k}" in taken:
            k += 1
        mapping[name] = f"p{k}"
        taken.add(f"p{k}")

    def rename(e: Expr) -> Expr:
        attr = mapping.get(e.attr, e.attr) if e.op in ("var", "ref") else e.attr
        return Expr(e.op, tuple(rename(a) for a in e.args), e.shape, attr)

    variables = {mapping.get(n, n): Variable(mapping.get(n, n), v.shape, v.assume) for n, v in program.variables.items()}
    statements = [(mapping.get(n, n) if n else None, rename(e)) for n, e in program.statements]
    return Program(statements, variables, dict(program.dim_names))
