"""What workers write: their hash ``rq:worker:<name>``, claims of jobs, heartbeats, counters."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import ResponseError

from . import codec, keys, scripts

#: claim_job.lua returns the job hash packed in one string; this is its decoded form.
RawHash = dict[bytes, bytes]


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
        args[-2] = 0


def is_sweep_reply(reply: Any) -> bool:
    """Whether a claim reply says "dropped a batch of dead ids, nothing claimed yet: call again"."""
    return isinstance(reply, list) and len(reply) == 2


ScriptCall = scripts.ScriptCall


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
) -> ScriptCall:
    """The script, keys and arguments of a claim (see :func:`claim_job`)."""
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
    return 'claim_job', script_keys, args


SUSPENDED = 'suspended'


def decode_claim(queue_names: Sequence[str], reply: Any) -> tuple[str, str, RawHash] | str | None:
    """``(queue_name, job_id, raw job hash)`` from a claim reply; None when nothing was queued;
    :data:`SUSPENDED` when workers are suspended."""
    if not reply:
        return None
    if reply == -1:
        return SUSPENDED
    index, job_id, packed = reply
    return queue_names[int(index) - 1], codec.text(job_id), unpack_hash(packed)


def unpack_hash(packed: bytes) -> RawHash:
    """The hash that claim_job.lua packed: ``<length>:<bytes>`` for each field, then its value."""
    items = []
    position, end = 0, len(packed)
    find = packed.find
    while position < end:
        colon = find(b':', position)
        if colon < 0:
            raise ValueError('a truncated job hash in a claim reply')
        start = colon + 1
        position = start + int(packed[position:colon])
        items.append(packed[start:position])
    if position != end or len(items) % 2:
        raise ValueError('a malformed job hash in a claim reply')
    return dict(zip(items[::2], items[1::2], strict=True))


def wait_for_job(connection: Redis, queue_name: str, timeout: float) -> bool:
    """Block until ``queue_name`` holds an id (at most ``timeout`` s) without taking it: ``BLMOVE``
    of the tail onto itself changes nothing. True when the queue is not empty."""
    key = keys.queue_key(queue_name)
    reply = connection.blmove(key, key, timeout, 'RIGHT', 'RIGHT')  # type: ignore[arg-type]
    return reply is not None


def register_birth(
    connection: Redis, worker_name: str, mapping: Mapping[str, Any], queue_names: Sequence[str], ttl: int
) -> bool:
    """Write a new worker hash and add it to ``rq:workers`` and its queues' sets. Returns False
    (writing nothing) when a live worker (a hash without ``death``) already has the name, unless
    that hash has this birth: it is this registration's own, sent again after its reply was lost."""
    key = keys.worker_key(worker_name)
    with connection.pipeline(transaction=True) as pipe:
        pipe.exists(key)
        pipe.hexists(key, 'death')
        pipe.hget(key, 'birth')
        exists, dead, birth = pipe.execute()
    if exists and not dead and codec.text(birth or b'') != str(mapping.get('birth')):
        return False
    with connection.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        pipe.hset(key, mapping=dict(mapping))  # type: ignore[arg-type]
        pipe.sadd(keys.WORKERS, key)
        for name in queue_names:
            pipe.sadd(keys.workers_by_queue_key(name), key)
        pipe.expire(key, ttl)
        pipe.execute()
    return True


def register_death(connection: Redis, worker_name: str, queue_names: Sequence[str], timestamp: str) -> None:
    """Mark the worker dead (``death``, EXPIRE 60), take it out of the worker sets and delete its
    execution index."""
    key = keys.worker_key(worker_name)
    with connection.pipeline(transaction=True) as pipe:
        pipe.srem(keys.WORKERS, key)
        for name in queue_names:
            pipe.srem(keys.workers_by_queue_key(name), key)
        pipe.hset(key, 'death', timestamp)
        pipe.expire(key, 60)
        pipe.delete(keys.worker_executions_key(worker_name))
        pipe.execute()


def heartbeat(client: Redis | Pipeline, worker_name: str, ttl: int, timestamp: str) -> None:
    """Keep the worker hash (and its execution index, if any) alive ``ttl`` more seconds and record
    ``last_heartbeat``: one round trip with a connection, or added to ``client``'s pipeline."""
    key = keys.worker_key(worker_name)
    if isinstance(client, Pipeline):
        _heartbeat(client, key, worker_name, ttl, timestamp)
        return
    with client.pipeline(transaction=False) as pipe:
        _heartbeat(pipe, key, worker_name, ttl, timestamp)
        pipe.execute()


def _heartbeat(pipe: Pipeline, key: str, worker_name: str, ttl: int, timestamp: str) -> None:
    pipe.hset(key, 'last_heartbeat', timestamp)
    pipe.expire(key, ttl)
    pipe.expire(keys.worker_executions_key(worker_name), ttl)


def end_execution(client: Redis | Pipeline, worker_name: str, job_id: str, execution_id: str) -> None:
    """Take ``<job_id>:<execution_id>`` out of the worker's execution index (the run is over)."""
    client.srem(keys.worker_executions_key(worker_name), f'{job_id}:{execution_id}')


def index_execution(client: Redis | Pipeline, worker_name: str, job_id: str, execution_id: str, ttl: int) -> None:
    """Add ``<job_id>:<execution_id>`` to the worker's execution index, which then lives ``ttl`` + 60 s
    (rq 3.0's rule at an execution's creation; the worker's heartbeats renew it)."""
    key = keys.worker_executions_key(worker_name)
    client.sadd(key, f'{job_id}:{execution_id}')
    client.expire(key, ttl + 60)


def execution_count(connection: Redis, worker_name: str) -> int:
    """How many executions the worker's execution index holds."""
    return int(connection.scard(keys.worker_executions_key(worker_name)))


def read_executions(connection: Redis, worker_name: str) -> list[tuple[str, str, RawHash]]:
    """The worker's running executions, from its execution index: ``(job id, execution id, raw
    execution hash)`` each. Members whose execution hash is gone (expired) are removed from the
    index and left out."""
    index_key = keys.worker_executions_key(worker_name)
    members = sorted(codec.texts(connection.smembers(index_key)))
    found: list[tuple[str, str, RawHash]] = []
    if not members:
        return found
    pairs = [member.rsplit(':', 1) for member in members]
    with connection.pipeline(transaction=False) as pipe:
        for job_id, execution_id in pairs:
            pipe.hgetall(keys.execution_key(job_id, execution_id))
        replies = pipe.execute()
    stale = []
    for member, (job_id, execution_id), raw in zip(members, pairs, replies, strict=True):
        if raw:
            found.append((job_id, execution_id, raw))
        else:
            stale.append(member)
    if stale:
        connection.srem(index_key, *stale)
    return found


def set_fields(client: Redis | Pipeline, worker_name: str, mapping: Mapping[str, Any]) -> None:
    client.hset(keys.worker_key(worker_name), mapping=dict(mapping))  # type: ignore[arg-type]


def delete_fields(client: Redis | Pipeline, worker_name: str, *fields: str) -> None:
    client.hdel(keys.worker_key(worker_name), *fields)


def count_outcome(client: Redis | Pipeline, worker_name: str, succeeded: bool, working_seconds: float) -> None:
    """Per-job worker counters, and back to idle: part of the job's outcome transaction."""
    key = keys.worker_key(worker_name)
    client.hincrby(key, 'successful_job_count' if succeeded else 'failed_job_count', 1)
    client.hincrbyfloat(key, 'total_working_time', working_seconds)
    client.hset(key, 'state', 'idle')
    client.hdel(key, 'current_job')


def execution_heartbeat(
    pipe: Pipeline,
    job_id: str,
    queue_name: str,
    execution_id: str,
    worker_name: str,
    ttl: float,
    now_score: int,
    timestamp: str,
    epoch: str,
    working_seconds: float,
) -> None:
    """Say a running job is alive for ``ttl`` more seconds: worker hash, execution hash, started
    registry (only if the entry is still there), the job's executions, the worker's execution index
    and ``last_heartbeat``.

    The started score is the exact moment (``epoch``) + ttl, as claim_job.lua writes it: floored
    to the second it could expire up to a second early, before the next heartbeat is due."""
    expire_ttl = math.ceil(ttl)
    worker_key = keys.worker_key(worker_name)
    pipe.hset(worker_key, mapping={'last_heartbeat': timestamp, 'current_job_working_time': working_seconds})
    pipe.expire(worker_key, expire_ttl)
    execution_key = keys.execution_key(job_id, execution_id)
    pipe.hset(execution_key, 'last_heartbeat', epoch)
    pipe.expire(execution_key, expire_ttl)
    started_score = float(epoch) + ttl
    pipe.zadd(keys.registry_key('started', queue_name), {f'{job_id}:{execution_id}': started_score}, xx=True)
    pipe.zadd(keys.executions_key(job_id), {execution_id: now_score + ttl + 60})
    pipe.expire(keys.executions_key(job_id), expire_ttl + 60)
    pipe.expire(keys.worker_executions_key(worker_name), expire_ttl + 60)
    scripts.queue(pipe, 'hset_if_exists', [keys.job_key(job_id)], ['last_heartbeat', timestamp])


def find_started(connection: Redis, queue_names: Sequence[str], execution_id: str) -> tuple[str, str] | None:
    """``(queue name, job id)`` of execution ``execution_id``'s started entry in these queues'
    started registries; None when it has none (it was never claimed, or is over)."""
    suffix = f':{execution_id}'
    with connection.pipeline(transaction=False) as pipe:
        for name in queue_names:
            pipe.zrange(keys.registry_key('started', name), 0, -1)
        replies = pipe.execute()
    for name, members in zip(queue_names, replies, strict=True):
        for member in codec.texts(members):
            if member.endswith(suffix) and len(member) > len(suffix):
                return name, member[: -len(suffix)]
    return None


def renew_started(pipe: Pipeline, executions: Sequence[tuple[str, str, str]], score: float) -> None:
    """Give the started entries of ``executions`` (queue name, job id, execution id), those still
    there, the expiry ``score``, in ``pipe``: a live worker's word that it holds them."""
    for queue_name, job_id, execution_id in executions:
        pipe.zadd(keys.registry_key('started', queue_name), {f'{job_id}:{execution_id}': score}, xx=True)


def all_worker_keys(connection: Redis, queue_name: str | None = None) -> list[str]:
    key = keys.workers_by_queue_key(queue_name) if queue_name else keys.WORKERS
    return sorted(codec.texts(connection.smembers(key)))


def read_workers(connection: Redis, worker_keys: Sequence[str]) -> list[RawHash]:
    with connection.pipeline(transaction=False) as pipe:
        for key in worker_keys:
            pipe.hgetall(key)
        return pipe.execute()


def forget_workers(connection: Redis, worker_keys: Sequence[str], queue_names: Sequence[str] = ()) -> None:
    if not worker_keys:
        return
    with connection.pipeline(transaction=True) as pipe:
        pipe.srem(keys.WORKERS, *worker_keys)
        for name in queue_names:
            pipe.srem(keys.workers_by_queue_key(name), *worker_keys)
        pipe.execute()


def try_lock(connection: Redis, key: str, ttl: int) -> bool:
    return bool(connection.set(key, '1', nx=True, ex=ttl))


def unlock(connection: Redis, key: str) -> None:
    connection.delete(key)


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


def finish_job_then_claim(connection: Redis, finish: ScriptCall, claim: ScriptCall) -> tuple[Any, Any]:
    """Record a success and claim the next job in one round trip (two script calls sent together).
    Returns both replies; the claim's is an exception instance when its script raised (the success
    is recorded all the same). A script the server did not know is run here (finish), or left for
    the next claim (claim: it did not run). If only the claim ran (its script was loaded, the
    finish's not), the finish runs after it and the worker hash is set back to show the new job.

    When Redis refuses the success (out of memory, or any error reply), the job the claim took is
    handed back (see :func:`hand_back_claim`) and :class:`FinishRefused` is raised."""
    finished, claimed = scripts.call_pair(connection, finish, claim)
    if claimed is scripts.NOT_LOADED or is_sweep_reply(claimed):  # (a sweep: the next claim goes on)
        claimed = None
    if finished is scripts.NOT_LOADED:
        try:
            finished = scripts.run(finish[0], connection, finish[1], finish[2])
        except ResponseError as exc:
            finished = exc
        if _took_job(claimed) and not isinstance(finished, Exception):
            worker_name = finish[2][6]
            connection.hset(keys.worker_key(worker_name), mapping={'state': 'busy', 'current_job': claimed[1]})
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


def _took_job(reply: Any) -> bool:
    return isinstance(reply, (list, tuple)) and len(reply) == 3


def _refused(connection: Redis, cause: ResponseError, claim: ScriptCall, claimed: Any) -> FinishRefused:
    if not _took_job(claimed):
        return FinishRefused(cause, None)
    job_id = codec.text(claimed[1])
    queue_name = keys.queue_name_from_key(claim[1][int(claimed[0]) - 1])
    worker_name, execution_id = claim[2][1], claim[2][2]
    try:
        hand_back_claim(connection, queue_name, job_id, execution_id, worker_name)
    except ResponseError as exc:
        refused = FinishRefused(cause, None, kept=claimed)
        refused.hand_back_error = exc
        return refused
    return FinishRefused(cause, job_id)


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
