"""Cron's Redis protocol: run claims, job history, and the monitoring registries.

Keys written as RQ 2.x writes them (dashboards and upstream's ``CronScheduler.all()`` read them):

- ``rq:cron_scheduler:<name>``: hash ``hostname``, ``pid``, ``name``, ``created_at``, ``config_file``,
  ``cron_jobs`` (JSON); EXPIRE 120 s, refreshed by heartbeats.
- ``rq:cron_schedulers``: zset of scheduler names scored by last heartbeat (float epoch).
- ``rq:cron_job:<name>:jobs``: zset of spawned job ids scored by ``enqueued_at`` (float epoch), the
  newest 1000 kept; EXPIRE one year, refreshed on each spawn.
- ``rq:cron_jobs``: zset of cron job names scored by their last enqueue (float epoch).

One key of our own, which upstream neither reads nor writes:

- ``rq:cron_run:<identity>``: hash ``name``, ``slot`` (float epoch of the slot the last run claimed,
  or of the baseline a new cron-string entry starts from; after a catch-up that took the place of
  the next slot too, that next slot, still ahead), ``job_id``, ``enqueued_at``, ``scheduler``; EXPIRE
  one year, refreshed on each run. The next run is due at the schedule's first slot after ``slot``.
  Every ``rq cron`` process with the same entry claims a run by advancing ``slot`` in the same
  transaction (WATCH/MULTI) that enqueues the job, so each run is enqueued exactly once, whoever
  claims it (the rule that picks the slot is in ``rq.cron._schedule``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from redis import Redis
from redis.client import Pipeline

from . import codec, keys

CRON_RUN_PREFIX = keys.CRON_RUN_PREFIX


def cron_run_key(identity: str) -> str:
    return CRON_RUN_PREFIX + identity


# -- run claims ---------------------------------------------------------------------------


def _fields(mapping: Mapping[str, str]) -> dict[Any, Any]:
    return dict(mapping)


def _decode(raw: Mapping[Any, Any] | None) -> dict[str, str]:
    return {codec.text(field): codec.text(value) for field, value in (raw or {}).items()}


def watch_run(pipe: Pipeline, identity: str) -> dict[str, str]:
    """WATCH an entry's run state and read it (the pipeline is then in immediate mode until
    ``pipe.multi()``)."""
    key = cron_run_key(identity)
    pipe.watch(key)  # type: ignore[no-untyped-call]
    return _decode(pipe.hgetall(key))


def read_runs(connection: Redis, identities: Sequence[str]) -> list[dict[str, str]]:
    """The run state of several entries in one round trip (an empty dict: never run)."""
    if not identities:
        return []
    with connection.pipeline(transaction=False) as pipe:
        for identity in identities:
            pipe.hgetall(cron_run_key(identity))
        return [_decode(raw) for raw in pipe.execute()]


def record_run(
    pipe: Pipeline,
    identity: str,
    *,
    cron_job_name: str,
    slot: float,
    job_id: str,
    enqueued_at: float,
    scheduler_name: str,
    history_limit: int,
    history_ttl: int,
) -> None:
    """Queue, in a transaction, the claim of run ``slot`` and the job history of its job."""
    key = cron_run_key(identity)
    pipe.hset(
        key,
        mapping={
            'name': cron_job_name,
            'slot': repr(slot),
            'job_id': job_id,
            'enqueued_at': repr(enqueued_at),
            'scheduler': scheduler_name,
        },
    )
    pipe.expire(key, history_ttl)
    history = keys.cron_job_history_key(cron_job_name)
    pipe.zadd(history, {job_id: enqueued_at})
    pipe.zremrangebyrank(history, 0, -(history_limit + 1))
    pipe.expire(history, history_ttl)
    pipe.zadd(keys.CRON_JOBS, {cron_job_name: enqueued_at})


def record_history(
    client: Redis | Pipeline, cron_job_name: str, job_id: str, enqueued_at: float, history_limit: int, history_ttl: int
) -> None:
    """The job history of one spawn, without a claim (``CronJob.enqueue``, as RQ 2.x does it)."""
    history = keys.cron_job_history_key(cron_job_name)
    client.zadd(history, {job_id: enqueued_at})
    client.zremrangebyrank(history, 0, -(history_limit + 1))
    client.expire(history, history_ttl)
    client.zadd(keys.CRON_JOBS, {cron_job_name: enqueued_at})


def record_baseline(connection: Redis, identity: str, cron_job_name: str, slot: float, ttl: int) -> None:
    """Give a new entry the slot its first run counts from, unless some process already did."""
    key = cron_run_key(identity)
    with connection.pipeline(transaction=True) as pipe:
        pipe.hsetnx(key, 'slot', repr(slot))
        pipe.hsetnx(key, 'name', cron_job_name)
        pipe.expire(key, ttl)
        pipe.execute()


# -- job history and names ----------------------------------------------------------------


def cron_job_ids(connection: Redis, cron_job_name: str, start: int = 0, end: int = -1) -> list[str]:
    """Ids of the jobs spawned by ``cron_job_name``, newest first."""
    return codec.texts(connection.zrange(keys.cron_job_history_key(cron_job_name), start, end, desc=True))


def add_cron_job_name(client: Redis | Pipeline, cron_job_name: str, score: float) -> None:
    client.zadd(keys.CRON_JOBS, {cron_job_name: score})


def cron_job_names(connection: Redis) -> list[str]:
    return codec.texts(connection.zrange(keys.CRON_JOBS, 0, -1))


def prune_cron_job_names(connection: Redis, cutoff: float) -> int:
    return int(connection.zremrangebyscore(keys.CRON_JOBS, 0, cutoff))


# -- cron schedulers ----------------------------------------------------------------------


def register_scheduler(connection: Redis, name: str, score: float, mapping: Mapping[str, str], ttl: int) -> bool:
    """Add ``name`` to ``rq:cron_schedulers`` and save its hash. False, with nothing written, when a
    live scheduler of that name is registered already (one whose hash has not expired: a name left
    behind by a scheduler that died more than ``ttl`` seconds ago is taken over)."""
    if not connection.zadd(keys.CRON_SCHEDULERS, {name: score}, nx=True):
        if connection.exists(keys.cron_scheduler_key(name)):
            return False
        connection.zadd(keys.CRON_SCHEDULERS, {name: score})
    with connection.pipeline(transaction=True) as pipe:
        save_scheduler(pipe, name, mapping, ttl)
        pipe.execute()
    return True


def add_scheduler_name(client: Redis | Pipeline, name: str, score: float) -> Any:
    """ZADD NX ``name`` to ``rq:cron_schedulers`` (1 added, 0 present already; a pipeline queues it)."""
    return client.zadd(keys.CRON_SCHEDULERS, {name: score}, nx=True)


def save_scheduler(client: Redis | Pipeline, name: str, mapping: Mapping[str, str], ttl: int) -> None:
    client.hset(keys.cron_scheduler_key(name), mapping=_fields(mapping))
    client.expire(keys.cron_scheduler_key(name), ttl)


def scheduler_heartbeat(connection: Redis, name: str, score: float, ttl: int) -> tuple[bool, bool]:
    """ZADD the scheduler's score and refresh its hash's TTL: (newly added, hash still existed)."""
    with connection.pipeline(transaction=True) as pipe:
        pipe.zadd(keys.CRON_SCHEDULERS, {name: score})
        pipe.expire(keys.cron_scheduler_key(name), ttl)
        added, existed = pipe.execute()
    return bool(added), bool(existed)


def unregister_scheduler(client: Redis | Pipeline, name: str) -> Any:
    """ZREM ``name`` from ``rq:cron_schedulers`` (1 removed, 0 absent; a pipeline queues it)."""
    return client.zrem(keys.CRON_SCHEDULERS, name)


def prune_schedulers(connection: Redis, cutoff: float) -> int:
    return int(connection.zremrangebyscore(keys.CRON_SCHEDULERS, 0, cutoff))


def scheduler_names(connection: Redis) -> list[str]:
    return codec.texts(connection.zrange(keys.CRON_SCHEDULERS, 0, -1))


def read_scheduler(connection: Redis, name: str) -> dict[str, str]:
    return _decode(connection.hgetall(keys.cron_scheduler_key(name)))


def scheduler_score(connection: Redis, name: str) -> float | None:
    score: Any = connection.zscore(keys.CRON_SCHEDULERS, name)
    return float(score) if score is not None else None
