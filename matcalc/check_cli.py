"""``matcalc check``: grade one answer, or a grader's whole batch (CSV or JSON Lines).

Single: ``matcalc check EXPR --wrt W --answer "..."`` prints the verdict; exit 0 correct,
1 wrong, 2 bad input, 3 internal error.  Batch: ``matcalc check --batch answers.csv
[-o report.csv|report.json]`` grades every row (columns ``id, expr, wrt, answer`` and optional
``shapes`` like ``W=n,m x=m lam=scalar``, ``assume`` like ``y=onehot``, ``form``); a bad row gets
verdict ``error`` with its message and never stops the batch.  The summary always goes to
stderr (and into a JSON report); exit 0 once the batch has run, 2 if the file cannot be read.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections import Counter

from .check import FORMS, Verdict, check
from .errors import MatcalcError

REPORT_FIELDS = ("id", "expr", "wrt", "answer", "form", "verdict", "diagnosis", "reason", "expected",
                 "counterexample")
PROGRESS_MIN_ROWS = 20

EXAMPLES = """examples:
  matcalc check "x'*A*x" --wrt x --answer "(A + A')*x"
  matcalc check "norm(W*x)^2" --wrt W --answer "2*x*x'*W'"
  matcalc check "z = W*x + b; h = f(z); s = u'*h" --wrt W --answer "(u .* f'(z))*x'"
  matcalc check --batch answers.csv -o report.csv
"""


def add_check_parser(sub) -> None:
    c = sub.add_parser("check", help="grade a hand-derived gradient / Jacobian / Hessian",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("expr", nargs="?", help="expression or program in the matcalc language")
    c.add_argument("--wrt", help="the variable the answer differentiates by")
    c.add_argument("--answer", help="the answer to grade, in the matcalc language")
    c.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS",
                   help="declare a shape: W=n,m  x=m  lam=scalar (repeatable)")
    c.add_argument("--assume", action="append", default=[], metavar="NAME=KIND",
                   help="symmetric, spd, invertible, positive, onehot, onehot_rows, probability, diagonal")
    c.add_argument("--form", choices=FORMS, default=None,
                   help="gradient (default for a scalar output), jacobian (vector output), hessian")
    c.add_argument("--json", action="store_true", help="print the verdict as JSON")
    c.add_argument("--batch", metavar="FILE", help="grade every row of a CSV or JSON Lines file")
    c.add_argument("-o", "--output", metavar="REPORT", help="batch report: .csv (default) or .json")


def run_check(args) -> int:
    from .cli import parse_assume, parse_shape
    if args.batch:
        if args.expr or args.answer or args.wrt:
            raise MatcalcError("matcalc check: --batch takes its expressions from the file; "
                               "give either --batch FILE or EXPR --wrt W --answer ...")
        return run_batch(args.batch, args.output)
    missing = [n for n, v in (("EXPR", args.expr), ("--wrt", args.wrt), ("--answer", args.answer))
               if v is None]
    if missing:
        raise MatcalcError(f"matcalc check: missing {', '.join(missing)} (or use --batch FILE)")
    shapes = dict(parse_shape(s) for s in args.shape)
    assume = dict(parse_assume(a) for a in args.assume)
    v = check(args.expr, args.wrt, args.answer, shapes=shapes or None, assume=assume or None,
              form=args.form)
    if args.json:
        print(json.dumps(v.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(v)
    return 0 if v.correct else 1


# ---------------------------------------------------------------------------- batch
def read_rows(path: str) -> list[dict]:
    """Rows of a CSV or JSON Lines file as dicts; an unreadable JSON line becomes an error row."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except OSError as e:
        raise MatcalcError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise MatcalcError(f"cannot read {path}: not UTF-8 text") from None
    if path.endswith((".jsonl", ".json", ".ndjson")):
        rows = []
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                row = {"id": f"line {i}", "_error": f"line {i} is not a JSON object: {e}"}
            if not isinstance(row, dict):
                row = {"id": f"line {i}", "_error": f"line {i} is not a JSON object"}
            rows.append(row)
        return rows
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"expr", "wrt", "answer"} <= {f.strip() for f in reader.fieldnames}:
        raise MatcalcError(f"{path}: a batch CSV needs the columns id, expr, wrt, answer "
                           "(optional: shapes, assume, form)")
    return [{(k or "").strip(): v for k, v in row.items()} for row in reader]


def _pairs(value, parse_one) -> dict | None:
    if value in (None, ""):
        return None
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise MatcalcError(f"cannot read {value!r}: write e.g. W=n,m x=m or y=onehot")
    return dict(parse_one(p) for p in value.replace(";", " ").split())


def grade_row(row: dict, index: int) -> dict:
    """One report row: the verdict, or ``error`` with the message."""
    from .cli import parse_assume, parse_shape
    rec = {k: "" for k in REPORT_FIELDS}
    rec["id"] = str(row.get("id") or index)
    for k in ("expr", "wrt", "answer", "form"):
        v = row.get(k)
        rec[k] = "" if v is None else str(v)
    try:
        if row.get("_error"):
            raise MatcalcError(row["_error"])
        for k in ("expr", "wrt"):
            if not isinstance(row.get(k), str) or not row.get(k):
                raise MatcalcError(f"the row has no {k}")
        if not isinstance(row.get("answer"), str):
            raise MatcalcError("the row has no answer")
        shapes = _pairs(row.get("shapes"), parse_shape)
        assume = _pairs(row.get("assume"), parse_assume)
        form = row.get("form") or None
        v: Verdict = check(row["expr"], row["wrt"], row["answer"], shapes=shapes, assume=assume, form=form)
        rec.update(verdict="correct" if v.correct else "wrong", diagnosis=v.diagnosis, reason=v.reason,
                   expected=v.expected, form=v.form,
                   counterexample=json.dumps(v.counterexample, ensure_ascii=False) if v.counterexample else "")
    except MatcalcError as e:
        rec.update(verdict="error", diagnosis="error", reason=str(e).split("\n")[0])
    except RecursionError:
        rec.update(verdict="error", diagnosis="error", reason="nested too deeply to check")
    except Exception as e:  # noqa: BLE001 - one bad row never stops the batch
        rec.update(verdict="error", diagnosis="internal", reason=f"internal error: {type(e).__name__}: {e}")
    return rec


def summarize(records: list[dict]) -> dict:
    counts = Counter(r["verdict"] for r in records)
    return {"rows": len(records), "correct": counts.get("correct", 0), "wrong": counts.get("wrong", 0),
            "error": counts.get("error", 0),
            "diagnoses": dict(sorted(Counter(r["diagnosis"] for r in records).items()))}


def _progress(i: int, n: int) -> None:
    width = 30
    done = width * i // n
    sys.stderr.write(f"\rchecking [{'#' * done}{' ' * (width - done)}] {i}/{n}")
    if i == n:
        sys.stderr.write("\n")
    sys.stderr.flush()


def run_batch(path: str, output: str | None) -> int:
    rows = read_rows(path)
    show = len(rows) > PROGRESS_MIN_ROWS and sys.stderr.isatty()
    records = []
    for i, row in enumerate(rows, 1):
        records.append(grade_row(row, i))
        if show:
            _progress(i, len(rows))
    summary = summarize(records)
    write_report(records, summary, output)
    print(f"checked {summary['rows']} answers: {summary['correct']} correct, {summary['wrong']} wrong, "
          f"{summary['error']} errors", file=sys.stderr)
    return 0


def write_report(records: list[dict], summary: dict, output: str | None) -> None:
    if output and output.endswith(".json"):
        text = json.dumps({"summary": summary, "rows": records}, ensure_ascii=False, indent=2) + "\n"
    else:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(REPORT_FIELDS), lineterminator="\n")
        w.writeheader()
        w.writerows(records)
        text = buf.getvalue()
    if output:
        try:
            with open(output, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
        except OSError as e:
            raise MatcalcError(f"cannot write {output}: {e.strerror or e}") from None
    else:
        sys.stdout.write(text)
