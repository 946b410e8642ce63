"""RQ 3.0's ready registry ``rq:ready:<queue>`` in Redis: moving dependents into it, and draining it.

rq 3.0 releases a dependent in two steps: the parent's outcome transaction moves it from
``rq:deferred:<q>`` to ``rq:ready:<q>`` (zset scored by the move's whole second, no TTL) with status
``ready_to_enqueue``, then, after the commit, a drain puts it on its queue; maintenance drains what a
crash left in between. Our own outcomes release dependents in the outcome's script (``lib_release``),
so nothing of ours waits there unless asked for with 3.0's API; the drain (``lua/enqueue_ready.lua``)
queues whatever 3.0 processes, or that API, left.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

from redis import Redis
from redis.client import Pipeline

from . import codec, keys, scripts

#: ``rq:ready:`` (with ``RQ_KEY_PREFIX``): the ready registry of queue ``q`` is this followed by ``q``.
READY_PREFIX = keys.ready_registry_key('')

#: What ``move_dependents.lua`` does with the dependents it finds ready.
QUEUE, READY, LOOK = 'queue', 'ready', 'look'


def move_call(
    parent_id: str, mode: str, excluded_id: str | None, parent_status: str | None, lenient_parent: bool
) -> tuple[list[str], list[Any]]:
    script_keys = [keys.dependents_key(parent_id), keys.QUEUES]
    args = [
        parent_id,
        codec.format_now(),
        mode,
        excluded_id or '',
        parent_status or '',
        '1' if lenient_parent else '0',
        keys.JOB_PREFIX,
        keys.REGISTRY_PREFIXES['deferred'],
        keys.QUEUE_PREFIX,
        READY_PREFIX,
        repr(time.time()),
        *keys.RATE_LIMIT_CONTEXT,
    ]
    return script_keys, args


def by_queue(reply: Sequence[Any]) -> dict[str, list[str]]:
    """``{origin: [ids]}`` from a ``move_dependents.lua`` reply (origin, id, origin, id, ...)."""
    mapping: dict[str, list[str]] = {}
    flat = codec.texts(reply)
    for origin, job_id in zip(flat[0::2], flat[1::2], strict=True):
        mapping.setdefault(origin, []).append(job_id)
    return mapping


def move_dependents(
    connection: Redis,
    parent_id: str,
    mode: str,
    excluded_id: str | None = None,
    parent_status: str | None = None,
    lenient_parent: bool = False,
) -> dict[str, list[str]]:
    """Release the deferred dependents of ``parent_id`` whose dependencies are all met, in one script
    call: onto their queues (:data:`QUEUE`), into their queue's ready registry (:data:`READY`), or
    nowhere (:data:`LOOK`, which only says which). ``excluded_id`` counts as met whatever its status;
    ``parent_status`` stands for the parent's stored status; ``lenient_parent`` applies RQ 3.0's rule
    to the parent (met unless canceled, stopped, or failed where failures are not allowed: see
    ``lua/lib_release.lua``). Returns ``{origin queue: [ids]}``."""
    call = move_call(parent_id, mode, excluded_id, parent_status, lenient_parent)
    return by_queue(scripts.run('move_dependents', connection, *call))


def queue_move_to_ready(
    pipeline: Pipeline,
    parent_id: str,
    excluded_id: str | None = None,
    parent_status: str | None = None,
    lenient_parent: bool = False,
) -> None:
    """Add :func:`move_dependents` (:data:`READY`) to a transaction; it decides when the transaction runs."""
    scripts.queue(pipeline, 'move_dependents', *move_call(parent_id, READY, excluded_id, parent_status, lenient_parent))


def watch_dependents(pipeline: Pipeline, connection: Redis, parent_id: str) -> bool:
    """WATCH, on a pipeline already watching, the hashes of ``parent_id``'s dependents and of their
    dependencies: what decides which dependents are ready, so that a change between a look and the
    caller's EXEC fails the transaction. Returns False when the parent has no dependents."""
    dependent_ids = codec.texts(connection.smembers(keys.dependents_key(parent_id)))
    if not dependent_ids:
        return False
    with connection.pipeline(transaction=False) as pipe:
        for dependent_id in dependent_ids:
            pipe.smembers(keys.dependencies_key(dependent_id))
            pipe.hget(keys.job_key(dependent_id), 'dependency_ids')
        replies = pipe.execute()
    watched = {keys.job_key(dependent_id) for dependent_id in dependent_ids}
    for members, listed in zip(replies[0::2], replies[1::2], strict=True):
        ids = set(codec.texts(members))
        try:
            decoded = json.loads(listed) if listed else []
        except ValueError:
            decoded = []
        if isinstance(decoded, list):
            ids.update(str(i) for i in decoded)
        watched.update(keys.job_key(i) for i in ids)
    pipeline.watch(*sorted(watched))  # type: ignore[no-untyped-call]
    return True


def register(client: Redis | Pipeline, queue_name: str, job_ids: Iterable[str], score: int) -> None:
    """For each job (of queue ``queue_name``): out of the deferred registry, status
    ``ready_to_enqueue``, into the ready registry scored ``score`` (rq 3.0's ``register_jobs``; with a
    pipeline the commands are queued for the caller's transaction)."""
    deferred = keys.registry_key('deferred', queue_name)
    ready = keys.ready_registry_key(queue_name)
    for job_id in job_ids:
        client.zrem(deferred, job_id)
        client.hset(keys.job_key(job_id), 'status', 'ready_to_enqueue')
        client.zadd(ready, {job_id: score})


def _enqueue_batch(connection: Redis, queue_name: str, job_ids: Sequence[str]) -> list[str]:
    script_keys = [
        keys.ready_registry_key(queue_name),
        keys.queue_key(queue_name),
        keys.QUEUES,
        *(keys.job_key(job_id) for job_id in job_ids),
    ]
    args = [codec.format_now(), repr(time.time()), *keys.RATE_LIMIT_CONTEXT, *job_ids]
    return codec.texts(scripts.run('enqueue_ready', connection, script_keys, args))


def enqueue(connection: Redis, queue_name: str, job_ids: Iterable[str]) -> list[str]:
    """Queue these ids of ``rq:ready:<queue_name>`` (``lua/enqueue_ready.lua``, at most
    :data:`scripts.SWEEP_BATCH` ids a call). Returns the ids handed on (queued, or waiting for a
    rate-limit slot); ids no longer in the registry are left alone, those whose job is gone or no
    longer ``ready_to_enqueue`` are dropped."""
    ids = list(dict.fromkeys(job_ids))
    handed: list[str] = []
    for start in range(0, len(ids), scripts.SWEEP_BATCH):
        handed += _enqueue_batch(connection, queue_name, ids[start : start + scripts.SWEEP_BATCH])
    return handed


def drain(connection: Redis, queue_name: str) -> list[str]:
    """Queue everything ``rq:ready:<queue_name>`` held when called, oldest first, a batch at a time.
    Returns the ids handed on."""
    key = keys.ready_registry_key(queue_name)
    left = int(connection.zcard(key))
    handed: list[str] = []
    while left > 0:
        batch = codec.texts(connection.zrange(key, 0, min(left, scripts.SWEEP_BATCH) - 1))
        if not batch:
            break
        handed += _enqueue_batch(connection, queue_name, batch)
        left -= len(batch)
    return handed


def count(connection: Redis, queue_name: str) -> int:
    """How many ids ``rq:ready:<queue_name>`` holds (nothing is drained)."""
    return int(connection.zcard(keys.ready_registry_key(queue_name)))
