"""Running one job in the current process: the function, its callbacks and the exception handlers.

The same code runs inside a SimpleWorker and inside a work horse. It never writes the outcome to
Redis, nor logs it: it returns a :class:`RunResult` that the worker process records and logs (a
horse sends it to its parent over a pipe first), so every worker class records and logs outcomes
the same way.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from rq._outcome import run_exception_handlers
from rq._redis import codec
from rq.job import Retry
from rq.timeouts import BaseDeathPenalty, JobTimeoutException
from rq.utils import now

if TYPE_CHECKING:
    from rq.job import Job

FINISHED, FAILED, RETRY = 'finished', 'failed', 'retry'


class ColdShutdown(BaseException):
    """Raised inside a SimpleWorker's job to abandon it at once (a second SIGINT/SIGTERM)."""


class StopJob(BaseException):
    """Raised inside a SimpleWorker's job when a stop-job command names it."""


@dataclass
class RunResult:
    """How a run ended, in a form that crosses a pipe (pickled) unchanged.

    ``return_payload`` is the return value encoded with the job's serializer (None for None);
    ``retry`` is a Retry the function returned (RQ's retry-by-return-value).
    """

    status: str
    started_at: datetime
    ended_at: datetime
    return_payload: bytes | None = None
    exc_string: str | None = None
    retry: Retry | None = None


#: What a job stopped by a stop-job command is failed with (upstream's words).
STOPPED_TEXT = 'Job stopped by user, work-horse terminated.'
#: What a job interrupted by a cold shutdown of its worker is failed with.
COLD_SHUTDOWN_TEXT = 'Job interrupted by a cold shutdown of its worker.'


def interrupted(text: str, started_at: datetime) -> RunResult:
    """The result of a run cut short: it failed, having run since ``started_at``."""
    return RunResult(FAILED, started_at, now(), exc_string=text)


def effective_timeout(job: Job, default: int) -> int:
    """The job's timeout in seconds; -1 (or any negative) means no limit."""
    return job.timeout if job.timeout else default


def run_job(
    job: Job,
    death_penalty_class: type[BaseDeathPenalty],
    exception_handlers: Sequence[Callable[..., Any]],
    default_timeout: int,
) -> RunResult:
    """Call the job's function under its timeout, then its success or failure callback (each under
    its own timeout), and the exception handlers when it failed.

    A success callback that raises turns the run into a failure; a failure callback that raises
    replaces the job's exception (RQ's rules). ``SystemExit`` from a job is a failure like any
    other; :class:`ColdShutdown` and :class:`StopJob` propagate.
    """
    started_at = begin_run(job)
    try:
        with death_penalty_class(effective_timeout(job, default_timeout), JobTimeoutException, job_id=job.id):
            return_value = job.perform_in_place()
    except (ColdShutdown, StopJob):
        raise
    except BaseException:
        return conclude_failure(job, death_penalty_class, exception_handlers, started_at, sys.exc_info())
    return conclude(job, death_penalty_class, exception_handlers, started_at, return_value)


def begin_run(job: Job) -> datetime:
    """When the run starts (now); the job's ``started_at`` unless it had one."""
    started_at = now()
    job.started_at = job.started_at or started_at
    return started_at


def conclude(
    job: Job,
    death_penalty_class: type[BaseDeathPenalty],
    exception_handlers: Sequence[Callable[..., Any]],
    started_at: datetime,
    return_value: Any,
) -> RunResult:
    """The end of a run whose function returned ``return_value``: a retry it asked for, or its
    success callback and encoded value (a failure if either raises)."""
    ended_at = now()
    job.ended_at = ended_at
    if isinstance(return_value, Retry):
        return RunResult(RETRY, started_at, ended_at, retry=return_value)
    try:
        job.execute_success_callback(death_penalty_class, return_value)
        payload = None if return_value is None else codec.encode_value(job.serializer, return_value)
    except (ColdShutdown, StopJob):
        raise
    except BaseException:
        return conclude_failure(job, death_penalty_class, exception_handlers, started_at, sys.exc_info())
    return RunResult(FINISHED, started_at, ended_at, return_payload=payload)


def conclude_failure(
    job: Job,
    death_penalty_class: type[BaseDeathPenalty],
    exception_handlers: Sequence[Callable[..., Any]],
    started_at: datetime,
    exc_info: Any,
) -> RunResult:
    """The end of a run that raised: the failure callback (whose own error replaces the job's),
    then the exception handlers."""
    ended_at = now()
    job.ended_at = ended_at
    try:
        job.execute_failure_callback(death_penalty_class, *exc_info)
    except (ColdShutdown, StopJob):
        raise
    except BaseException:
        exc_info = sys.exc_info()
    exc_string = ''.join(traceback.format_exception(*exc_info))
    run_exception_handlers(job, exception_handlers, exc_info)
    return RunResult(FAILED, started_at, ended_at, exc_string=exc_string)


def exit_horse(status: int) -> NoReturn:
    """End a work horse: flush what the job printed, then leave at once (``os._exit``: no atexit
    handlers or finalizers of the worker's state, which the horse inherited)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(status)
