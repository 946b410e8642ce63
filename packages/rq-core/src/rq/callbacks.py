"""``rq.callbacks`` (rq 3.0's module): the ``Callback`` value object and the functions that run a
job's success, failure and stopped callbacks under their timeouts."""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any

from ._jobs.options import Callback
from .timeouts import JobTimeoutException

if TYPE_CHECKING:
    from .job import Job
    from .timeouts import BaseDeathPenalty

__all__ = ['Callback', 'execute_failure_callback', 'execute_stopped_callback', 'execute_success_callback']

logger = logging.getLogger('rq.job')


def _checked(callback: Any, kind: str) -> Any:
    """The loaded callback; coroutine functions are refused (nothing would await them)."""
    if inspect.iscoroutinefunction(callback):
        raise TypeError(f'Coroutine {kind} callbacks are not supported')
    return callback


def execute_success_callback(job: Job, death_penalty_class: type[BaseDeathPenalty], result: Any) -> None:
    """Call ``on_success(job, connection, result)`` within the callback's timeout; errors propagate."""
    if not job._success_callback_name:
        return
    callback = _checked(job.success_callback, 'success')
    logger.debug('Job %s: running success callback...', job.id)
    with death_penalty_class(job.success_callback_timeout, JobTimeoutException, job_id=job.id):
        callback(job, job.connection, result)


def execute_failure_callback(job: Job, death_penalty_class: type[BaseDeathPenalty], *exc_info: Any) -> None:
    """Call ``on_failure(job, connection, type, value, traceback)`` within the callback's timeout;
    an error is logged, then propagates."""
    if not job._failure_callback_name:
        return
    callback = _checked(job.failure_callback, 'failure')
    logger.debug('Job %s: running failure callback...', job.id)
    try:
        with death_penalty_class(job.failure_callback_timeout, JobTimeoutException, job_id=job.id):
            callback(job, job.connection, *exc_info)
    except Exception:
        logger.exception('Job %s: error while executing failure callback', job.id)
        raise


def execute_stopped_callback(job: Job, death_penalty_class: type[BaseDeathPenalty]) -> None:
    """Call ``on_stopped(job, connection)`` within the callback's timeout; an error is logged, then
    propagates."""
    if not job._stopped_callback_name:
        return
    callback = _checked(job.stopped_callback, 'stopped')
    logger.debug('Job %s: running stopped callback...', job.id)
    try:
        with death_penalty_class(job.stopped_callback_timeout, JobTimeoutException, job_id=job.id):
            callback(job, job.connection)
    except Exception:
        logger.exception('Job %s: error while executing stopped callback', job.id)
        raise
