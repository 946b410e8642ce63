"""Job registries: sorted sets that track jobs by state, per queue (``rq:<kind>:<queue>``).

The base class and the started registry are written in :mod:`rq._registries`; all are imported from here."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import rate_limit
from ._redis import codec, keys, ready_ops
from ._redis import registries as zsets
from ._redis.results_ops import failed_registry_score
from ._registries.base import BaseRegistry
from ._registries.started import ABANDONED_CLAIM_SECONDS as ABANDONED_CLAIM_SECONDS
from ._registries.started import DEFAULT_HEARTBEAT_LIFETIME as DEFAULT_HEARTBEAT_LIFETIME
from ._registries.started import StartedJobRegistry
from ._utils import current_timestamp
from .defaults import DEFAULT_FAILURE_TTL
from .exceptions import NoSuchJobError
from .job import Job, JobStatus

if TYPE_CHECKING:
    from redis.client import Pipeline

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
