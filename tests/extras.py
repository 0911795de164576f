"""Optional extras in tests (TeX, Jupyter, an SVG→PNG converter): skipped with a reason when
missing, and a failure under ``MATCALC_REQUIRE_EXTRAS=1`` (what ``.ci/run`` sets, after
installing them), so a green CI run cannot hide a missing install step."""
from __future__ import annotations

import os

import pytest


def need(available: bool, what: str) -> None:
    """Skip the calling test when ``what`` is not ``available`` (fail when extras are required)."""
    if available:
        return
    if os.environ.get("MATCALC_REQUIRE_EXTRAS") == "1":
        pytest.fail(f"MATCALC_REQUIRE_EXTRAS=1 but {what} is missing")
    pytest.skip(f"{what} is not installed")
