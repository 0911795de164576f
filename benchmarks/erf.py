"""erf on 10⁶ entries: the vectorised pieces (``matcalc.core.rules.erf``) against ``math.erf``
per entry (what matcalc did before), as paired, interleaved runs; prints the median ratio and
its quartiles.  Run pinned: ``taskset -c 1 env PYTHONPATH=. python benchmarks/erf.py``."""
from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from matcalc.core.rules.erf import erf  # noqa: E402

PER_ENTRY = np.frompyfunc(math.erf, 1, 1)


def timed(f, z) -> float:
    t = time.perf_counter()
    f(z)
    return time.perf_counter() - t


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    z = np.random.default_rng(0).normal(scale=1.5, size=size)
    ratios = []
    for _ in range(15):
        old = timed(lambda a: np.asarray(PER_ENTRY(a), dtype=float), z)
        new = timed(erf, z)
        ratios.append(old / new)
    q1, med, q3 = np.percentile(ratios, [25, 50, 75])
    print(f"erf on {size} entries: math.erf per entry / vectorised = {med:.2f}x (quartiles {q1:.2f}-{q3:.2f})")
