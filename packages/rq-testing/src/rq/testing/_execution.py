"""Claiming, running and recording one job in the test process (the eager runner's engine).

It follows a worker step by step, with rq-core's own pieces: the claim is the workers' Lua script
(the job becomes ``started``, with an execution and a started-registry entry), the outcome is
recorded by the same functions the workers use (result stream, registries, dependents, retries,
repeats, webhooks). What it leaves out: no worker hash survives the run (the claim script writes
one; it is deleted with the outcome), no heartbeats, and job timeouts are only enforced when asked
(by a timer thread: the SIGALRM a worker uses would collide with pytest-timeout's).
"""

from __future__ import annotations

import sys
import traceback
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rq._outcome import record_failure, record_retry_by_return, record_success
from rq._redis import codec, keys, worker_ops
from rq.executions import Execution
from rq.job import Retry
from rq.timeouts import BaseDeathPenalty, JobTimeoutException, TimerDeathPenalty
from rq.utils import current_timestamp, now

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from rq.job import Job
    from rq.queue import Queue

#: How long a claimed job's started entry lives: long, since nothing sends heartbeats meanwhile.
EXECUTION_TTL = 3600

FINISHED, FAILED, RETRIED = 'finished', 'failed', 'retried'
SUSPENDED = worker_ops.SUSPENDED


class NoTimeout(BaseDeathPenalty):
    """A death penalty that never fires (job and callback timeouts are not enforced)."""

    def setup_death_penalty(self) -> None:
        pass

    def cancel_death_penalty(self) -> None:
        pass


@dataclass
class Claimed:
    job: Job
    queue: Queue
    execution: Execution
    load_error: Outcome | None = None  # the job hash could not be decoded: it fails with this


@dataclass
class Outcome:
    """How the function call ended, before anything is recorded."""

    status: str
    return_value: Any = None
    exception: BaseException | None = None
    exc_string: str = ''
    retry: Retry | None = None


def claim(connection: Redis, queues: list[Queue], runner_name: str) -> Claimed | str | None:
    """Take the next job of ``queues`` (in order) and mark it started; None when all are empty,
    :data:`SUSPENDED` while workers are suspended. An undecodable job is returned with its
    ``load_error`` set, so that its failure is recorded like any other."""
    names = [queue.name for queue in queues]
    moment = now()
    execution_id = uuid.uuid4().hex
    reply = worker_ops.claim_job(
        connection,
        names,
        runner_name,
        execution_id,
        codec.format_timestamp(moment),
        codec.format_epoch(moment),
        current_timestamp(),
        EXECUTION_TTL,
    )
    decoded = worker_ops.decode_claim(names, reply)
    if decoded is None or isinstance(decoded, str):
        return decoded
    queue_name, job_id, raw = decoded
    queue = next(q for q in queues if q.name == queue_name)
    job = queue.job_class(job_id, connection=connection, serializer=queue.serializer)
    execution = Execution(execution_id, job_id, connection, worker_name=runner_name)
    execution.created_at = execution.last_heartbeat = moment
    try:
        job.restore(raw)
    except Exception as exc:
        text = ''.join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return Claimed(job, queue, execution, Outcome(FAILED, exception=exc, exc_string=text))
    return Claimed(job, queue, execution)


def perform(job: Job, queue: Queue, enforce_timeouts: bool) -> Outcome:
    """Call the job's function, then its success or failure callback (RQ's rules: a raising success
    callback fails the job, a raising failure callback replaces the exception)."""
    death_penalty: type[BaseDeathPenalty] = TimerDeathPenalty if enforce_timeouts else NoTimeout
    timeout = job.timeout or queue.DEFAULT_TIMEOUT
    try:
        with death_penalty(timeout, JobTimeoutException, job_id=job.id):
            return_value = job.perform_in_place()
        job.ended_at = now()
        if isinstance(return_value, Retry):
            return Outcome(RETRIED, retry=return_value)
        job.execute_success_callback(death_penalty, return_value)
        return Outcome(FINISHED, return_value=return_value)
    except (Exception, SystemExit):
        exc_info = sys.exc_info()
        job.ended_at = now()
        try:
            job.execute_failure_callback(death_penalty, *exc_info)
        except (Exception, SystemExit):
            exc_info = sys.exc_info()
        exc_string = ''.join(traceback.format_exception(*exc_info))
        return Outcome(FAILED, exception=exc_info[1], exc_string=exc_string)


def record(claimed: Claimed, outcome: Outcome, runner_name: str) -> str:
    """Write the outcome as a worker would. Returns what became of the run: :data:`FINISHED`,
    :data:`FAILED` (for good) or :data:`RETRIED` (put back, now or later)."""
    job, queue, execution = claimed.job, claimed.queue, claimed.execution

    def forget_runner(pipe: Pipeline) -> None:
        pipe.delete(keys.worker_key(runner_name))
        worker_ops.end_execution(pipe, runner_name, job.id, execution.id)

    common: dict[str, Any] = {'worker_name': runner_name, 'execution': execution, 'extra': forget_runner}
    if outcome.status == FINISHED:
        record_success(job, queue, outcome.return_value, **common)
        return FINISHED
    if outcome.status == RETRIED:
        assert outcome.retry is not None
        return RETRIED if record_retry_by_return(job, queue, outcome.retry, **common) else FAILED
    return RETRIED if record_failure(job, queue, outcome.exc_string, **common) else FAILED
