"""Every identifier of generated code is made here: locals, gradients, temporaries, dimensions.

A ``Namer`` hands out names that are valid Python, unique within one generated module, never a
keyword (``lambda`` becomes ``lambda_``), never one of the module's own names (``np``, ``cache``,
``upstream``, ``out``...) and never one that ruff flags as ambiguous (``l``, ``I``, ``O``).  Gradients are
``dL_dW``; forward steps without a name in the program are ``z1``, ``z2``..., shared
subexpressions ``t1``, ``t2``...; the second-order module's ``v_x``, ``hv_x``, ``H_x_y``, ``e_x``
are made here too (``Namer``'s methods), and so are printed programs' temporaries (``numbered``)
and the steps' Unicode subscripts (``subscripted``: ``z₁``).

Python reads identifiers NFKC-normalised (PEP 3131): ``ｘ`` *is* ``x`` and ``ｎｐ`` *is* ``np`` to
the interpreter.  So every name is made here in its NFKC form (what Python will see), and two
names are the same exactly when their NFKC forms are: the matcalc variables ``x`` and ``ｘ``
become the locals ``x`` and ``x_2``, ``ｎｐ`` becomes ``np_``.  Only locals are renamed; the
keys of ``forward(**inputs)`` and of the gradients stay the program's own names.  Every other
name the module uses (generic functions' slots ``fn_f``, dimensions ``dim_n``) is handed out
here too, after the program's variables, so a variable called ``fn_f`` keeps its name and the
slot moves aside.
"""
from __future__ import annotations

import io
import keyword
import re
import tokenize
import unicodedata

from matcalc.core.rules import CODE_HELPERS

# Names the generated module itself uses; user names are renamed around them.  The helpers the
# rule table's code templates call (_sigmoid, _softmax, ...) are reserved from the table.
MODULE_NAMES = {"np", "DTYPE", "cache", "upstream", "inputs", "functions", "forward", "backward",
                "Model", "self", "float", "dict", "ValueError", "_scalar", "_log_softmax", "hessian",
                "hessian_from_cache", "hvp", "_kron4", "_eye_kron4", "_kron4_eye", "_kron4_t", "_commutation4",
                "type", "None", "True", "False", "out", "grads", "_buffers", "_give", "_fill"} | set(CODE_HELPERS)
AMBIGUOUS = {"l", "I", "O"}


def sanitize(name: str) -> str:
    """A Python identifier spelled as close to ``name`` as possible, in the NFKC form Python
    gives it (so the text shows the name the interpreter binds)."""
    out = re.sub(r"\W", "_", unicodedata.normalize("NFKC", name))
    out = unicodedata.normalize("NFKC", out)
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
        self.function_slots: dict[str, str] = {}   # generic function name -> its local

    def function(self, name: str) -> str:
        """The local holding the generic function ``name``'s (f, f') pair (one per function)."""
        if name not in self.function_slots:
            self.function_slots[name] = self.local(f"fn_{name}")
        return self.function_slots[name]

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

    # ------------------------------------------------------------ the names generated code uses
    def output(self, statement: str | None) -> str:
        """The local of the program's result: its last statement's name, else ``value`` (``out``
        is backward's parameter for the caller's gradient buffers)."""
        return self.local(statement if statement else "value")

    def buffer(self, of: str) -> str:
        """The local holding the caller's gradient buffer for the variable local ``of``: ``out_W``."""
        return self.local(f"out_{of.rstrip('_')}")

    def step(self) -> str:
        """A forward step the program did not name: ``z1``, ``z2``, ..."""
        return self.fresh("z")

    def temporary(self) -> str:
        """A shared subexpression hoisted into a line of its own: ``t1``, ``t2``, ..."""
        return self.fresh("t")

    def seed(self, output_local: str, prefix: str, scalar: bool) -> str:
        """The upstream gradient backward receives: ``G`` for a scalar output, else ``dL_dout``."""
        return self.local("G" if scalar else f"d{prefix}_d{output_local}")

    def adjoint(self, forward_local: str | None, transposed_of: str | None, prefix: str) -> str:
        """A node's adjoint in backward: ``dL_dh`` after its forward local ``h``; a transpose of a
        named ``h`` is ``dL_dhT``; any other node ``dL_dt``."""
        base = forward_local
        if base is None:
            base = f"{transposed_of.rstrip('_')}T" if transposed_of else "t"
        return self.grad(base.rstrip("_"), prefix)

    def tangent(self, variable: str) -> str:
        """hvp's direction for ``variable``: ``v_x``."""
        return self.local(f"v_{variable}")

    def hvp_result(self, variable: str) -> str:
        """hvp's result for ``variable``: ``hv_x``."""
        return self.local(f"hv_{variable}")

    def hessian_block(self, a: str, b: str, several: bool) -> str:
        """A Hessian block's local: ``H`` for one variable, else ``H_a`` or ``H_a_b``."""
        return self.local("H" if not several else f"H_{a}" if a == b else f"H_{a}_{b}")

    def basis(self, variable: str) -> str:
        """The basis direction of a loop over ``variable``'s entries: ``e_x``."""
        return self.local(f"e_{variable}")

    def loop_index(self) -> str:
        return self.local("k")

    def column(self, block: str) -> str:
        """One column of a Hessian block built in a loop: ``H_col``."""
        return self.local(f"{block}_col")


def numbered(prefix: str, counter: int, taken: set[str]) -> tuple[str, int]:
    """The next free ``{prefix}{k}`` after ``counter`` (``t1``, ``t2``, ... skipping names in
    ``taken``) and its ``k``: the printed programs' temporaries."""
    counter += 1
    while f"{prefix}{counter}" in taken:
        counter += 1
    return f"{prefix}{counter}", counter


_SUBSCRIPT_DIGITS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def subscripted(name: str) -> str:
    """A fresh name's trailing number as Unicode subscripts: ``z1`` is ``z₁`` (steps in Unicode)."""
    stem = name.rstrip("0123456789")
    return stem + name[len(stem):].translate(_SUBSCRIPT_DIGITS)


def identifier_counts(code: str) -> dict[str, int]:
    """How many times each name is read in ``code``, as Python's own tokenizer sees the names
    (any Unicode identifier, NFKC-normalised; attribute names after a dot, keyword-argument
    names and string contents excluded)."""
    counts: dict[str, int] = {}
    prev = None
    toks = list(tokenize.generate_tokens(io.StringIO(code.strip() + "\n").readline))
    for k, tok in enumerate(toks):
        if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string) and (prev is None or prev.string != "."):
            nxt = toks[k + 1] if k + 1 < len(toks) else None
            if not (nxt is not None and nxt.string == "=" and prev is not None and prev.string in ("(", ",")):
                name = unicodedata.normalize("NFKC", tok.string)
                counts[name] = counts.get(name, 0) + 1
        if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            prev = tok
    return counts


def identifiers(code: str) -> set[str]:
    """The names a piece of generated Python reads, as Python's own tokenizer sees them (any
    Unicode identifier, NFKC-normalised; attribute names after a dot, keyword-argument names and
    string contents excluded)."""
    return set(identifier_counts(code))
