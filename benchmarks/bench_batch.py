"""Batch grading throughput: ``matcalc check --batch`` on 36 questions × 1,000 answers.

Run by hand, never as a test.  A class's submissions are written to a temporary CSV (each
student answers all 36 questions; the answers cycle through the right one, twice it, its
transpose, its negation and an unreadable one, so every verdict path is taken), then graded end
to end by the command line, once per ``--jobs`` value asked, each run in a fresh interpreter
pinned with ``taskset`` to as many CPUs as it has jobs.  Printed: wall time and answers per second as
measured, the CPU time of the parent and of its workers (``getrusage``), the throughput those
give on as many otherwise idle cores as jobs (the figure a shared machine's load does not
distort), and the peak resident memory of the largest process (``ru_maxrss``).
Issue 13's target: ≥ 1,000 answers/s with ``--jobs 2`` on a 2-core machine.

The default class repeats its answers (1,000 students, five answers per question), as a class
does, so the verdict cache (``grading.check``: one grading per distinct answer text to a
question) serves most rows; ``--distinct`` makes every answer's text unique (trailing blanks)
and times grading itself; ``--questions 1000`` asks 1,000 distinct questions (the 36 again
times 2, 3, ...), so derivation and verification are timed too.  ``--rows N`` grades N rows instead (``--rows 100000`` shows the memory staying flat);
``--repo`` times another checkout (one without ``--jobs`` is run without the flag).

usage: python benchmarks/bench_batch.py [--students 1000] [--jobs 1 2] [--rows N] [--distinct]
       [--questions 36] [--repo CHECKOUT] [--no-warm]
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PYCACHE = os.path.join(tempfile.gettempdir(), "matcalc-bench-batch-pycache")
sys.path.insert(0, REPO)

import matcalc
from matcalc.cli.options import parse_assume, parse_shape

# (expression, variable, shapes, assumptions): the textbook exercises of a course
QUESTIONS = [
    ("norm(W*x)^2", "W", "", ""), ("x'*A*x", "x", "", ""), ("u'*tanh(W*x + b)", "W", "", ""),
    ("u'*tanh(W*x + b)", "b", "", ""), ("-y'*log_softmax(W*x)", "W", "", "y=onehot"),
    ("sum(exp(A*x))", "x", "", ""), ("a'*X*b", "X", "", ""), ("tr(A*X*B)", "X", "", ""),
    ("tr(X'*A*X)", "X", "", ""), ("logdet(X)", "X", "", "X=spd"), ("det(X)", "X", "", ""),
    ("norm(A*x - b)^2", "x", "", ""), ("sum(sigmoid(X*w))", "w", "", ""),
    ("h = sigmoid(X*W1); Yp = h*W2; L = norm(Yp - Y)^2", "W2", "", ""),
    ("h = tanh(X*W1); L = norm(h*W2 - Y)^2", "W1", "", ""), ("x'*x", "x", "", ""),
    ("sum(W*x)", "x", "", ""), ("norm(M*v)^2", "M", "M=3,2 v=2", ""), ("a'*x", "x", "", ""),
    ("x'*A*y", "y", "", ""), ("sum(log(x))", "x", "", "x=positive"), ("norm(X*w - y)^2", "w", "", ""),
    ("sum(relu(W*x))", "W", "", ""), ("u'*exp(W*x)", "x", "", ""), ("tr(inv(X)*A)", "X", "", "X=invertible"),
    ("logsumexp(W*x)", "W", "", ""), ("sum((A*x).^2)", "x", "", ""), ("x'*(A + A')*x", "x", "", ""),
    ("u'*softplus(W*x)", "W", "", ""), ("sum(X*W)", "W", "", ""), ("norm(W*X)^2", "W", "", ""),
    ("s = u'*sigmoid(W*x + b)", "b", "", ""),
    ("-y'*log(sigmoid(X*w)) - (1-y)'*log(1-sigmoid(X*w))", "w", "", ""),
    ("tr(X*X')", "X", "", ""), ("z = W*x + b; h = f(z); s = u'*h", "W", "", ""),
    ("a'*inv(X)*b", "X", "", "X=invertible"),
]


def answers_for(text: str) -> list[str]:
    """The right answer and four wrong ones (a program's last statement is the one varied)."""
    head, sep, last = text.rpartition("; ")
    return [text, f"{head}{sep}2*({last})", f"{head}{sep}({last})'", f"{head}{sep}-({last})", f"{last} +"]


def scaled(count: int) -> list[tuple[str, str, str, str]]:
    """``count`` distinct questions: the textbook ones, then each again times 2, 3, ... (its last
    statement's value scaled), so each is derived and verified on its own."""
    out = []
    for i in range(count):
        expr, wrt, shapes, assume = QUESTIONS[i % len(QUESTIONS)]
        k = 1 + i // len(QUESTIONS)
        if k > 1:
            head, sep, last = expr.rpartition("; ")
            name, eq, value = last.partition(" = ") if " = " in last else ("", "", last)
            expr = f"{head}{sep}{name}{eq}{k}*({value})"
        out.append((expr, wrt, shapes, assume))
    return out


def write_batch(path: str, rows: int, distinct: bool = False, questions: list | None = None) -> None:
    questions = questions or QUESTIONS
    variants = []
    for expr, wrt, shapes, assume in questions:
        sh = dict(parse_shape(p) for p in shapes.split()) or None
        asm = dict(parse_assume(p) for p in assume.split()) or None
        variants.append(answers_for(matcalc.derive(expr, wrt, shapes=sh, assume=asm).text()))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "expr", "wrt", "answer", "shapes", "assume"])
        for i in range(rows):
            q, student = i % len(questions), i // len(questions)
            expr, wrt, shapes, assume = questions[q]
            answer = variants[q][student % 5] + (" " * student if distinct else "")    # trailing blanks: same answer
            w.writerow([f"s{student}q{q}", expr, wrt, answer, shapes, assume])


def has_jobs(repo: str) -> bool:
    with open(os.path.join(repo, "matcalc", "cli", "check_command.py"), encoding="utf-8") as fh:
        return "--jobs" in fh.read()


WRAPPER = """
import json, resource, sys
from matcalc.cli.main import main
code = main(sys.argv[2:])
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as fh:
    json.dump({"parent": me.ru_utime + me.ru_stime, "workers": kids.ru_utime + kids.ru_stime,
               "rss": max(me.ru_maxrss, kids.ru_maxrss)}, fh)
sys.exit(code)
"""


def run(repo: str, src: str, out: str, jobs: int) -> dict:
    """Wall seconds, CPU seconds of the parent and of its workers, and the peak RSS (KiB) of the
    largest process, for one graded batch."""
    cpus = ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[-jobs:])
    pin = ["taskset", "-c", cpus] if shutil.which("taskset") else []
    usage = out + ".usage.json"
    cmd = [*pin, sys.executable, "-c", WRAPPER, usage, "check", "--batch", src, "-o", out]
    if has_jobs(repo):
        cmd += ["--jobs", str(jobs)]
    env = dict(os.environ, PYTHONPATH=repo, PYTHONPYCACHEPREFIX=PYCACHE)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=repo, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed: {done.stderr.decode()}")
    with open(usage, encoding="utf-8") as fh:
        return dict(json.load(fh), wall=wall)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--students", type=int, default=1000)
    ap.add_argument("--rows", type=int, help="grade this many rows (default: 36 × students)")
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repo", default=REPO)
    ap.add_argument("--no-warm", action="store_true", help="skip the warm-up run (bytecode already cached)")
    ap.add_argument("--distinct", action="store_true",
                    help="every answer's text unique (trailing blanks), so no verdict is reused")
    ap.add_argument("--questions", type=int, default=len(QUESTIONS),
                    help="this many distinct questions (beyond 36: the textbook ones scaled by 2, 3, ...)")
    args = ap.parse_args()
    questions = scaled(args.questions)
    rows = args.rows or len(questions) * args.students
    with tempfile.TemporaryDirectory() as folder:
        src = os.path.join(folder, "answers.csv")
        write_batch(src, rows, args.distinct, questions)
        if rows <= 40_000 and not args.no_warm:
            run(args.repo, src, os.path.join(folder, "warm.csv"), 1)      # bytecode, file cache
        print(f"{rows} answers to {len(questions)} questions ({args.repo}; load average "
              f"{' '.join(f'{x:.1f}' for x in os.getloadavg())})")
        for jobs in args.jobs:
            out = os.path.join(folder, f"report{jobs}.csv")
            r = run(args.repo, src, out, jobs)
            with open(out, encoding="utf-8", newline="") as fh:
                graded = sum(1 for _ in csv.reader(fh)) - 1
            assert graded == rows, (graded, rows)
            cpu = r["parent"] + r["workers"]
            # on `jobs` otherwise idle cores the batch takes at least its CPU time spread over them,
            # and at least the parent's own (reading, writing) or the workers' share
            floor = max(cpu / jobs, r["parent"], r["workers"] / jobs)
            print(f"  --jobs {jobs}: {r['wall']:6.1f} s wall ({rows / r['wall']:5.0f} answers/s on this machine's "
                  f"load); CPU {r['parent']:.1f} s parent + {r['workers']:.1f} s workers = "
                  f"{cpu / rows * 1e3:.2f} ms an answer, {rows / floor:5.0f} answers/s on {jobs} idle "
                  f"core{'s' if jobs > 1 else ''}; peak RSS {r['rss'] / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
