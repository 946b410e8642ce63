"""Job functions and callbacks for the registry, dependency, lifecycle and sync-mode tests.

Callbacks record what they saw in Redis so tests can check them (the tests' job runs may happen in
another process or thread).
"""

from __future__ import annotations

from typing import Any


def record_failure_type(job: Any, connection: Any, exc_type: Any, exc_value: Any, tb: Any) -> None:
    """Failure callback: 'failure_type:<job id>' = the exception class name."""
    connection.set(f'failure_type:{job.id}', exc_type.__name__)


def failing_failure_callback(job: Any, connection: Any, exc_type: Any, exc_value: Any, tb: Any) -> None:
    raise KeyError('failure callback exploded')


def failing_success_callback(job: Any, connection: Any, result: Any, *args: Any, **kwargs: Any) -> None:
    raise RuntimeError('success callback exploded')


def current_job_info() -> dict[str, Any]:
    """What get_current_job() sees while the job runs: its id and its status in Redis."""
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    return {'id': job.id, 'status': job.get_status().value, 'worker_name': job.worker_name}


def return_kwargs(**kwargs: Any) -> dict[str, Any]:
    return kwargs


async def async_fail() -> None:
    raise ValueError('async boom')


def incr(key: str) -> int:
    """Increment a Redis counter on the current job's connection (shows that the job ran, and how often)."""
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    return int(job.connection.incr(key))


def record_failure_traceback(job: Any, connection: Any, exc_type: Any, exc_value: Any, tb: Any) -> None:
    """Failure callback: 'failure_tb:<job id>' = 'None' or the traceback's type name."""
    connection.set(f'failure_tb:{job.id}', 'None' if tb is None else type(tb).__name__)
