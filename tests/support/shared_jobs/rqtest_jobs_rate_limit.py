"""Job functions for the rate-limit tests: each counts how many jobs of its key run at once.

They use the current job's connection (in a forked horse, a copy of the worker's that redis-py
reconnects after the fork).
"""

from __future__ import annotations

import os
import time
from typing import Any


def _connection() -> Any:
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    return job.connection


def limited(key: str, seconds: float = 0.0) -> int:
    """Count this run in ``running:<key>`` while it lasts, record the count it saw in ``seen:<key>``
    and its job id in ``ran:<key>``; return the count."""
    from rq import get_current_job

    connection = _connection()
    running = int(connection.incr(f'running:{key}'))
    connection.rpush(f'seen:{key}', running)
    connection.rpush(f'ran:{key}', get_current_job().id)  # type: ignore[union-attr]
    try:
        if seconds:
            time.sleep(seconds)
    finally:
        connection.decr(f'running:{key}')
    return running


def announce_and_sleep(key: str, seconds: float) -> float:
    """RPUSH this process's pid onto ``key`` (the test learns the job started), then sleep."""
    _connection().rpush(key, os.getpid())
    time.sleep(seconds)
    return seconds


def fail_once(key: str) -> int:
    """Fail on the first run (counted in ``key``), succeed on the next."""
    runs = int(_connection().incr(key))
    if runs == 1:
        raise RuntimeError('first run fails')
    return runs


def announce_and_sleep_once(key: str, seconds: float) -> int:
    """RPUSH this process's pid onto ``key``; sleep on the first run only (a retry returns at once)."""
    connection = _connection()
    runs = int(connection.rpush(key, os.getpid()))
    if runs == 1:
        time.sleep(seconds)
    return runs
