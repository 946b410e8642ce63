"""RQ 3.0's concurrency rate limits in Redis: the ``rq:rl*`` keys and the scripts that move slots.

A job takes a slot when it is queued (``enqueue.lua``, ``move_due_jobs.lua``, ``requeue.lua`` and the
release of dependents all go through ``lib_rate_limit``'s ``rl_admit``) and gives it back when it is
no longer queued or started (:func:`queue_settle`, added by every outcome, cancel and delete to its
own transaction; :func:`settle` with ``keep_while_running`` for maintenance).
"""

from __future__ import annotations

import time
from typing import Any

from redis import Redis
from redis.client import Pipeline

from . import codec, keys, scripts


def _now() -> str:
    return repr(time.time())


def all_keys(connection: Redis) -> list[str]:
    """Every rate-limit key in use (``rq:rl-keys``), sorted."""
    return sorted(codec.texts(connection.smembers(keys.RATE_LIMIT_KEYS)))


def concurrency(connection: Redis, key: str) -> int:
    """The concurrency stored for ``key`` (the last enqueue's), 0 when none is."""
    raw = connection.hget(keys.rate_limit_config_key(key), 'concurrency')
    return int(raw) if raw else 0


def allowed_ids(connection: Redis, key: str) -> list[str]:
    """The jobs holding a slot of ``key``, in the order they got it."""
    return codec.texts(connection.zrange(keys.rate_limit_allowed_key(key), 0, -1))


def waiting_ids(connection: Redis, key: str) -> list[str]:
    """The jobs waiting for a slot of ``key``, oldest (next to be promoted) first."""
    return codec.texts(connection.zrange(keys.rate_limit_waiting_key(key), 0, -1))


def counts(connection: Redis, key: str) -> tuple[int, int]:
    """(jobs holding a slot, jobs waiting) for ``key``, read together."""
    with connection.pipeline(transaction=False) as pipe:
        pipe.zcard(keys.rate_limit_allowed_key(key))
        pipe.zcard(keys.rate_limit_waiting_key(key))
        allowed, waiting = pipe.execute()
    return int(allowed), int(waiting)


def fill(client: Redis | Pipeline, key: str, concurrency: int | None = None, enqueued_at: str = '') -> Any:
    """Promote the oldest waiters of ``key`` into its free slots (``lua/rate_limit_fill.lua``):
    the promoted ids, or the pipeline when ``client`` is one."""
    script_keys = [keys.rate_limit_allowed_key(key), keys.rate_limit_waiting_key(key)]
    args = [key, concurrency or '', _now(), enqueued_at or codec.format_now(), *keys.RATE_LIMIT_CONTEXT]
    if isinstance(client, Pipeline):
        scripts.queue(client, 'rate_limit_fill', script_keys, args)
        return client
    return codec.texts(scripts.run('rate_limit_fill', client, script_keys, args))


def release(connection: Redis, key: str, job_id: str) -> list[str]:
    """Give ``job_id``'s slot of ``key`` back whatever its status, then promote waiters (one
    transaction). Returns the promoted ids."""
    with connection.pipeline(transaction=True) as pipe:
        pipe.zrem(keys.rate_limit_allowed_key(key), job_id)
        fill(pipe, key)
        replies = scripts.execute(pipe)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return codec.texts(replies[-1])


def settle_call(key: str, job_id: str, keep_while_running: bool) -> tuple[list[str], list[Any]]:
    script_keys = [keys.job_key(job_id), keys.executions_key(job_id)]
    args = [key, job_id, _now(), codec.format_now(), '1' if keep_while_running else '0', *keys.RATE_LIMIT_CONTEXT]
    return script_keys, args


def settle(connection: Redis, key: str, job_id: str, keep_while_running: bool = True) -> list[str]:
    """Give ``job_id``'s slot of ``key`` back unless the job is still queued, started or waiting (or,
    with ``keep_while_running``, still has a live execution), then promote waiters
    (``lua/rate_limit_settle.lua``). Returns the promoted ids."""
    return codec.texts(scripts.run('rate_limit_settle', connection, *settle_call(key, job_id, keep_while_running)))


def queue_settle(pipeline: Pipeline, key: str, job_id: str, keep_while_running: bool = False) -> None:
    """Add :func:`settle` to a transaction, after the change that decides it (run the transaction
    with :func:`scripts.execute`)."""
    scripts.queue(pipeline, 'rate_limit_settle', *settle_call(key, job_id, keep_while_running))


def forget_if_unused(connection: Redis, key: str) -> bool:
    """Drop ``key``'s names and its ``rq:rl-keys`` entry when no job holds or waits for a slot."""
    script_keys = [
        keys.rate_limit_allowed_key(key),
        keys.rate_limit_waiting_key(key),
        keys.rate_limit_config_key(key),
        keys.RATE_LIMIT_KEYS,
    ]
    return bool(scripts.run('rate_limit_forget', connection, script_keys, [key]))


def statuses(connection: Redis, job_ids: list[str]) -> list[str | None]:
    """The ``status`` field of each job (None where the hash or field is gone), in one round trip."""
    with connection.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.hget(keys.job_key(job_id), 'status')
        return [codec.text(raw) if raw else None for raw in pipe.execute()]
