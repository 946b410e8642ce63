"""Job functions for the scheduler and cron tests. Importable without rq (upstream's workers run them)."""

from __future__ import annotations

import time


def tick(label: str = '') -> str:
    return f'tick {label}'.strip()


def record_run(key: str) -> float:
    """Append the time of this run to the Redis list ``key`` (on the worker's current job connection)."""
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    moment = time.time()
    job.connection.rpush(key, repr(moment))
    return moment


def fail_and_record(key: str) -> None:
    record_run(key)
    raise ValueError('failing on purpose')
