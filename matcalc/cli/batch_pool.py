"""Grading a batch on several processes, in order and streamed (``matcalc check --batch --jobs N``).

Rows are read in windows of ``CHUNK × jobs`` and each window is cut into one part per worker
process.  Each worker keeps its own cache of derived questions and graded answers
(``grading.check``), so rows are routed by their question (``route(item)``): a question goes to
the worker it was first given to (the one with the fewest rows so far), and only when that
worker is ``SLACK`` rows ahead of the least busy one does a row of it go elsewhere.  A class's
36 questions are each derived and verified once in all, not once per worker, and a batch of a
single question is still spread over every worker.  Without ``route`` a window is cut into
consecutive parts.

At most ``WINDOWS`` windows are in flight, so memory stays flat however long the file is, and
results are handed back in the order of the input: the report is the one ``--jobs 1`` writes,
growing window by window.  A batch that fits in one chunk is graded in this process (starting
workers would cost more than it saves).  Workers ignore Ctrl-C; the parent stops them and
finishes the partial report.  A worker that dies (out of memory, a signal) costs its part one
retry, alone in a fresh process (that worker's later parts wait, so a retry that fails again
names the culprit); if the part kills that one too, its rows become ``error`` rows and the
batch goes on.

Each worker is a one-process ``concurrent.futures.ProcessPoolExecutor`` (started by ``fork``
where the platform has it, so workers begin with matcalc already imported), so that a part can
be sent to the worker that holds its question.
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent import futures

CHUNK = 64                 # rows per worker and window: enough to amortise a round trip, small enough to stream
WINDOWS = 3                # windows in flight: a worker with a light part runs ahead into the next
SLACK = 64                 # rows a question's worker may be ahead of the least busy one before a row moves
MAX_HOMES = 4096           # questions remembered with their worker (then the oldest is forgotten)


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


class _Part:
    """The rows of one window that one worker grades: their places in the window, the items, the
    future of their records (None: waiting for that worker's retry), whether it is a retry."""

    def __init__(self, worker: int, places: list[int], chunk: list):
        self.worker, self.places, self.chunk = worker, places, chunk
        self.future: futures.Future | None = None
        self.retried = False
        self.records: list | None = None


class _Window:
    """Rows read together: the records already known (by place), and the parts sent to workers
    (their places count among the rows not known)."""

    def __init__(self, items: list, known: Callable | None):
        self.size = len(items)
        self.records: list = [None] * len(items)
        self.places: list[int] = []              # of the rows sent to a worker
        self.unknown: list = []
        for place, item in enumerate(items):
            rec = known(item) if known is not None else None
            if rec is None:
                self.places.append(place)
                self.unknown.append(item)
            else:
                self.records[place] = rec
        self.parts: list[_Part] = []


class _Router:
    """Which worker grades a row: its question's worker, unless that one is ``SLACK`` rows ahead."""

    def __init__(self, jobs: int, route: Callable[[tuple], Hashable | None] | None):
        self.jobs, self.route = jobs, route
        self.totals = [0] * jobs
        self.homes: dict = {}

    def split(self, window: list) -> list[_Part]:
        if not window:
            return []
        if self.route is None:                                   # consecutive parts
            size = -(-len(window) // self.jobs)
            return [_Part(w, list(range(s, min(s + size, len(window)))), window[s:s + size])
                    for w, s in enumerate(range(0, len(window), size))]
        places: list[list[int]] = [[] for _ in range(self.jobs)]
        for place, item in enumerate(window):
            w = self.worker(item)
            self.totals[w] += 1
            places[w].append(place)
        return [_Part(w, p, [window[i] for i in p]) for w, p in enumerate(places) if p]

    def worker(self, item: tuple) -> int:
        least = min(range(self.jobs), key=self.totals.__getitem__)
        key = self.route(item)
        if key is None:
            return least
        home = self.homes.get(key)
        if home is None:
            if len(self.homes) >= MAX_HOMES:
                self.homes.pop(next(iter(self.homes)))
            home = self.homes[key] = least
        return home if self.totals[home] - self.totals[least] < SLACK else least


def graded(items: Iterable[tuple], grade: Callable, jobs: int, broken: Callable,
           route: Callable[[tuple], Hashable | None] | None = None,
           known: Callable[[tuple], object | None] | None = None,
           learn: Callable[[tuple, object], None] | None = None) -> Iterator:
    """``grade(*item)`` for every item, in order; on ``jobs`` processes when there is more than
    one chunk of work, each item sent to the worker of ``route(item)`` (its question; None: any).
    ``grade`` never raises for a bad row (it returns an error record); ``broken(item)`` is the
    record of a row whose worker died twice.  Both must be picklable (module-level functions).
    ``known(item)``, asked in this process, is the record of an item already graded (None: not
    known), so a repeat is neither sent nor sent back; ``learn(item, record)`` is told each record
    a worker returns."""
    items = iter(items)
    first = list(itertools.islice(items, CHUNK))
    if jobs <= 1 or len(first) < CHUNK:
        yield from (grade(*item) for item in first)
        yield from (grade(*item) for item in items)
        return
    rest = list(itertools.islice(items, CHUNK * jobs - len(first)))
    windows = itertools.chain([first + rest], iter(lambda: list(itertools.islice(items, CHUNK * jobs)), []))
    workers = _Workers(jobs, grade)
    router = _Router(jobs, route)
    pending: deque[_Window] = deque()
    finished = False
    try:
        for items_read in windows:
            window = _Window(items_read, known)
            window.parts = router.split(window.unknown)
            for part in window.parts:
                workers.submit(part, pending)
            pending.append(window)
            while len(pending) >= WINDOWS:
                yield from _drain_one(pending, workers, broken, learn)
        while pending:
            yield from _drain_one(pending, workers, broken, learn)
        finished = True
    finally:
        workers.close(finished)


class _Workers:
    """One single-process pool per worker, replaced when its process dies."""

    def __init__(self, jobs: int, grade: Callable):
        self.grade = grade
        self.pools = [_new_pool() for _ in range(jobs)]

    def submit(self, part: _Part, pending: deque) -> None:
        """Send ``part`` to its worker, or leave it waiting while that worker retries a part."""
        waiting = any(p.worker == part.worker and p is not part and (p.future is None or p.retried)
                      and p.records is None for p in _parts(pending))
        part.future = None if waiting else _submit(self.pools[part.worker], self.grade, part.chunk)

    def restart(self, worker: int) -> None:
        _stop(self.pools[worker])
        self.pools[worker] = _new_pool()

    def close(self, finished: bool) -> None:
        for pool in self.pools:
            if finished:
                pool.shutdown(wait=True)
            else:
                _stop(pool)


def _new_pool():
    return futures.ProcessPoolExecutor(max_workers=1, mp_context=_context(), initializer=_ignore_interrupts)


def _submit(pool, grade: Callable, chunk: list):
    """The chunk's future; a pool that broke meanwhile gives a future holding that failure."""
    try:
        return pool.submit(_grade_chunk, grade, chunk)
    except futures.process.BrokenProcessPool as e:
        failed: futures.Future = futures.Future()
        failed.set_exception(e)
        return failed


def _drain_one(pending: deque, workers: _Workers, broken: Callable, learn: Callable | None):
    """Yield the oldest window's records, in the input's order.  When a part's worker died, the
    part is retried alone in a fresh process (that worker's other parts wait); a second death
    makes its rows ``broken`` ones."""
    window = pending[0]
    for part in window.parts:
        while part.records is None:
            if part.future is None:           # the oldest part waits for nothing
                part.future = _submit(workers.pools[part.worker], workers.grade, part.chunk)
            try:
                part.records = part.future.result()
            except futures.process.BrokenProcessPool:
                workers.restart(part.worker)
                for other in _parts(pending):
                    if other.worker == part.worker and other is not part and not _succeeded(other):
                        other.future = None
                if part.retried:
                    part.records = [broken(item) for item in part.chunk]
                else:
                    part.retried = True
                    part.future = _submit(workers.pools[part.worker], workers.grade, part.chunk)
                    continue
                _resume(pending, workers, part.worker)
                continue
            if part.retried:
                _resume(pending, workers, part.worker)
            if learn is not None:
                for item, rec in zip(part.chunk, part.records):
                    learn(item, rec)
    pending.popleft()
    for part in window.parts:
        for place, rec in zip(part.places, part.records):
            window.records[window.places[place]] = rec
    yield from window.records


def _parts(pending: deque) -> Iterator[_Part]:
    return (part for window in pending for part in window.parts)


def _succeeded(part: _Part) -> bool:
    """Whether the part's records are in (collected, or held by its finished future)."""
    f = part.future
    return part.records is not None or (f is not None and f.done() and not f.cancelled()
                                        and f.exception() is None)


def _resume(pending: deque, workers: _Workers, worker: int) -> None:
    """Submit the parts of ``worker`` that waited for its retry."""
    for part in _parts(pending):
        if part.worker == worker and part.future is None and part.records is None:
            part.future = _submit(workers.pools[worker], workers.grade, part.chunk)


def _stop(pool) -> None:
    """End the workers now: an interrupted batch must not keep grading in the background (the
    executor has no ``terminate``, so its processes are ended one by one)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
