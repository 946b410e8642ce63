"""A worker's running executions: its execution index ``rq:worker:<name>:executions``, execution
heartbeats and the started entries they renew."""

from __future__ import annotations

import math
from collections.abc import Sequence

from redis import Redis
from redis.client import Pipeline

from . import codec, keys, scripts
from .claim_ops import RawHash


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


def execution_slots(connection: Redis, job_id: str) -> dict[str, int]:
    """The slots that run the job's executions, by execution id, for those that name one (a worker
    that runs many jobs at once writes ``slot`` in the execution hash as it claims the job)."""
    execution_ids = codec.texts(connection.zrange(keys.executions_key(job_id), 0, -1))
    if not execution_ids:
        return {}
    with connection.pipeline(transaction=False) as pipe:
        for execution_id in execution_ids:
            pipe.hget(keys.execution_key(job_id, execution_id), 'slot')
        slots = pipe.execute()
    return {
        execution_id: int(slot)
        for execution_id, slot in zip(execution_ids, slots, strict=True)
        if slot is not None and codec.text(slot).isdigit()
    }
