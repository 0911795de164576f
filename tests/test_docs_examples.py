"""Every example in the README and in docs/ prints what it shows.

Three kinds of example are checked, all run in-process:

- a fenced block with ``$ matcalc ...`` lines: each command's output (stdout, or stderr when it
  prints nothing else) is the text below it, up to the next ``$`` line or the end of the block;
  a command marked ``# (excerpt)``, or whose shown output has a ``...`` line, must print every
  shown line, in order;
- a ``python`` block of ``>>>`` lines: a doctest;
- a block after an ``<!-- excerpt of: matcalc ... -->`` comment: an excerpt of that command's
  output (comments after ``#`` on shown lines are the page's own and are ignored).
"""
from __future__ import annotations

import contextlib
import doctest
import io
import re
import shlex
from pathlib import Path

import pytest

from matcalc.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
EXCERPT_OF = re.compile(r"<!-- excerpt of: (matcalc .*?) -->\s*$")


def run(command: str) -> tuple[int, str]:
    args = shlex.split(command)
    assert args[0] == "matcalc", command
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args[1:])
    return code, out.getvalue() or err.getvalue()


def shown_in_order(shown: list[str], printed: str) -> bool:
    """Every shown line (without its trailing comment) occurs in ``printed``, in this order."""
    lines = printed.splitlines()
    at = 0
    for line in shown:
        line = re.sub(r"\s+#.*$", "", line).rstrip()
        if not line.strip() or line.strip() == "...":
            continue
        while at < len(lines) and lines[at].rstrip() != line:
            at += 1
        if at == len(lines):
            return False
        at += 1
    return True


def examples():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for block in FENCE.finditer(text):
            language, body = block.group(1), block.group(2)
            line_no = text.count("\n", 0, block.start()) + 1
            where = f"{page.name}:{line_no}"
            before = text[:block.start()].rstrip().splitlines()[-1:] or [""]
            marker = EXCERPT_OF.search(before[0])
            if marker:
                yield pytest.param("excerpt", marker.group(1), body.splitlines(), id=f"{where}-excerpt")
            elif language == "python" and body.lstrip().startswith(">>>"):
                yield pytest.param("doctest", where, body, id=f"{where}-doctest")
            elif "$ matcalc" in body:
                for i, chunk in enumerate(re.split(r"^(?=\$ matcalc)", body, flags=re.M)):
                    if not chunk.startswith("$ matcalc"):
                        continue
                    first, _, rest = chunk.partition("\n")
                    command = first[2:]
                    shown = rest.rstrip("\n").splitlines()
                    kind = "excerpt" if "# (excerpt)" in command or "..." in shown else "output"
                    command = command.split("  #")[0].strip()
                    yield pytest.param(kind, command, shown, id=f"{where}-{i}")


@pytest.mark.parametrize("kind,what,shown", list(examples()))
def test_example_prints_what_it_shows(kind, what, shown):
    if kind == "doctest":
        test = doctest.DocTestParser().get_doctest(shown, {}, what, what, 0)
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        runner.run(test)
        assert runner.failures == 0, f"{what}: the doctest above fails"
        return
    code, printed = run(what)
    if kind == "excerpt":
        assert shown_in_order(shown, printed), f"{what} no longer prints:\n" + "\n".join(shown) + \
            f"\n--- it prints:\n{printed}"
    else:
        assert printed.rstrip("\n").splitlines() == shown, what


def test_the_pages_have_examples():
    """The collector finds the README's examples (a broken pattern must not pass vacuously)."""
    kinds = [p.values[0] for p in examples()]
    assert kinds.count("output") >= 10 and "doctest" in kinds and "excerpt" in kinds


def test_an_excerpt_must_match_in_order():
    printed = "a\nb\nc\n"
    assert shown_in_order(["a", "...", "c   # a page's comment"], printed)
    assert not shown_in_order(["c", "a"], printed) and not shown_in_order(["a", "x"], printed)
