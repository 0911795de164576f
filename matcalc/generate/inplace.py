"""Reuse of temporaries in generated code: ``z = W @ x; h = np.tanh(z)`` becomes
``h = W @ x; np.tanh(h, out=h)``.

A careful hand-written backprop does not allocate an array per step: a fresh temporary that is
read exactly once, by the next operation of the same shape, is that operation's output buffer.
This pass works on the emitted lines of one function, with what the emitter knows of each
local (its shape when the line made a fresh, full-shape array) and the locals that must survive
(the cache, the returned values).  Only the first operand of ``+ - * /`` and the argument of a
unary ufunc are reused, so broadcasting can never change the buffer's shape.
"""
from __future__ import annotations

import re

from matcalc.core.naming import identifier_counts

# a local is any Python identifier (Unicode too: ``δ``), never only ASCII
_LINE = re.compile(r"^(\s*)([^\W\d]\w*) (=|\+=|-=|\*=|/=) (.*)$")
_UFUNC = re.compile(r"^np\.(tanh|exp|log|sqrt|sin|cos|abs|expm1|log1p)\(([^\W\d]\w*)\)$")
_HELPER = re.compile(r"^(_tanh)\(([^\W\d]\w*)\)$")        # module helpers that take out= as ufuncs do
_BINARY = re.compile(r"^([^\W\d]\w*) ([-+*/]) (.+)$")
_BARRED = {"+": "+-", "-": "+-", "*": "+-/@", "/": "+-*/@"}   # top-level operators the rest may not have


class _Line:
    __slots__ = ("indent", "kind", "rest", "target")

    def __init__(self, indent: str, target: str | None, kind: str, rest: str):
        self.indent, self.target, self.kind, self.rest = indent, target, kind, rest

    def __str__(self) -> str:
        if self.target is None:
            return self.rest
        if self.kind == "ufunc":
            return f"{self.indent}{self.rest}({self.target}, out={self.target})"
        return f"{self.indent}{self.target} {self.kind} {self.rest}"


def in_place(lines: list[str], fresh: dict[str, object], keep: set[str], named: frozenset = frozenset(),
             module: str = "np") -> list[str]:
    """``lines`` with single-use fresh temporaries turned into output buffers.

    ``fresh`` maps a local to its shape when its line made a new full-shape array; ``keep``
    holds the locals read after these lines (cache entries, returned values); ``named`` the
    program's own intermediates, whose lines keep their names; ``module`` the array module
    whose functions take ``out=`` (``np``, ``torch``: both have NumPy's in-place semantics)."""
    parsed = []
    for line in lines:
        m = _LINE.match(line)
        parsed.append(_Line(m.group(1), m.group(2), m.group(3), m.group(4)) if m else _Line("", None, "", line))
    reads: dict[str, int] = {}
    defs: dict[str, int] = {}
    for ln in parsed:
        if ln.target is not None:
            defs[ln.target] = defs.get(ln.target, 0) + (1 if ln.kind == "=" else 99)
        for name, count in identifier_counts(ln.rest if ln.target is not None else ln.rest.strip()).items():
            reads[name] = reads.get(name, 0) + count
    owner = {ln.target: k for k, ln in enumerate(parsed) if ln.target is not None and ln.kind == "="}
    for j, ln in enumerate(parsed):
        b = ln.target
        if b is None or ln.kind != "=" or defs.get(b) != 1 or b not in fresh:
            continue
        hit = _reusable(ln.rest, module)
        if hit is None:
            continue
        a, rest, kind = hit
        if a in keep or a in named or fresh.get(a) != fresh[b] or defs.get(a) != 1 or reads.get(a) != 1 \
                or owner.get(a, j) >= j:
            continue
        for other in parsed[owner[a]:j]:            # a's definition (and its in-place updates) become b's
            if other.target == a:
                other.target = b
        ln.kind, ln.rest = ("ufunc", rest) if kind == "ufunc" else (kind + "=", rest)
        owner[b] = owner[a]
    return [str(ln) for ln in parsed]


def _reusable(code: str, module: str = "np"):
    """(a, rest, kind) when ``code`` is ``a OP rest`` at the top level or ``np.ufunc(a)``."""
    m = _UFUNC.match("np" + code[len(module):]) if code.startswith(module + ".") else None
    if m:
        return m.group(2), f"{module}.{m.group(1)}", "ufunc"
    m = _HELPER.match(code) if module == "np" else None
    if m:
        return m.group(2), m.group(1), "ufunc"
    m = _BINARY.match(code)
    if not m:
        return None
    a, op, rest = m.groups()
    if _top_level_ops(rest) & set(_BARRED[op]):
        return None
    if rest.startswith("(") and _closing(rest) == len(rest) - 1:
        rest = rest[1:-1]
    return a, rest, op


def _top_level_ops(code: str) -> set[str]:
    """The binary operators of ``code`` outside brackets."""
    depth, flat = 0, []
    for ch in code:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            flat.append(ch)
    return {t for t in "".join(flat).split() if t in ("+", "-", "*", "/", "@")}


def _closing(code: str) -> int:
    """The index of the bracket closing ``code[0]``."""
    depth = 0
    for k, ch in enumerate(code):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0:
            return k
    return -1
