"""Batch grading that loses nothing (issue 10, item 7): each row read and graded on its own,
streamed with a flush per row, JSON arrays accepted, the CSV report safe to open in a spreadsheet."""
from __future__ import annotations

import csv
import io
import json
import sys

import pytest

import matcalc.grading.check as check_module
from matcalc.cli import batch_read as batch_read
from matcalc.cli.check_command import MAX_REPORT_CELL, ReportWriter, csv_cell
from matcalc.cli.main import main

HEADER = "id,expr,wrt,answer\n"
GOOD = "r{i},x'*B*x,x,(B + B')*x\n"


def grade(tmp_path, name: str, data: bytes, report: str = "report.csv"):
    src, out = tmp_path / name, tmp_path / report
    src.write_bytes(data)
    assert main(["check", "--batch", str(src), "-o", str(out)]) == 0
    return out


def csv_report(path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_unclosed_quote_costs_only_its_row(tmp_path):
    lines = [GOOD.format(i=i) for i in range(1, 1001)]
    lines[4] = 'r5,"x\'*B*x,x,(B + B\')*x\n'                   # row 5: a quote never closed
    rows = csv_report(grade(tmp_path, "a.csv", (HEADER + "".join(lines)).encode()))
    assert len(rows) == 1000
    assert rows[4]["verdict"] == "error" and "never closed" in rows[4]["reason"]
    assert [r["id"] for r in rows[:4] + rows[5:]] == [f"r{i}" for i in range(1, 1001) if i != 5]
    assert all(r["verdict"] == "correct" for r in rows[:4] + rows[5:])


def test_unclosed_quote_before_a_later_quoted_cell(tmp_path):
    data = (HEADER + GOOD.format(i=1) + 'r2,"x\'*B*x,x,2*B*x\n' + GOOD.format(i=3)
            + 'r4,x\'*B*x,x,"(B + B\')*x"\n' + GOOD.format(i=5))
    rows = csv_report(grade(tmp_path, "b.csv", data.encode()))
    assert [r["id"] for r in rows] == ["r1", "line 3", "r3", "r4", "r5"]
    assert [r["verdict"] for r in rows] == ["correct", "error", "correct", "correct", "correct"]


def test_quoted_cells_may_span_lines_and_hold_quotes(tmp_path):
    data = (HEADER + 'r1,"z = B*x;\ns = x\'*z",x,"(B + B\')*x"\n'
            + 'r2,"sum(x)",x,"ones(n)"\n' + 'r3,"x\'*x",x,"""2*x"""\n')
    rows = csv_report(grade(tmp_path, "c.csv", data.encode()))
    assert [r["id"] for r in rows] == ["r1", "r2", "r3"]
    assert rows[0]["expr"] == "z = B*x;\ns = x'*z" and rows[0]["verdict"] == "correct"
    assert rows[2]["answer"] == '"2*x"'


def test_a_bad_byte_rejects_only_its_row(tmp_path):
    data = (HEADER + GOOD.format(i=1)).encode() + b"r2,x'*B*x,x,(B + B')*x\xff\n" + \
        (GOOD.format(i=3) + "r4,x'*x,x,2*x\n").encode()
    rows = csv_report(grade(tmp_path, "d.csv", data))
    assert [r["verdict"] for r in rows] == ["correct", "error", "correct", "correct"]
    assert "UTF-8" in rows[1]["reason"] and "0xff" in rows[1]["reason"]


def test_crlf_and_bom(tmp_path):
    data = b"\xef\xbb\xbf" + (HEADER + GOOD.format(i=1) + GOOD.format(i=2)).replace("\n", "\r\n").encode()
    rows = csv_report(grade(tmp_path, "e.csv", data))
    assert [(r["id"], r["verdict"]) for r in rows] == [("r1", "correct"), ("r2", "correct")]


def test_too_many_cells_is_an_error_row(tmp_path):
    rows = csv_report(grade(tmp_path, "f.csv", (HEADER + "r1,x'*x,x,2*x,extra\n" + GOOD.format(i=2)).encode()))
    assert [r["verdict"] for r in rows] == ["error", "correct"]


def test_reader_matches_python_csv_on_well_formed_files(tmp_path):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["id", "expr", "wrt", "answer"])
    cells = ['a,b', 'q"uote', 'multi\nline', '', ' sp ', 'ᵀ∘', '"', 'x\r\ny']
    for i in range(40):
        w.writerow([str(i), cells[i % len(cells)], cells[(i * 3) % len(cells)], cells[(i * 5) % len(cells)]])
    path = tmp_path / "g.csv"
    path.write_bytes(buf.getvalue().encode())
    fh, rows = batch_read.open_rows(str(path))
    with fh:
        ours = [row for _, row in rows]
    with open(path, encoding="utf-8", newline="") as f:
        theirs = list(csv.DictReader(f))
    assert ours == theirs


def test_json_array_and_a_bad_element(tmp_path):
    items = [json.dumps({"id": 1, "expr": "x'*B*x", "wrt": "x", "answer": "(B + B')*x"}),
             '{"id": 2, "expr": oops}',
             json.dumps({"id": 3, "expr": "x'*x", "wrt": "x", "answer": "2*x"}),
             json.dumps([1, 2])]
    out = grade(tmp_path, "h.json", ("[\n" + ",\n".join(items) + "\n]\n").encode(), "report.jsonl")
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["verdict"] for r in lines[:-1]] == ["correct", "error", "correct", "error"]
    assert lines[-1]["summary"]["rows"] == 4


def test_large_json_array_streams_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_read, "CHUNK", 7)
    items = [{"id": i, "expr": "x'*x", "wrt": "x", "answer": "2*x" if i % 3 else "3*x"} for i in range(30)]
    out = grade(tmp_path, "i.json", json.dumps(items).encode(), "report.json")
    report = json.loads(out.read_text(encoding="utf-8"))
    assert [r["id"] for r in report["rows"]] == [str(i) for i in range(30)]
    assert report["summary"]["wrong"] == 10 and report["summary"]["correct"] == 20


def test_json_lines_bad_byte_is_one_error_row(tmp_path):
    data = (json.dumps({"id": 1, "expr": "x'*x", "wrt": "x", "answer": "2*x"}) + "\n").encode() + \
        b'{"id": 2, "expr": "x\xff", "wrt": "x", "answer": "2*x"}\n' + \
        (json.dumps({"id": 3, "expr": "x'*x", "wrt": "x", "answer": "2*x"}) + "\n").encode()
    out = grade(tmp_path, "j.jsonl", data, "report.jsonl")
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()][:-1]
    assert [r["verdict"] for r in rows] == ["correct", "error", "correct"]


@pytest.mark.parametrize("cell, shown", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2*x", "'-2*x"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("2*x", "2*x"), ("", "")])
def test_formula_injection_escaped(cell, shown):
    assert csv_cell(cell) == shown


def test_report_escapes_and_truncates_but_json_keeps_raw_text(tmp_path):
    long_answer = "x+" * 3000 + "x"
    data = HEADER + "r1,x'*x,x,=1+2\n" + f"r2,x'*x,x,{long_answer}\n" + "@r3,x'*x,x,-2*x\n"
    rows = csv_report(grade(tmp_path, "k.csv", data.encode()))
    assert rows[0]["answer"] == "'=1+2" and rows[2]["answer"] == "'-2*x" and rows[2]["id"] == "'@r3"
    assert len(rows[1]["answer"]) < MAX_REPORT_CELL + 50 and "truncated, 6001 characters" in rows[1]["answer"]
    raw = [json.loads(x) for x in grade(tmp_path, "k.csv", data.encode(), "r.jsonl")
           .read_text(encoding="utf-8").splitlines()]
    assert raw[0]["answer"] == "=1+2" and raw[1]["answer"] == long_answer and raw[2]["answer"] == "-2*x"


def test_report_grows_row_by_row(tmp_path, monkeypatch):
    """After each row the report on disk already holds it: an interruption loses nothing graded."""
    src, out = tmp_path / "l.csv", tmp_path / "report.csv"
    src.write_text(HEADER + "".join(GOOD.format(i=i) for i in range(1, 6)), encoding="utf-8")
    seen = []
    original = ReportWriter.write

    def spy(self, rec):
        original(self, rec)
        seen.append(len(csv_report(out)))
        if len(seen) == 3:
            raise KeyboardInterrupt
    monkeypatch.setattr(ReportWriter, "write", spy)
    assert main(["check", "--batch", str(src), "-o", str(out)]) == 130
    assert seen == [1, 2, 3]
    assert [r["id"] for r in csv_report(out)] == ["r1", "r2", "r3"]


def test_interrupted_json_report_is_still_valid(tmp_path, monkeypatch):
    src, out = tmp_path / "m.csv", tmp_path / "report.json"
    src.write_text(HEADER + "".join(GOOD.format(i=i) for i in range(1, 6)), encoding="utf-8")
    original = ReportWriter.write

    def stop_after_two(self, rec):
        original(self, rec)
        if self.rows == 2:
            raise KeyboardInterrupt
    monkeypatch.setattr(ReportWriter, "write", stop_after_two)
    assert main(["check", "--batch", str(src), "-o", str(out)]) == 130
    report = json.loads(out.read_text(encoding="utf-8"))
    assert len(report["rows"]) == 2 and report["summary"]["interrupted"] is True


def test_two_thousand_rows_complete_and_each_question_derived_once(tmp_path, monkeypatch):
    calls = []
    real = check_module.derive
    monkeypatch.setattr(check_module, "derive", lambda *a, **k: calls.append(a) or real(*a, **k))
    check_module._CACHE.clear()
    check_module._VERDICTS.clear()                 # repeated answers are not re-graded at all
    questions = ["x'*B*x,x,(B + B')*x", "x'*x,x,2*x", "sum(W*x),x,W'*ones(n)"]
    body = "".join(f"r{i},{questions[i % 3]}\n" for i in range(2000))
    src, out = tmp_path / "n.csv", tmp_path / "report.csv"
    src.write_bytes((HEADER + body).encode())
    assert main(["check", "--batch", str(src), "-o", str(out), "--jobs", "1"]) == 0   # counted in this process
    rows = csv_report(out)
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(2000)]
    assert all(r["verdict"] == "correct" for r in rows[:3])
    assert len({(a[0], a[1]) for a in calls}) == 3 and len(calls) == 3


def test_blank_lines_are_skipped_and_unreadable_header_is_bad_input(tmp_path):
    rows = csv_report(grade(tmp_path, "o.csv", (HEADER + "\n" + GOOD.format(i=1) + "\n\n").encode()))
    assert [r["id"] for r in rows] == ["r1"]
    (tmp_path / "p.csv").write_bytes(b"id,ex\xffpr,wrt,answer\n")
    assert main(["check", "--batch", str(tmp_path / "p.csv"), "-o", str(tmp_path / "r.csv")]) == 2
    assert not (tmp_path / "r.csv").exists()
