"""Issue 13, grading at scale: ``--jobs N`` grades on N processes with the report of ``--jobs 1``
(same rows, same order, bad rows kept), streamed; each question derived once per process and a
repeated answer graded once, with the cached verdict equal to a fresh one."""
from __future__ import annotations

import csv
import json
import os

import pytest

import matcalc
import matcalc.grading.check as check_module
from matcalc.cli import batch_pool
from matcalc.cli.check_command import ReportWriter
from matcalc.cli.main import main

QUESTIONS = ["x'*B*x,x,(B + B')*x", "x'*B*x,x,2*B*x", "x'*x,x,3*x", "sum(W*x),x,W'*ones(n)",
             "norm(M*v)^2,M,2*v*v'*M'", "x'*B*x,x,x +", "tr(A*X),X,A'", "u'*tanh(W*x),W,(u .* (1 - tanh(W*x).^2))*x'"]


def write_batch(path, rows: int, bad_every: int = 97) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("id,expr,wrt,answer\n")
        for i in range(rows):
            if i % bad_every == 5:
                fh.write(f"r{i},x'*x,,2*x\n")                  # no wrt: one error row
            else:
                fh.write(f"r{i},{QUESTIONS[i % len(QUESTIONS)]}\n")


def report(path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(batch_pool, "CHUNK", 8)      # many chunks from a small file


def test_jobs_give_the_report_of_one_job(tmp_path):
    src = tmp_path / "a.csv"
    write_batch(src, 300)
    outs = {}
    for jobs in (1, 2, 3):
        out = tmp_path / f"r{jobs}.csv"
        assert main(["check", "--batch", str(src), "-o", str(out), "--jobs", str(jobs)]) == 0
        outs[jobs] = out.read_bytes()
    assert outs[1] == outs[2] == outs[3]
    rows = report(tmp_path / "r2.csv")
    assert [r["id"] for r in rows] == [f"r{i}" for i in range(300)]
    errors = [r["id"] for r in rows if r["verdict"] == "error"]
    assert errors == [f"r{i}" for i in range(300) if i % 97 == 5]
    assert all("no wrt" in r["reason"] for r in rows if r["verdict"] == "error")
    assert {r["verdict"] for r in rows} == {"correct", "wrong", "error"}


def test_jsonl_report_streams_in_order_with_jobs(tmp_path):
    src, out = tmp_path / "b.csv", tmp_path / "r.jsonl"
    write_batch(src, 120, bad_every=10_000)
    assert main(["check", "--batch", str(src), "-o", str(out), "--jobs", "2"]) == 0
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in lines[:-1]] == [f"r{i}" for i in range(120)]
    assert lines[-1]["summary"]["rows"] == 120


def test_interrupting_a_parallel_batch_keeps_a_valid_partial_report(tmp_path, monkeypatch):
    src, out = tmp_path / "c.csv", tmp_path / "r.json"
    write_batch(src, 200, bad_every=10_000)
    original = ReportWriter.write

    def stop_after_twenty(self, rec):
        original(self, rec)
        if self.rows == 20:
            raise KeyboardInterrupt
    monkeypatch.setattr(ReportWriter, "write", stop_after_twenty)
    assert main(["check", "--batch", str(src), "-o", str(out), "--jobs", "2"]) == 130
    got = json.loads(out.read_text(encoding="utf-8"))
    assert [r["id"] for r in got["rows"]] == [f"r{i}" for i in range(20)] and got["summary"]["interrupted"]


def _grade_or_die(row, index):
    if row == "die":
        os._exit(1)
    return (index, row)


def _broken(item):
    return ("broken", item[1])


def test_a_worker_that_dies_costs_only_its_rows():
    items = [(f"ok{i}", i) for i in range(40)]
    items[17] = ("die", 17)
    out = list(batch_pool.graded(items, _grade_or_die, 2, _broken))
    assert [o[1] if o[0] == "broken" else o[0] for o in out] == list(range(40))
    broken = [o for o in out if o[0] == "broken"]
    assert len(broken) == 8 and 17 in [b[1] for b in broken]     # its chunk of 8, after one retry


def test_jobs_must_be_a_positive_whole_number(capsys):
    assert main(["check", "--batch", "x.csv", "--jobs", "0"]) == 2
    assert main(["check", "--batch", "x.csv", "--jobs", "two"]) == 2
    assert "--jobs" in capsys.readouterr().err


def test_default_jobs_are_the_available_cpus():
    assert batch_pool.available_cpus() == len(os.sched_getaffinity(0))


# ------------------------------------------------------------------ the caches
def test_a_repeated_answer_is_graded_once_and_equals_a_fresh_verdict(monkeypatch):
    calls = []
    real = check_module.Checker.run
    monkeypatch.setattr(check_module.Checker, "run", lambda self: calls.append(1) or real(self))
    check_module._VERDICTS.clear()
    first = matcalc.check("norm(W*x)^2", "W", "W*x*x'")
    n = len(calls)                                          # the answer, and the hints' re-checks
    again = matcalc.check("norm(W*x)^2", "W", "W*x*x'")
    assert len(calls) == n                                  # served from the cache
    assert again == first and again is not first
    again.notes.append("changed by the caller")
    assert matcalc.check("norm(W*x)^2", "W", "W*x*x'").notes == first.notes   # the cache keeps its own copy
    check_module._VERDICTS.clear()
    assert matcalc.check("norm(W*x)^2", "W", "W*x*x'") == first                 # fresh: the same verdict


def test_the_verdict_cache_keys_on_the_whole_question():
    check_module._VERDICTS.clear()
    plain = matcalc.check("x'*A*x", "x", "2*A*x")
    sym = matcalc.check("x'*A*x", "x", "2*A*x", assume={"A": "symmetric"})
    assert not plain.correct and sym.correct
    assert matcalc.check("x'*A*x", "x", "2*A*x", form="jacobian").correct is False
    assert matcalc.check("x'*A*x", "x", "2*A*x", seed=1).correct is False


def test_caches_stay_bounded(monkeypatch):
    monkeypatch.setattr(check_module, "MAX_CACHED_VERDICTS", 3)
    check_module._VERDICTS.clear()
    for k in range(2, 8):
        matcalc.check("x'*x", "x", f"{k}*x")
    assert len(check_module._VERDICTS) == 3
