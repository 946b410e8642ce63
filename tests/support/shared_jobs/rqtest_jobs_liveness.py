"""Job functions for the abandoned-job liveness tests: long jobs that count their runs in Redis,
then wait (without touching Redis, so an outage cannot disturb them) for a file to appear."""

from __future__ import annotations

import os
import time


def count_then_wait_for(counter_key: str, release_path: str, limit: float = 120.0) -> str:
    """INCR ``counter_key`` (how many times the job started), then wait until ``release_path``
    exists (``limit`` guards against a hang)."""
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    job.connection.incr(counter_key)
    deadline = time.monotonic() + limit
    while not os.path.exists(release_path) and time.monotonic() < deadline:
        time.sleep(0.02)
    return 'released'
