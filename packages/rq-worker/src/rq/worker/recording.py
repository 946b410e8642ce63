"""Recording a run's outcome from the worker process, with the worker's own counters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis

from rq._jobs.outcome import record_failure, record_retry_by_return, record_success
from rq._redis import codec, keys, registries, worker_ops
from rq._redis.results_ops import registry_score
from rq.defaults import RESULTS_STREAM_MAXLEN
from rq.job import JobStatus
from rq.results import Result
from rq.utils import current_timestamp, now

from . import job_log
from .run import FINISHED, RETRY, RunResult

if TYPE_CHECKING:
    from redis.client import Pipeline

    from rq.executions import Execution
    from rq.job import Job
    from rq.queue import Queue


def already_recorded(job: Job, queue: Queue, execution: Execution) -> bool:
    """After a connection error mid-transaction: did the transaction apply? It removes the
    execution's started entry, so its absence says yes."""
    member = f'{job.id}:{execution.id}'
    return registries.score_of(job.connection, keys.registry_key('started', queue.name), member) is None


def record(worker: Any, job: Job, queue: Queue, execution: Execution, result: RunResult, stopped: bool = False) -> None:
    working_seconds = max(0.0, (result.ended_at - result.started_at).total_seconds())
    succeeded = result.status == FINISHED

    def count(pipe: Pipeline) -> None:
        worker_ops.count_outcome(pipe, worker.name, succeeded, working_seconds)

    job.worker_name = worker.name
    job.started_at = job.started_at or result.started_at
    job.ended_at = result.ended_at
    job.last_heartbeat = result.ended_at
    # WATCHing the execution's hash keeps redis-py from re-sending a transaction whose reply was
    # lost (it would apply twice); the worker's own retry checks first whether it applied.
    guard = keys.execution_key(job.id, execution.id)
    attempt = getattr(worker, '_record_attempts', 0)
    worker._record_attempts = attempt + 1
    outcome = job_log.predicted_outcome(job, result, stopped)
    repeats_left = job.repeats_left if result.status == FINISHED else None
    try:
        if attempt and already_recorded(job, queue, execution):
            worker._record_attempts = 0
            job_log.log_outcome(worker, job, queue, result, outcome)
            return
        if result.status == FINISHED and _fast_path(worker, job):
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
            record_failure(
                job,
                queue,
                result.exc_string or '',
                worker_name=worker.name,
                execution=execution,
                stopped=stopped,
                write_failed_registry=not worker.disable_default_exception_handler,
                extra=count,
                guard=guard,
            )
    except (redis.exceptions.ConnectionError, redis.exceptions.WatchError):
        raise  # the worker tries again; that attempt first checks whether this one applied
    except BaseException:
        worker._record_attempts = 0
        raise
    worker._record_attempts = 0
    worker.total_working_time += working_seconds
    if succeeded:
        worker.successful_job_count += 1
    else:
        worker.failed_job_count += 1
    job_log.log_outcome(worker, job, queue, result, outcome)
    if succeeded:
        if repeats_left:
            job_log.log_repeat(worker, job, repeats_left)
        job_log.log_result_lifespan(worker, job)


def _fast_path(worker: Any, job: Job) -> bool:
    """The common success: a result kept for a while (or for ever), no repeat to schedule."""
    return job.get_result_ttl(worker.default_result_ttl) != 0 and not job.repeats_left


def _finish(
    worker: Any, job: Job, queue: Queue, execution: Execution, result: RunResult, working_seconds: float
) -> None:
    ttl = job.get_result_ttl(worker.default_result_ttl)
    entry = Result(
        job.id,
        Result.Type.SUCCESSFUL,
        job.connection,
        serializer=job.serializer,
        worker_name=worker.name,
        execution_id=execution.id,
        execution_started_at=execution.created_at,
        execution_ended_at=result.ended_at,
    ).serialize(result.return_payload)
    moment = now()
    finish = worker_ops.finish_job_call(
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
    worker.send_finish(job.connection, finish)
    job._status = JobStatus.FINISHED
    if job.webhooks:
        job.send_webhooks(JobStatus.FINISHED)


def _decode(job: Job, payload: bytes) -> Any:
    try:
        return job.serializer.loads(payload)
    except Exception:
        return None
