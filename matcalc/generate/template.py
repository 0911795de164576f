"""Generated modules assembled from templates: the fixed text of every module lives here.

A module is made of ``Parts`` (what the program decided: the docstring's facts, the helpers it
calls, the body lines of ``forward`` and ``backward``, and for second order the ``hessian`` /
``hvp`` functions) and ``module_source`` lays them out in one fixed frame::

    docstring · imports · DTYPE · helpers · forward · backward · [second-order helpers,
    hessian, hessian_from_cache, hvp] · Model (with hessian/hvp methods for second order)

Nothing here edits generated text: every function is built from its lines, in order, once.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from matcalc.generate.code import HELPERS

SECOND_ORDER_HELPERS = {
    "_kron4": '''def _kron4(a, b):
    """kron(a, b) as the 4-D block [i, j, k, l] = b[i, k] * a[j, l] (column-major vec), unformed."""
    return b[:, None, :, None] * a[None, :, None, :]''',
    "_kron4_t": '''def _kron4_t(a, b):
    """kron(a, b) times a commutation matrix as the 4-D block [i, j, k, l] = b[i, l] * a[j, k]."""
    return b[:, None, None, :] * a[None, :, :, None]''',
    "_commutation4": '''def _commutation4(p, q):
    """The commutation matrix K(p, q) as the 4-D block [i, j, k, l] = 1 if i == l and j == k."""
    out = np.zeros((q, p, p, q), dtype=DTYPE)
    i, j = np.ogrid[:q, :p]
    out[i, j, j, i] = 1.0
    return out''',
    "_eye_kron4": '''def _eye_kron4(m, b):
    """kron(eye(m), b) as the 4-D block [i, j, k, l] = b[i, k] if j == l, else 0."""
    out = np.zeros((b.shape[0], m, b.shape[1], m), dtype=DTYPE)
    j = np.arange(m)
    out[:, j, :, j] = b
    return out''',
    "_kron4_eye": '''def _kron4_eye(a, n):
    """kron(a, eye(n)) as the 4-D block [i, j, k, l] = a[j, l] if i == k, else 0."""
    out = np.zeros((n, a.shape[0], n, a.shape[1]), dtype=DTYPE)
    i = np.arange(n)
    out[i, :, i, :] = a
    return out''',
}


@dataclass
class SecondOrder:
    """The second-order functions of a module (``hessian``, ``hessian_from_cache``, ``hvp``)."""

    wrt: list[str]
    block_keys: list[str]
    helpers: set[str]
    hessian_reads: list[str]
    hessian_body: list[str]
    hessian_results: list[tuple[str, str]]      # (block key, local)
    hvp_conversions: list[str]
    hvp_reads: list[str]
    hvp_body: list[str]
    hvp_results: list[tuple[str, str]]          # (variable, returned text)


@dataclass
class Parts:
    """What a generated module holds; ``module_source`` writes it out."""

    expr: str
    inputs: list[tuple[str, str]]               # (name, shape as the docstring says it)
    wrt: list[str]
    dtype: str
    generic: list[str]
    helpers: set[str]
    forward_body: list[str]
    backward_reads: list[str]
    backward_body: list[str]
    grads: list[tuple[str, str]]                # (variable, returned text)
    second: SecondOrder | None = field(default=None)
    buffers: list[str] = field(default_factory=list)    # the locals of the caller's buffers, per variable


def module_source(p: Parts) -> str:
    """The module's text."""
    lines = _docstring(p)
    lines.append("import numpy as np\n")
    lines.append(f"DTYPE = np.{p.dtype}\n")
    for h in sorted(p.helpers):
        lines += ["", HELPERS[h], ""]
    lines.append("")
    lines.append("def forward(functions=None, **inputs):")
    lines.append('    """The output and the cache backward needs."""')
    lines += p.forward_body
    lines += ["", ""]
    lines.append("def backward(cache, upstream=1.0, out=None):")
    lines += BACKWARD_DOC
    lines += cache_reads(p.backward_reads)
    lines += p.backward_body
    if p.buffers:
        one = "," if len(p.buffers) == 1 else ""
        lines.append(f"    grads = {_dict(p.grads)}")
        lines.append(f"    return grads if out is None else _give(out, grads, ({', '.join(p.buffers)}{one}))")
    else:
        lines.append("    return " + _dict(p.grads))
    lines += ["", ""]
    if p.second is not None:
        lines += _second_order(p.second) + ["", ""]
    lines += MODEL
    if p.second is not None:
        lines += SECOND_ORDER_METHODS
    return "\n".join(lines) + "\n"


def cache_reads(names: list[str]) -> list[str]:
    """``t = cache['t']`` for each name."""
    return [f"    {t} = cache[{t!r}]" for t in names]


BACKWARD_DOC = [
    '    """The gradients keyed by variable name, the cache left untouched.',
    "",
    "    Without out: fresh arrays, never an array an earlier call returned.  out: a dict of arrays",
    "    (any of the variables; DTYPE, each of its gradient's shape, sharing no memory with each other",
    "    or the cache), which are filled and returned in place of fresh ones: a training loop that",
    "    passes back what it got allocates no gradient.",
    '    """',
]
MODEL = [
    "class Model:",
    '    """The gate API: forward stores the cache, backward uses it.',
    "",
    "    backward() writes the gradients into arrays this Model owns: made by its first call (and again",
    "    after forward's inputs change shape), then overwritten in place by every later call, as an",
    "    optimizer's parameter.grad is.  The dict it returns holds the same arrays each time: copy a",
    "    gradient to keep it past the next backward().  The module's backward(cache) returns fresh",
    "    arrays on every call.",
    '    """',
    "",
    "    def __init__(self):",
    "        self.cache = None",
    "        self.grads = None",
    "        self.shapes = None",
    "",
    "    def forward(self, functions=None, **inputs):",
    "        shapes = {name: np.shape(value) for name, value in inputs.items()}",
    "        if shapes != self.shapes:",
    "            self.grads, self.shapes = None, shapes",
    "        value, self.cache = forward(functions=functions, **inputs)",
    "        return value",
    "",
    "    def backward(self, upstream=1.0):",
    "        grads = backward(self.cache, upstream, out=self.grads)",
    "        if self.grads is None:",
    "            self.grads = {name: g for name, g in grads.items() if type(g) is np.ndarray and g.flags.writeable}",
    "        return grads",
]
SECOND_ORDER_METHODS = [
    "",
    "    def hessian(self):",
    "        return hessian_from_cache(self.cache)",
    "",
    "    def hvp(self, v):",
    "        return hvp(self.cache, v)",
]


def _docstring(p: Parts) -> list[str]:
    what = "forward and backward" if p.second is None else "forward, backward, hessian and hvp"
    lines = [f'"""Generated by matcalc: {what} for\n\n    {doc_escape(p.expr)}\n']
    lines.append("Shapes (internal vectors are columns; inputs and results use NumPy conventions):")
    lines += [f"    {doc_escape(name)}: {shape}" for name, shape in p.inputs]
    lines.append(f"\nforward(**inputs) -> (output, cache); backward(cache, upstream=1.0, out=None) returns the\n"
                 f"gradients of {', '.join(doc_escape(w) for w in p.wrt)} (dict keyed by name): fresh arrays, or the "
                 "arrays of out\nfilled in place; Model reuses its own.")
    if p.second is not None:
        lines += _second_order_doc(p.second)
    lines.append(f"dtype: {p.dtype}.")
    lookalikes = [n for n, _ in p.inputs if unicodedata.normalize("NFKC", n) != n]
    if lookalikes:
        lines.append("Python reads a keyword NFKC-normalised, so pass " + ", ".join(repr(n) for n in lookalikes)
                     + " as forward(**{name: value}), not as name=value.")
    if p.generic:
        lines.append("Generic functions: pass functions={" + ", ".join(f'"{g}": (f, f_prime)' for g in p.generic)
                     + "} to forward().")
    lines.append('"""')
    return lines


def _second_order_doc(s: SecondOrder) -> list[str]:
    wrt = ", ".join(s.wrt)
    several = len(s.wrt) > 1
    return [
        f"hessian(**inputs) returns the Hessian of the output by {wrt}: "
        + ("a dict of blocks keyed " + ", ".join(repr(k) for k in s.block_keys)
           + ' (block "a,b" is d2s/da db\', indexed a.shape + b.shape)' if several else
           "an (n, n) array for a vector, x.shape + x.shape for a matrix")
        + "; hessian_from_cache(cache) the same from forward's cache.",
        (f"hvp(cache, v) returns H v{' (v and the result are dicts keyed by name)' if several else ''}"
         " from forward's cache without forming H: the forward-mode derivative of the gradient along v."),
    ]


def _second_order(s: SecondOrder) -> list[str]:
    wrt = ", ".join(s.wrt)
    several = len(s.wrt) > 1
    lines = []
    for h in sorted(s.helpers):
        lines += [SECOND_ORDER_HELPERS[h], "", ""]
    lines.append("def hessian(functions=None, **inputs):")
    lines.append(f'    """The Hessian of the output by {wrt} at the inputs (see the module docstring)."""')
    lines.append("    _, cache = forward(functions=functions, **inputs)")
    lines.append("    return hessian_from_cache(cache)")
    lines += ["", ""]
    lines.append("def hessian_from_cache(cache):")
    lines.append('    """The Hessian from forward\'s cache: fresh arrays, the cache is left untouched."""')
    lines += cache_reads(s.hessian_reads)
    lines += s.hessian_body
    lines.append("    return " + (_dict(s.hessian_results) if several else s.hessian_results[0][1]))
    lines += ["", ""]
    lines.append("def hvp(cache, v):")
    lines.append('    """H v from forward\'s cache, never forming H: a fresh array of the variable\'s shape'
                 + (' per name."""' if several else '."""'))
    lines += s.hvp_conversions                    # first: a variable named v must not hide it
    lines += cache_reads(s.hvp_reads)
    lines += s.hvp_body
    lines.append("    return " + (_dict(s.hvp_results) if several else s.hvp_results[0][1]))
    return lines


def _dict(items: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{k!r}: {v}" for k, v in items) + "}"


def doc_escape(s: str) -> str:
    """Text safe inside the module's triple-quoted docstring."""
    return s.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
