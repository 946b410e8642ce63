"""Multi-key state transitions on RQ's Redis data, each one atomic (a Lua script or a MULTI).

Models call these; they never chain raw commands on ``rq:`` keys themselves. ``client`` is a
connection or a pipeline: with a pipeline the commands are queued and the caller executes them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from redis import Redis
from redis.client import Pipeline

from . import codec, keys, scripts

#: enqueue.lua outcomes
DUPLICATE, QUEUED, DEFERRED, SCHEDULED, SAVED, RATE_LIMITED = 0, 1, 2, 3, 4, 5

#: Seconds a script that pushes an id onto a queue keeps its call's token (``rq:enqueue-token:<token>``,
#: holding the call's reply). redis-py sends a command (or a whole pipeline) again when its reply
#: is late, a few times within seconds; every copy of the call carries the same token, so only the
#: first one to run pushes the id, and the others return its reply. A minute covers redis-py's
#: retries with their backoff many times over, while the tokens of a busy producer (one small key
#: per enqueue) stay few: 1,000 enqueues a second hold about 60,000 keys, a few MB.
ENQUEUE_TOKEN_TTL = 60


def new_token() -> str:
    """A token for one call of a script that pushes ids (see :data:`ENQUEUE_TOKEN_TTL`)."""
    return secrets.token_hex(16)


def _flatten(mapping: Mapping[str, Any]) -> list[Any]:
    flat: list[Any] = []
    for field, value in mapping.items():
        flat.append(field)
        flat.append(value)
    return flat


# -- reads --------------------------------------------------------------------------------


def hgetall_many(connection: Redis | Pipeline, hash_keys: Sequence[str]) -> list[dict[bytes, bytes]]:
    """HGETALL of several hashes in one round trip.

    A pipeline is accepted: one in WATCH mode runs the reads at once (so they are watched reads);
    for a buffering one the reads go through its connection pool, outside its transaction.
    """
    if not hash_keys:
        return []
    if isinstance(connection, Pipeline):
        if connection.watching:
            return [connection.hgetall(key) for key in hash_keys]  # type: ignore[misc]
        connection = Redis(connection_pool=connection.connection_pool)
    with connection.pipeline(transaction=False) as pipe:
        for key in hash_keys:
            pipe.hgetall(key)
        return pipe.execute()


def list_position(connection: Redis, list_key: str, value: str) -> int | None:
    position = connection.lpos(list_key, value)
    return int(position) if position is not None else None  # type: ignore[arg-type]


def set_fields_if_exists(connection: Redis, hash_key: str, mapping: Mapping[str, Any]) -> bool:
    return bool(scripts.run('hset_if_exists', connection, [hash_key], _flatten(mapping)))


# -- enqueue ------------------------------------------------------------------------------


def enqueue(client: Redis | Pipeline, job_id: str, queue_name: str, mapping: Mapping[str, Any], **options: Any) -> Any:
    """Save a job hash and place it (``lua/enqueue.lua``), one atomic step; ``options`` are
    :func:`enqueue_call`'s. ``placement``: ``'R'``/``'L'`` (queue tail/head, or deferred while a
    dependency is unmet; through its limiter with ``rate_limit``), ``'S'`` (scheduled at ``score``),
    ``'N'`` (save only). Returns the outcome constant (the pipeline when ``client`` is one). A copy
    of the call sent again returns the first copy's outcome and writes nothing but its token."""
    script_keys, args = enqueue_call(job_id, queue_name, mapping, **options)
    return scripts.run('enqueue', client, script_keys, args)


def enqueue_call(
    job_id: str,
    queue_name: str,
    mapping: Mapping[str, Any],
    *,
    placement: str = 'R',
    unique: bool = False,
    ttl: int | None = None,
    score: int = 0,
    enqueued_at: str = '',
    dependency_ids: Sequence[str] = (),
    allow_failed_dependencies: bool = False,
    group_id: str | None = None,
    rate_limit: tuple[str, int] | None = None,
) -> tuple[list[str], list[Any]]:
    """The keys and arguments of the ``enqueue`` script call that :func:`enqueue` makes (with a
    token of its own), for a caller that sends the call itself."""
    script_keys = [
        keys.job_key(job_id),
        keys.queue_key(queue_name),
        keys.QUEUES,
        keys.registry_key('deferred', queue_name),
        keys.registry_key('scheduled', queue_name),
        keys.dependents_key(job_id),
        keys.dependencies_key(job_id),
        keys.group_key(group_id or ''),
        keys.GROUPS,
        keys.enqueue_token_key(new_token()),
        *[keys.job_key(dependency_id) for dependency_id in dependency_ids],
        *[keys.dependents_key(dependency_id) for dependency_id in dependency_ids],
    ]
    args = [
        job_id,
        placement,
        '1' if unique else '0',
        ttl if ttl and ttl > 0 else -1,
        score,
        enqueued_at,
        '1' if allow_failed_dependencies else '0',
        group_id or '',
        len(dependency_ids),
        ENQUEUE_TOKEN_TTL,
        rate_limit[0] if rate_limit else '',
        rate_limit[1] if rate_limit else 0,
        repr(time.time()),
        *keys.RATE_LIMIT_CONTEXT,
        *dependency_ids,
        *_flatten(mapping),
    ]
    return script_keys, args


def push_job_id(client: Redis | Pipeline, queue_name: str, job_id: str, at_front: bool = False) -> None:
    """Push ``job_id`` onto the queue (``lua/push_job_id.lua``): a copy of the call that the client
    sends again pushes nothing."""
    script_keys = [keys.queue_key(queue_name), keys.enqueue_token_key(new_token())]
    scripts.run('push_job_id', client, script_keys, [job_id, 'L' if at_front else 'R', ENQUEUE_TOKEN_TTL])


def register_dependency(client: Redis | Pipeline, job_id: str, dependency_ids: Iterable[str], ttl: int | None) -> None:
    for dependency_id in dependency_ids:
        client.sadd(keys.dependents_key(dependency_id), job_id)
        client.sadd(keys.dependencies_key(job_id), dependency_id)
    if ttl and ttl > 0:
        client.expire(keys.dependencies_key(job_id), ttl)


def _release_call(parent_id: str, enqueued_at: str, ignore_parent: bool) -> tuple[list[str], list[Any]]:
    script_keys = [keys.dependents_key(parent_id), keys.QUEUES]
    args = [
        parent_id,
        enqueued_at,
        '1' if ignore_parent else '0',
        keys.JOB_PREFIX,
        keys.REGISTRY_PREFIXES['deferred'],
        keys.QUEUE_PREFIX,
        repr(time.time()),
        *keys.RATE_LIMIT_CONTEXT,
    ]
    return script_keys, args


def queue_release_dependents(pipeline: Pipeline, parent_id: str, enqueued_at: str) -> None:
    """Add the release of ``parent_id``'s dependents to a transaction, after the parent's new status,
    so that no crash can separate the two. Run the transaction with :func:`scripts.execute`."""
    scripts.queue(pipeline, 'release_dependents', *_release_call(parent_id, enqueued_at, ignore_parent=False))


def queue_set_fields_if_exists(pipeline: Pipeline, hash_key: str, mapping: Mapping[str, Any]) -> None:
    """Add to a transaction an HSET that only happens if the hash still exists."""
    scripts.queue(pipeline, 'hset_if_exists', [hash_key], _flatten(mapping))


# -- lifecycle ----------------------------------------------------------------------------


def cancel(connection: Redis | Pipeline, job_id: str, queue_name: str, score: int) -> Any:
    return scripts.run('cancel', connection, *cancel_call(job_id, queue_name, score))


def cancel_call(job_id: str, queue_name: str, score: int) -> tuple[list[str], list[Any]]:
    """The keys and arguments of :func:`cancel`'s script call."""
    script_keys = [
        keys.job_key(job_id),
        keys.queue_key(queue_name),
        keys.registry_key('canceled', queue_name),
        keys.registry_key('started', queue_name),
        keys.registry_key('finished', queue_name),
        keys.registry_key('failed', queue_name),
        keys.registry_key('deferred', queue_name),
        keys.registry_key('scheduled', queue_name),
        keys.executions_key(job_id),
        keys.intermediate_queue_key(queue_name),
    ]
    return script_keys, [job_id, score]


def requeue_from_registry(
    connection: Redis,
    registry_key: str,
    job_id: str,
    queue_name: str,
    enqueued_at: str,
    at_front: bool,
    ttl: int | None = None,
) -> int:
    """Move a job from a registry back onto its queue (``lua/requeue.lua``): 1 done, 0 not in the
    registry, -1 its hash is gone. A copy of the call sent again returns the first one's reply."""
    call = requeue_call(registry_key, job_id, queue_name, enqueued_at, at_front, ttl)
    return int(scripts.run('requeue', connection, *call))


def requeue_call(
    registry_key: str, job_id: str, queue_name: str, enqueued_at: str, at_front: bool, ttl: int | None
) -> tuple[list[str], list[Any]]:
    """The keys and arguments of :func:`requeue_from_registry`'s script call (with a token of its own)."""
    script_keys = [
        registry_key,
        keys.job_key(job_id),
        keys.queue_key(queue_name),
        keys.QUEUES,
        keys.enqueue_token_key(new_token()),
    ]
    args = [
        job_id,
        enqueued_at,
        '1' if at_front else '0',
        codec.encode_legacy_exc_info(''),
        ttl if ttl and ttl > 0 else -1,
        ENQUEUE_TOKEN_TTL,
        repr(time.time()),
        *keys.RATE_LIMIT_CONTEXT,
    ]
    return script_keys, args


def claim_expired(connection: Redis, key: str, member: str, expired_at_or_before: float, new_score: int) -> bool:
    """Atomically take an expired member of ``key`` for handling (see ``lua/claim_expired.lua``)."""
    return bool(scripts.run('claim_expired', connection, [key], [member, expired_at_or_before, new_score]))


def execution_ids(connection: Redis, job_id: str) -> list[str]:
    return codec.texts(connection.zrange(keys.executions_key(job_id), 0, -1))


def delete_job(
    client: Redis | Pipeline,
    job_id: str,
    queue_name: str,
    *,
    execution_ids: Sequence[str],
    group_id: str | None,
    remove_from_queue: bool = True,
) -> None:
    """Delete a job's hash, dependency sets, executions and results stream (``rq:results:<id>``, as
    RQ 3.0 does); take it out of its queue, registries and group."""
    if queue_name:
        if remove_from_queue:
            client.lrem(keys.queue_key(queue_name), 1, job_id)
        for kind in ('finished', 'failed', 'deferred', 'scheduled', 'canceled'):
            client.zrem(keys.registry_key(kind, queue_name), job_id)
        if execution_ids:
            client.zrem(keys.registry_key('started', queue_name), *[f'{job_id}:{e}' for e in execution_ids])
    if group_id:
        client.srem(keys.group_key(group_id), job_id)
    client.delete(
        keys.job_key(job_id),
        keys.dependents_key(job_id),
        keys.dependencies_key(job_id),
        keys.executions_key(job_id),
        keys.results_key(job_id),
        *[keys.execution_key(job_id, e) for e in execution_ids],
    )


def cleanup_group(client: Redis | Pipeline, group_name: str) -> Any:
    """Drop a group's ids whose job is gone; forget the group once empty (``lua/forget_empty_group.lua``).

    Each script call looks at about :data:`scripts.SWEEP_BATCH` ids (an ``SSCAN`` step); with a connection
    the calls go on until the scan is over and the number of ids dropped is returned. In a pipeline
    one call (the first step of the scan) is queued: a group of at most about that many ids is
    cleaned completely, a larger one partly (the rest at its next cleanup)."""
    script_keys = [keys.group_key(group_name), keys.GROUPS]
    if isinstance(client, Pipeline):
        return scripts.run(
            'forget_empty_group', client, script_keys, [group_name, keys.JOB_PREFIX, 0, scripts.SWEEP_BATCH]
        )
    cursor, dropped = b'0', 0
    while True:
        reply = scripts.run(
            'forget_empty_group', client, script_keys, [group_name, keys.JOB_PREFIX, cursor, scripts.SWEEP_BATCH]
        )
        cursor, dropped = reply[0], dropped + int(reply[1])
        if cursor in (b'0', '0'):
            return dropped


def remove_from_dependents_sets(client: Redis | Pipeline, job_id: str, dependency_ids: Iterable[str]) -> None:
    for dependency_id in dependency_ids:
        client.srem(keys.dependents_key(dependency_id), job_id)


def expire_job(client: Redis | Pipeline, job_id: str, ttl: int) -> None:
    client.expire(keys.job_key(job_id), ttl)
    client.expire(keys.dependents_key(job_id), ttl)
    client.expire(keys.dependencies_key(job_id), ttl)


def mark_started(client: Redis | Pipeline, job_id: str, worker_name: str, timestamp: str) -> None:
    """Fields set when a job starts; the hash is made persistent while it runs (RQ 2.x)."""
    key = keys.job_key(job_id)
    client.hset(
        key,
        mapping={'status': 'started', 'started_at': timestamp, 'last_heartbeat': timestamp, 'worker_name': worker_name},
    )
    client.persist(key)


def job_heartbeat(
    client: Redis | Pipeline,
    job_id: str,
    queue_name: str,
    timestamp: str,
    score: int,
    *,
    xx: bool = False,
    execution_id: str | None = None,
) -> None:
    client.hset(keys.job_key(job_id), 'last_heartbeat', timestamp)
    if execution_id is not None and queue_name:
        client.zadd(keys.registry_key('started', queue_name), {f'{job_id}:{execution_id}': score}, xx=xx)


#: What compact_queue.lua writes over a dead id before it removes it (a colon: never a job id).
_COMPACT_PLACEHOLDER = keys.PREFIX + 'compact:dropped'


def compact_queue(connection: Redis, queue_name: str) -> int:
    """Drop the queue's ids whose job hash is gone, keeping the others' order
    (``lua/compact_queue.lua``): windows of :data:`scripts.SWEEP_BATCH` ids, one script call each,
    from the head to the tail. Ids pushed or popped meanwhile move the window: such an id may be
    looked at twice or not at all (it is then dropped by the next compaction, or by the claim that
    pops it). Returns how many ids were dropped."""
    script_keys = [keys.queue_key(queue_name)]
    start, dropped = 0, 0
    while True:
        args = [keys.JOB_PREFIX, start, scripts.SWEEP_BATCH, _COMPACT_PLACEHOLDER]
        looked_at, dropped_now = (int(n) for n in scripts.run('compact_queue', connection, script_keys, args))
        dropped += dropped_now
        if looked_at < scripts.SWEEP_BATCH:
            return dropped
        start += looked_at - dropped_now


def empty_queue(connection: Redis, queue_name: str) -> int:
    """Pop the queue's ids and delete their jobs (``lua/empty_queue.lua``), at most
    :data:`scripts.SWEEP_BATCH` ids a call. The calls stop once as many ids as the queue held at the first
    call are gone (or it is empty), so a producer that keeps pushing cannot keep them going.
    Returns how many ids were removed."""
    script_keys = [keys.queue_key(queue_name)]
    removed, budget = 0, None
    while budget is None or removed < budget:
        limit = scripts.SWEEP_BATCH if budget is None else min(scripts.SWEEP_BATCH, budget - removed)
        popped, left = scripts.run(
            'empty_queue', connection, script_keys, [keys.JOB_PREFIX, limit, keys.results_key('')]
        )
        if budget is None:
            budget = int(popped) + int(left)
        removed += int(popped)
        if not int(left):
            break
    return removed


def cleanup_execution(client: Redis | Pipeline, job_id: str, queue_name: str, execution_id: str) -> None:
    """Forget a finished execution: its hash, its entry in the job's executions, its started entry."""
    client.delete(keys.execution_key(job_id, execution_id))
    client.zrem(keys.executions_key(job_id), execution_id)
    client.zrem(keys.registry_key('started', queue_name), f'{job_id}:{execution_id}')


def move_back_from_intermediate(connection: Redis, queue_name: str, job_id: str) -> bool:
    """Take ``job_id`` out of the queue's intermediate list and put it at the front of the queue,
    atomically (``lua/move_back_from_intermediate.lua``)."""
    script_keys = [
        keys.intermediate_queue_key(queue_name),
        keys.queue_key(queue_name),
        keys.job_key(job_id),
        keys.intermediate_first_seen_key(queue_name, job_id),
    ]
    return bool(scripts.run('move_back_from_intermediate', connection, script_keys, [job_id]))
