"""Bounded differential fuzz test (issue 10, item 8): seeded random well-typed programs, each
checked through derive().numpy(), the printed text parsed back, codegen and check against
central differences of an independent NumPy evaluator (tests/fuzz/).

The bar: no silent wrong result and no internal error.  Clean errors (exit 2) are allowed and
counted, not hidden.  A failure message carries the minimal reproduction (shrunk program, wrt,
shapes, assumptions, point); ``python tests/fuzz/run.py --count 5000`` is the larger run.
"""
import json

import pytest
from fuzz.generator import generate
from fuzz.oracle import PARTS
from fuzz.run import format_table, run, signature
from fuzz.shrink import shrink

SEED = 0
COUNT = 300


@pytest.fixture(scope="module")
def fuzz_run():
    return run(SEED, COUNT)


def _report(failures, outcome):
    bad = [f for f in failures if f["outcome"] == outcome]
    classes = {}
    for f in bad:
        classes.setdefault(signature(f["part"], f["outcome"], f["detail"]), f)
    lines = [f"{len(bad)} {outcome} outcomes in {len(classes)} classes; first of each (shrunk):"]
    for cls, f in list(classes.items())[:8]:
        small, point = shrink(generate(f["seed"], f["index"]), f["wrt"], f["part"], f["outcome"], budget=60)
        lines.append(json.dumps({"class": cls, "expr": small.text(), "wrt": f["wrt"],
                                 "shapes": {k: list(v) for k, v in small.shapes().items()},
                                 "assume": small.assume(), "point": {k: v.tolist() for k, v in point.items()},
                                 "seed": f["seed"], "index": f["index"], "detail": f["detail"][:300]},
                                ensure_ascii=False))
    return "\n".join(lines)


def test_every_part_ran(fuzz_run):
    table, _ = fuzz_run
    for part in PARTS:
        assert table[part]["ok"] > COUNT // 4, format_table(table)


def test_no_silent_wrong_result(fuzz_run):
    table, failures = fuzz_run
    assert sum(table[p]["silent"] for p in PARTS) == 0, format_table(table) + "\n" + _report(failures, "silent")


def test_no_internal_error(fuzz_run):
    table, failures = fuzz_run
    assert sum(table[p]["internal"] for p in PARTS) == 0, format_table(table) + "\n" + _report(failures, "internal")
