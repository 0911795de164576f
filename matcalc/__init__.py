"""matcalc: symbolic matrix calculus with textbook output, checked numerically.

>>> import matcalc
>>> print(matcalc.derive("norm(W*x)^2", wrt="W"))
∂f/∂W = 2 W x xᵀ
"""
from .api import Derivation, derive
from .errors import MatcalcError

__all__ = ["Derivation", "MatcalcError", "derive"]
__version__ = "0.1.0"
