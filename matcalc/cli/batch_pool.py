"""Grading a batch on several processes, in order and streamed (``matcalc check --batch --jobs N``).

Rows are cut into chunks of ``CHUNK`` and graded by a pool of worker processes, each with its
own cache of derived questions (``grading.check``: a question is derived and verified once per
process).  At most ``2 × jobs`` chunks are in flight, so memory stays flat however long the
file is, and results are handed back in the order of the input: the report is the one
``--jobs 1`` writes, growing row by row.  A batch that fits in one chunk is graded in this
process (starting workers would cost more than it saves).  Workers ignore Ctrl-C; the parent
stops them and finishes the partial report.  A worker that dies (out of memory, a signal)
costs its chunk one retry, alone in a fresh pool; if the chunk kills that one too, its rows
become ``error`` rows and the batch goes on.

The pool is ``concurrent.futures.ProcessPoolExecutor`` (started by ``fork`` where the platform
has it, so workers begin with matcalc already imported).
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures

CHUNK = 64                 # rows per task: large enough to amortise a round trip, small enough to stream


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else methods[0])


def _grade_chunk(grade: Callable, chunk: list) -> list:
    return [grade(*item) for item in chunk]


def graded(items: Iterable[tuple], grade: Callable, jobs: int, broken: Callable) -> Iterator:
    """``grade(*item)`` for every item, in order; on ``jobs`` processes when there is more than
    one chunk of work.  ``grade`` never raises for a bad row (it returns an error record);
    ``broken(item)`` is the record of a row whose worker died twice.  Both must be picklable
    (module-level functions)."""
    items = iter(items)
    first = list(itertools.islice(items, CHUNK))
    if jobs <= 1 or len(first) < CHUNK:
        yield from (grade(*item) for item in first)
        yield from (grade(*item) for item in items)
        return
    chunks = itertools.chain([first], iter(lambda: list(itertools.islice(items, CHUNK)), []))
    pool = _new_pool(jobs)
    pending: deque = deque()           # [chunk, future or None (waiting), retried]
    finished = False
    try:
        for chunk in chunks:
            waiting = any(entry[1] is None for entry in pending)     # a retry runs alone
            pending.append([chunk, None if waiting else _submit(pool, grade, chunk), False])
            while len(pending) >= 2 * jobs:
                pool = yield from _drain_one(pending, pool, grade, broken, jobs)
        while pending:
            pool = yield from _drain_one(pending, pool, grade, broken, jobs)
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:
            _stop(pool)


def _new_pool(jobs: int):
    return futures.ProcessPoolExecutor(max_workers=jobs, mp_context=_context(), initializer=_ignore_interrupts)


def _submit(pool, grade: Callable, chunk: list):
    """The chunk's future; a pool that broke meanwhile gives a future holding that failure."""
    try:
        return pool.submit(_grade_chunk, grade, chunk)
    except futures.process.BrokenProcessPool as e:
        failed: futures.Future = futures.Future()
        failed.set_exception(e)
        return failed


def _drain_one(pending: deque, pool, grade, broken, jobs: int):
    """Yield the oldest chunk's records.  When its worker died, the chunk is retried alone in a
    fresh pool (the other chunks wait, so a retry that fails again names the culprit); a second
    death makes its rows ``broken`` ones."""
    entry = pending[0]
    chunk, future, retried = entry
    try:
        records = future.result()
    except futures.process.BrokenProcessPool:
        _stop(pool)
        pool = _new_pool(jobs)
        if retried:
            pending.popleft()
            for item in chunk:
                yield broken(item)
            _resume(pending, pool, grade)
        else:
            entry[1], entry[2] = _submit(pool, grade, chunk), True
            for other in list(pending)[1:]:
                other[1] = None
        return pool
    pending.popleft()
    yield from records
    _resume(pending, pool, grade)
    return pool


def _resume(pending: deque, pool, grade) -> None:
    """Submit the chunks that waited for a retry."""
    for entry in pending:
        if entry[1] is None:
            entry[1] = _submit(pool, grade, entry[0])


def _stop(pool) -> None:
    """End the workers now: an interrupted batch must not keep grading in the background (the
    executor has no ``terminate``, so its processes are ended one by one)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
