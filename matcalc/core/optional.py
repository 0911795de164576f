"""Third-party modules loaded only when a feature needs them: the one place for lazy imports.

Optional extras (cairosvg for PNG pictures, and later torch, JAX, Jupyter) are imported here
on first use, so that matcalc starts without them and a missing one is a clear ``MatcalcError``
(exit 2) naming what to install, never an ``ImportError`` traceback.
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
