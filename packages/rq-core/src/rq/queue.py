"""``Queue``: a named list of job ids (``rq:queue:<name>``) and the ways to put jobs on it."""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

from . import _dequeue
from ._enqueue_args import EnqueueArgs, EnqueueData
from ._importing import import_attribute
from ._queue_enqueue import QueueEnqueueing
from ._redis import codec, keys, ops, worker_ops
from ._replicas import resolve_replicas, resolve_timeout
from ._utils import get_version, parse_timeout
from .defaults import DEFAULT_JOB_TIMEOUT
from .exceptions import NoSuchJobError
from .intermediate_queue import IntermediateQueue
from .job import Job
from .registry import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ReadyJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from .serializers import Serializer, resolve_serializer
from .timeouts import BaseDeathPenalty, UnixSignalDeathPenalty
from .trust import parse_keys

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline


__all__ = ['EnqueueArgs', 'EnqueueData', 'Queue']

logger = logging.getLogger('rq.queue')

#: How long :meth:`Queue.acquire_maintenance_lock` holds the lock (15 minutes less a second, as RQ).
MAINTENANCE_LOCK_SECONDS = 899


def check_connection(connection: Any, owner: str) -> None:
    """Reject a missing connection, or one that decodes replies (job payloads are binary)."""
    if connection is None:
        raise TypeError(f'{owner} requires a Redis connection: pass connection=Redis(...)')
    pool = getattr(connection, 'connection_pool', None)
    if pool is not None and getattr(pool, 'connection_kwargs', {}).get('decode_responses'):
        raise ValueError(f'{owner} needs a Redis connection with decode_responses=False (job data is binary)')


class Queue(QueueEnqueueing):
    """A queue of jobs, named ``name`` (``'default'`` unless given).

    ``replicas=N`` (default ``$RQ_ENQUEUE_REPLICAS``, else 0): each enqueue returns only once N
    replicas of the Redis master hold the job, waiting ``replica_timeout`` seconds at most (default
    ``$RQ_ENQUEUE_REPLICA_TIMEOUT``, else 1), else it raises
    :class:`~rq.exceptions.ReplicationTimeout` (the job is written on the master all the same).
    """

    DEFAULT_TIMEOUT = DEFAULT_JOB_TIMEOUT
    redis_queue_namespace_prefix = keys.QUEUE_PREFIX
    redis_queues_keys = keys.QUEUES
    job_class: type[Job] = Job
    death_penalty_class: type[BaseDeathPenalty] = UnixSignalDeathPenalty

    def __init__(
        self,
        name: str = 'default',
        connection: Redis | None = None,
        default_timeout: int | str | None = None,
        is_async: bool = True,
        job_class: type[Job] | str | None = None,
        serializer: Any = None,
        death_penalty_class: type[BaseDeathPenalty] | None = UnixSignalDeathPenalty,
        signing_keys: Any = None,
        replicas: int | None = None,
        replica_timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        check_connection(connection, 'Queue')
        if not isinstance(name, str) or not name:
            raise ValueError(f'Queue name must be a non-empty string, not {name!r}')
        self.connection: Redis = connection  # type: ignore[assignment]
        self.name = name
        self._key = keys.queue_key(name)
        self._default_timeout = parse_timeout(default_timeout) or self.DEFAULT_TIMEOUT
        if 'async' in kwargs:
            warnings.warn('The `async` keyword is deprecated. Use `is_async` instead', DeprecationWarning, stacklevel=2)
            is_async = kwargs.pop('async')
        # Other keyword arguments are accepted and ignored, as RQ does: subclasses and clients
        # (django-rq's ``autocommit``, ``commit_mode``) pass their own through.
        self._is_async = is_async
        self.log = logger
        if job_class is not None:
            self.job_class = import_attribute(job_class) if isinstance(job_class, str) else job_class
        if death_penalty_class is not None:
            self.death_penalty_class = death_penalty_class
        self.serializer: Serializer = resolve_serializer(serializer)
        #: The keys the jobs this queue creates are signed with (the first signs; see :mod:`rq.trust`):
        #: a comma-separated string or a list; None: ``RQ_SIGNING_KEYS``.
        self.signing_keys: tuple[bytes, ...] | None = None if signing_keys is None else parse_keys(signing_keys)
        #: Replica-acknowledged enqueue (see :mod:`rq._replicas`): an enqueue returns once this many
        #: replicas hold the job, waiting ``replica_timeout`` seconds at most (then ReplicationTimeout);
        #: None: ``RQ_ENQUEUE_REPLICAS`` (else 0: no waiting) and ``RQ_ENQUEUE_REPLICA_TIMEOUT`` (else 1).
        self.replicas = resolve_replicas(replicas)
        self.replica_timeout = resolve_timeout(replica_timeout)
        self.redis_server_version: tuple[int, int, int] | None = None

    # -- identity ---------------------------------------------------------------------------

    @classmethod
    def all(
        cls,
        connection: Redis,
        job_class: type[Job] | None = None,
        serializer: Any = None,
        death_penalty_class: type[BaseDeathPenalty] | None = None,
    ) -> list[Queue]:
        """Every queue that ever had a job enqueued (``rq:queues``), sorted by name."""
        queue_keys = sorted(codec.text(k) for k in connection.smembers(keys.QUEUES))
        return [
            cls.from_queue_key(
                key, connection, job_class=job_class, serializer=serializer, death_penalty_class=death_penalty_class
            )
            for key in queue_keys
        ]

    @classmethod
    def from_queue_key(
        cls,
        queue_key: str,
        connection: Redis,
        job_class: type[Job] | None = None,
        serializer: Any = None,
        death_penalty_class: type[BaseDeathPenalty] | None = None,
    ) -> Queue:
        """The queue whose key is ``queue_key`` (a queue key such as rq:queue:<name>); ValueError for others."""
        name = keys.queue_name_from_key(queue_key)
        return cls(
            name,
            connection=connection,
            job_class=job_class,
            serializer=serializer,
            death_penalty_class=death_penalty_class or UnixSignalDeathPenalty,
        )

    @property
    def key(self) -> str:
        return self._key

    @property
    def is_async(self) -> bool:
        return bool(self._is_async)

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Queue) and self.name == other.name

    def __lt__(self, other: Queue) -> bool:
        return self.name < other.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.name!r})'

    def __str__(self) -> str:
        return f'<{type(self).__name__} {self.name}>'

    # -- inspection -------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Number of queued job ids (deferred and scheduled jobs are not counted)."""
        return int(self.connection.llen(self.key))

    def is_empty(self) -> bool:
        return self.count == 0

    def get_job_ids(self, offset: int = 0, length: int = -1) -> list[str]:
        """Ids from position ``offset``: ``length`` of them, or all the rest when ``length`` is negative."""
        if length == 0:
            return []  # RQ 2.12 returns the whole queue here (LRANGE offset offset-1)
        end = offset + length - 1 if length > 0 else -1
        return [codec.text(i) for i in self.connection.lrange(self.key, offset, end)]

    def get_jobs(self, offset: int = 0, length: int = -1) -> list[Job]:
        """The queued jobs; ids whose job is gone are removed from the queue."""
        job_ids = self.get_job_ids(offset, length)
        found = self.job_class.fetch_many(job_ids, self.connection, serializer=self.serializer)
        missing = [job_id for job_id, job in zip(job_ids, found, strict=False) if job is None]
        for job_id in missing:
            self.remove(job_id)
        return [job for job in found if job is not None]

    @property
    def job_ids(self) -> list[str]:
        return self.get_job_ids()

    @property
    def jobs(self) -> list[Job]:
        return self.get_jobs()

    def fetch_job(self, job_id: str) -> Job | None:
        """The job if it exists and belongs to this queue; a dangling id is removed from the queue."""
        try:
            job = self.job_class.fetch(job_id, connection=self.connection, serializer=self.serializer)
        except NoSuchJobError:
            self.remove(job_id)
            return None
        return job if job.origin == self.name else None

    def get_job_position(self, job_or_id: Job | str) -> int | None:
        job_id = job_or_id if isinstance(job_or_id, str) else job_or_id.id
        return ops.list_position(self.connection, self.key, job_id)

    @property
    def started_job_registry(self) -> StartedJobRegistry:
        return StartedJobRegistry(queue=self)

    @property
    def finished_job_registry(self) -> FinishedJobRegistry:
        return FinishedJobRegistry(queue=self)

    @property
    def failed_job_registry(self) -> FailedJobRegistry:
        return FailedJobRegistry(queue=self)

    @property
    def deferred_job_registry(self) -> DeferredJobRegistry:
        return DeferredJobRegistry(queue=self)

    @property
    def ready_job_registry(self) -> ReadyJobRegistry:
        return ReadyJobRegistry(queue=self)

    @property
    def scheduled_job_registry(self) -> ScheduledJobRegistry:
        return ScheduledJobRegistry(queue=self)

    @property
    def canceled_job_registry(self) -> CanceledJobRegistry:
        return CanceledJobRegistry(queue=self)

    @property
    def intermediate_queue_key(self) -> str:
        return keys.intermediate_queue_key(self.name)

    @property
    def intermediate_queue(self) -> IntermediateQueue:
        return IntermediateQueue(self.key, connection=self.connection)

    @property
    def registry_cleaning_key(self) -> str:
        """The lock a worker holds while it cleans this queue's registries (``rq:clean_registries:<name>``)."""
        return keys.clean_registries_lock_key(self.name)

    def acquire_maintenance_lock(self) -> bool:
        """Take :attr:`registry_cleaning_key` for 899 seconds; False when someone else holds it."""
        return worker_ops.try_lock(self.connection, self.registry_cleaning_key, MAINTENANCE_LOCK_SECONDS)

    def release_maintenance_lock(self) -> None:
        """Give :attr:`registry_cleaning_key` up (after cleaning)."""
        worker_ops.unlock(self.connection, self.registry_cleaning_key)

    def get_redis_server_version(self) -> tuple[int, int, int]:
        """The Redis server's version, such as ``(7, 2, 4)``; asked once, then remembered."""
        if not self.redis_server_version:
            self.redis_server_version = get_version(self.connection)
        return self.redis_server_version

    @property
    def scheduler_pid(self) -> int | None:
        """PID of the scheduler holding this queue's lock, if any."""
        name = self.connection.get(keys.scheduler_lock_key(self.name))
        if not name:
            return None
        pid = self.connection.hget(keys.scheduler_key(codec.text(name)), 'pid')
        return int(pid) if pid else None

    # -- maintenance ------------------------------------------------------------------------

    def remove(self, job_or_id: Job | str, pipeline: Pipeline | None = None) -> Any:
        job_id = job_or_id if isinstance(job_or_id, str) else job_or_id.id
        return (pipeline if pipeline is not None else self.connection).lrem(self.key, 1, job_id)

    def compact(self) -> None:
        """Remove ids whose job hash no longer exists, in short steps (see ``ops.compact_queue``)."""
        ops.compact_queue(self.connection, self.name)

    def empty(self) -> int:
        """Remove every queued job (its hash, dependents set and results stream). Returns how many."""
        return ops.empty_queue(self.connection, self.name)

    def delete(self, delete_jobs: bool = True) -> None:
        """Delete the queue (and, by default, its queued jobs); it reappears on the next enqueue."""
        if delete_jobs:
            self.empty()
        with self.connection.pipeline(transaction=True) as pipe:
            pipe.srem(keys.QUEUES, self.key)
            pipe.delete(self.key)
            pipe.execute()

    def pop_job_id(self) -> str | None:
        raw = self.connection.lpop(self.key)
        return codec.text(raw) if raw else None  # type: ignore[arg-type]

    def push_job_id(self, job_id: str, pipeline: Pipeline | None = None, at_front: bool = False) -> None:
        ops.push_job_id(pipeline if pipeline is not None else self.connection, self.name, job_id, at_front)

    # -- dequeueing (the worker side) -------------------------------------------------------

    @classmethod
    def lpop(cls, queue_keys: list[str], timeout: int | None, connection: Redis | None = None) -> Any:
        """Pop from the first non-empty queue: LPOP each in order, or BLPOP up to ``timeout`` s.

        Raises:
            ValueError: ``timeout == 0`` (an indefinite wait is not supported).
            DequeueTimeout: nothing arrived within ``timeout``.
        """
        return _dequeue.pop_any(queue_keys, timeout, connection)

    @classmethod
    def lmove(cls, connection: Redis, queue_key: str, timeout: int | None) -> Any:
        """Move one id from the queue to its intermediate list (BLMOVE when ``timeout`` is set)."""
        return _dequeue.move_to_intermediate(connection, queue_key, timeout)

    @classmethod
    def dequeue_any(
        cls,
        queues: list[Queue],
        timeout: int | None,
        connection: Redis | None = None,
        job_class: type[Job] | None = None,
        serializer: Any = None,
        death_penalty_class: type[BaseDeathPenalty] | None = None,
    ) -> tuple[Job, Queue] | None:
        """Pop the next job from ``queues`` in priority order; ids whose job is gone are skipped."""
        return _dequeue.dequeue_any(queues, timeout, connection, job_class, serializer)
