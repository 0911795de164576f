"""matcalc: symbolic matrix calculus with textbook output, checked numerically.

>>> import matcalc
>>> print(matcalc.derive("norm(W*x)^2", wrt="W"))
∂f/∂W = 2 W x xᵀ

The public names are those of ``matcalc.api``; the subpackages are the pipeline's stages
(``docs/architecture.md``).
"""
from matcalc.api import (
                         Derivation,
                         Hessian,
                         MatcalcError,
                         Verdict,
                         check,
                         codegen,
                         codegen_hessian,
                         derive,
                         gradcheck,
                         hessian,
)
from matcalc.core.version import VERSION as __version__

__all__ = ["Derivation", "Hessian", "MatcalcError", "Verdict", "__version__", "check", "codegen", "codegen_hessian", "derive",
           "gradcheck", "hessian"]
