"""The page's form fields, read from a JSON request into the API's arguments, bounded in size.

A request is a JSON object of strings: ``expr``, ``wrt``, ``shapes`` (``"W=n,m x=m lam=scalar
o=index"``, as the CLI's ``--shape`` values separated by spaces or semicolons), ``assume``
(``"y=onehot X=spd"``), ``form``, ``at`` (``"x=-2,W=[1,2;3,4]"`` or ``"random"``), ``answer``,
an integer ``seed`` and a boolean ``index`` (the steps in index notation, ``--index``).  Nothing is evaluated: each field is split by this module and read by
matcalc's own parsers.  Every text field is bounded by the parser's ``MAX_LENGTH``, as in the CLI.
"""
from __future__ import annotations

import re

from matcalc.core.errors import MatcalcError
from matcalc.language.parser import MAX_LENGTH

TEXT_FIELDS = ("expr", "wrt", "shapes", "assume", "form", "at", "answer")
FORMS = ("gradient", "jacobian", "both", "hessian")


class FieldError(MatcalcError):
    """A form field that is missing, too long or not in its spelling (bad input, exit code 2)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def read_request(body: object) -> dict:
    """The request's fields, checked for type and length (a ``FieldError`` names the field)."""
    if not isinstance(body, dict):
        raise FieldError("", "the request body is a JSON object of form fields")
    out: dict = {}
    for name in TEXT_FIELDS:
        value = body.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise FieldError(name, f"{name}: a string is expected, not {type(value).__name__}")
        if len(value) > MAX_LENGTH:
            raise FieldError(name, f"{name} too long ({len(value)} characters; the limit is {MAX_LENGTH})")
        out[name] = value
    seed = body.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 32:
        raise FieldError("seed", "seed: a whole number from 0 to 2^32 - 1")
    out["seed"] = seed
    index = body.get("index", False)
    if not isinstance(index, bool):
        raise FieldError("index", "index: true or false")
    out["index"] = index
    if out["form"] and out["form"] not in FORMS:
        raise FieldError("form", f"form: one of {', '.join(FORMS)}")
    return out


def require(fields: dict, *names: str) -> None:
    """A ``FieldError`` for the first of ``names`` left empty."""
    for name in names:
        if not fields[name].strip():
            raise FieldError(name, f"{name} is empty" + (": name the variable(s), e.g. W or W,b"
                                                            if name == "wrt" else ""))


def _items(text: str) -> list[str]:
    """``"W=n,m x=m; lam=scalar"`` → ``["W=n,m", "x=m", "lam=scalar"]`` (spaces around ``=`` and
    after commas are allowed: ``W = n, m``)."""
    text = re.sub(r"\s*([=,×])\s*", r"\1", text.strip())
    return [t for t in re.split(r"[\s;]+", text) if t]


def parse_shapes(text: str) -> dict:
    """The shapes field as the API's ``shapes`` dict: ``W=n,m`` → ``("n", "m")``, ``x=3`` →
    ``(3,)``, ``lam=scalar`` → ``()``, ``o=index``; a name declared twice differently is refused."""
    out: dict = {}
    for item in _items(text):
        name, eq, dims = item.partition("=")
        if not eq or not name.isidentifier():
            raise FieldError("shapes", f"shapes: {item!r}: write NAME=DIMS, e.g. W=n,m or x=3 or lam=scalar")
        if dims in ("scalar", "", "()"):
            value: object = ()
        elif dims == "index":
            value = "index"
        else:
            parts = [int(d) if d.isdigit() else d for d in re.split(r"[,×]", dims)]
            if len(parts) > 2 or not all(isinstance(d, int) and d >= 1 or isinstance(d, str) and d.isidentifier()
                                         for d in parts):
                raise FieldError("shapes", f"shapes: {item!r}: at most two dimensions, each a positive integer "
                                           "or a name")
            value = tuple(parts)
        if name in out and out[name] != value:
            raise FieldError("shapes", f"shapes: {name} is declared twice, differently")
        out[name] = value
    return out


def parse_assume(text: str) -> dict:
    """The assumptions field: ``y=onehot X=spd`` → ``{"y": "onehot", "X": "spd"}``."""
    out: dict = {}
    for item in _items(text):
        name, eq, kind = item.partition("=")
        if not eq or not name.isidentifier() or not kind:
            raise FieldError("assume", f"assume: {item!r}: write NAME=KIND, e.g. y=onehot or X=spd")
        if name in out and out[name] != kind:
            raise FieldError("assume", f"assume: {name} is assumed twice, differently")
        out[name] = kind
    return out
