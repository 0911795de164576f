"""matcalc's version: the one place it is written (pyproject.toml and ``--version`` read it)."""

VERSION = "0.2.0"
