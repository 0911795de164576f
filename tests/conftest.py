import importlib
import os

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def extra(name: str):
    """The optional extra ``name`` (torch, jax, ...) imported, or the test skipped with the reason;
    under ``MATCALC_REQUIRE_EXTRAS=1`` (``.ci/run``) a missing extra fails the test instead."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if os.environ.get("MATCALC_REQUIRE_EXTRAS") == "1":
            pytest.fail(f"optional extra {name} is required (MATCALC_REQUIRE_EXTRAS=1) but missing: {exc}")
        pytest.skip(f"optional extra {name} is not installed (pip install matcalc[{name}])")
