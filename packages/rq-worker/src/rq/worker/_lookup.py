"""Finding workers in Redis: ``Worker.all()``, ``all_keys()``, ``count()`` and ``find_by_key()``.

A worker found this way is built from its hash (``rq:worker:<name>``) without touching Redis
(``prepare_for_work=False``); keys whose hash has expired are pruned from the worker sets.
Part of :class:`~rq.worker.identity.WorkerIdentity`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rq._redis import codec, keys, worker_ops

if TYPE_CHECKING:
    from redis import Redis

    from rq.queue import Queue

    from .identity import WorkerIdentity


class WorkerLookup:
    """The class methods that find workers registered in Redis (every worker class has them)."""

    @classmethod
    def all_keys(cls, connection: Redis | None = None, queue: Queue | None = None) -> list[str]:
        connection = connection or (queue.connection if queue is not None else None)
        if connection is None:
            raise TypeError('Worker.all_keys needs a connection or a queue')
        return worker_ops.all_worker_keys(connection, queue.name if queue is not None else None)

    @classmethod
    def all(
        cls,
        connection: Redis | None = None,
        job_class: Any = None,
        queue_class: Any = None,
        queue: Queue | None = None,
        serializer: Any = None,
    ) -> list[Any]:
        """Every live worker (of ``queue``, or all); keys of workers whose hash expired are pruned."""
        connection = connection or (queue.connection if queue is not None else None)
        if connection is None:
            raise TypeError('Worker.all needs a connection or a queue')
        worker_keys = cls.all_keys(connection, queue)
        found: list[Any] = []
        dead: list[str] = []
        for key, raw in zip(worker_keys, worker_ops.read_workers(connection, worker_keys), strict=True):
            if not raw:
                dead.append(key)
                continue
            found.append(cls._from_hash(key, raw, connection, job_class, queue_class, serializer))
        worker_ops.forget_workers(connection, dead, [queue.name] if queue is not None else [])
        return found

    @classmethod
    def count(cls, connection: Redis | None = None, queue: Queue | None = None) -> int:
        return len(cls.all(connection=connection, queue=queue))

    @classmethod
    def find_by_key(
        cls,
        worker_key: str,
        connection: Redis,
        job_class: Any = None,
        queue_class: Any = None,
        serializer: Any = None,
    ) -> Any:
        """The worker whose hash is ``worker_key``, or None (its key is then dropped from the sets)."""
        if not worker_key.startswith(keys.WORKER_PREFIX):
            raise ValueError(f'Not a worker key: {worker_key!r}')
        raw = connection.hgetall(worker_key)
        if not raw:
            worker_ops.forget_workers(connection, [worker_key])
            return None
        return cls._from_hash(worker_key, raw, connection, job_class, queue_class, serializer)  # type: ignore[arg-type]

    @classmethod
    def _from_hash(
        cls, key: str, raw: dict[bytes, bytes], connection: Redis, job_class: Any, queue_class: Any, serializer: Any
    ) -> Any:
        names = [n for n in codec.text(raw.get(b'queues', b'')).split(',') if n] or ['default']
        factory: Any = cls  # (a worker class: WorkerIdentity defines the constructor)
        worker = factory(
            names,
            name=key[len(keys.WORKER_PREFIX) :],
            connection=connection,
            job_class=job_class,
            queue_class=queue_class,
            serializer=serializer,
            prepare_for_work=False,
        )
        apply_hash(worker, raw)
        return worker


def apply_hash(worker: WorkerIdentity, raw: dict[bytes, bytes]) -> None:
    """Set the fields of ``worker`` from its hash as Redis returned it."""
    fields = {codec.text(k): codec.text(v) for k, v in raw.items()}
    worker._state = fields.get('state', '?')
    worker._job_id = fields.get('current_job') or None
    worker.birth_date = codec.parse_timestamp(fields.get('birth'))
    worker.last_heartbeat = codec.parse_timestamp(fields.get('last_heartbeat'))
    worker.death_date = codec.parse_timestamp(fields.get('death'))
    worker.shutdown_requested_date = codec.parse_timestamp(fields.get('shutdown_requested_date'))
    worker.pid = int(fields['pid']) if fields.get('pid') else 0
    worker.hostname = fields.get('hostname', '')
    worker.ip_address = fields.get('ip_address', 'unknown')
    worker.version = fields.get('version', '')
    worker.python_version = fields.get('python_version', '')
    worker.successful_job_count = int(fields.get('successful_job_count') or 0)
    worker.failed_job_count = int(fields.get('failed_job_count') or 0)
    worker.total_working_time = float(fields.get('total_working_time') or 0)
    worker.current_job_working_time = float(fields.get('current_job_working_time') or 0)
