"""Recording a worker's successful run (``lua/finish_job.lua``), alone or sent with the next claim, and
letting go of a run whose outcome Redis refused."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from redis import Redis
from redis.exceptions import ResponseError

from . import keys, scripts
from .claim_ops import ScriptCall, claimed_job, hand_back_claim, is_sweep_reply
from .execution_ops import end_execution


def finish_job_call(
    job_id: str,
    queue_name: str,
    execution_id: str,
    worker_name: str,
    *,
    result_ttl: int,
    finished_score: float | int,
    started_at: str,
    ended_at: str,
    working_seconds: float,
    enqueued_at: str,
    result_fields: Mapping[str, Any],
    stream_maxlen: int,
) -> ScriptCall:
    """The script, keys and arguments that record a successful run (``lua/finish_job.lua``): it
    returns 1 recorded, 0 the job hash was gone. ``result_ttl`` must not be 0 (that path deletes
    the job; see outcome.py)."""
    script_keys = [
        keys.job_key(job_id),
        keys.results_key(job_id),
        keys.registry_key('finished', queue_name),
        keys.registry_key('started', queue_name),
        keys.execution_key(job_id, execution_id),
        keys.executions_key(job_id),
        keys.worker_key(worker_name),
        keys.dependents_key(job_id),
        keys.dependencies_key(job_id),
        keys.QUEUES,
        keys.worker_executions_key(worker_name),
    ]
    score = '+inf' if finished_score == float('inf') else finished_score
    args: list[Any] = [
        job_id,
        execution_id,
        result_ttl,
        score,
        started_at,
        ended_at,
        worker_name,
        repr(float(working_seconds)),
        stream_maxlen,
        enqueued_at,
        keys.JOB_PREFIX,
        keys.REGISTRY_PREFIXES['deferred'],
        keys.QUEUE_PREFIX,
        repr(time.time()),
        *keys.RATE_LIMIT_CONTEXT,
    ]
    for field, value in result_fields.items():
        args += [field, value]
    return 'finish_job', script_keys, args


def finish_job_then_claim(connection: Redis, finish: ScriptCall, claim: ScriptCall, via: Any = None) -> tuple[Any, Any]:
    """Record a success and claim the next job in one round trip (two script calls sent together).
    Returns both replies; the claim's is an exception instance when its script raised (the success
    is recorded all the same). A script the server did not know is run here (finish), or left for
    the next claim (claim: it did not run). If only the claim ran (its script was loaded, the
    finish's not), the finish runs after it and the worker hash is set back to show the new job.

    When Redis refuses the success (out of memory, or any error reply), the job the claim took is
    handed back (see :func:`hand_back_claim`) and :class:`FinishRefused` is raised.

    ``via``: the caller's own connection for the round trip (see :func:`scripts.own_connection`)."""
    finished, claimed = scripts.call_pair(connection, finish, claim, via)
    return settle_finish_and_claim(connection, finish, claim, finished, claimed)


def settle_finish_and_claim(
    connection: Redis, finish: ScriptCall, claim: ScriptCall, finished: Any, claimed: Any
) -> tuple[Any, Any]:
    """:func:`finish_job_then_claim` once the two replies came (sent by the caller, with others
    maybe: see :func:`scripts.call_many`)."""
    if claimed is scripts.NOT_LOADED or is_sweep_reply(claimed):  # (a sweep: the next claim goes on)
        claimed = None
    if finished is scripts.NOT_LOADED:
        try:
            finished = scripts.run(finish[0], connection, finish[1], finish[2])
        except ResponseError as exc:
            finished = exc
        took = claimed_job(claimed)
        if took is not None and not isinstance(finished, Exception):
            worker_name = finish[2][6]
            connection.hset(keys.worker_key(worker_name), mapping={'state': 'busy', 'current_job': took[1]})
    if isinstance(finished, ResponseError):
        raise _refused(connection, finished, claim, claimed)
    if isinstance(finished, Exception):
        raise finished
    return finished, claimed


class FinishRefused(ResponseError):
    """Redis refused to record a success sent together with a claim (its message is Redis's).

    ``handed_back``: the id of the job that claim took and that was put back at the front of its
    queue (None when it took none). ``kept``: the claim's reply when that job could not be handed
    back (``hand_back_error`` says why): it stays started by this worker, which must run it."""

    def __init__(self, cause: ResponseError, handed_back: str | None, kept: Any = None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.handed_back = handed_back
        self.kept = kept
        self.hand_back_error: ResponseError | None = None


def _refused(connection: Redis, cause: ResponseError, claim: ScriptCall, claimed: Any) -> FinishRefused:
    took = claimed_job(claimed)
    if took is None:
        return FinishRefused(cause, None)
    index, job_id = took
    queue_name = keys.queue_name_from_key(claim[1][index - 1])
    worker_name, execution_id = claim[2][1], claim[2][2]
    try:
        hand_back_claim(connection, queue_name, job_id, execution_id, worker_name)
    except ResponseError as exc:
        refused = FinishRefused(cause, None, kept=claimed)
        refused.hand_back_error = exc
        return refused
    return FinishRefused(cause, job_id)


def let_go_of_execution(connection: Redis, job_id: str, execution_id: str, worker_name: str) -> None:
    """Let go of a run whose outcome Redis refused to record, even its failure: its execution hash,
    its entry in the job's executions and in the worker's execution index, and the worker hash's
    ``current_job`` are deleted (DEL, ZREM, SREM and HDEL only free memory: Redis accepts them when
    out of memory). Its started entry stays and expires, no longer renewed; as no live worker is
    named for it any more, the job is then failed (or retried) as abandoned by whichever worker
    looks first. (Not a MULTI: out of memory, Redis refuses every command queued in a transaction.)"""
    with connection.pipeline(transaction=False) as pipe:
        pipe.delete(keys.execution_key(job_id, execution_id))
        pipe.zrem(keys.executions_key(job_id), execution_id)
        end_execution(pipe, worker_name, job_id, execution_id)
        pipe.hdel(keys.worker_key(worker_name), 'current_job')
        pipe.execute()
