"""The base of every job registry: a sorted set of job ids for one queue (``rq:<kind>:<queue>``)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .. import _links
from .._importing import import_attribute
from .._redis import codec, keys, ops
from .._redis import registries as zsets
from .._redis.results_ops import registry_score
from .._utils import current_timestamp, now
from ..exceptions import InvalidJobOperation, NoSuchJobError
from ..job import Job
from ..serializers import resolve_serializer
from ..timeouts import BaseDeathPenalty, get_default_death_penalty_class

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from ..queue import Queue


class BaseRegistry:
    """A sorted set of job ids for one queue, scored by when each entry expires."""

    __module__ = 'rq.registry'

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
