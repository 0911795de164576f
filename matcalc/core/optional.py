"""Third-party modules loaded only when a feature needs them: the one place for lazy imports.

Optional extras (cairosvg for PNG pictures, and later torch, JAX, Jupyter) are imported here
on first use, so that matcalc starts without them and a missing one is a clear ``MatcalcError``
(exit 2) naming what to install, never an ``ImportError`` traceback.  Required dependencies that
only some paths need (SymPy: the API's ``.gradient``, the elementwise simplifier's rational
algebra, symbolic answer checks) are lazy modules (``lazy_module``), imported on first use, so the CLI's
``derive`` starts without paying for them.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from matcalc.core.errors import MatcalcError


def optional_module(name: str, needed_for: str, install: str) -> ModuleType:
    """``import name``, or a ``MatcalcError`` saying that ``needed_for`` needs ``install``."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise MatcalcError(f"{needed_for} needs {name}: {install}") from None


class LazyModule:
    """A module imported on first attribute access: ``sympy = lazy_module("sympy")`` at the top
    of a module that needs SymPy only on some paths, so importing that module (and starting the
    CLI) does not pay SymPy's import; the first ``sympy.Symbol`` does, once per process."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str):
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<lazy module {self._name!r}, {state}>"


def lazy_module(name: str) -> LazyModule:
    """``name`` as a module imported when it is first used (a required dependency: a missing
    one is the ordinary ``ImportError`` then)."""
    return LazyModule(name)
