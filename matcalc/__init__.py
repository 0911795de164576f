"""matcalc: symbolic matrix calculus with textbook output, checked numerically.

>>> import matcalc
>>> print(matcalc.derive("norm(W*x)^2", wrt="W"))
∂f/∂W = 2 W x xᵀ

The public names load their modules on first use, so ``matcalc derive`` on the command line
does not pay for code generation, checking or Hessians.  Several share their module's name
(``matcalc.codegen`` is a function in ``matcalc/codegen.py``): importing such a module must not
replace the function on the package, which is what ``_Package.__setattr__`` keeps from happening.
"""
import sys
from importlib import import_module
from types import ModuleType

_WHERE = {
    "Derivation": "api", "derive": "api", "codegen": "codegen", "codegen_hessian": "codegen_hessian",
    "gradcheck": "gradcheck", "Verdict": "check", "check": "check", "MatcalcError": "errors",
    "Hessian": "hessian", "hessian": "hessian",
}
__all__ = ["Derivation", "Hessian", "MatcalcError", "Verdict", "check", "codegen", "codegen_hessian", "derive",
           "gradcheck", "hessian"]
__version__ = "0.1.0"


class _Package(ModuleType):
    def __getattr__(self, name: str):
        if name not in _WHERE:
            raise AttributeError(f"module 'matcalc' has no attribute {name!r}")
        value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
        ModuleType.__setattr__(self, name, value)
        return value

    def __setattr__(self, name: str, value) -> None:
        if name in _WHERE and isinstance(value, ModuleType):
            return                                    # a submodule named like its function
        ModuleType.__setattr__(self, name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(ModuleType.__dir__(self)) | set(_WHERE))


sys.modules[__name__].__class__ = _Package
