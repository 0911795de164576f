"""Refresh the output under every ``$ matcalc ...`` line in docs/*.md (and the README with --readme).

    python docs/regenerate.py            # rewrite the outputs in docs/*.md
    python docs/regenerate.py --check    # exit 1 if a page shows output matcalc no longer prints

Each command is run in-process (``matcalc.cli.main``) and what it prints (stdout, or stderr when
it prints nothing else) replaces the lines below it, up to the next ``$`` line or the end of the
fenced block.  Blocks marked as excerpts (``# (excerpt)`` or a ``...`` line) are left alone:
``tests/test_docs_examples.py`` checks those line by line.
"""
from __future__ import annotations

import contextlib
import io
import re
import shlex
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from matcalc.cli.main import main  # noqa: E402 - after the path is set

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def printed(command: str) -> str:
    args = shlex.split(command)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        main(args[1:])
    return (out.getvalue() or err.getvalue()).rstrip("\n")


def refresh_block(body: str) -> str:
    chunks = re.split(r"^(?=\$ matcalc)", body, flags=re.M)
    out = []
    for chunk in chunks:
        if not chunk.startswith("$ matcalc"):
            out.append(chunk)
            continue
        first, _, rest = chunk.partition("\n")
        shown = rest.rstrip("\n").splitlines()
        if "# (excerpt)" in first or "..." in shown:
            out.append(chunk)
            continue
        trailing = "\n\n" if rest.endswith("\n\n") else "\n"
        out.append(first + "\n" + printed(first[2:].split("  #")[0].strip()) + trailing)
    return "".join(out)


def refresh(text: str) -> str:
    return FENCE.sub(lambda m: f"```{m.group(1)}\n{refresh_block(m.group(2))}```"
                     if "$ matcalc" in m.group(2) else m.group(0), text)


def main_(argv: list[str]) -> int:
    pages = sorted(HERE.glob("*.md")) + ([HERE.parent / "README.md"] if "--readme" in argv else [])
    stale = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        new = refresh(text)
        if new != text:
            stale.append(page.name)
            if "--check" not in argv:
                page.write_text(new, encoding="utf-8")
    if stale:
        print(("stale: " if "--check" in argv else "rewrote: ") + ", ".join(stale))
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main_(sys.argv[1:]))
