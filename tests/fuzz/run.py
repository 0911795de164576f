"""Run the differential fuzzer: ``python tests/fuzz/run.py --count 5000 --seed 0``.

Prints a table of outcomes per part (numpy, text, codegen, check) and writes every non-ok
outcome as one JSON line with its reproduction (program, wrt, shapes, assume, point), shrunk
with ``--shrink``.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    __package__ = "tests.fuzz"

from .evaluator import sample_point
from .generator import generate
from .names import plain_names
from .oracle import OUTCOMES, PARTS, run_oracle


def examples(seed: int, count: int, max_wrt: int = 2, plain: bool = False):
    """(index, program, point, wrt) for the first ``count`` examples of ``seed`` that have a
    variable to differentiate by and a valid point (others are regenerated deterministically)."""
    index = produced = 0
    while produced < count:
        program = generate(seed, index)
        if plain:
            program = plain_names(program)
        index += 1
        wrts = list(program.wrt_candidates())      # any output by any variable (v2), scalars too
        if not wrts:
            continue
        values = sample_point(program, seed * 1_000_003 + index)
        if values is None:
            continue
        produced += 1
        yield index - 1, program, values, wrts[:max_wrt]


def reproduction(program, values, wrt, part, outcome, detail, seed=None, index=None) -> dict:
    return {"seed": seed, "index": index, "part": part, "outcome": outcome, "detail": detail[:600],
            "expr": program.text(), "wrt": wrt, "shapes": {k: list(v) for k, v in program.shapes().items()},
            "assume": program.assume(), "point": {k: v.tolist() for k, v in values.items()}}


def signature(part: str, outcome: str, detail: str) -> str:
    """A bug class: part, outcome and the message with names, numbers and quoted text removed."""
    msg = re.sub(r"'[^']*'|\"[^\"]*\"", "_", detail)
    msg = re.sub(r"[-+]?\d[\d.e+-]*", "#", msg)
    return f"{part}/{outcome}: {msg[:120]}"


def run(seed: int, count: int, shrink: bool = False, out=None, progress: bool = False, plain: bool = False):
    table = {p: Counter() for p in PARTS}
    failures = []
    seen: set[str] = set()
    for n, (index, program, values, wrts) in enumerate(examples(seed, count, plain=plain)):
        for wrt in wrts:
            res = run_oracle(program, values, wrt)
            for part, (outcome, detail) in res.items():
                table[part][outcome] += 1
                if outcome != "ok":
                    rec = reproduction(program, values, wrt, part, outcome, detail, seed, index)
                    rec["class"] = signature(part, outcome, detail)
                    if shrink and outcome in ("silent", "internal") and rec["class"] not in seen:
                        seen.add(rec["class"])
                        from .shrink import shrink as do_shrink
                        small, svals = do_shrink(program, wrt, part, outcome)
                        rec["shrunk"] = {"expr": small.text(), "shapes": {k: list(v) for k, v in small.shapes().items()},
                                         "assume": small.assume(), "point": {k: v.tolist() for k, v in svals.items()}}
                    failures.append(rec)
                    if out:
                        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
                        out.flush()
        if progress and (n + 1) % 100 == 0:
            print(f"  {n + 1} programs", file=sys.stderr, flush=True)
        if progress and (n + 1) % 500 == 0:                     # partial figures of a long run
            print(format_table(table), file=sys.stderr, flush=True)
    return table, failures


def format_table(table) -> str:
    lines = [f"{'part':<9}" + "".join(f"{o:>13}" for o in OUTCOMES)]
    for part in PARTS:
        lines.append(f"{part:<9}" + "".join(f"{table[part][o]:>13}" for o in OUTCOMES))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="accepted for compatibility; runs serially")
    ap.add_argument("--shrink", action="store_true", help="shrink silent and internal failures")
    ap.add_argument("--failures", default="fuzz_failures.jsonl")
    ap.add_argument("--plain-names", action="store_true",
                    help="rename Unicode/colliding names to ASCII, to see past naming bugs")
    args = ap.parse_args(argv)
    with open(args.failures, "w", encoding="utf-8") as out:
        table, failures = run(args.seed, args.count, args.shrink, out, progress=True,
                               plain=args.plain_names)
    print(f"{args.count} programs, seed {args.seed}")
    print(format_table(table))
    classes = Counter(f["class"] for f in failures if f["outcome"] in ("silent", "internal"))
    if classes:
        print(f"{len(classes)} classes of silent/internal outcomes:")
        for cls, n in classes.most_common():
            print(f"{n:>7}  {cls.splitlines()[0][:110]}")
    bad = sum(table[p]["silent"] + table[p]["internal"] for p in PARTS)
    print(f"{bad} silent-or-internal outcomes; failures in {args.failures}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
