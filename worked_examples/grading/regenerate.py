"""Regenerate report.csv from answers.csv: ``python worked_examples/grading/regenerate.py``.

The same as ``matcalc check --batch answers.csv -o report.csv`` run in this directory; the test
``tests/test_check.py::test_worked_grading_example_is_fresh`` fails when report.csv is stale.
"""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from matcalc.cli.check_command import run_batch


def report_text() -> str:
    """The report for answers.csv, as the text of a CSV file."""
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        run_batch(os.path.join(HERE, "answers.csv"), None)
    return buf.getvalue()


if __name__ == "__main__":
    with open(os.path.join(HERE, "report.csv"), "w", encoding="utf-8", newline="") as fh:
        fh.write(report_text())
    print("wrote report.csv")
