"""A pool of worker processes, each request's work run in one with a time and a memory limit.

Students send untrusted text, and some text is expensive (a program whose every statement
squares the one before).  So no request runs in the server's process: ``WorkerPool.run`` hands
it to an idle worker and waits at most ``time_limit`` seconds for the answer.  A worker that
overruns is killed (SIGKILL) and replaced, and that request alone gets a ``TimeLimitError``;
the other workers go on answering.  Each worker caps its own address space with
``setrlimit(RLIMIT_AS)`` at what it has mapped when idle plus ``memory_mb``, so a request that
allocates more than ``memory_mb`` raises ``MemoryError`` there:
the request gets a ``MemoryLimitError`` and the worker, whose heap may be in any state, is
replaced.  A worker that dies by itself (the kernel's OOM killer, a crash) is replaced too.

Answers are deterministic (every check is seeded), so the server keeps the last ``CACHE_SIZE``
results and bad-input answers (at most ``CACHE_BYTES`` of JSON): a class asking the same question has it computed once, and a
repeated question does not wait behind the queue.  Limit errors are never kept.

The limit counts the time a worker spends on the request, not the time the request waited for an
idle worker: under load a simple request waits longer, but is never killed for the queue.  At
most ``queue_limit`` requests wait at once; beyond that a request is refused (``BusyError``) at once.
Workers start from a fork server that has imported matcalc, so a replacement is ready in
milliseconds, not the second a fresh interpreter needs.
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
from collections import OrderedDict
from dataclasses import dataclass

from matcalc.web.limits import DEFAULT_MEMORY_MB, DEFAULT_TIME_LIMIT, DEFAULT_WORKERS
from matcalc.web.tasks import limit_payload, run_task

try:
    import resource
except ImportError:              # Windows: no RLIMIT_AS there; only the time limit applies
    resource = None

DEFAULT_QUEUE_LIMIT = 256
CACHE_SIZE = 1024               # answers kept by the server (a class asks the same questions)
CACHE_BYTES = 64 * 2 ** 20      # and at most this much of them (as JSON text)


def address_space() -> int:
    """This process's mapped address space in bytes (Linux's /proc; 0 where there is none).  The
    limit is set above it: an idle worker's mappings (NumPy's BLAS buffers grow with the number of
    cores) are not the request's to pay for."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def worker_main(conn, memory_bytes: int | None) -> None:
    """A worker's loop: cap the address space, then answer ``(op, body)`` messages until EOF.
    A ``MemoryError`` is reported as the request's ``MemoryLimitError`` and ends the worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C stops the server, which stops the workers
    if memory_bytes and resource is not None:
        limit = address_space() + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            op, body = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer = run_task(op, body)
        except MemoryError:
            answer = None
        if answer is None:
            conn.send((503, limit_payload("MemoryLimitError", "the request needed more than its memory limit; "
                                                         "it was stopped (try smaller shapes or a shorter program)")))
            return
        conn.send(answer)


@dataclass
class Worker:
    process: multiprocessing.process.BaseProcess
    conn: object

    def kill(self) -> None:
        """SIGKILL, reap, close the pipe: a killed worker leaves nothing behind."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class WorkerPool:
    """``await pool.run(op, body)`` → ``(status, payload)``; see the module docstring."""

    def __init__(self, workers: int = DEFAULT_WORKERS, time_limit: float = DEFAULT_TIME_LIMIT,
                 memory_mb: int | None = DEFAULT_MEMORY_MB, queue_limit: int = DEFAULT_QUEUE_LIMIT):
        self.size = workers
        self.time_limit = time_limit
        self.memory_bytes = memory_mb * 2 ** 20 if memory_mb else None
        self.queue_limit = queue_limit
        forkserver = "forkserver" in multiprocessing.get_all_start_methods()
        self.context = multiprocessing.get_context("forkserver" if forkserver else "spawn")
        if forkserver:
            self.context.set_forkserver_preload(["matcalc.web.tasks"])
        self.idle: asyncio.Queue | None = None
        self.waiting = 0
        self.replaced = 0              # workers killed or lost and started anew (for tests and logs)
        self.cache: OrderedDict[str, tuple[int, dict, int]] = OrderedDict()   # key -> status, answer, size
        self.cached_bytes = 0

    def _spawn(self) -> Worker:
        parent, child = self.context.Pipe()
        process = self.context.Process(target=worker_main, args=(child, self.memory_bytes), daemon=True)
        process.start()
        child.close()
        return Worker(process, parent)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.idle = asyncio.Queue()
        for _ in range(self.size):
            self.idle.put_nowait(await loop.run_in_executor(None, self._spawn))

    async def close(self) -> None:
        while self.idle is not None and not self.idle.empty():
            self.idle.get_nowait().kill()

    async def run(self, op: str, body: object) -> tuple[int, dict]:
        key = json.dumps([op, body], sort_keys=True, ensure_ascii=False)
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key][:2]
        answer = await self._run(op, body)
        size = len(key) + len(json.dumps(answer[1], ensure_ascii=False))
        if answer[0] in (200, 400) and size <= CACHE_BYTES // 64:   # deterministic: every check is seeded
            if key in self.cache:           # the same question computed twice at once
                self.cached_bytes -= self.cache.pop(key)[2]
            self.cache[key] = (*answer, size)
            self.cached_bytes += size
            while len(self.cache) > CACHE_SIZE or self.cached_bytes > CACHE_BYTES:
                self.cached_bytes -= self.cache.popitem(last=False)[1][2]
        return answer

    async def _run(self, op: str, body: object) -> tuple[int, dict]:
        if self.waiting >= self.queue_limit:
            return 503, limit_payload("BusyError", "the server is busy: too many requests are waiting; try again")
        self.waiting += 1
        try:
            worker = await self.idle.get()
        finally:
            self.waiting -= 1
        keep = True
        try:
            worker.conn.send((op, body))
            answer = await self._answer(worker)
            if answer is None:
                keep = False
                return 503, limit_payload("TimeLimitError", f"the request took longer than its time limit "
                                                        f"({self.time_limit:g} s of work); it was stopped")
            if not worker.process.is_alive() or answer[1].get("error", {}).get("kind") == "MemoryLimitError":
                keep = False
            return answer
        except asyncio.CancelledError:           # the client went away: the worker may still be busy
            keep = False
            raise
        except (EOFError, OSError, BrokenPipeError):
            keep = False
            return 503, limit_payload("MemoryLimitError", "the worker stopped while computing this request "
                                                      "(most likely its memory limit); it was replaced")
        finally:
            await self._release(worker, keep)

    async def _answer(self, worker: Worker):
        """The worker's reply, or None after ``time_limit`` seconds (an EOFError if it died)."""
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        fd = worker.conn.fileno()
        loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
        try:
            await asyncio.wait_for(ready, self.time_limit)
        except asyncio.TimeoutError:
            return None
        finally:
            loop.remove_reader(fd)
        return worker.conn.recv()

    async def _release(self, worker: Worker, keep: bool) -> None:
        if keep:
            self.idle.put_nowait(worker)
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, worker.kill)
        self.replaced += 1
        self.idle.put_nowait(await loop.run_in_executor(None, self._spawn))
