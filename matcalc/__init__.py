"""matcalc: symbolic matrix calculus with textbook output, checked numerically.

>>> import matcalc
>>> print(matcalc.derive("norm(W*x)^2", wrt="W"))
∂f/∂W = 2 W x xᵀ
"""
from .api import Derivation, derive
from .codegen import codegen
from .gradcheck import gradcheck
from .check import Verdict, check
from .errors import MatcalcError
from .hessian import Hessian, hessian

__all__ = ["codegen", "gradcheck", "Derivation", "MatcalcError", "Verdict", "check", "derive", "Hessian", "hessian"]
__version__ = "0.1.0"
