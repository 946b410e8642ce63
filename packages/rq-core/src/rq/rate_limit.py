"""Concurrency rate limits (RQ 3.0): :class:`RateLimit`, :class:`RateLimitRegistry`, :func:`release_slot`.

``queue.enqueue(f, rate_limit=RateLimit('reports', concurrency=2))`` lets at most two jobs with the
key ``reports`` be queued or running at once, across every queue and worker of one Redis database;
the others wait with status ``rate_limited`` and are queued, oldest first, as slots come free. Every
move of a slot is one script (see :mod:`rq._redis.rate_limit_ops`), and every end of a job gives its
slot back in the transaction that records that end; registry maintenance frees what a crash left.
"""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

from ._redis import codec, keys
from ._redis import rate_limit_ops as ops
from .job import Job, JobStatus

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

__all__ = ['RateLimit', 'RateLimitRegistry', 'release_slot']

#: The statuses in which a job legitimately holds a slot.
HOLDING_STATUSES = (JobStatus.QUEUED.value, JobStatus.STARTED.value)


class RateLimit:
    """At most ``concurrency`` jobs sharing ``key`` queued or running at the same time.

    Raises:
        ValueError: an empty key, or a concurrency that is not an integer of at least 1.
    """

    def __init__(self, key: str, concurrency: int) -> None:
        if not key or not isinstance(key, str):
            raise ValueError(f'A rate limit needs a non-empty string key, not {key!r}')
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f'A rate limit needs an integer concurrency of at least 1, not {concurrency!r}')
        self.key = key
        self.concurrency = concurrency

    def __repr__(self) -> str:
        return f'RateLimit(key={self.key!r}, concurrency={self.concurrency})'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RateLimit) and (self.key, self.concurrency) == (other.key, other.concurrency)

    def __hash__(self) -> int:
        return hash((self.key, self.concurrency))


class RateLimitRegistry:
    """The slots of one rate-limit key: ``rq:rl:<key>`` (config), ``rq:rl:<key>:allowed`` (jobs
    holding a slot) and ``rq:rl:<key>:rate_limited`` (jobs waiting, oldest first)."""

    rl_keys_key = keys.RATE_LIMIT_KEYS

    def __init__(self, key: str, connection: Redis) -> None:
        self.key = key
        self.connection = connection

    def __repr__(self) -> str:
        return f'RateLimitRegistry(key={self.key!r})'

    @classmethod
    def all(cls, connection: Redis) -> list[RateLimitRegistry]:
        """One registry per key in ``rq:rl-keys``."""
        return [cls(key, connection) for key in ops.all_keys(connection)]

    @classmethod
    def from_job(cls, job: Job) -> RateLimitRegistry:
        if not job.rate_limit_key:
            raise ValueError(f'Job {job.id} has no rate limit')
        return cls(job.rate_limit_key, job.connection)

    @property
    def config_key(self) -> str:
        return keys.rate_limit_config_key(self.key)

    @property
    def allowed_key(self) -> str:
        return keys.rate_limit_allowed_key(self.key)

    @property
    def rate_limited_key(self) -> str:
        return keys.rate_limit_waiting_key(self.key)

    @cached_property
    def concurrency(self) -> int:
        """The stored concurrency (read once per registry object; 0 when none is stored)."""
        return ops.concurrency(self.connection, self.key)

    def register(self, concurrency: int, pipeline: Pipeline) -> None:
        """Record the key and its concurrency (as an enqueue does)."""
        pipeline.sadd(self.rl_keys_key, self.key)
        pipeline.hset(self.config_key, 'concurrency', concurrency)

    def get_allowed_job_ids(self) -> list[str]:
        return ops.allowed_ids(self.connection, self.key)

    def get_rate_limited_job_ids(self) -> list[str]:
        return ops.waiting_ids(self.connection, self.key)

    def get_allowed_job_count(self) -> int:
        return ops.counts(self.connection, self.key)[0]

    def get_rate_limited_job_count(self) -> int:
        return ops.counts(self.connection, self.key)[1]

    def add_to_rate_limited(self, job_id: str, pipeline: Pipeline, timestamp: float | None = None) -> None:
        """Add ``job_id`` to the waiters (its hash must say ``rate_limited`` to be promoted)."""
        score = timestamp if timestamp is not None else datetime.now().timestamp()
        pipeline.zadd(self.rate_limited_key, {job_id: score})

    def acquire_and_enqueue(
        self, concurrency: int, enqueued_at: datetime | None = None, pipeline: Pipeline | None = None
    ) -> list[str]:
        """Give free slots to the oldest waiters: each is queued. Returns the promoted ids ([] with a
        pipeline: they come with its ``execute()``)."""
        stamp = codec.format_timestamp(enqueued_at) if enqueued_at is not None else ''
        if pipeline is not None:
            ops.fill(pipeline, self.key, concurrency, stamp)
            return []
        promoted: list[str] = ops.fill(self.connection, self.key, concurrency, stamp)
        return promoted

    def release_and_enqueue(self, job_id: str) -> list[str]:
        """Give ``job_id``'s slot back whatever its status, then promote waiters."""
        return ops.release(self.connection, self.key, job_id)

    def release_stale_and_enqueue(self, job_id: str) -> list[str]:
        """Give ``job_id``'s slot back unless the job is queued, started, waiting or still running
        somewhere (a live execution), then promote waiters."""
        return ops.settle(self.connection, self.key, job_id, keep_while_running=True)

    def cancel(self, job_id: str, pipeline: Pipeline | None = None) -> list[str]:
        """Stop tracking a canceled or deleted job: out of the waiters, and its slot given back once
        no run of it is live. With ``pipeline`` only the first part is queued on it."""
        if pipeline is not None:
            pipeline.zrem(self.rate_limited_key, job_id)
            return []
        return ops.settle(self.connection, self.key, job_id, keep_while_running=True)

    def cleanup(self) -> None:
        """Maintenance: free the slots of jobs that no longer hold them legitimately (gone, ended,
        scheduled ... and not running), promote waiters, and forget the key once unused."""
        cleanup_key(self.connection, self.key)


def cleanup_key(connection: Redis, key: str) -> list[str]:
    """:meth:`RateLimitRegistry.cleanup` for one key; returns the ids promoted."""
    promoted: list[str] = []
    holders = ops.allowed_ids(connection, key)
    for job_id, status in zip(holders, ops.statuses(connection, holders), strict=True):
        if status not in HOLDING_STATUSES:
            promoted += ops.settle(connection, key, job_id, keep_while_running=True)
    promoted += ops.fill(connection, key)
    if not promoted:
        ops.forget_if_unused(connection, key)
    return promoted


def cleanup_all(connection: Redis) -> None:
    """Maintenance of every rate-limit key."""
    for key in ops.all_keys(connection):
        cleanup_key(connection, key)


def release_slot(job: Job) -> list[str]:
    """Give the job's slot back unless its (cached) status still holds one, and promote waiters:
    RQ 3.0's call after recording an outcome. rq records outcomes with the release included; this is
    for code written for RQ 3.0."""
    if not job.has_rate_limit or job.get_status(refresh=False).value in HOLDING_STATUSES:
        return []
    return RateLimitRegistry.from_job(job).release_and_enqueue(job.id)
