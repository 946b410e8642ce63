"""Recording how a run ended: success, failure, retry, repeat, abandonment.

Shared by in-process execution (``is_async=False``), registry maintenance and the workers, so every
path writes the same Redis data (see ``rq2-reference`` §4.4-4.8).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ._jobs.options import Retry, take_repeat_interval
from ._jobs.status import JobStatus
from ._redis import codec, keys, ops, rate_limit_ops, scripts
from ._redis import registries as zsets
from ._redis.results_ops import failed_registry_score, registry_score
from ._utils import current_timestamp, now
from .defaults import DEFAULT_FAILURE_TTL, DEFAULT_RESULT_TTL
from .exceptions import AbandonedJobError
from .results import Result
from .timeouts import BaseDeathPenalty, TimerDeathPenalty, UnixSignalDeathPenalty

if TYPE_CHECKING:
    from redis.client import Pipeline

    from .executions import Execution
    from .job import Job
    from .queue import Queue

logger = logging.getLogger('rq.job')

ExceptionHandler = Callable[..., Any]


def place_again(
    job: Job, queue: Queue, pipeline: Pipeline, delay: int, at_front: bool, include_result: bool = False
) -> None:
    """Put a job that already ran back on its queue now (``delay`` 0) or schedule it ``delay`` s ahead."""
    moment = now()
    mapping = job.to_dict(include_meta=False, include_result=include_result)
    if delay > 0:
        job._status = JobStatus.SCHEDULED
        mapping['status'] = JobStatus.SCHEDULED.value
        ops.enqueue(
            pipeline,
            job.id,
            queue.name,
            mapping,
            placement='S',
            score=codec.to_score(moment + timedelta(seconds=delay)),
        )
    else:
        job._status = JobStatus.QUEUED
        job.enqueued_at = moment
        mapping['status'] = JobStatus.QUEUED.value
        ops.enqueue(
            pipeline,
            job.id,
            queue.name,
            mapping,
            placement='L' if at_front else 'R',
            enqueued_at=codec.format_timestamp(moment),
        )


def schedule_retry(job: Job, queue: Queue, pipeline: Pipeline) -> None:
    """Use one exception retry: the delay comes from the interval list aligned to the end of the budget."""
    delay = job.get_retry_interval()
    job.retries_left = (job.retries_left or 0) - 1
    place_again(job, queue, pipeline, delay, at_front=bool(job.enqueue_at_front_on_retry))


def schedule_repeat(job: Job, queue: Queue, pipeline: Pipeline) -> None:
    """Use one repeat (rq 3.0's rule: the delay is the first stored interval, taken off the list
    unless it is the last; the shortened list is saved with the job)."""
    delay, job.repeat_intervals = take_repeat_interval(job.repeat_intervals)
    job.repeats_left = (job.repeats_left or 0) - 1
    place_again(job, queue, pipeline, delay, at_front=False, include_result=True)


def cleanup_execution(job: Job, queue: Queue, pipeline: Pipeline, execution: Execution | None) -> None:
    """End ``execution``: its started entry is in the registry of the queue the job was taken
    from (``queue``; the job's ``origin`` may be unknown when its hash could not be decoded)."""
    if execution is not None:
        ops.cleanup_execution(pipeline, job.id, queue.name, execution.id)


def record_success(
    job: Job,
    queue: Queue,
    return_value: Any,
    *,
    worker_name: str,
    default_result_ttl: int = DEFAULT_RESULT_TTL,
    execution: Execution | None = None,
    allow_repeat: bool = True,
    extra: Callable[[Pipeline], None] | None = None,
    guard: str | None = None,
    serialized_return_value: bytes | None = None,
) -> None:
    """Write a successful run in one transaction: status, result entry, finished registry, TTLs,
    the release of the dependents it unblocks, a repeat, and the caller's ``extra`` commands; then
    send ``finished`` webhooks.

    With ``result_ttl`` 0 nothing of the run is kept (no result, no finished entry) and the job is
    deleted, once its dependents were released. ``serialized_return_value`` is the value already
    encoded with the job's serializer (a work horse sends it so), used instead of ``return_value``.
    """
    result_ttl = job.get_result_ttl(default_result_ttl)
    repeating = allow_repeat and job.repeats_left is not None and job.repeats_left > 0
    delete_afterwards = result_ttl == 0 and not repeating
    job._status = JobStatus.FINISHED
    job.ended_at = job.ended_at or now()
    job.last_heartbeat = job.ended_at
    with _transaction(job, guard) as pipe:
        ops.queue_set_fields_if_exists(pipe, job.key, _run_fields(job))
        if result_ttl != 0:
            _result(job, Result.Type.SUCCESSFUL, worker_name, execution, return_value=return_value).save(
                result_ttl, pipeline=pipe, serialized_return_value=serialized_return_value
            )
            zsets.add(
                pipe, keys.registry_key('finished', queue.name), job.id, registry_score(current_timestamp(), result_ttl)
            )
        ops.queue_release_dependents(pipe, job.id, codec.format_timestamp(now()))
        if repeating:
            if serialized_return_value is None:
                job._result = return_value
            schedule_repeat(job, queue, pipe)
        elif not delete_afterwards:
            job.cleanup(result_ttl, pipeline=pipe, remove_from_queue=False)
        cleanup_execution(job, queue, pipe, execution)
        if extra is not None:
            extra(pipe)
        _settle_rate_limit(job, pipe)
        _execute(job, pipe)
    if delete_afterwards:
        job.delete(remove_from_queue=False)
    job.send_webhooks(JobStatus.FINISHED)


def _add_failed(job: Job, queue: Queue, exc_string: str, pipe: Pipeline) -> None:
    """What ``FailedJobRegistry.add`` writes: the entry scored now + ``failure_ttl`` (one year by
    default), the job saved without meta and expiring with its entry."""
    ttl = DEFAULT_FAILURE_TTL if job.failure_ttl is None else job.failure_ttl
    zsets.add(pipe, keys.registry_key('failed', queue.name), job.id, failed_registry_score(current_timestamp(), ttl))
    job._exc_info = exc_string
    job.save(pipeline=pipe, include_meta=False, include_result=False)
    job.cleanup(ttl=ttl, pipeline=pipe, remove_from_queue=False)


def _run_fields(job: Job) -> dict[str, Any]:
    """The job hash fields a run changes (the others are as enqueued)."""
    return {
        'status': job.get_status(refresh=False).value,
        'started_at': codec.format_optional_timestamp(job.started_at),
        'ended_at': codec.format_optional_timestamp(job.ended_at),
        'last_heartbeat': codec.format_optional_timestamp(job.last_heartbeat),
        'worker_name': job.worker_name or '',
    }


def _result(job: Job, kind: Result.Type, worker_name: str, execution: Execution | None, **values: Any) -> Result:
    """The result entry of this run (with its execution's id and times when there is one)."""
    if execution is not None:
        values.update(
            execution_id=execution.id, execution_started_at=execution.created_at, execution_ended_at=job.ended_at
        )
    return Result(job.id, kind, job.connection, serializer=job.serializer, worker_name=worker_name, **values)


def record_failure(
    job: Job,
    queue: Queue,
    exc_string: str,
    *,
    worker_name: str = '',
    execution: Execution | None = None,
    stopped: bool = False,
    allow_retry: bool = True,
    send_webhooks: bool = True,
    write_failed_registry: bool = True,
    extra: Callable[[Pipeline], None] | None = None,
    guard: str | None = None,
) -> bool:
    """Write a failed (or stopped) run in one transaction. Returns True when the job was put back
    for a retry instead.

    A retried run writes no failed-registry entry and no result (as in RQ); a final failure queues
    the dependents that allow failures and sends ``failed`` webhooks. ``write_failed_registry=False``
    is the worker's ``disable_default_exception_handler``: status only.
    """
    retrying = allow_retry and not stopped and job.should_retry
    # failure_ttl 0: keep nothing, but delete the job only after its dependents were released
    delete_afterwards = not retrying and write_failed_registry and job.failure_ttl == 0
    with _transaction(job, guard) as pipe:
        if not retrying:
            job._status = JobStatus.STOPPED if stopped else JobStatus.FAILED
            if write_failed_registry and not delete_afterwards:
                _add_failed(job, queue, exc_string, pipe)
            else:
                job.save(pipeline=pipe, include_meta=False, include_result=False)
            if write_failed_registry:
                _result(job, Result.Type.FAILED, worker_name, execution, exc_string=exc_string).save(
                    job.failure_ttl, pipeline=pipe
                )
            if not stopped:
                ops.queue_release_dependents(pipe, job.id, codec.format_timestamp(now()))
        cleanup_execution(job, queue, pipe, execution)
        if retrying:
            schedule_retry(job, queue, pipe)
        if extra is not None:
            extra(pipe)
        _settle_rate_limit(job, pipe)
        _execute(job, pipe)
    if retrying:
        logger.info('Job %s: put back for retry, %s retries left', job.id, job.retries_left)
        return True
    if send_webhooks and not stopped:
        job.send_webhooks(JobStatus.FAILED, exc_string=exc_string)
    if delete_afterwards:
        job.delete(remove_from_queue=False)
    return False


def record_retry_by_return(
    job: Job,
    queue: Queue,
    retry: Any,
    *,
    worker_name: str = '',
    execution: Execution | None = None,
    extra: Callable[[Pipeline], None] | None = None,
    guard: str | None = None,
) -> bool:
    """Record a run whose function returned a :class:`~rq.job.Retry` (RQ 2.1+). Returns True when
    the job was put back (a RETRIED result; ``number_of_retries`` grows), False when its retries
    were used up (failed, with a MAX_RETRIES_EXCEEDED result, webhooks and dependents)."""
    count = job.number_of_retries or 0
    retrying = count < retry.max
    with _transaction(job, guard) as pipe:
        result_type = Result.Type.RETRIED if retrying else Result.Type.MAX_RETRIES_EXCEEDED
        _result(job, result_type, worker_name, execution, return_value=retry).save(job.failure_ttl, pipeline=pipe)
        if retrying:
            job.number_of_retries = count + 1
            delay = Retry.get_interval(count, retry.intervals)
            job._result = retry  # RQ re-saves the job with the returned Retry in the legacy `result` field
            # RQ 3.0: the returned Retry's enqueue_at_front is kept on the job, so a scheduled retry
            # also goes to the front when it comes due
            job.enqueue_at_front_on_retry = bool(job.enqueue_at_front_on_retry or retry.enqueue_at_front)
            place_again(job, queue, pipe, delay, at_front=job.enqueue_at_front_on_retry, include_result=True)
        else:
            job._status = JobStatus.FAILED
            _add_failed(job, queue, '', pipe)
            ops.queue_release_dependents(pipe, job.id, codec.format_timestamp(now()))
        cleanup_execution(job, queue, pipe, execution)
        if extra is not None:
            extra(pipe)
        _settle_rate_limit(job, pipe)
        _execute(job, pipe)
    if not retrying:
        job.send_webhooks(JobStatus.FAILED, exc_string='')
    return bool(retrying)


@contextlib.contextmanager
def _transaction(job: Job, guard: str | None) -> Iterator[Pipeline]:
    """A MULTI/EXEC pipeline. With ``guard`` (a key), the key is WATCHed first: redis-py then never
    re-sends the transaction by itself after a connection error (it would apply twice when only
    the reply was lost), and the caller decides, knowing whether it applied."""
    with job.connection.pipeline(transaction=True) as pipe:
        if guard is not None:
            pipe.watch(guard)  # type: ignore[no-untyped-call]
            pipe.multi()
        yield pipe


def _settle_rate_limit(job: Job, pipe: Pipeline) -> None:
    """End the transaction with the return of the job's rate-limit slot (RQ 3.0), unless what it
    recorded keeps the job queued (an immediate retry or repeat): see ``lua/rate_limit_settle.lua``."""
    if job.rate_limit_key:
        rate_limit_ops.queue_settle(pipe, job.rate_limit_key, job.id)


def _execute(job: Job, pipe: Pipeline) -> None:
    """Run an outcome transaction; raise the first error a command returned."""
    for reply in scripts.execute(pipe):
        if isinstance(reply, Exception):
            raise reply


def run_exception_handlers(job: Job, handlers: Sequence[ExceptionHandler], exc_info: tuple[Any, Any, Any]) -> None:
    """Call ``handler(job, exc_type, exc_value, tb)`` in order. A handler returning None falls
    through to the next; any other false value (``False``, ``0`` ...) stops the chain, as in RQ."""
    for handler in handlers:
        try:
            fallthrough = handler(job, *exc_info)
            if fallthrough is not None and not fallthrough:
                break
        except Exception:
            logger.exception('Job %s: exception handler %r raised', job.id, handler)
            break


def _usable_in_this_thread(death_penalty_class: type[BaseDeathPenalty]) -> type[BaseDeathPenalty]:
    """SIGALRM only works in the main thread: elsewhere (a web app reading registry counts, say)
    a signal-based death penalty is swapped for the timer-thread one."""
    if (
        issubclass(death_penalty_class, UnixSignalDeathPenalty)
        and threading.current_thread() is not threading.main_thread()
    ):
        return TimerDeathPenalty
    return death_penalty_class


def handle_abandoned_job(
    job: Job,
    queue: Queue,
    exception_handlers: Sequence[ExceptionHandler],
    death_penalty_class: type[BaseDeathPenalty],
    extra: Callable[[Pipeline], None] | None = None,
) -> bool:
    """Fail (or retry) a started job whose worker stopped sending heartbeats.

    Calls its failure callback and the exception handlers with :class:`AbandonedJobError` and no
    traceback (``None``, as rq 3.0: there is none to give), then records the failure and, once it is
    recorded, sends ``failed`` webhooks (rq 3.0; 2.12 sent none). ``extra`` adds commands to the
    transaction that records it. Returns True when the job was retried.
    """
    moment = now()
    death_penalty_class = _usable_in_this_thread(death_penalty_class)
    error = AbandonedJobError(f'Job {job.id} was abandoned: its worker stopped sending heartbeats')
    try:
        job.execute_failure_callback(death_penalty_class, AbandonedJobError, error, None)
    except Exception:
        logger.exception('Job %s: failure callback raised while handling abandonment', job.id)
    run_exception_handlers(job, exception_handlers, (AbandonedJobError, error, None))
    exc_string = f'Moved to FailedJobRegistry, due to AbandonedJobError, at {moment}'
    return record_failure(job, queue, exc_string, worker_name='', extra=extra)
