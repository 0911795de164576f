"""The deep programs the depth tests share: a chain of statements and a chain of nested calls."""
from __future__ import annotations


def program(n: int, output: str = "sum") -> str:
    """n statements h_i = tanh(W_i*h_{i-1}), then ``sum(h_n)`` (``output="u"``: ``u'*h_n``)."""
    lines = [f"h{i} = tanh(W_{i}*{'x' if i == 1 else f'h{i - 1}'})" for i in range(1, n + 1)]
    return "\n".join(lines + [f"sum(h{n})" if output == "sum" else f"u'*h{n}"])


def nested(n: int) -> str:
    """u'*tanh(W_n*...tanh(W_1*x)): n nested calls (n = MAX_DEPTH is the deepest that parses)."""
    inner = "x"
    for i in range(1, n + 1):
        inner = f"tanh(W_{i}*{inner})"
    return f"u'*{inner}"
