"""The job bodies of bench/io_concurrency.py, shared by every implementation (standard library only):
each job appends when it started and ended to the file named by ``$BENCH_IO_RECORDS``.

One ``os.write`` on a file opened with ``O_APPEND`` (a few microseconds, atomic for such short lines
whatever the threads or processes writing) is the only cost the measurement adds to a job, the same
for every implementation; the harness counts the lines to know when all jobs are done.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

#: How long an I/O job waits.
SLEEP = 0.05

_fd: list[int] = []
_lock = threading.Lock()


def record(started: float) -> None:
    """Append ``started`` and now (wall-clock seconds, comparable between processes) to the records."""
    ended = time.time()
    if not _fd:
        with _lock:
            if not _fd:
                _fd.append(os.open(os.environ['BENCH_IO_RECORDS'], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
    os.write(_fd[0], f'{started:.6f} {ended:.6f}\n'.encode())


def sleep_sync() -> None:
    """An I/O-bound job that blocks its thread (``time.sleep``)."""
    started = time.time()
    time.sleep(SLEEP)
    record(started)


async def sleep_async() -> None:
    """An I/O-bound job that yields to its event loop (``asyncio.sleep``)."""
    started = time.time()
    await asyncio.sleep(SLEEP)
    record(started)


def noop() -> None:
    """A trivial job: what a worker costs per job."""
    record(time.time())


async def noop_async() -> None:
    """The trivial job for implementations that run only coroutine functions well (SAQ, arq)."""
    record(time.time())
