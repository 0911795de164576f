"""The JSON documents of ``--json`` (and of the web page's API): one versioned shape per command.

Every document carries ``"schema"`` (``matcalc/derive/v1``, ``matcalc/hessian/v1``,
``matcalc/check/v1``, ``matcalc/error/v1``); the JSON Schema of each is package data in
``matcalc/schemas/`` and ``docs/json.md`` describes the fields.  A document's shape depends only
on its command: options add keys (``jacobian`` with ``--form both``, ``steps`` with ``--steps``,
``at`` with ``--at``) and never replace the ones that are always there.  A new field is a minor
change; renaming or removing one bumps the version.
"""
from __future__ import annotations

import json

from matcalc.derivation.derivation import Derivation
from matcalc.derivation.hessian import Hessian
from matcalc.output.explain import values_text

SCHEMA_VERSION = 1
STYLES = ("unicode", "text", "latex")


def schema_id(command: str) -> str:
    """The ``schema`` field of a ``command``'s document: ``matcalc/derive/v1``."""
    return f"matcalc/{command}/v{SCHEMA_VERSION}"


def _check(report) -> dict | None:
    return None if report is None else {"status": report.status, "errors": report.errors}


def derivation_payload(d: Derivation, forms: tuple[str, ...] = ("gradient",), steps: bool = False,
                       at: dict | None = None, index: bool = False) -> dict:
    """``matcalc derive --json``: the result in each requested form and style, the check's report,
    the notes; with ``steps`` the chain-rule steps (a derivation made with ``steps=True``) and with
    ``at`` the value and gradients at that point."""
    if d.kind != "gradient":
        forms = ("jacobian",)
    doc: dict = {"schema": schema_id("derive"), "expr": d.expr, "wrt": list(d.wrt), "kind": d.kind,
                 "notes": list(d.notes), "check": _check(d.check)}
    for form in forms:
        doc[form] = {style: d.render(style, form) for style in STYLES}
    if steps or index:                  # index: the steps in index notation (--index)
        explained = json.loads(d.steps_text("json", index=index))
        doc["steps"] = {style: explained[style] for style in STYLES}
    if at is not None:
        doc["at"] = json.loads(values_text(d, at, "json"))
    return doc


def hessian_payload(h: Hessian) -> dict:
    """``matcalc hessian --json``: the Hessian in each style, its form per variable, the check."""
    return {"schema": schema_id("hessian"), "expr": h.expr, "wrt": list(h.wrt), "kind": "hessian",
            "forms": dict(h.forms), "notes": list(h.notes), "check": _check(h.check),
            "hessian": {style: h.render(style) for style in STYLES}}


def error_payload(error: BaseException, exit_code: int) -> dict:
    """An error as JSON: the message (without the caret drawing), where it points in the input
    (1-based line and column, or null), the error's kind and the exit code."""
    location = error.location() if hasattr(error, "location") else None
    message = getattr(error, "message", None) or str(error)
    source_line = None
    if location is not None:
        source_line = error.source.split("\n")[location[0] - 1]
    return {"schema": schema_id("error"),
            "error": {"message": message, "kind": type(error).__name__.rstrip("_"),
                      "line": location[0] if location else None, "column": location[1] if location else None,
                      "source_line": source_line, "exit_code": exit_code}}
