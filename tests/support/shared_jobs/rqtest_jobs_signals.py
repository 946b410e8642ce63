"""Job functions for the shutdown, command and pool tests.

Jobs that run long announce that they really started (the claim marks a job ``started`` before its
function runs) by pushing their id onto ``rqtest:running``.
"""

from __future__ import annotations

import os
import time
from typing import Any

RUNNING_KEY = 'rqtest:running'


def _announce() -> Any:
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    job.connection.rpush(RUNNING_KEY, job.id)
    return job


def announce_and_sleep(seconds: float) -> float:
    """Announce, then sleep in one call (only a signal handler can interrupt it)."""
    _announce()
    time.sleep(seconds)
    return seconds


def announce_and_sleep_in_steps(seconds: float) -> float:
    """Announce, then sleep in 50 ms steps (so an exception set from another thread lands soon)."""
    _announce()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return seconds


def announce_and_return_pid(seconds: float = 0.0) -> int:
    _announce()
    time.sleep(seconds)
    return os.getpid()


def on_stopped(job: Any, connection: Any) -> None:
    connection.set(f'rqtest:stopped-callback:{job.id}', 'called')


def on_failure(job: Any, connection: Any, exc_type: Any, exc_value: Any, tb: Any) -> None:
    connection.set(f'rqtest:failure-callback:{job.id}', 'called')
