"""Peak memory of ``matcalc check --batch`` for 1,000 and 10,000 rows (tracemalloc).

The batch is streamed (one row read, graded and written at a time), so the peak should not grow
with the number of rows.  Run: ``PYTHONPATH=. python benchmarks/batch_memory.py [ROWS ...]``.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from matcalc.cli.check_command import run_batch  # noqa: E402

QUESTIONS = ["x'*B*x,x,(B + B')*x", "x'*x,x,3*x", "sum(W*x),x,W'*ones(n)", "norm(M*v)^2,M,2*M*v*v'"]


def peak_for(rows: int, folder: str) -> tuple[int, int]:
    src, out = os.path.join(folder, f"a{rows}.csv"), os.path.join(folder, f"r{rows}.csv")
    with open(src, "w", encoding="utf-8") as fh:
        fh.write("id,expr,wrt,answer\n")
        for i in range(rows):
            fh.write(f"r{i},{QUESTIONS[i % len(QUESTIONS)]}\n")
    run_batch(src, os.path.join(folder, "warm.csv"))          # imports and the question cache
    tracemalloc.start()
    with contextlib.redirect_stderr(io.StringIO()):
        run_batch(src, out)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    with open(out, encoding="utf-8") as fh:
        written = sum(1 for _ in fh) - 1
    return peak, written


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000]
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            peak, written = peak_for(n, folder)
            print(f"{n:>7} rows: peak {peak / 1024:8.1f} KiB traced, {written} report rows")
