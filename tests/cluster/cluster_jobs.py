"""Job functions for the Redis Cluster tests (imported by their child processes)."""

from __future__ import annotations

from rq import get_current_job


def add(a: int, b: int) -> int:
    return a + b


def fail_then_succeed(value: str) -> str:
    """Fail while the job has retries left, then return ``value`` (one Retry(max=1) run: fails, then succeeds)."""
    job = get_current_job()
    assert job is not None
    if job.retries_left:
        raise RuntimeError(f'failing while {job.retries_left} retries are left')
    return value


def tick(label: str) -> str:
    return f'tick {label}'
