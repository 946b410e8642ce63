"""Claims of jobs by workers: claim_job.lua's call and its reply, waiting for a job, handing a claim back."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate
from typing import Any

from redis import Redis
from redis.exceptions import ResponseError

from . import keys, scripts

#: claim_job.lua returns the job hash packed in one string; this is its decoded form.
RawHash = dict[bytes, bytes]

ScriptCall = scripts.ScriptCall


def claim_job(
    connection: Redis,
    queue_names: Sequence[str],
    worker_name: str,
    execution_id: str,
    timestamp: str,
    epoch: str,
    now_score: int,
    heartbeat_ttl: float,
    *,
    resend: bool = False,
) -> Any:
    """Pop the next job id from the first non-empty queue and mark it started, atomically
    (``lua/claim_job.lua``). Returns the raw reply; decode it with :func:`decode_claim`.

    ``resend``: this execution id was claimed before and the reply was lost; the job it took then
    is returned again (found by the execution id itself, even when the worker hash expired).

    Ids whose job hash is gone are dropped on the way, :data:`scripts.SWEEP_BATCH` at most per
    script call: the script is called again until it claims a job or finds every queue empty."""
    name, script_keys, args = claim_job_call(
        queue_names, worker_name, execution_id, timestamp, epoch, now_score, heartbeat_ttl, resend=resend
    )
    while True:
        reply = scripts.call(name, connection, script_keys, args)
        if not is_sweep_reply(reply):
            return reply
        # Only dead ids were dropped (at most scripts.SWEEP_BATCH a call): claim again. The first
        # call found no earlier claim of this execution id, so the next ones need not look.
        args[10] = 0  # (ARGV[11])


def claim_jobs(
    connection: Redis,
    queue_names: Sequence[str],
    worker_name: str,
    executions: Sequence[tuple[str, bool, int | None]],
    timestamp: str,
    epoch: str,
    now_score: int,
    heartbeat_ttl: float,
) -> list[Any]:
    """Several claims in one round trip, one per ``(execution id, resend, slot)`` (see :func:`claim_job`),
    for a worker with several free slots. Returns a reply for each, in order: decode it with
    :func:`decode_claim`; None for a claim that only dropped dead ids (the next round claims
    again), an exception instance for a claim the server refused (nothing applied: send it again)."""
    calls = [
        claim_job_call(
            queue_names, worker_name, execution_id, timestamp, epoch, now_score, heartbeat_ttl, resend=resend, slot=slot
        )
        for execution_id, resend, slot in executions
    ]
    replies = scripts.call_many(connection, calls)
    for position, reply in enumerate(replies):
        if reply is scripts.NOT_LOADED:  # (after a restart or SCRIPT FLUSH: this one loads it)
            name, script_keys, args = calls[position]
            try:
                reply = scripts.run(name, connection, script_keys, args)
            except ResponseError as exc:
                reply = exc
        replies[position] = None if is_sweep_reply(reply) else reply
    return replies


def is_sweep_reply(reply: Any) -> bool:
    """Whether a claim reply says "dropped a batch of dead ids, nothing claimed yet: call again"."""
    return isinstance(reply, list) and len(reply) == 2


def claim_job_call(
    queue_names: Sequence[str],
    worker_name: str,
    execution_id: str,
    timestamp: str,
    epoch: str,
    now_score: int,
    heartbeat_ttl: float,
    *,
    resend: bool = False,
    slot: int | None = None,
) -> ScriptCall:
    """The script, keys and arguments of a claim (see :func:`claim_job`); ``slot``: the slot of a
    worker that runs many jobs at once that will run the job (kept in the execution hash)."""
    script_keys = [
        *[keys.queue_key(name) for name in queue_names],
        *[keys.registry_key('started', name) for name in queue_names],
        keys.worker_key(worker_name),
        keys.SUSPENDED,
        keys.worker_executions_key(worker_name),
    ]
    args = [
        len(queue_names),
        worker_name,
        execution_id,
        timestamp,
        epoch,
        now_score,
        heartbeat_ttl,
        keys.JOB_PREFIX,
        keys.EXECUTION_PREFIX,
        keys.EXECUTIONS_PREFIX,
        1 if resend else 0,
        scripts.SWEEP_BATCH,
    ]
    if slot is not None:
        args.append(slot)
    return 'claim_job', script_keys, args


SUSPENDED = 'suspended'


def decode_claim(queue_names: Sequence[str], reply: Any) -> tuple[str, str, RawHash] | str | None:
    """``(queue_name, job_id, raw job hash)`` from a claim reply; None when nothing was queued;
    :data:`SUSPENDED` when workers are suspended."""
    if not reply:
        return None
    if reply == -1:
        return SUSPENDED
    head, separator, body = reply.partition(b';')
    if not separator:
        raise ValueError('a truncated claim reply')
    index, *lengths = map(int, head.split(b','))
    ends = list(accumulate(lengths))
    if not len(ends) % 2 or ends[-1] != len(body):
        raise ValueError('a malformed claim reply')
    items = [body[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]
    return queue_names[index - 1], items[0].decode(), dict(zip(items[1::2], items[2::2], strict=True))


def claimed_job(reply: Any) -> tuple[int, str] | None:
    """The queue's index (1-based) and the job's id, from a claim reply that took a job; None
    from one that took none (nothing queued, workers suspended, a sweep of dead ids)."""
    if not isinstance(reply, bytes):
        return None
    head, _, body = reply.partition(b';')
    index, id_length = head.split(b',', 2)[:2]
    return int(index), body[: int(id_length)].decode()


def claimed_execution(queue_names: Sequence[str], execution_id: str, reply: Any) -> tuple[str, str, str] | None:
    """(queue name, job id, ``execution_id``) of a claim of ``queue_names`` whose reply took a job,
    else None (see :func:`claimed_job`)."""
    took = claimed_job(reply)
    return None if took is None else (queue_names[took[0] - 1], took[1], execution_id)


def wait_for_job(connection: Redis, queue_name: str, timeout: float) -> bool:
    """Block until ``queue_name`` holds an id (at most ``timeout`` s) without taking it: ``BLMOVE``
    of the tail onto itself changes nothing. True when the queue is not empty."""
    key = keys.queue_key(queue_name)
    reply = connection.blmove(key, key, timeout, 'RIGHT', 'RIGHT')  # type: ignore[arg-type]
    return reply is not None


def hand_back_claim(connection: Redis, queue_name: str, job_id: str, execution_id: str, worker_name: str) -> bool:
    """Put a job this worker claimed but will not run back at the front of its queue, untouched
    (``lua/hand_back_claim.lua``: status queued, its started entry and execution removed). Runs
    even when Redis is out of memory. False when that claim's started entry was gone."""
    script_keys = [
        keys.queue_key(queue_name),
        keys.registry_key('started', queue_name),
        keys.job_key(job_id),
        keys.execution_key(job_id, execution_id),
        keys.executions_key(job_id),
        keys.worker_key(worker_name),
        keys.worker_executions_key(worker_name),
    ]
    return bool(scripts.call('hand_back_claim', connection, script_keys, [job_id, execution_id]))
