"""``rq.job_lifecycle`` (rq 3.0's module): exception-handler chains, exception formatting and the
record of a failure that no worker ran (in-process runs, abandoned jobs)."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ._jobs.status import JobStatus
from .results import Result

if TYPE_CHECKING:
    from redis.client import Pipeline

    from .job import Job

__all__ = ['call_exception_handlers', 'format_exc_info', 'record_job_failure']


def call_exception_handlers(handlers: Iterable[Callable[..., Any]], job: Job, *exc_info: Any) -> None:
    """Call ``handler(job, exc_type, exc_value, traceback)`` in order. ``None`` falls through to the
    next handler; any other false value stops the chain. A handler's error propagates."""
    for handler in handlers:
        fallthrough = handler(job, *exc_info)
        if fallthrough is not None and not fallthrough:
            break


def format_exc_info(exc_info: tuple[Any, Any, Any]) -> str:
    """The text of an ``(exc_type, exc_value, traceback)`` triple, as a worker stores it."""
    return ''.join(traceback.format_exception(*exc_info))


def record_job_failure(job: Job, exc_string: str, pipeline: Pipeline) -> None:
    """In ``pipeline``: mark the job failed, add it to its queue's failed registry (kept
    ``failure_ttl``) and append a failed result with an empty worker name."""
    job.set_status(JobStatus.FAILED, pipeline=pipeline)
    job.failed_job_registry.add(job, ttl=job.failure_ttl, exc_string=exc_string, pipeline=pipeline)
    Result.create_failure(job, job.failure_ttl, exc_string=exc_string, worker_name='', pipeline=pipeline)
