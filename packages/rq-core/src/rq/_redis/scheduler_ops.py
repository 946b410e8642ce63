"""The scheduler's Redis protocol: per-queue locks, the scheduler hash, moving due jobs.

Keys (byte-identical to RQ 2.x, so that our schedulers and upstream's share the work):

- ``rq:scheduler-lock:<queue>``: string, the holder's name; ``SET EX`` interval + 60 s, refreshed
  every interval (``lua/scheduler_lock.lua``), released with a compare-and-delete.
- ``rq:scheduler:<name>``: hash ``name``, ``hostname``, ``pid``, ``queues``, ``created_at``,
  ``last_heartbeat``; EXPIRE interval + 60 s, refreshed by each heartbeat; DEL on a clean stop.
- ``rq:scheduled:<queue>``: the jobs waiting for a time, scored by whole UTC seconds; due ones move
  to ``rq:queue:<queue>`` with ``lua/move_due_jobs.lua``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from redis import Redis

from . import codec, keys, registries, scripts

#: scheduler_lock.lua outcomes
LOCK_HELD_BY_OTHER, LOCK_ACQUIRED, LOCK_REFRESHED, LOCK_TAKEN_OVER = 0, 1, 2, 3


def _fields(mapping: Mapping[str, str]) -> dict[Any, Any]:
    return dict(mapping)


def lock_key(queue_name: str) -> str:
    return keys.scheduler_lock_key(queue_name)


def lock_holder(connection: Redis, queue_name: str) -> str | None:
    raw = connection.get(keys.scheduler_lock_key(queue_name))
    return codec.text(raw) if raw else None


def lock_ttl_ms(connection: Redis, queue_name: str) -> int:
    return int(connection.pttl(keys.scheduler_lock_key(queue_name)))


def heartbeat_and_lock(
    connection: Redis,
    scheduler_name: str,
    queue_names: Sequence[str],
    lock_ttl: int,
    takeover_ms: int,
    heartbeat: Mapping[str, str] | None = None,
) -> dict[str, int]:
    """In one round trip: acquire, refresh or take over the lock of each queue (see
    ``lua/scheduler_lock.lua``) and, with ``heartbeat``, write those fields to the scheduler hash and
    refresh its TTL. Returns each queue's lock outcome (the ``LOCK_*`` constants)."""
    with connection.pipeline(transaction=False) as pipe:
        if heartbeat:
            pipe.hset(keys.scheduler_key(scheduler_name), mapping=_fields(heartbeat))
            pipe.expire(keys.scheduler_key(scheduler_name), lock_ttl)
        for name in queue_names:
            scripts.queue(
                pipe, 'scheduler_lock', [keys.scheduler_lock_key(name)], [scheduler_name, lock_ttl, takeover_ms]
            )
        replies = scripts.execute(pipe)
    outcomes = replies[2:] if heartbeat else replies
    for reply in outcomes:
        if isinstance(reply, Exception):
            raise reply
    return {name: int(outcome) for name, outcome in zip(queue_names, outcomes, strict=True)}


def release_locks(connection: Redis, scheduler_name: str, queue_names: Sequence[str]) -> int:
    """Release the locks of ``queue_names`` still held by ``scheduler_name``; returns how many."""
    if not queue_names:
        return 0
    with connection.pipeline(transaction=False) as pipe:
        for name in queue_names:
            scripts.queue(pipe, 'scheduler_unlock', [keys.scheduler_lock_key(name)], [scheduler_name])
        replies = scripts.execute(pipe)
    return sum(int(reply) for reply in replies if not isinstance(reply, Exception))


def save_scheduler(connection: Redis, scheduler_name: str, mapping: Mapping[str, str], ttl: int) -> None:
    with connection.pipeline(transaction=True) as pipe:
        pipe.hset(keys.scheduler_key(scheduler_name), mapping=_fields(mapping))
        pipe.expire(keys.scheduler_key(scheduler_name), ttl)
        pipe.execute()


def read_scheduler(connection: Redis, scheduler_name: str) -> dict[str, str]:
    raw: dict[bytes, bytes] = connection.hgetall(keys.scheduler_key(scheduler_name))  # type: ignore[assignment]
    return {codec.text(field): codec.text(value) for field, value in raw.items()}


def delete_scheduler(connection: Redis, scheduler_name: str) -> bool:
    return bool(connection.delete(keys.scheduler_key(scheduler_name)))


def due_job_ids(connection: Redis, queue_name: str, due_score: int, limit: int) -> list[str]:
    """Ids in ``rq:scheduled:<queue>`` due at or before ``due_score``, earliest first."""
    return registries.members_up_to(connection, keys.registry_key('scheduled', queue_name), due_score, limit=limit)


def move_due_jobs(
    connection: Redis, queue_name: str, job_ids: Sequence[str], due_score: int, enqueued_at: str
) -> tuple[int, int]:
    """Move those of ``job_ids`` still due at ``due_score`` from the scheduled registry onto the
    queue, atomically (``lua/move_due_jobs.lua``; a job with a rate limit goes through its limiter
    and may wait for a slot instead). Returns (moved, dropped: hash gone)."""
    if not job_ids:
        return 0, 0
    script_keys = [keys.registry_key('scheduled', queue_name), keys.queue_key(queue_name), keys.QUEUES]
    for job_id in job_ids:
        script_keys += [keys.job_key(job_id), keys.dependents_key(job_id), keys.dependencies_key(job_id)]
    args = [due_score, enqueued_at, repr(time.time()), *keys.RATE_LIMIT_CONTEXT, *job_ids]
    reply: Any = scripts.run('move_due_jobs', connection, script_keys, args)
    return int(reply[0]), int(reply[1])
