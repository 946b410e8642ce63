"""Job functions for the tests of writes Redis refuses (out of memory): see
tests/worker/test_write_refusals.py. They may run in a work horse, so they reach Redis through the
job's own connection."""

from __future__ import annotations

from typing import Any


def _connection() -> Any:
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    return job.connection


def count_then_return(key: str, size: int) -> bytes:
    """INCR ``key`` (how many times the job ran), then return ``size`` bytes."""
    _connection().incr(key)
    return b'r' * size


def exhaust_memory() -> str:
    """Leave Redis out of memory for every write that may grow it: ``maxmemory`` 1 byte (with the
    test's ``noeviction`` policy), then return a small result, which Redis refuses to store."""
    _connection().config_set('maxmemory', 1)
    return 'done'
