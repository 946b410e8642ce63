"""Job functions for the crash, bad-input and resilience tests of the workers.

Jobs that need Redis use the current job's connection (in a forked horse that is a copy of the
worker's, which redis-py reconnects after the fork).
"""

from __future__ import annotations

import ctypes
import os
import random
import signal
import sys
import threading
import time
from typing import Any


def _connection() -> Any:
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    return job.connection


def announce_and_sleep(key: str, seconds: float) -> float:
    """RPUSH this process's pid onto ``key`` (the test learns the job started, and who runs it),
    then sleep."""
    _connection().rpush(key, os.getpid())
    time.sleep(seconds)
    return seconds


def count_and_sleep(key: str, seconds: float) -> int:
    """INCR ``key`` (how many times the job started), then sleep."""
    runs = int(_connection().incr(key))
    time.sleep(seconds)
    return runs


def short(index: int, seconds: float = 0.0) -> int:
    if seconds:
        time.sleep(seconds)
    return index


def abort() -> None:
    os.abort()


def segfault() -> None:
    ctypes.string_at(0)


def exit_with(code: int) -> None:
    sys.exit(code)


def hard_exit(code: int) -> None:
    os._exit(code)


def unpicklable() -> Any:
    return threading.Lock()


def big_value(size: int, seed: int = 7) -> bytes:
    """``size`` pseudo-random bytes (the same for the same seed, so the test can compare)."""
    return random.Random(seed).randbytes(size)


def ignore_alarm(seconds: float) -> float:
    """Ignore SIGALRM (the soft timeout) and keep running: only the hard kill stops this job."""
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return seconds


def block_alarm(seconds: float) -> float:
    """Block SIGALRM (the soft timeout) and keep running: only the hard kill stops this job."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return seconds


class _DiesWhenSerialized:
    """A return value whose pickling kills the process: the horse dies while producing its result."""

    def __reduce__(self) -> Any:
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)
        raise AssertionError('not reached')


def die_while_serializing_result() -> Any:
    return _DiesWhenSerialized()


def die_while_sending_result(size: int, delay: float) -> bytes:
    """Return ``size`` bytes and SIGKILL this process ``delay`` s later, while the (large) result
    is being encoded and sent."""

    def kill() -> None:
        time.sleep(delay)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=kill, daemon=True).start()
    return b'r' * size


def grow_memory(megabytes: int) -> int:
    """Allocate (and touch) ``megabytes`` MB, then fail so that the peak stays in the record."""
    block = bytearray(megabytes * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    os.kill(os.getpid(), signal.SIGKILL)
    return len(block)


def segfault_once(key: str) -> int:
    """Crash the process on the first run (INCR ``key`` counts runs); return the run count after."""
    runs = int(_connection().incr(key))
    if runs == 1:
        ctypes.string_at(0)
    return runs


def crash_target(key: str, marker: str = '', size: int = 0, sleep_first_run: float = 0.0, release_key: str = '') -> str:
    """INCR ``key`` (runs) and RPUSH this process's pid onto ``<key>:pids``; on the first run,
    sleep ``sleep_first_run`` s, or wait until the test sets ``release_key`` (up to a minute).
    Returns ``marker`` padded to ``size`` characters (a value whose write the test can recognise on
    the wire)."""
    connection = _connection()
    runs = int(connection.incr(key))
    connection.rpush(f'{key}:pids', os.getpid())
    if runs == 1 and sleep_first_run:
        time.sleep(sleep_first_run)
    if runs == 1 and release_key:
        deadline = time.monotonic() + 60
        while not connection.exists(release_key) and time.monotonic() < deadline:
            time.sleep(0.02)
    return marker + 'x' * max(0, size - len(marker))


def fork_then_segfault(key: str) -> None:
    """Fork a child that outlives this process (holding its inherited pipes open, as a
    multiprocessing worker would), record the child's pid in ``key``, then crash."""
    child = os.fork()
    if child == 0:
        time.sleep(60)
        os._exit(0)
    _connection().rpush(key, child)
    ctypes.string_at(0)


def note_run(path: str, index: int, seconds: float = 0.0) -> int:
    """Append ``index`` to the file ``path`` (one line per run; no Redis needed), then sleep."""
    with open(path, 'a') as stream:
        stream.write(f'{index}\n')
    if seconds:
        time.sleep(seconds)
    return index
