"""Running the CLI in-process for tests: its exit code and everything it printed."""
from __future__ import annotations

import contextlib
import io

from matcalc.cli.main import main


def run(*argv: str) -> tuple[int, str]:
    """``matcalc ARGV...``: the exit code and stdout and stderr together."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        code = main(list(argv))
    return code, buf.getvalue()
