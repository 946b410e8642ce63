"""Suspending every worker on a Redis database (``rq:suspended``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._redis import keys

if TYPE_CHECKING:
    from redis import Redis

__all__ = ['WORKERS_SUSPENDED', 'is_suspended', 'resume', 'suspend']

WORKERS_SUSPENDED = keys.SUSPENDED


def is_suspended(connection: Redis, worker: Any = None) -> bool:
    """True while workers are suspended. A ``worker`` given also gets a heartbeat in the same round
    trip (``worker.heartbeat(pipeline=...)``), as in RQ."""
    with connection.pipeline(transaction=True) as pipe:
        if worker is not None:
            worker.heartbeat(pipeline=pipe)
        pipe.exists(keys.SUSPENDED)
        return bool(pipe.execute()[-1])


def suspend(connection: Redis, ttl: int | None = None) -> None:
    """Suspend workers: running jobs finish, no new job starts. ``ttl`` seconds makes it temporary.

    Raises:
        ValueError: ``ttl`` is given and not a positive integer.
    """
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 1):
        raise ValueError(f'Suspension ttl must be a positive number of seconds, not {ttl!r}')
    with connection.pipeline(transaction=True) as pipe:
        pipe.set(keys.SUSPENDED, 1)
        if ttl is not None:
            pipe.expire(keys.SUSPENDED, ttl)
        pipe.execute()


def resume(connection: Redis) -> int:
    """Let workers take jobs again."""
    return int(connection.delete(keys.SUSPENDED))
