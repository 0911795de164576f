"""matcalc: symbolic matrix calculus with textbook output, checked numerically.

>>> import matcalc
>>> print(matcalc.derive("norm(W*x)^2", wrt="W"))
∂f/∂W = 2 W x xᵀ

The public names are those of ``matcalc.api``; the subpackages are the pipeline's stages
(``docs/architecture.md``).  They are re-exported lazily (PEP 562): ``import matcalc`` loads
nothing else, and ``matcalc.derive`` loads the derivation stage only, not code generation or
the grader, so the command line starts fast; ``from matcalc import derive`` works as usual,
and the ``TYPE_CHECKING`` imports below show type checkers every name.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from matcalc.core.version import VERSION as __version__

if TYPE_CHECKING:
    from matcalc.api import (
        Derivation,
        GradcheckReport,
        Hessian,
        MatcalcError,
        Verdict,
        check,
        codegen,
        codegen_hessian,
        derive,
        gradcheck,
        graph_model,
        hessian,
    )
    from matcalc.web.serve import serve

# each public name and the module that defines it (``api`` re-exports the same objects)
_HOME = {
    "Derivation": "matcalc.derivation.derivation",
    "derive": "matcalc.derivation.derivation",
    "Hessian": "matcalc.derivation.hessian",
    "hessian": "matcalc.derivation.hessian",
    "MatcalcError": "matcalc.core.errors",
    "Verdict": "matcalc.grading.check",
    "check": "matcalc.grading.check",
    "GradcheckReport": "matcalc.api",
    "codegen": "matcalc.api",
    "codegen_hessian": "matcalc.api",
    "gradcheck": "matcalc.api",
    "graph_model": "matcalc.api",
    "serve": "matcalc.web.serve",
}

__all__ = ["Derivation", "GradcheckReport", "Hessian", "MatcalcError", "Verdict", "__version__", "check", "codegen",
           "codegen_hessian", "derive", "gradcheck", "graph_model", "hessian", "serve"]


def __getattr__(name: str):
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'matcalc' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value                 # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
