"""Job functions for the ecosystem tests: importable by the clients virtualenv's workers (the tests put
this directory on their ``PYTHONPATH``)."""

from __future__ import annotations

from typing import Any

from rq import get_current_job


def add(a: int, b: int) -> int:
    return a + b


def count_call(key: str) -> int:
    """Counts its runs in the Redis key ``key`` and returns the count so far."""
    job = get_current_job()
    assert job is not None
    return int(job.connection.incr(key))


def fail(message: str) -> None:
    raise ValueError(message)


def block(key: str, timeout: int = 300) -> str | None:
    """Keeps its worker busy until something is pushed to the Redis list ``key`` (or ``timeout`` s pass)."""
    job = get_current_job()
    assert job is not None
    popped = job.connection.blpop([key], timeout=timeout)
    if popped is None:
        return None
    value = popped[1]
    return value.decode() if isinstance(value, bytes) else str(value)


def record_success(job: Any, connection: Any, result: Any, *args: Any, **kwargs: Any) -> None:
    """An ``on_success`` callback: notes the job and its result in the Redis list ``eco:callbacks``."""
    connection.rpush('eco:callbacks', f'success {job.id} {result}')


def record_failure(job: Any, connection: Any, exc_type: Any, exc_value: Any, traceback: Any) -> None:
    """An ``on_failure`` callback: notes the job and its exception in the Redis list ``eco:callbacks``."""
    connection.rpush('eco:callbacks', f'failure {job.id} {exc_type.__name__}: {exc_value}')
