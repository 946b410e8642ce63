"""What workers write: their hash ``rq:worker:<name>`` (birth, heartbeats, state, counters), the worker
sets, and locks; with the names of the modules that claim jobs (:mod:`.claim_ops`), record their
runs (:mod:`.finish_ops`) and keep their executions (:mod:`.execution_ops`), which callers use from
here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from redis import Redis
from redis.client import Pipeline

from . import codec, keys, scripts
from .claim_ops import (
    SUSPENDED,
    RawHash,
    ScriptCall,
    claim_job,
    claim_job_call,
    claim_jobs,
    claimed_execution,
    claimed_job,
    decode_claim,
    hand_back_claim,
    is_sweep_reply,
    wait_for_job,
)
from .execution_ops import (
    end_execution,
    execution_count,
    execution_heartbeat,
    execution_slots,
    find_started,
    index_execution,
    read_executions,
    renew_started,
)
from .finish_ops import (
    FinishRefused,
    finish_job_call,
    finish_job_then_claim,
    let_go_of_execution,
    settle_finish_and_claim,
)

__all__ = [
    'SUSPENDED',
    'FinishRefused',
    'RawHash',
    'ScriptCall',
    'all_worker_keys',
    'claim_job',
    'claim_job_call',
    'claim_jobs',
    'claimed_execution',
    'claimed_job',
    'count_outcome',
    'decode_claim',
    'delete_fields',
    'end_execution',
    'execution_count',
    'execution_heartbeat',
    'execution_slots',
    'find_started',
    'finish_job_call',
    'finish_job_then_claim',
    'forget_workers',
    'hand_back_claim',
    'heartbeat',
    'index_execution',
    'is_sweep_reply',
    'let_go_of_execution',
    'read_executions',
    'read_workers',
    'register_birth',
    'register_death',
    'remember_names',
    'renew_started',
    'set_fields',
    'settle_finish_and_claim',
    'try_lock',
    'unlock',
    'wait_for_job',
]


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


def remember_names(worker_name: str, queue_names: Sequence[str]) -> None:
    """Have the worker's name and keys and its queues' keys packed once, not on every script call
    that records a job (see ``scripts.remember``)."""
    scripts.remember(worker_name, keys.worker_key(worker_name), keys.worker_executions_key(worker_name))
    for name in queue_names:
        scripts.remember(
            name,
            keys.queue_key(name),
            *(keys.registry_key(kind, name) for kind in ('started', 'finished', 'failed')),
        )


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


#: The worker-hash field counting the unsigned jobs a worker ran in migration mode (see rq.trust).
UNSIGNED_COUNT_FIELD = 'unsigned_job_count'


def count_unsigned(client: Redis, worker_name: str) -> None:
    client.hincrby(keys.worker_key(worker_name), UNSIGNED_COUNT_FIELD, 1)


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
