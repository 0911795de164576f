"""Backward's memory: gradients computed as soon as they can be, dead temporaries released, and
the caller's gradient buffers (``backward(cache, upstream, out=...)``) written in place.

Three passes over the emitted lines of ``backward`` (after ``inplace``), each reading only what a
line assigns, updates and reads (Python's tokenizer via ``naming.identifier_counts``):

- ``early_gradients``: each returned gradient's lines move up to just after the last line they
  depend on, so that ``dL_dW8 = h7.T @ dL_dz8`` follows ``dL_dz8`` instead of waiting for the
  whole chain (the lecture's order: a layer's gradient, then the δ it hands down);
- ``release``: ``del t`` right after the last line that reads or updates a temporary array, so a
  deep network's backward holds one or two δ at a time, as hand-written backprop does, not all;
- ``into_buffers``: a matrix gradient's first line ``g = A @ B`` (``a * b``, ``np.einsum(...)``,
  ``np.full(...)``) becomes ``g = np.matmul(A, B, out=o_g)``: with ``o_g = None`` (no buffer
  given) NumPy makes a fresh array as before; with the caller's array it writes there, so a
  training step allocates no gradient.  ``_give`` in the return line copies whatever was not
  written in place and returns the caller's arrays (with ``out=None``, the fresh dict at once),
  so the rewrite is an optimisation, never a condition of correctness.

``BUFFER_HELPERS`` are the functions the generated module gets for it (``_buffers`` checks
the caller's arrays before anything is written).
"""
from __future__ import annotations

import re

from matcalc.core.naming import identifier_counts

_LINE = re.compile(r"^(\s*)([^\W\d]\w*) (=|\+=|-=|\*=|/=) (.*)$")
_OUT = re.compile(r"\bout=([^\W\d]\w*)")
_UFUNCS = {"*": "np.multiply", "+": "np.add", "-": "np.subtract", "/": "np.divide", "@": "np.matmul"}

BUFFER_HELPERS = {
    "_buffers": '''def _buffers(out, cache, shapes):
    """The caller's gradient arrays (None where out gives none), each checked before anything is
    written: an ndarray of DTYPE, writeable, of the gradient's shape, sharing no memory with
    another one or with the cache."""
    if out is None:
        return [None] * len(shapes)
    names = [name for name, _ in shapes]
    for name in out:
        if name not in names:
            raise ValueError(f"out has no gradient named {name!r}")
    cached = [v for v in cache.values() if isinstance(v, np.ndarray)]
    given = []
    for name, shape in shapes:
        buf = out.get(name)
        if buf is not None:
            if not isinstance(buf, np.ndarray) or buf.dtype.type is not DTYPE or buf.shape != shape:
                raise ValueError(f"out[{name!r}] must be a {DTYPE.__name__} array of shape {shape}")
            if not buf.flags.writeable:
                raise ValueError(f"out[{name!r}] is read-only")
            for other in given + cached:
                if other is not None and np.may_share_memory(buf, other):
                    raise ValueError(f"out[{name!r}] shares memory with another buffer or with the cache")
        given.append(buf)
    return given''',
    "_give": '''def _give(out, grads, buffers):
    """The gradients: fresh (out is None), or each one that has a buffer written into it, unless it
    is there already, and the buffer returned in its place."""
    if out is None:
        return grads
    for (name, value), buf in zip(grads.items(), buffers):
        if buf is not None:
            if value is not buf:
                np.copyto(buf, value)
            grads[name] = buf
    return grads''',
    "_fill": '''def _fill(buf, shape, value):
    """np.full(shape, value), or value spread into the caller's buf."""
    if buf is None:
        return np.full(shape, value, dtype=DTYPE)
    buf[...] = value
    return buf''',
}


class _Line:
    """One emitted line: what it assigns (``=``), updates in place (``+=``, ``out=``) and reads."""

    __slots__ = ("assigns", "reads", "text", "writes")

    def __init__(self, text: str):
        self.text = text
        m = _LINE.match(text)
        rest = m.group(4) if m else text.strip()
        self.reads = set(identifier_counts(rest))
        self.writes = set(_OUT.findall(rest))
        self.assigns = None
        if m:
            self.writes.add(m.group(2))
            if m.group(3) == "=":
                self.assigns = m.group(2)
            else:
                self.reads.add(m.group(2))

    def touches(self) -> set[str]:
        return self.reads | self.writes


def early_gradients(lines: list[str], gradients: list[str]) -> list[str]:
    """``lines`` with each gradient's block (its first to its last line) moved up to just after
    the last earlier line it depends on (one that writes a name the block reads, or reads or
    writes a name the block writes)."""
    parsed = [_Line(t) for t in lines]
    for g in gradients:
        idx = [k for k, ln in enumerate(parsed) if g in ln.writes]
        if not idx:
            continue
        lo, hi = idx[0], idx[-1]
        block = parsed[lo:hi + 1]
        made: set[str] = set()
        reads: set[str] = set()
        for ln in block:
            reads |= ln.reads - made
            if ln.assigns:
                made.add(ln.assigns)
        writes = set().union(*(ln.writes for ln in block))
        at = lo
        while at > 0 and not (parsed[at - 1].writes & reads or parsed[at - 1].touches() & writes):
            at -= 1
        if at < lo:
            parsed[at:hi + 1] = block + parsed[at:lo]
    return [ln.text for ln in parsed]


def release(lines: list[str], arrays: set[str], keep: set[str]) -> list[str]:
    """``lines`` with ``del t`` after the last line touching each array temporary ``t`` that is
    assigned here and not in ``keep`` (what is returned)."""
    parsed = [_Line(t) for t in lines]
    assigned = {ln.assigns for ln in parsed if ln.assigns}
    last: dict[str, int] = {}
    for k, ln in enumerate(parsed):
        for name in ln.touches():
            if name in arrays and name in assigned and name not in keep:
                last[name] = k
    dels: dict[int, list[str]] = {}
    for name, k in last.items():
        dels.setdefault(k, []).append(name)
    out = []
    for k, ln in enumerate(parsed):
        out.append(ln.text)
        if k in dels:
            indent = ln.text[:len(ln.text) - len(ln.text.lstrip())]
            out.append(f"{indent}del {', '.join(sorted(dels[k], key=ln.text.find))}")
    return out


def into_buffers(lines: list[str], buffers: dict[str, str]) -> list[str]:
    """``lines`` with the first line of each gradient in ``buffers`` (gradient local → buffer
    local) writing into its buffer where NumPy lets that line say ``out=``."""
    out = list(lines)
    done: set[str] = set()
    for k, text in enumerate(out):
        m = _LINE.match(text)
        if not m or m.group(3) != "=" or m.group(2) not in buffers or m.group(2) in done:
            continue
        g = m.group(2)
        done.add(g)
        call = _with_out(m.group(4), buffers[g])
        if call is not None:
            out[k] = f"{m.group(1)}{g} = {call}"
    return out


def _with_out(code: str, buf: str) -> str | None:
    """``code`` as a call writing into ``buf`` (``a @ b`` → ``np.matmul(a, b, out=buf)``), or None
    when its top-level form has no such call."""
    if code.startswith("np.einsum(") and _closing(code) == len(code) - 1:
        return f"{code[:-1]}, out={buf})"
    if code.startswith("np.full(") and code.endswith(", dtype=DTYPE)") and _closing(code) == len(code) - 1:
        return f"_fill({buf}, {code[len('np.full('):-len(', dtype=DTYPE)')]})"
    parts = _split_top(code)
    if parts is None:
        return None
    a, op, b = parts
    return f"{_UFUNCS[op]}({a}, {b}, out={buf})"


def _split_top(code: str) -> tuple[str, str, str] | None:
    """(a, op, b) when ``code`` is exactly ``a op b`` with one binary operator outside brackets."""
    depth, found = 0, []
    k = 0
    while k < len(code):
        ch = code[k]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch in "+-*/@" and k > 0 and code[k - 1] == " " and k + 1 < len(code) \
                and code[k + 1] == " ":
            found.append(k)
        elif depth == 0 and ch == "*" and code[k:k + 2] == "**":
            return None
        k += 1
    if len(found) != 1:
        return None
    k = found[0]
    a, b = code[:k - 1], code[k + 2:]
    if not a or not b or a.startswith("-"):
        return None
    return a, code[k], b


def _closing(code: str) -> int:
    """The index of the bracket closing the first one in ``code``."""
    depth = 0
    for k, ch in enumerate(code):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return k
    return -1
