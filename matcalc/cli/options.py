"""Command-line options shared by every subcommand: shapes, assumptions, points, output files.

Each parser raises ``MatcalcError`` (exit 2) with the flag and an example of what is expected.
"""
from __future__ import annotations

import argparse
import math
import os
import re

from matcalc.core.errors import MatcalcError
from matcalc.output.explain import parse_at


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise MatcalcError(f"{self.prog}: {message} (see {self.prog} --help)")


def parse_shape(text: str) -> tuple[str, tuple]:
    """``W=n,m`` / ``x=m`` / ``lam=scalar`` → (name, dims)."""
    name, eq, dims = text.partition("=")
    name = name.strip()
    if not eq or not name.isidentifier():
        raise MatcalcError(f"--shape {text!r}: write NAME=DIMS, e.g. W=n,m or x=3 or lam=scalar")
    dims = dims.strip()
    if dims in ("scalar", "", "()"):
        return name, ()
    if dims == "index":                    # an index name (LANGUAGE.md v2): o=index
        return name, "index"
    parts = []
    for d in dims.replace("x", ",").replace("×", ",").split(",") if not dims.isidentifier() else [dims]:
        d = d.strip()
        if d.isdigit() and int(d) >= 1:
            parts.append(int(d))
        elif d.isidentifier():
            parts.append(d)
        else:
            raise MatcalcError(f"--shape {text!r}: a dimension is a positive integer or a name")
    if len(parts) > 2:
        raise MatcalcError(f"--shape {text!r}: at most two dimensions (a matrix)")
    return name, tuple(parts)


def parse_assume(text: str) -> tuple[str, str]:
    name, eq, kind = text.partition("=")
    if not eq or not name.strip():
        raise MatcalcError(f"--assume {text!r}: write NAME=KIND, e.g. y=onehot or X=spd")
    return name.strip(), kind.strip()


def shapes_and_assumptions(args) -> tuple[dict, dict]:
    """The --shape and --assume options as dictionaries."""
    return dict(parse_shape(s) for s in args.shape), dict(parse_assume(a) for a in args.assume)


def parse_pairs(items, parse_one, flag: str) -> dict:
    """Repeated ``--shape``/``--assume`` values as one dict.  The same declaration twice is fine;
    two different ones for one name are contradictory input (exit 2), never "the last one wins"."""
    out: dict = {}
    for text in items or ():
        name, value = parse_one(text)
        if name in out and out[name] != value:
            raise MatcalcError(f"{flag}: {name} is declared twice, differently "
                               f"({_show(out[name])} and {_show(value)}); give one {flag} per name")
        out[name] = value
    return out


def _show(value) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "scalar"
    return str(value)


def parse_point(text: str) -> dict:
    """``--at`` values (see explain.parse_at), refused when a name repeats or a value is not finite:
    a NaN or infinite point makes every value and gradient printed there meaningless."""
    names = re.findall(r"(?:^|,)\s*([^\W\d]\w*)\s*=", re.sub(r"\[[^\]]*\]", "[]", text))
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise MatcalcError(f"--at: {', '.join(repeated)} is given more than once")
    point = parse_at(text)
    for name, value in point.items():
        flat = value if isinstance(value, list) else [value]
        flat = [v for row in flat for v in (row if isinstance(row, list) else [row])]
        if not all(math.isfinite(v) for v in flat):
            raise MatcalcError(f"--at: {name} has a value that is not a finite number (nan or inf)")
    return point


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("expr", help="expression or program in the matcalc language (docs/language.md); "
                   "- reads it from standard input, @FILE from a file")
    p.add_argument("--wrt", required=True, help="variable(s) to differentiate by: W or W,b")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS",
                   help="declare a shape: W=n,m  x=m  lam=scalar  o=index (repeatable)")
    p.add_argument("--assume", action="append", default=[], metavar="NAME=KIND",
                   help="symmetric, spd, invertible, positive, onehot, onehot_rows, probability, diagonal")


def validate_args(args) -> None:
    """Checks that every subcommand shares (graph's and check's parsers live elsewhere): shapes and
    assumptions declared consistently, a finite ``--at`` point, an output file that can be created."""
    if isinstance(getattr(args, "shape", None), list):
        parse_pairs(args.shape, parse_shape, "--shape")
    if isinstance(getattr(args, "assume", None), list):
        parse_pairs(args.assume, parse_assume, "--assume")
    if getattr(args, "at", None):
        parse_point(args.at)
    output = getattr(args, "output", None)
    if isinstance(output, str) and output != "-":
        check_writable(output)


def check_writable(path: str) -> None:
    """Exit 2 before any work when ``path`` cannot be written: a missing folder, a folder itself."""
    if not path.strip():
        raise MatcalcError("-o: the output file name is empty")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise MatcalcError(f"cannot write {path}: the folder {os.path.dirname(path) or folder} does not exist")
    if os.path.isdir(path):
        raise MatcalcError(f"cannot write {path}: it is a folder")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise MatcalcError(f"cannot write {path}: permission denied")
