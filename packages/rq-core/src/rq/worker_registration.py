"""Which workers exist: ``rq:workers`` and ``rq:workers:<queue>`` (sets of worker keys)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ._redis import codec, keys

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from .queue import Queue

__all__ = ['REDIS_WORKER_KEYS', 'WORKERS_BY_QUEUE_KEY', 'clean_worker_registry', 'get_keys', 'register', 'unregister']

WORKERS_BY_QUEUE_KEY = keys.workers_by_queue_key('%s')
REDIS_WORKER_KEYS = keys.WORKERS
MAX_KEYS = 1000


class _WorkerLike(Protocol):
    key: str
    connection: Redis

    def queue_names(self) -> list[str]: ...


def register(worker: _WorkerLike, pipeline: Pipeline | None = None) -> None:
    """Add the worker's key to ``rq:workers`` and to each of its queues' sets."""
    client: Any = pipeline if pipeline is not None else worker.connection
    client.sadd(keys.WORKERS, worker.key)
    for name in worker.queue_names():
        client.sadd(keys.workers_by_queue_key(name), worker.key)


def unregister(worker: _WorkerLike, pipeline: Pipeline | None = None) -> None:
    """Remove the worker's key from ``rq:workers`` and its queues' sets."""
    client: Any = pipeline if pipeline is not None else worker.connection
    client.srem(keys.WORKERS, worker.key)
    for name in worker.queue_names():
        client.srem(keys.workers_by_queue_key(name), worker.key)


def get_keys(queue: Queue | None = None, connection: Redis | None = None) -> set[str]:
    """Keys of the registered workers (of one queue, or all)."""
    if queue is None and connection is None:
        raise ValueError('get_keys needs a queue or a connection')
    if queue is not None:
        return set(codec.texts(queue.connection.smembers(keys.workers_by_queue_key(queue.name))))
    assert connection is not None
    return set(codec.texts(connection.smembers(keys.WORKERS)))


def clean_worker_registry(queue: Queue) -> None:
    """Forget workers of ``queue`` whose hash has expired (they died without unregistering)."""
    worker_keys = sorted(get_keys(queue))
    if not worker_keys:
        return
    connection = queue.connection
    for start in range(0, len(worker_keys), MAX_KEYS):
        batch = worker_keys[start : start + MAX_KEYS]
        with connection.pipeline(transaction=False) as pipe:
            for key in batch:
                pipe.exists(key)
            present = pipe.execute()
        dead = [key for key, alive in zip(batch, present, strict=True) if not alive]
        if dead:
            with connection.pipeline(transaction=True) as pipe:
                pipe.srem(keys.WORKERS, *dead)
                pipe.srem(keys.workers_by_queue_key(queue.name), *dead)
                pipe.execute()
