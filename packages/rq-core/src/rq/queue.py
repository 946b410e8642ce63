"""``Queue``: a named list of job ids (``rq:queue:<name>``) and the ways to put jobs on it."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from datetime import datetime as _datetime
from typing import TYPE_CHECKING, Any

from . import _dequeue, _enqueue, _ready
from ._deferral import defer_if_unmet
from ._enqueue_args import EnqueueArgs, EnqueueData, parse_args
from ._importing import import_attribute
from ._redis import codec, keys, ops, worker_ops
from ._sync import run_sync
from ._utils import get_version, now, parse_timeout
from .defaults import DEFAULT_JOB_TIMEOUT
from .exceptions import NoSuchJobError
from .intermediate_queue import IntermediateQueue
from .job import Job, JobStatus
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

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from .rate_limit import RateLimit

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


class Queue:
    """A queue of jobs, named ``name`` (``'default'`` unless given)."""

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

    # -- building jobs ----------------------------------------------------------------------

    parse_args = staticmethod(parse_args)

    @staticmethod
    def prepare_data(
        func: Any,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        timeout: int | str | None = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        failure_ttl: int | str | None = None,
        description: str | None = None,
        depends_on: Any = None,
        job_id: str | None = None,
        at_front: bool = False,
        meta: dict[str, Any] | None = None,
        retry: Any = None,
        on_success: Any = None,
        on_failure: Any = None,
        on_stopped: Any = None,
        repeat: Any = None,
        webhooks: Any = None,
    ) -> EnqueueData:
        """Describe one job for :meth:`enqueue_many`."""
        return EnqueueData(
            func,
            args,
            kwargs,
            timeout,
            result_ttl,
            ttl,
            failure_ttl,
            description,
            depends_on,
            job_id,
            at_front,
            meta,
            retry,
            on_success,
            on_failure,
            on_stopped,
            repeat,
            webhooks,
        )

    def create_job(
        self,
        func: Any,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        timeout: int | str | None = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        failure_ttl: int | str | None = None,
        description: str | None = None,
        depends_on: Any = None,
        job_id: str | None = None,
        meta: dict[str, Any] | None = None,
        status: JobStatus = JobStatus.QUEUED,
        retry: Any = None,
        repeat: Any = None,
        *,
        on_success: Any = None,
        on_failure: Any = None,
        on_stopped: Any = None,
        webhooks: Any = None,
        group_id: str | None = None,
        rate_limit: RateLimit | None = None,
    ) -> Job:
        """Build a job for this queue without enqueueing it (nothing is written).

        Raises:
            ValueError: ``timeout == 0`` (use -1 for no limit), ``ttl <= 0``, a bad id or function.
            TimeoutFormatError: a timeout/TTL string such as ``'1.5h'``.
            SerializationError: the arguments cannot be serialized.
        """
        timeout = parse_timeout(timeout)
        if timeout is None:
            timeout = self._default_timeout
        elif timeout == 0:
            raise ValueError('0 timeout is not allowed. Use -1 for infinite timeout')
        job = self.job_class.create(
            func,
            args=args,  # type: ignore[arg-type]
            kwargs=kwargs,
            connection=self.connection,
            result_ttl=result_ttl,
            ttl=ttl,
            failure_ttl=failure_ttl,
            status=status,
            description=description,
            depends_on=depends_on,
            timeout=timeout,
            id=job_id,
            origin=self.name,
            meta=meta,
            serializer=self.serializer,
            retry=retry,
            repeat=repeat,
            on_success=on_success,
            on_failure=on_failure,
            on_stopped=on_stopped,
            webhooks=webhooks,
            group_id=group_id,
        )
        if rate_limit is not None:
            job.rate_limit_key, job.rate_limit_concurrency = rate_limit.key, rate_limit.concurrency
        return job

    # -- enqueueing -------------------------------------------------------------------------

    def enqueue(self, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Enqueue ``f(*args, **kwargs)``; RQ's reserved keywords (``job_timeout``, ``result_ttl``,
        ``ttl``, ``depends_on``, ``job_id``, ``at_front``, ``meta``, ``retry``, ``repeat``, callbacks,
        ``webhooks``, ``pipeline``, ``unique``, ...) configure the job instead."""
        return self.enqueue_call(**parse_args(f, *args, **kwargs)._asdict())

    def enqueue_call(
        self,
        func: Any,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        timeout: int | str | None = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        failure_ttl: int | str | None = None,
        description: str | None = None,
        depends_on: Any = None,
        job_id: str | None = None,
        at_front: bool = False,
        meta: dict[str, Any] | None = None,
        retry: Any = None,
        repeat: Any = None,
        on_success: Any = None,
        on_failure: Any = None,
        on_stopped: Any = None,
        pipeline: Pipeline | None = None,
        unique: bool = False,
        webhooks: Any = None,
        rate_limit: RateLimit | None = None,
    ) -> Job:
        """Enqueue ``func(*args, **kwargs)`` (note: ``timeout=`` here, ``job_timeout=`` in ``enqueue``).

        Raises:
            ValueError: ``unique=True`` without ``job_id`` or together with ``depends_on``.
            DuplicateJobError: ``unique=True`` and a job with ``job_id`` already exists.
        """
        _enqueue.check_unique(unique, job_id, depends_on)
        job = self.create_job(
            func,
            args=args,
            kwargs=kwargs,
            timeout=timeout,
            result_ttl=result_ttl,
            ttl=ttl,
            failure_ttl=failure_ttl,
            description=description,
            depends_on=depends_on,
            job_id=job_id,
            meta=meta,
            status=JobStatus.QUEUED,
            retry=retry,
            repeat=repeat,
            on_success=on_success,
            on_failure=on_failure,
            on_stopped=on_stopped,
            webhooks=webhooks,
            rate_limit=rate_limit,
        )
        return self.enqueue_job(job, pipeline=pipeline, at_front=at_front, unique=unique)

    def enqueue_job(
        self, job: Job, pipeline: Pipeline | None = None, at_front: bool = False, unique: bool = False
    ) -> Job:
        """Enqueue a built job: queued, or deferred while a dependency is unmet (one atomic step).

        With ``is_async=False`` the job runs here and now, and is returned finished or failed.
        """
        if job.has_rate_limit and not self._is_async:
            raise ValueError('rate_limit is not supported on synchronous queues (is_async=False)')
        if self._is_async:
            return self._place(job, pipeline, 'L' if at_front else 'R', unique)
        if job._dependency_ids and not job.dependencies_are_met():
            return self._place(job, pipeline, 'R', unique)
        self._place(job, pipeline, 'N', unique)
        if pipeline is not None:
            pipeline.execute()
        return self.run_sync(job)

    def setup_dependencies(self, job: Job, pipeline: Pipeline | None = None) -> Job:
        """Defer ``job`` when one of its dependencies is unmet (as RQ's step before enqueueing).

        A deferred job gets status ``deferred``, is recorded in its dependencies' ``:dependents``
        sets and its own ``:dependencies`` set, enters the deferred registry and is saved. A job whose
        dependencies are met (or that has none) is left for the caller to enqueue. The dependencies'
        hashes are WATCHed: without ``pipeline`` a concurrent change means checking again; with one,
        its ``WatchError`` reaches the caller, and the pipeline is left in MULTI mode for the caller
        to add to and execute.
        """
        return defer_if_unmet(self, job, pipeline)

    def _enqueue_job(self, job: Job, pipeline: Pipeline | None = None, at_front: bool = False) -> Job:
        """Put a job on the queue without checking its dependencies (the scheduler's path)."""
        return self._place(job, pipeline, 'L' if at_front else 'R', unique=False, check_dependencies=False)

    def _place(
        self,
        job: Job,
        pipeline: Pipeline | None,
        placement: str,
        unique: bool,
        score: int = 0,
        check_dependencies: bool = True,
    ) -> Job:
        return _enqueue.place(self, job, pipeline, placement, unique, score, check_dependencies)

    def enqueue_at(self, datetime: datetime, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Schedule ``f(*args, **kwargs)`` for ``datetime`` (naive means this host's local time).

        A scheduler (``rq worker --with-scheduler``) moves the job to the queue when it is due.
        ``unique=True`` is honoured (RQ documents it; RQ 2.12 ignores it, so it is never refused here).
        """
        options = parse_args(f, *args, **kwargs)._asdict()
        at_front, pipeline, unique = options.pop('at_front'), options.pop('pipeline'), options.pop('unique')
        job = self.create_job(**options, status=JobStatus.SCHEDULED)
        if at_front:
            job.enqueue_at_front = True
        return self.schedule_job(job, datetime, pipeline=pipeline, unique=unique)

    def enqueue_in(self, time_delta: timedelta, func: Any, *args: Any, **kwargs: Any) -> Job:
        """Schedule ``func(*args, **kwargs)`` to run ``time_delta`` from now."""
        return self.enqueue_at(now() + time_delta, func, *args, **kwargs)

    def schedule_job(self, job: Job, datetime: datetime, pipeline: Pipeline | None = None, unique: bool = False) -> Job:
        """Save ``job`` as scheduled for ``datetime`` in ``rq:scheduled:<queue>`` (one atomic step).

        Raises:
            DuplicateJobError: ``unique=True`` and the job already exists.
        """
        if not isinstance(datetime, _datetime):
            raise TypeError(f'schedule_job needs a datetime, not {type(datetime).__name__}')
        score = codec.to_score(codec.local_to_utc(datetime))
        job._status = JobStatus.SCHEDULED
        return self._place(job, pipeline, 'S', unique, score=score)

    def enqueue_many(
        self, job_datas: Iterable[EnqueueData], pipeline: Pipeline | None = None, group_id: str | None = None
    ) -> list[Job]:
        """Enqueue several jobs in one pipeline; every job is built (and checked) before anything is
        written. Returns the jobs in the order given. Two entries with the same ``job_id`` raise
        ValueError (RQ 3.0: one would overwrite the other)."""
        job_datas = list(job_datas)
        seen: set[str] = set()
        for data in job_datas:
            if data.job_id is not None:
                if data.job_id in seen:
                    raise ValueError(f"Job ID '{data.job_id}' appears more than once in enqueue_many()")
                seen.add(data.job_id)
        jobs = []
        for data in job_datas:
            options = data._asdict()
            options.pop('at_front')
            jobs.append(self.create_job(**options, status=JobStatus.QUEUED, group_id=group_id))
        fronts = [bool(data.at_front) for data in job_datas]
        if not self._is_async:
            # One job after the other, as single enqueues: each runs here (or is deferred while a
            # dependency, possibly an earlier job of this batch, has not finished).
            if pipeline is not None:
                pipeline.execute()
            return [self.enqueue_job(job, at_front=at_front) for job, at_front in zip(jobs, fronts, strict=True)]
        pipe = pipeline if pipeline is not None else self.connection.pipeline(transaction=True)
        for job, at_front in zip(jobs, fronts, strict=True):
            _enqueue.place(self, job, pipe, 'L' if at_front else 'R', unique=False, predict=pipeline is not None)
        if pipeline is None:
            outcomes = pipe.execute()
            moment = now()
            for job, outcome in zip(jobs, outcomes, strict=True):
                _enqueue.apply_outcome(job, outcome, moment)
            pipe.reset()
        return jobs

    def run_sync(self, job: Job) -> Job:
        return run_sync(self, job)

    def run_job(self, job: Job) -> Job:
        return self.run_sync(job)

    def enqueue_dependents(
        self,
        job: Job,
        pipeline: Pipeline | None = None,
        exclude_job_id: str | None = None,
        refresh_job_status: bool = True,
    ) -> dict[str, list[str]]:
        """Queue the jobs waiting on ``job`` whose dependencies are all met now (one atomic step;
        ``job`` counts when finished, or is ``exclude_job_id``). Returns ``{queue name: [ids]}`` of
        those queued (RQ 3.0). ``pipeline`` is not used (RQ 3.0 removed it)."""
        return _ready.release_dependents(job, exclude_job_id=exclude_job_id, refresh_job_status=refresh_job_status)

    def move_dependents_to_ready(
        self,
        job: Job,
        pipeline: Pipeline | None = None,
        exclude_job_id: str | None = None,
        refresh_job_status: bool = True,
    ) -> dict[str, list[str]]:
        """RQ 3.0: move the deferred dependents of ``job`` whose dependencies are met to their queues'
        ready registries (status ``ready_to_enqueue``), to be queued by
        :meth:`enqueue_ready_jobs_by_queue` (or maintenance). ``job`` counts as met unless canceled,
        stopped or failed (where failures are not allowed), as in 3.0. Without ``pipeline`` this is one
        atomic step; a ``pipeline`` must be WATCHing: it gets the move, for the caller to execute.
        Returns ``{queue name: [ids]}``."""
        return _ready.move_dependents_to_ready(self, job, pipeline, exclude_job_id, refresh_job_status)

    def enqueue_ready_jobs_by_queue(self, job_ids_by_queue_name: dict[str, list[str]]) -> None:
        """RQ 3.0: queue these ids of each queue's ready registry (see :meth:`move_dependents_to_ready`)."""
        _ready.enqueue_ready_jobs_by_queue(self, job_ids_by_queue_name)

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
