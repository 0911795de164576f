"""``matcalc check``: grade one answer, or a grader's whole batch (CSV or JSON Lines).

Single: ``matcalc check EXPR --wrt W --answer "..."`` prints the verdict; exit 0 correct,
1 wrong, 2 bad input, 3 internal error.  Batch: ``matcalc check --batch answers.csv
[-o report.csv|report.jsonl|report.json]`` grades every row, streamed: each row is read
(matcalc.batch_read), graded and written on its own, so memory does not grow with the file and
an interrupted run leaves the rows graded so far (columns ``id, expr, wrt, answer`` and optional
``shapes`` like ``W=n,m x=m lam=scalar``, ``assume`` like ``y=onehot``, ``form``); a bad row gets
verdict ``error`` with its message and never stops the batch.  The summary always goes to
stderr (and into a JSON report); exit 0 once the batch has run, 2 if the file cannot be read.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
from collections import Counter

import matcalc
from matcalc.cli.batch_pool import available_cpus, graded
from matcalc.cli.batch_read import open_rows
from matcalc.cli.options import parse_assume, parse_shape, shapes_and_assumptions
from matcalc.core.errors import ClosedPipe, MatcalcError
from matcalc.derivation.payload import schema_id
from matcalc.grading.verdict import FORMS, Verdict

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
                       epilog=EXAMPLES + "\n" + REPORT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("expr", nargs="?", help="expression or program in the matcalc language (- standard input, "
                   "@FILE a file)")
    c.add_argument("--wrt", help="the variable the answer differentiates by")
    c.add_argument("--answer", help="the answer to grade, in the matcalc language (- or @FILE as for EXPR)")
    c.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS",
                   help="declare a shape: W=n,m  x=m  lam=scalar (repeatable)")
    c.add_argument("--assume", action="append", default=[], metavar="NAME=KIND",
                   help="symmetric, spd, invertible, positive, onehot, onehot_rows, probability, diagonal")
    c.add_argument("--form", choices=FORMS, default=None,
                   help="gradient (default for a scalar output), jacobian (vector output), hessian")
    c.add_argument("--json", action="store_true", help="print the verdict as JSON")
    c.add_argument("--batch", metavar="FILE", help="grade every row of a CSV, JSON Lines or JSON array file "
                   "(see below; - reads standard input)")
    c.add_argument("-o", "--output", metavar="REPORT", help="batch report: .csv (default), .jsonl or .json")
    c.add_argument("--jobs", type=_jobs, default=None, metavar="N",
                   help="batch: grade on N processes (default: the CPUs available); the report keeps "
                        "the input's order and still grows row by row")


def _jobs(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"--jobs takes a whole number of processes from 1, not {text!r}")
    return int(text)


def run_check(args) -> int:
    if args.batch:
        if args.expr or args.answer or args.wrt:
            raise MatcalcError("matcalc check: --batch takes its expressions from the file; "
                               "give either --batch FILE or EXPR --wrt W --answer ...")
        return run_batch(args.batch, args.output, args.jobs)
    missing = [n for n, v in (("EXPR", args.expr), ("--wrt", args.wrt), ("--answer", args.answer))
               if v is None]
    if missing:
        raise MatcalcError(f"matcalc check: missing {', '.join(missing)} (or use --batch FILE)")
    shapes, assume = shapes_and_assumptions(args)
    v = matcalc.check(args.expr, args.wrt, args.answer, shapes=shapes or None, assume=assume or None,
              form=args.form)
    code = 0 if v.correct else 1
    try:
        if args.json:
            print(json.dumps({"schema": schema_id("check"), **v.to_dict()}, ensure_ascii=False, indent=2))
        else:
            print(v)
        sys.stdout.flush()
    except BrokenPipeError:
        raise ClosedPipe(code) from None
    return code


# ---------------------------------------------------------------------------- batch
MAX_REPORT_CELL = 2000                     # longer cells are cut in the CSV report (not in JSON)
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
REPORT_HELP = """batch files:
  CSV (RFC 4180: quoted cells may span lines), JSON Lines (one object a line) or a JSON array;
  columns id, expr, wrt, answer and optional shapes (W=n,m x=m), assume (y=onehot), form.
  Each row is read and graded on its own: a malformed row (an unclosed quote, bytes that are not
  UTF-8, a line that is not a JSON object) is one error row, and every other row is graded.
  The report grows row by row (flushed each time), so an interrupted run leaves a valid partial
  report: -o report.csv (default), report.jsonl (one JSON object a row, then a summary line) or
  report.json (rows then summary; completed on Ctrl-C).
  CSV report cells are escaped against spreadsheet formula injection (OWASP): a cell that starts
  with = + - @ tab or CR gets a leading ' (so the answer -2*x is shown as '-2*x); a cell longer
  than 2000 characters is cut, ending in ...[truncated, N characters].  JSON reports keep the
  raw text."""


def _pairs(value, parse_one) -> dict | None:
    if value in (None, ""):
        return None
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise MatcalcError(f"cannot read {value!r}: write e.g. W=n,m x=m or y=onehot")
    return dict(parse_one(p) for p in value.replace(";", " ").split())


def broken_row(item: tuple) -> dict:
    """The report row of a row whose grading process died twice (``batch_pool``)."""
    row, index = item
    rec = grade_row({"_error": "internal error: the grading process stopped on this part of the batch "
                               "(out of memory?)"} | {k: row.get(k) for k in ("id", "expr", "wrt", "answer")}, index)
    rec["diagnosis"] = "internal"
    return rec


QUESTION_CELLS = ("expr", "wrt", "shapes", "assume", "form")
GRADED_FIELDS = ("verdict", "diagnosis", "reason", "expected", "form", "counterexample")
MAX_CACHED_RECORDS = 8192          # (question, answer) cells kept with their graded columns
_RECORDS: dict = {}                # within one batch (cleared when a batch starts)


def question_of(item: tuple):
    """The question a row asks, as its cells (``batch_pool`` sends a question's rows to one
    worker, which derives it once); None for a row that cannot be read."""
    row, _ = item
    if row.get("_error"):
        return None
    return tuple(str(row.get(k)) for k in QUESTION_CELLS)


def _record_key(row: dict):
    """The cells that decide a row's graded columns, when they are plain text (else None)."""
    cells = tuple(row.get(k) for k in (*QUESTION_CELLS, "answer"))
    return cells if all(c is None or isinstance(c, str) for c in cells) and not row.get("_error") else None


def grade_row(row: dict, index: int) -> dict:
    """One report row: the verdict, or ``error`` with the message.  The same cells give the same
    graded columns (a verdict is seeded), so a class's repeated answer is looked up, not graded
    again nor copied out of ``check``'s verdict cache and formatted again."""
    rec = {k: "" for k in REPORT_FIELDS}
    rid = row.get("id")
    rec["id"] = str(index if rid is None or rid == "" else rid)     # an id of 0 is an id
    for k in ("expr", "wrt", "answer", "form"):
        v = row.get(k)
        rec[k] = "" if v is None else str(v)
    key = _record_key(row)
    if key is not None and key in _RECORDS:
        rec.update(_RECORDS[key])
        return rec
    if _graded(row, rec):
        _remember(key, rec)
    return rec


def _remember(key, rec: dict) -> None:
    if key is not None:
        if len(_RECORDS) >= MAX_CACHED_RECORDS:
            _RECORDS.pop(next(iter(_RECORDS)))
        _RECORDS[key] = {k: rec[k] for k in GRADED_FIELDS}


def known_row(item: tuple) -> dict | None:
    """The report row of a repeat whose graded columns this process has seen, else None (the
    parent of ``--jobs`` workers answers repeats itself: nothing to send to a worker and back)."""
    row, index = item
    key = _record_key(row)
    return grade_row(row, index) if key is not None and key in _RECORDS else None


def learn_row(item: tuple, rec: dict) -> None:
    """Keep the graded columns a worker sent back (a verdict; never an error row)."""
    if rec["verdict"] in ("correct", "wrong"):
        _remember(_record_key(item[0]), rec)


def _graded(row: dict, rec: dict) -> bool:
    """Fill ``rec``'s graded columns; whether they may be reused (a verdict: errors are not kept,
    since running out of memory or stack is not a property of the row)."""
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
        v: Verdict = matcalc.check(row["expr"], row["wrt"], row["answer"], shapes=shapes, assume=assume, form=form)
        rec.update(verdict="correct" if v.correct else "wrong", diagnosis=v.diagnosis, reason=v.reason,
                   expected=v.expected, form=v.form,
                   counterexample=json.dumps(v.counterexample, ensure_ascii=False) if v.counterexample else "")
        return True
    except MatcalcError as e:
        rec.update(verdict="error", diagnosis="error", reason=str(e).split("\n")[0])
    except RecursionError:
        rec.update(verdict="error", diagnosis="error", reason="nested too deeply to check")
    except Exception as e:  # noqa: BLE001 - one bad row never stops the batch
        rec.update(verdict="error", diagnosis="internal", reason=f"internal error: {type(e).__name__}: {e}")
    return False


class Tally:
    """The summary, counted as rows go by (no row is kept)."""

    def __init__(self):
        self.verdicts, self.diagnoses = Counter(), Counter()

    def add(self, rec: dict) -> None:
        self.verdicts[rec["verdict"]] += 1
        self.diagnoses[rec["diagnosis"]] += 1

    def summary(self) -> dict:
        c = self.verdicts
        return {"rows": sum(c.values()), "correct": c.get("correct", 0), "wrong": c.get("wrong", 0),
                "error": c.get("error", 0), "diagnoses": dict(sorted(self.diagnoses.items()))}


def _progress(i: int, n: int | None) -> None:
    width = 30
    if n:
        done = width * i // n
        sys.stderr.write(f"\rchecking [{'#' * done}{' ' * (width - done)}] {i}/{n}")
        if i == n:
            sys.stderr.write("\n")
    else:
        sys.stderr.write(f"\rchecked {i} rows")
    sys.stderr.flush()


def _count_rows(path: str) -> int | None:
    """Rows in the file (a second streaming pass, only to draw a progress bar on a terminal)."""
    try:
        fh, rows = open_rows(path)
    except MatcalcError:
        return None
    with fh:
        return sum(1 for _ in rows)


def run_batch(path: str, output: str | None, jobs: int | None = None) -> int:
    """Grade every row of ``path`` into ``output`` on ``jobs`` processes (default: the CPUs available)."""
    fh, rows = open_rows(path)
    jobs = available_cpus() if jobs is None else jobs
    _RECORDS.clear()                 # each batch grades afresh (its workers start from this)
    with fh:
        total = _count_rows(path) if sys.stderr.isatty() else None
        show = total is not None and total > PROGRESS_MIN_ROWS
        tally = Tally()
        items = ((row, i if "_error" not in row else f"line {line}") for i, (line, row) in enumerate(rows, 1))
        recs = graded(items, grade_row, jobs, broken_row, question_of, known_row, learn_row)
        with ReportWriter(output) as report, contextlib.closing(recs):
            try:
                for i, rec in enumerate(recs, 1):
                    report.write(rec)
                    tally.add(rec)
                    if show:
                        _progress(i, total)
            except KeyboardInterrupt:
                report.finish(tally.summary(), interrupted=True)
                _print_summary(tally.summary(), interrupted=True)
                raise
            report.finish(tally.summary())
    _print_summary(tally.summary())
    return 0


def _print_summary(summary: dict, interrupted: bool = False) -> None:
    rows, errors = summary["rows"], summary["error"]
    print(f"{'interrupted after' if interrupted else 'checked'} {rows} answer{'' if rows == 1 else 's'}: "
          f"{summary['correct']} correct, {summary['wrong']} wrong, {errors} error{'' if errors == 1 else 's'}",
          file=sys.stderr)


def csv_cell(value: str) -> str:
    """A report cell that a spreadsheet shows as text: cut when very long, and a leading ``'``
    when it starts like a formula (OWASP CSV injection advice)."""
    if len(value) > MAX_REPORT_CELL:
        value = value[:MAX_REPORT_CELL] + f"...[truncated, {len(value)} characters]"
    return "'" + value if value.startswith(FORMULA_LEADS) else value


class ReportWriter:
    """Writes report rows as they come (flushed each row): CSV, JSON Lines, or one JSON object."""

    def __init__(self, output: str | None):
        self.output = output
        self.kind = ("jsonl" if output and output.endswith((".jsonl", ".ndjson"))
                     else "json" if output and output.endswith(".json") else "csv")
        self.rows = 0
        self.done = False

    def __enter__(self):
        if self.output:
            try:
                self.fh = open(self.output, "w", encoding="utf-8", newline="")
            except OSError as e:
                raise MatcalcError(f"cannot write {self.output}: {e.strerror or e}") from None
        else:
            self.fh = sys.stdout
        if self.kind == "csv":
            self.csv = csv.writer(self.fh, lineterminator="\n")
            self.csv.writerow(REPORT_FIELDS)
        elif self.kind == "json":
            self.fh.write('{"rows": [')
        self.fh.flush()
        return self

    def write(self, rec: dict) -> None:
        if self.kind == "csv":
            self.csv.writerow([csv_cell(rec[k]) for k in REPORT_FIELDS])
        elif self.kind == "jsonl":
            self.fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        else:
            self.fh.write(("," if self.rows else "") + "\n  " + json.dumps(rec, ensure_ascii=False))
        self.rows += 1
        self.fh.flush()

    def finish(self, summary: dict, interrupted: bool = False) -> None:
        if self.done:
            return
        self.done = True
        summary = dict(summary, interrupted=True) if interrupted else summary
        if self.kind == "json":
            self.fh.write("\n], \"summary\": " + json.dumps(summary, ensure_ascii=False) + "}\n")
        elif self.kind == "jsonl":
            self.fh.write(json.dumps({"summary": summary}, ensure_ascii=False) + "\n")
        self.fh.flush()

    def __exit__(self, *exc):
        if self.output:
            self.fh.close()
        return False
