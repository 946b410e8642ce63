"""Recording a run's outcome from the worker process, with the worker's own counters."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis

from rq._outcome import record_failure, record_retry_by_return, record_success
from rq._redis import codec, keys, registries, scripts, worker_ops
from rq._redis.results_ops import registry_score
from rq.defaults import RESULTS_STREAM_MAXLEN
from rq.job import JobStatus
from rq.results import Result, entry_fields
from rq.utils import current_timestamp, now

from . import job_log
from .reconnect import is_transient
from .run import FAILED, FINISHED, RETRY, RunResult

if TYPE_CHECKING:
    from redis.client import Pipeline

    from rq.executions import Execution
    from rq.job import Job
    from rq.queue import Queue


#: Waits (seconds) between attempts to record the failure of a run whose outcome Redis refused. An
#: out-of-memory refusal of a large result often passes within a second: the refused command's own
#: arguments held memory until Redis trimmed the connection's input buffer.
REFUSAL_RETRY_DELAYS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0)

#: How much of a failure's exception line the short failure record keeps (see :class:`Refusal`).
_EXCEPTION_LINE_LIMIT = 300


@dataclass(frozen=True)
class Refusal:
    """Redis refused to record a run's outcome (out of memory, say): the job is failed (or
    retried) in its place with a short failure record naming the cause, which fits where the
    refused write did not."""

    text: str  # the failure record's exc_string: 'could not store the result: OutOfMemoryError: ...'
    result: RunResult  # the run as recorded in its place
    outcome: str  # job_log's FAILED, RETRIED or STOPPED: what recording that makes of the job

    @classmethod
    def of(cls, job: Job, result: RunResult, stopped: bool, exc: redis.exceptions.ResponseError) -> Refusal:
        text = f'could not store {_what(result)}: {describe(exc)}'
        failed = RunResult(FAILED, result.started_at, result.ended_at, exc_string=text)
        return cls(text, failed, job_log.predicted_outcome(job, failed, stopped))


def describe(exc: redis.exceptions.ResponseError) -> str:
    """Redis's refusal, on one line: ``OutOfMemoryError: command not allowed when used memory > ...``."""
    cause = exc.cause if isinstance(exc, worker_ops.FinishRefused) else exc
    return f'{type(cause).__name__}: {cause}'.replace('\n', ' ')


def _what(result: RunResult) -> str:
    if result.status == FINISHED:
        return 'the result'
    if result.status == RETRY:
        return 'the outcome of this run (it returned Retry)'
    line = job_log.exception_line(result.exc_string or '')[:_EXCEPTION_LINE_LIMIT]
    return f'the outcome of this run ({line})' if line else 'the outcome of this run'


def already_recorded(job: Job, queue: Queue, execution: Execution) -> bool:
    """After a connection error mid-transaction: did the transaction apply? It removes the
    execution's started entry, so its absence says yes."""
    member = f'{job.id}:{execution.id}'
    return registries.score_of(job.connection, keys.registry_key('started', queue.name), member) is None


def record(worker: Any, job: Job, queue: Queue, execution: Execution, result: RunResult, stopped: bool = False) -> None:
    working_seconds = working_seconds_of(result)
    succeeded = result.status == FINISHED

    def count(pipe: Pipeline) -> None:
        worker_ops.count_outcome(pipe, worker.name, succeeded, working_seconds)
        worker_ops.end_execution(pipe, worker.name, job.id, execution.id)

    stamp(worker, job, result)
    # WATCHing the execution's hash keeps redis-py from re-sending a transaction whose reply was
    # lost (it would apply twice); the worker's own retry checks first whether it applied.
    guard = keys.execution_key(job.id, execution.id)
    attempt = getattr(worker, '_record_attempts', 0)
    worker._record_attempts = attempt + 1
    outcome = job_log.predicted_outcome(job, result, stopped)
    repeats_left = job.repeats_left if result.status == FINISHED else None
    before = dict(vars(job))  # (what recording changes in the job, put back if Redis refuses it)
    earlier = getattr(worker, '_refusal', None)  # (an earlier attempt's refusal, see below)
    refusal: Refusal | None = earlier[1] if earlier is not None and earlier[0] == execution.id else None
    note = ''
    try:
        if attempt and already_recorded(job, queue, execution):
            worker._record_attempts = 0
            worker._refusal = None
            if refusal is not None:
                result, outcome, note = refusal.result, refusal.outcome, refusal.text
            job_log.log_outcome(worker, job, queue, result, outcome, note=note)
            return
        if refusal is None:
            try:
                _write_outcome(worker, job, queue, execution, result, stopped, working_seconds, count, guard)
            except redis.exceptions.ResponseError as exc:  # (not a connection error, nor WatchError)
                vars(job).update(before)
                if is_transient(exc):  # (busy with a long script: nothing applied; tried again)
                    raise
                refusal = Refusal.of(job, result, stopped, exc)
                worker._refusal = (execution.id, refusal)
        if refusal is not None:
            if not _record_refusal(worker, job, queue, execution, stopped, refusal, working_seconds, guard, before):
                worker._record_attempts = 0
                worker._refusal = None
                worker.failed_job_count += 1
                return
            result, outcome, succeeded, note = refusal.result, refusal.outcome, False, refusal.text
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.WatchError):
        # (Redis did not answer, or a guarded change met another: what was sent may have applied, or
        # may still apply: a server busy with a long script runs it once free) the worker tries
        # again; that attempt first checks whether this one applied
        raise
    except BaseException:
        worker._record_attempts = 0
        worker._refusal = None
        raise
    recorded(worker, job, queue, result, outcome, working_seconds, repeats_left, note)


def working_seconds_of(result: RunResult) -> float:
    return max(0.0, (result.ended_at - result.started_at).total_seconds())


def stamp(worker: Any, job: Job, result: RunResult) -> None:
    """Set the job's fields that recording ``result`` writes (its worker, start, end, last heartbeat)."""
    job.worker_name = worker.name
    job.started_at = job.started_at or result.started_at
    job.ended_at = result.ended_at
    job.last_heartbeat = result.ended_at


def recorded(
    worker: Any,
    job: Job,
    queue: Queue,
    result: RunResult,
    outcome: str,
    working_seconds: float,
    repeats_left: int | None = None,
    note: str = '',
) -> None:
    """The outcome is recorded: count it, log it."""
    succeeded = outcome == job_log.OK
    worker._refusal = None
    worker._record_attempts = 0
    worker.total_working_time += working_seconds
    if succeeded:
        worker.successful_job_count += 1
    else:
        worker.failed_job_count += 1
    job_log.log_outcome(worker, job, queue, result, outcome, note=note)
    if succeeded:
        if repeats_left:
            job_log.log_repeat(worker, job, repeats_left)
        job_log.log_result_lifespan(worker, job)


def _write_outcome(
    worker: Any,
    job: Job,
    queue: Queue,
    execution: Execution,
    result: RunResult,
    stopped: bool,
    working_seconds: float,
    count: Callable[[Pipeline], None],
    guard: str,
) -> None:
    """Write the run's outcome, as it ended (one transaction, or the success script)."""
    if result.status == FINISHED and fast_path(worker, job):
        _finish(worker, job, queue, execution, result, working_seconds)
    elif result.status == FINISHED:
        if job.repeats_left and result.return_payload is not None:
            job._result = _decode(job, result.return_payload)
        record_success(
            job,
            queue,
            None,
            worker_name=worker.name,
            default_result_ttl=worker.default_result_ttl,
            execution=execution,
            extra=count,
            serialized_return_value=result.return_payload,
            guard=guard,
        )
    elif result.status == RETRY:
        assert result.retry is not None
        record_retry_by_return(
            job, queue, result.retry, worker_name=worker.name, execution=execution, extra=count, guard=guard
        )
    else:
        _write_failure(worker, job, queue, execution, result.exc_string or '', stopped, count, guard)


def _write_failure(
    worker: Any,
    job: Job,
    queue: Queue,
    execution: Execution,
    text: str,
    stopped: bool,
    count: Callable[[Pipeline], None],
    guard: str,
) -> None:
    record_failure(
        job,
        queue,
        text,
        worker_name=worker.name,
        execution=execution,
        stopped=stopped,
        write_failed_registry=not worker.disable_default_exception_handler,
        extra=count,
        guard=guard,
    )


def _record_refusal(
    worker: Any,
    job: Job,
    queue: Queue,
    execution: Execution,
    stopped: bool,
    refusal: Refusal,
    working_seconds: float,
    guard: str,
    before: dict[str, Any],
) -> bool:
    """Fail (or retry) a job whose outcome Redis refused, with :attr:`Refusal.text`. A refusal of
    that too is tried again after each of :data:`REFUSAL_RETRY_DELAYS`; then the worker lets go of
    the run (see ``worker_ops.let_go_of_execution``): the job stays started until its started entry
    expires, and is then failed or retried as abandoned. Returns False then."""

    def count(pipe: Pipeline) -> None:
        worker_ops.count_outcome(pipe, worker.name, False, working_seconds)
        worker_ops.end_execution(pipe, worker.name, job.id, execution.id)

    delays = iter(REFUSAL_RETRY_DELAYS)
    while True:
        try:
            _write_failure(worker, job, queue, execution, refusal.text, stopped, count, guard)
            return True
        except redis.exceptions.ResponseError as exc:
            vars(job).update(before)
            if is_transient(exc):  # (busy with a long script: nothing applied; tried again)
                raise
            delay = next(delays, None)
            if delay is None:
                released = ''
                try:
                    worker_ops.let_go_of_execution(job.connection, job.id, execution.id, worker.name)
                except redis.exceptions.ResponseError as error:
                    released = describe(error)
                job_log.log_unrecorded(worker, job, queue, refusal.result, refusal.text, describe(exc), released)
                return False
            time.sleep(delay)
        except BaseException:
            vars(job).update(before)  # (an attempt after a connection error starts from the run's job)
            raise


def fast_path(worker: Any, job: Job) -> bool:
    """The common success: a result kept for a while (or for ever), no repeat to schedule, no
    rate-limit slot to give back (those go through rq._outcome)."""
    return job.get_result_ttl(worker.default_result_ttl) != 0 and not job.repeats_left and not job.rate_limit_key


def _finish(
    worker: Any, job: Job, queue: Queue, execution: Execution, result: RunResult, working_seconds: float
) -> None:
    finish = finish_call(worker, job, queue, execution, result, working_seconds)
    finished(worker, job, execution, worker.send_finish(job.connection, finish))


def finish_call(
    worker: Any, job: Job, queue: Queue, execution: Execution, result: RunResult, working_seconds: float
) -> scripts.ScriptCall:
    """The script call that records a success on the :func:`fast_path`."""
    ttl = job.get_result_ttl(worker.default_result_ttl)
    entry = entry_fields(
        Result.Type.SUCCESSFUL,
        worker.name,
        serialized_return_value=result.return_payload,
        execution_id=execution.id,
        execution_started_at=execution.created_at,
        execution_ended_at=result.ended_at,
    )
    moment = now()
    return worker_ops.finish_job_call(
        job.id,
        queue.name,
        execution.id,
        worker.name,
        result_ttl=ttl,
        finished_score=registry_score(current_timestamp(), ttl),
        started_at=codec.format_optional_timestamp(job.started_at),
        ended_at=codec.format_timestamp(result.ended_at),
        working_seconds=working_seconds,
        enqueued_at=codec.format_timestamp(moment),
        result_fields=entry,
        stream_maxlen=RESULTS_STREAM_MAXLEN,
    )


def finished(worker: Any, job: Job, execution: Execution, reply: Any) -> None:
    """After :func:`finish_call`'s script replied ``reply``."""
    if reply == LATE_RESULT:
        log_late_result(worker, job, execution)
        return
    job._status = JobStatus.FINISHED
    if job.webhooks:
        job.send_webhooks(JobStatus.FINISHED)


#: finish_job.lua's reply when the job had been failed (or retried) as abandoned before its result came.
LATE_RESULT = 3


def log_late_result(worker: Any, job: Job, execution: Execution) -> None:
    """A success that came after the job was taken for abandoned (its worker was cut off from Redis
    for longer than a started entry lives): the result is kept among the job's results, the job is
    left as it is now (failed, or retried and maybe running again elsewhere)."""
    worker.log.warning(
        'job %s: result arrived after the job was failed as abandoned (execution %s): kept among its '
        'results; its status is left as it is',
        job.id,
        execution.id,
    )


def _decode(job: Job, payload: bytes) -> Any:
    try:
        return job.serializer.loads(payload)
    except Exception:
        return None
