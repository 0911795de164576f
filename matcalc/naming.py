"""Every identifier of generated code is made here: locals, gradients, temporaries, dimensions.

A ``Namer`` hands out names that are valid Python, unique within one generated module, never a
keyword (``lambda`` becomes ``lambda_``), never one of the module's own names (``np``, ``cache``,
``upstream``...) and never one that ruff flags as ambiguous (``l``, ``I``, ``O``).  Gradients are
``dL_dW``; temporaries without a name in the program are ``z1``, ``z2``...
"""
from __future__ import annotations

import keyword
import re

# Names the generated module itself uses; user names are renamed around them.
MODULE_NAMES = {"np", "DTYPE", "cache", "upstream", "inputs", "functions", "forward", "backward",
                "Model", "self", "float", "dict", "ValueError", "_scalar", "_logsumexp", "_softmax",
                "_log_softmax", "hessian", "hessian_from_cache", "hvp", "_kron4", "_eye_kron4", "_kron4_eye", "_kron4_t",
                "_commutation4", "_commutation"}
AMBIGUOUS = {"l", "I", "O"}


def sanitize(name: str) -> str:
    """A Python identifier spelled as close to ``name`` as possible."""
    out = re.sub(r"\W", "_", name)
    if not out or not out.isidentifier():
        out = "v_" + out
    if keyword.iskeyword(out) or keyword.issoftkeyword(out) or out in AMBIGUOUS or out in MODULE_NAMES:
        out += "_"
    return out


class Namer:
    """Unique names for one generated module."""

    def __init__(self, reserved: set[str] | None = None):
        self.taken: set[str] = set(MODULE_NAMES) | set(reserved or ())
        self.counter = 0

    def local(self, name: str) -> str:
        """A local for the program's own name ``name`` (renamed if a keyword or taken)."""
        base = sanitize(name)
        out, i = base, 2
        while out in self.taken:
            out, i = f"{base}_{i}", i + 1
        self.taken.add(out)
        return out

    def fresh(self, prefix: str = "z") -> str:
        """z1, z2, ... skipping names already in use."""
        while True:
            self.counter += 1
            out = f"{prefix}{self.counter}"
            if out not in self.taken:
                self.taken.add(out)
                return out

    def grad(self, of: str, output: str = "L") -> str:
        """The gradient name ``dL_dW`` of ``of`` (a local name already made here)."""
        return self.local(f"d{output}_d{of.rstrip('_')}")

    def dim(self, symbol: str) -> str:
        return self.local(f"dim_{symbol}")
