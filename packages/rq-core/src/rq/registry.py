"""Job registries: sorted sets that track jobs by state, per queue (``rq:<kind>:<queue>``)."""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import _links, rate_limit
from ._importing import import_attribute
from ._jobs.liveness import kept_until, read_holder
from ._jobs.outcome import handle_abandoned_job
from ._redis import codec, keys, ops, ready_ops, worker_ops
from ._redis import registries as zsets
from ._redis.results_ops import failed_registry_score, registry_score
from ._utils import current_timestamp, now, parse_composite_key
from .defaults import DEFAULT_FAILURE_TTL, DEFAULT_JOB_MONITORING_INTERVAL
from .exceptions import InvalidJobOperation, NoSuchJobError
from .job import Job, JobStatus
from .serializers import resolve_serializer
from .timeouts import BaseDeathPenalty, get_default_death_penalty_class

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from .executions import Execution
    from .queue import Queue

__all__ = [
    'BaseRegistry',
    'CanceledJobRegistry',
    'DeferredJobRegistry',
    'FailedJobRegistry',
    'FinishedJobRegistry',
    'ReadyJobRegistry',
    'ScheduledJobRegistry',
    'StartedJobRegistry',
    'clean_registries',
]

logger = logging.getLogger('rq.registry')

#: How long a cleaner holds an abandoned execution it is handling before others may take it over.
ABANDONED_CLAIM_SECONDS = 60

#: How long a started entry lives without a heartbeat at default settings (1.5 ``job_monitoring_interval``):
#: a worker heard from within it counts as alive (callers that know their interval pass their own).
DEFAULT_HEARTBEAT_LIFETIME = DEFAULT_JOB_MONITORING_INTERVAL * 1.5


class BaseRegistry:
    """A sorted set of job ids for one queue, scored by when each entry expires."""

    kind = 'base'
    #: The registry's key is this, formatted with the queue name.
    key_template = keys.format_escaped(keys.REGISTRY_PREFIXES['base']) + '{0}'
    #: What the registry's jobs are fetched as, unless ``job_class`` (or the queue's) is given.
    job_class: type[Job] = Job
    #: Unless ``death_penalty_class`` (or the queue's) is given.
    death_penalty_class: type[BaseDeathPenalty] = get_default_death_penalty_class()

    def __init__(
        self,
        name: str = 'default',
        connection: Redis | None = None,
        job_class: Any = None,
        queue: Queue | None = None,
        serializer: Any = None,
        death_penalty_class: Any = None,
    ) -> None:
        if queue is not None:
            self.name = queue.name
            self.connection: Redis = queue.connection
            self.serializer = queue.serializer
            job_class = job_class or queue.job_class
            death_penalty_class = death_penalty_class or queue.death_penalty_class
        else:
            if connection is None:
                raise TypeError(f'{type(self).__name__} requires a Redis connection (or queue=...)')
            self.name = name
            self.connection = connection
            self.serializer = resolve_serializer(serializer)
        if job_class is not None:
            self.job_class = import_attribute(job_class) if isinstance(job_class, str) else job_class
        if death_penalty_class is not None:
            self.death_penalty_class = death_penalty_class
        self.key = self.key_template.format(self.name)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.name!r})'

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, BaseRegistry)
            and type(self) is type(other)
            and self.name == other.name
            and self.connection.connection_pool.connection_kwargs == other.connection.connection_pool.connection_kwargs
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name))

    def __len__(self) -> int:
        return self.count

    def __contains__(self, item: Job | str) -> bool:
        return zsets.score_of(self.connection, self.key, self._member(item)) is not None

    def _member(self, job_or_id: Job | str) -> str:
        return job_or_id if isinstance(job_or_id, str) else job_or_id.id

    @property
    def count(self) -> int:
        """Number of entries, after dropping expired ones."""
        return self.get_job_count()

    def get_job_count(self, cleanup: bool = True) -> int:
        if cleanup:
            self.cleanup()
        return zsets.count(self.connection, self.key)

    def add(self, job: Job | str, ttl: int = 0, pipeline: Pipeline | None = None, xx: bool = False) -> Any:
        """Add with score now + ``ttl`` (``-1``: kept forever, scored ``+inf``)."""
        score = registry_score(current_timestamp(), ttl)
        return zsets.add(pipeline if pipeline is not None else self.connection, self.key, self._member(job), score, xx)

    def remove(self, job: Job | str, pipeline: Pipeline | None = None, delete_job: bool = False) -> Any:
        """Remove an entry; ``delete_job=True`` also deletes the job."""
        reply = zsets.remove(pipeline if pipeline is not None else self.connection, self.key, self._member(job))
        if delete_job:
            target = job if not isinstance(job, str) else self._fetch_or_none(job)
            if target is not None:
                target.delete(pipeline=pipeline, remove_from_queue=False)
        return reply

    def _fetch_or_none(self, job_id: str) -> Job | None:
        try:
            return self.job_class.fetch(job_id, connection=self.connection, serializer=self.serializer)
        except NoSuchJobError:
            return None

    def get_expired_job_ids(self, timestamp: float | None = None) -> list[str]:
        """Ids whose score is at or before ``timestamp`` (default now)."""
        score = timestamp if timestamp is not None else current_timestamp()
        return [self.parse_job_id(m) for m in zsets.members_up_to(self.connection, self.key, score)]

    def get_job_ids(self, start: int = 0, end: int = -1, desc: bool = False, cleanup: bool = True) -> list[str]:
        """Ids ordered by score (expiry), after dropping expired entries unless ``cleanup=False``."""
        if cleanup:
            self.cleanup()
        return [self.parse_job_id(m) for m in zsets.members(self.connection, self.key, start, end, desc=desc)]

    @staticmethod
    def parse_job_id(entry: str) -> str:
        return entry

    def get_queue(self) -> Queue:
        return _links.queue_class()(
            self.name, connection=self.connection, job_class=self.job_class, serializer=self.serializer
        )

    def get_expiration_time(self, job: Job | str) -> datetime | None:
        """When the entry expires, or None when it never does (or is not in the registry)."""
        score = zsets.score_of(self.connection, self.key, self._member(job))
        if score is None or score < 0 or score == float('inf'):
            return None
        return datetime.fromtimestamp(score, tz=timezone.utc)

    def requeue(self, job_or_id: Job | str, at_front: bool = False) -> Job:
        """Move a job from this registry back onto its queue.

        Raises:
            InvalidJobOperation: the job is not in this registry.
            NoSuchJobError: the registry held the id but the job is gone (the entry is dropped).
        """
        job_id = self._member(job_or_id)
        job = self._fetch_or_none(job_id)
        queue_name = job.origin if job is not None and job.origin else self.name
        outcome = ops.requeue_from_registry(
            self.connection,
            self.key,
            job_id,
            queue_name,
            codec.format_timestamp(now()),
            at_front,
            ttl=job.ttl if job is not None else None,
        )
        if outcome == 0:
            raise InvalidJobOperation(f'Job {job_id} is not in {type(self).__name__} {self.name!r}')
        if outcome == -1 or job is None:
            raise NoSuchJobError(f'No such job: {job_id}')
        job.refresh()
        return job

    def cleanup(self, timestamp: float | None = None, exception_handlers: list[Any] | None = None) -> None:
        """Drop entries whose score is at or before ``timestamp`` (default now)."""
        score = timestamp if timestamp is not None else current_timestamp()
        zsets.remove_up_to(self.connection, self.key, score)


class StartedJobRegistry(BaseRegistry):
    """Jobs being run: members ``'<job_id>:<execution_id>'`` scored by heartbeat expiry.

    A member whose score passed belongs to a job whose worker died: ``cleanup()`` fails it with
    :class:`~rq.exceptions.AbandonedJobError` (or retries it if it has retries left).
    """

    kind = 'started'
    key_template = keys.format_escaped(keys.REGISTRY_PREFIXES['started']) + '{0}'

    def add(self, job: Job | str, ttl: int = 0, pipeline: Pipeline | None = None, xx: bool = False) -> Any:
        raise NotImplementedError('StartedJobRegistry holds executions: use add_execution()')

    def remove(self, job: Job | str, pipeline: Pipeline | None = None, delete_job: bool = False) -> Any:
        raise NotImplementedError('StartedJobRegistry holds executions: use remove_execution()')

    @staticmethod
    def parse_job_id(entry: str) -> str:
        return parse_composite_key(entry)[0]

    def __contains__(self, item: Job | str) -> bool:
        """True when the job (a Job or an id) has an execution here; ``'<job_id>:<execution_id>'``
        checks that one execution."""
        member = self._member(item)
        if ':' in member:
            return zsets.score_of(self.connection, self.key, member) is not None
        return zsets.has_member_with_prefix(self.connection, self.key, member + ':')

    def add_execution(self, execution: Execution, pipeline: Pipeline, ttl: int = 0, xx: bool = False) -> Any:
        score = registry_score(current_timestamp(), ttl)
        return zsets.add(pipeline, self.key, execution.composite_key, score, xx)

    def remove_execution(
        self, execution: Execution, job: Job | None = None, pipeline: Pipeline | None = None, delete_job: bool = False
    ) -> None:
        zsets.remove(pipeline if pipeline is not None else self.connection, self.key, execution.composite_key)
        if delete_job and job is not None:
            job.delete(pipeline=pipeline, remove_from_queue=False)

    def remove_executions(self, job: Job, pipeline: Pipeline | None = None) -> None:
        members = [f'{job.id}:{e}' for e in ops.execution_ids(self.connection, job.id)]
        zsets.remove(pipeline if pipeline is not None else self.connection, self.key, *members)

    def get_job_and_execution_ids(
        self, start: int = 0, end: int = -1, desc: bool = False, cleanup: bool = True
    ) -> list[tuple[str, str]]:
        if cleanup:
            self.cleanup()
        return [parse_composite_key(m) for m in zsets.members(self.connection, self.key, start, end, desc=desc)]

    def get_job_ids(self, start: int = 0, end: int = -1, desc: bool = False, cleanup: bool = True) -> list[str]:
        ids: list[str] = []
        for job_id, _ in self.get_job_and_execution_ids(start, end, desc=desc, cleanup=cleanup):
            if job_id not in ids:
                ids.append(job_id)
        return ids

    def cleanup(
        self,
        timestamp: float | None = None,
        exception_handlers: list[Any] | None = None,
        heartbeat_lifetime: float = DEFAULT_HEARTBEAT_LIFETIME,
    ) -> None:
        """Fail (or retry) the jobs of executions whose heartbeat expired and whose worker is gone,
        then drop those entries.

        An expired entry whose worker is still alive (see :mod:`rq._jobs.liveness`: heard from after
        its last renewal of this run, less than ``heartbeat_lifetime`` seconds ago) is not failed: its
        expiry is moved to one ``heartbeat_lifetime`` after that worker's last heartbeat, so that it
        expires again, and is failed then, should the worker go quiet (upstream cleaners sharing the
        Redis see a live entry meanwhile).

        Each entry to fail is first claimed atomically (its score pushed ``ABANDONED_CLAIM_SECONDS``
        ahead), so that concurrent cleaners handle an abandoned job once; it is removed in the same
        transaction that records the job's failure, and expires again should this process die first.
        A heartbeat that arrives between the look and the claim wins: the claim then fails.
        """
        score = timestamp if timestamp is not None else current_timestamp()
        # (workers are judged as of the look's moment: a write of this look held back by Redis, as
        # a CLIENT PAUSE WRITE does while reads go on, must not age the workers it reads after it)
        as_of = min(time.time(), score)
        handled: set[str] = set()
        for member in zsets.members_up_to(self.connection, self.key, score):
            job_id, execution_id = parse_composite_key(member)
            holder = read_holder(self.connection, job_id, execution_id)
            keep_until = kept_until(holder, as_of, heartbeat_lifetime)
            if keep_until is not None:
                if ops.claim_expired(self.connection, self.key, member, score, math.ceil(keep_until)):
                    logger.info(
                        'Job %s: its started entry expired, but its worker %s is alive (heard from %.1f s ago); kept',
                        job_id,
                        holder.worker_name,
                        time.time() - (holder.worker_beat or 0.0),
                    )
                continue
            claimed_until = current_timestamp() + ABANDONED_CLAIM_SECONDS
            if not ops.claim_expired(self.connection, self.key, member, score, claimed_until):
                continue
            job = None if job_id in handled else self._fetch_or_none(job_id)
            if job is None or job.get_status(refresh=False) != JobStatus.STARTED:
                # (gone, handled, or no longer started: finished or requeued meanwhile, as rq 3.0
                # leaves it; only the dead run's entries go)
                zsets.remove(self.connection, self.key, member)
                if holder.worker_name:
                    worker_ops.end_execution(self.connection, holder.worker_name, job_id, execution_id)
                continue
            handled.add(job_id)

            # (the execution hash naming the worker may have expired with the entry: the job names it too)
            dead_worker = holder.worker_name or job.worker_name or ''

            def forget(pipe: Pipeline, member: str = member, worker_name: str = dead_worker) -> None:
                zsets.remove(pipe, self.key, member)
                if worker_name:  # (and out of the dead worker's execution index)
                    worker_ops.end_execution(pipe, worker_name, *parse_composite_key(member))

            try:
                handle_abandoned_job(
                    job, self.get_queue(), exception_handlers or [], self.death_penalty_class, extra=forget
                )
            except Exception:
                logger.exception('Could not fail abandoned job %s', job.id)


class FinishedJobRegistry(BaseRegistry):
    """Finished jobs, scored by when their result expires (``+inf``: never)."""

    kind = 'finished'
    key_template = keys.format_escaped(keys.REGISTRY_PREFIXES['finished']) + '{0}'


class FailedJobRegistry(BaseRegistry):
    """Failed jobs, scored by when they expire (``failure_ttl``, one year by default)."""

    kind = 'failed'
    key_template = keys.format_escaped(keys.REGISTRY_PREFIXES['failed']) + '{0}'

    def add(  # type: ignore[override]
        self,
        job: Job,
        ttl: int | None = None,
        exc_string: str = '',
        pipeline: Pipeline | None = None,
        _save_exc_to_job: bool = False,
    ) -> None:
        """Record a failed job: save it (without meta), expire it after ``ttl`` (one year by default)
        and add it scored now + ``ttl``."""
        ttl = DEFAULT_FAILURE_TTL if ttl is None else ttl
        client = pipeline if pipeline is not None else self.connection
        zsets.add(client, self.key, job.id, failed_registry_score(current_timestamp(), ttl))
        job._exc_info = exc_string
        job.save(pipeline=client, include_meta=False, include_result=_save_exc_to_job)  # type: ignore[arg-type]
        job.cleanup(ttl=ttl, pipeline=client, remove_from_queue=False)  # type: ignore[arg-type]


class DeferredJobRegistry(BaseRegistry):
    """Jobs waiting for their dependencies, scored by when they were deferred. Never expires."""

    kind = 'deferred'
    key_template = keys.format_escaped(keys.REGISTRY_PREFIXES['deferred']) + '{0}'

    def add(self, job: Job | str, ttl: int = 0, pipeline: Pipeline | None = None, xx: bool = False) -> Any:
        score = current_timestamp() + ttl if ttl and ttl > 0 else current_timestamp()
        return zsets.add(pipeline if pipeline is not None else self.connection, self.key, self._member(job), score, xx)

    def cleanup(self, timestamp: float | None = None, exception_handlers: list[Any] | None = None) -> None:
        """Deferred entries do not expire."""


class ReadyJobRegistry(BaseRegistry):
    """RQ 3.0's ``rq:ready:<queue>``: dependents whose dependencies are met (status
    ``ready_to_enqueue``), scored by when they were moved here, waiting to be put on the queue.

    rq 3.0 moves a finished parent's dependents here in the parent's outcome transaction and queues
    them right after; what a crash leaves here is queued by ``cleanup()``, which maintenance runs
    (so ``count`` and ``get_job_ids()``, which clean up first, drain it as 3.0's do). Our own workers
    queue dependents in the outcome's own script and leave nothing here.
    """

    kind = 'ready'
    key_template = keys.format_escaped(keys.ready_registry_key('')) + '{0}'

    def add(self, job: Job | str, ttl: int | None = None, pipeline: Pipeline | None = None, xx: bool = False) -> Any:
        """Add scored now (the entry never expires: ``ttl`` is not used)."""
        client = pipeline if pipeline is not None else self.connection
        return zsets.add(client, self.key, self._member(job), current_timestamp(), xx)

    def register_jobs(self, jobs: Sequence[Job], pipeline: Pipeline) -> None:
        """Queue, on the caller's transaction, the move of each job (of this queue) from the deferred
        registry to this one with status ``ready_to_enqueue``; the caller executes it."""
        ready_ops.register(pipeline, self.name, [job.id for job in jobs], current_timestamp())
        for job in jobs:
            job._status = JobStatus.READY_TO_ENQUEUE

    def enqueue_jobs(self, job_ids: Sequence[str]) -> list[Job]:
        """Put these jobs of the registry on the queue, each atomically (a rate-limited one goes
        through its limiter). An id no longer here is left alone (someone else queued it); one whose
        job is gone or no longer ``ready_to_enqueue`` is dropped. Returns the jobs handed on."""
        handed = ready_ops.enqueue(self.connection, self.name, [self.parse_job_id(i) for i in job_ids])
        found = self.job_class.fetch_many(handed, self.connection, serializer=self.serializer)
        return [job for job in found if job is not None]

    def cleanup(  # type: ignore[override]
        self, timestamp: float | None = None, exception_handlers: list[Any] | None = None
    ) -> list[Job]:
        """Put everything the registry holds on the queue (see :meth:`enqueue_jobs`); the entries
        do not expire, so ``timestamp`` is not used."""
        handed = ready_ops.drain(self.connection, self.name)
        found = self.job_class.fetch_many(handed, self.connection, serializer=self.serializer)
        return [job for job in found if job is not None]


class ScheduledJobRegistry(BaseRegistry):
    """Jobs waiting for a time, scored by that time (whole UTC seconds)."""

    kind = 'scheduled'
    key_template = keys.format_escaped(keys.REGISTRY_PREFIXES['scheduled']) + '{0}'

    def schedule(self, job: Job, scheduled_datetime: datetime, pipeline: Pipeline | None = None) -> Any:
        """Add ``job`` due at ``scheduled_datetime`` (a naive value is local time, as in RQ)."""
        score = codec.to_score(codec.local_to_utc(scheduled_datetime))
        return zsets.add(pipeline if pipeline is not None else self.connection, self.key, job.id, score)

    def get_jobs_to_schedule(self, timestamp: int | None = None, chunk_size: int = 1000) -> list[str]:
        """Ids due at or before ``timestamp`` (default now), at most ``chunk_size`` of them."""
        score = timestamp if timestamp is not None else current_timestamp()
        return zsets.members_up_to(self.connection, self.key, score, limit=chunk_size)

    def get_scheduled_time(self, job_or_id: Job | str) -> datetime:
        """When the job is due. Raises NoSuchJobError if it is not scheduled here."""
        score = zsets.score_of(self.connection, self.key, self._member(job_or_id))
        if score is None:
            raise NoSuchJobError(f'Job {self._member(job_or_id)} is not in {self!r}')
        return datetime.fromtimestamp(score, tz=timezone.utc)

    def get_jobs_to_enqueue(self, timestamp: float | None = None) -> list[str]:
        """Ids due at or before ``timestamp`` (default now); RQ's alias of ``get_expired_job_ids``."""
        return self.get_expired_job_ids(timestamp)

    def remove_jobs(self, timestamp: int | None = None, pipeline: Pipeline | None = None) -> Any:
        """Deprecated: drop entries due at or before ``timestamp``."""
        warnings.warn(
            'ScheduledJobRegistry.remove_jobs() is deprecated and will be removed in the future.',
            DeprecationWarning,
            stacklevel=2,
        )
        score = timestamp if timestamp is not None else current_timestamp()
        return zsets.remove_up_to(pipeline if pipeline is not None else self.connection, self.key, score)

    def cleanup(self, timestamp: float | None = None, exception_handlers: list[Any] | None = None) -> None:
        """Scheduled entries do not expire (the scheduler moves them)."""


class CanceledJobRegistry(BaseRegistry):
    """Canceled jobs, scored by when they were canceled. Never cleaned."""

    kind = 'canceled'
    key_template = keys.format_escaped(keys.REGISTRY_PREFIXES['canceled']) + '{0}'

    def get_expired_job_ids(self, timestamp: float | None = None) -> list[str]:
        raise NotImplementedError('Canceled jobs do not expire')

    def cleanup(self, timestamp: float | None = None, exception_handlers: list[Any] | None = None) -> None:
        """Canceled entries are kept."""


def clean_registries(queue: Queue, exception_handlers: list[Any] | None = None) -> None:
    """Drop expired entries from the finished, started (failing abandoned jobs), failed and deferred
    registries of ``queue``; queue what RQ 3.0's ready registry holds and free the rate-limit slots
    that no job holds any more (RQ 3.0)."""
    for registry_class in (FinishedJobRegistry, StartedJobRegistry, FailedJobRegistry, DeferredJobRegistry):
        registry_class(queue=queue).cleanup(exception_handlers=exception_handlers)
    ready_ops.drain(queue.connection, queue.name)
    rate_limit.cleanup_all(queue.connection)
