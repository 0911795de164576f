"""matcalc: symbolic matrix calculus with textbook output, checked numerically.

>>> import matcalc
>>> print(matcalc.derive("norm(W*x)^2", wrt="W"))
∂f/∂W = 2 W x xᵀ
"""
from .api import Derivation, derive
from .check import Verdict, check
from .codegen import codegen
from .codegen_hessian import codegen_hessian
from .errors import MatcalcError
from .gradcheck import gradcheck
from .hessian import Hessian, hessian

__all__ = ["Derivation", "Hessian", "MatcalcError", "Verdict", "check", "codegen", "codegen_hessian", "derive",
           "gradcheck", "hessian"]
__version__ = "0.1.0"
