"""Moving scheduled jobs to their queues without a scheduler process and without sleeping.

A scheduled job (``enqueue_at``, ``enqueue_in``, a retry or a repeat with an interval) waits in
its queue's :class:`~rq.registry.ScheduledJobRegistry`, scored by its due time in whole UTC
seconds. :func:`move_due_jobs` does what the scheduler does at a given instant: it queues every
job due at or before it (at the front when the job asked for that), using only rq-core's public
API, so it does not depend on rq-cron being installed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from rq.queue import Queue
from rq.utils import now

if TYPE_CHECKING:
    from redis import Redis

    from rq.job import Job

__all__ = ['move_due_jobs', 'move_now', 'resolve_queues', 'scheduled_jobs', 'to_timestamp']

_CHUNK = 1000


def to_timestamp(moment: datetime | float | None) -> int:
    """Whole UTC seconds, as the scheduled registry scores them (naive datetimes are local time)."""
    if moment is None:
        moment = now()
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            moment = moment.astimezone()  # local time, as rq reads a naive enqueue_at
        return int(moment.timestamp())
    return int(moment)


def resolve_queues(
    connection: Redis, queues: Iterable[Queue | str] | None = None, serializer: Any = None
) -> list[Queue]:
    """``queues`` as Queue objects; every queue known to ``connection`` (``Queue.all``) when None."""
    if queues is None:
        return Queue.all(connection, serializer=serializer)
    return [q if isinstance(q, Queue) else Queue(q, connection=connection, serializer=serializer) for q in queues]


def move_now(queue: Queue, job_ids: Sequence[str]) -> list[Job]:
    """Take ``job_ids`` out of ``queue``'s scheduled registry and queue them (dependencies are not
    checked again, as with the scheduler). Ids whose job is gone are only dropped. Returns the jobs."""
    if not job_ids:
        return []
    registry = queue.scheduled_job_registry
    jobs = queue.job_class.fetch_many(list(job_ids), queue.connection, serializer=queue.serializer)
    moved: list[Job] = []
    with queue.connection.pipeline(transaction=True) as pipe:
        for job_id, job in zip(job_ids, jobs, strict=True):
            registry.remove(job_id, pipeline=pipe)
            if job is not None:
                queue._enqueue_job(job, pipeline=pipe, at_front=job.should_enqueue_at_front())
                moved.append(job)
        pipe.execute()
    return moved


def move_due_jobs(
    connection: Redis,
    at: datetime | float | None = None,
    queues: Iterable[Queue | str] | None = None,
    serializer: Any = None,
) -> list[Job]:
    """Queue every scheduled job due at or before ``at`` (default: now) in ``queues`` (default: all
    queues). Returns the jobs moved, earliest first within each queue."""
    timestamp = to_timestamp(at)
    moved: list[Job] = []
    for queue in resolve_queues(connection, queues, serializer):
        registry = queue.scheduled_job_registry
        while True:
            due = registry.get_jobs_to_schedule(timestamp, chunk_size=_CHUNK)
            if not due:
                break
            moved += move_now(queue, due)
            if len(due) < _CHUNK:
                break
    return moved


def scheduled_jobs(
    connection: Redis, queues: Iterable[Queue | str] | None = None, serializer: Any = None
) -> list[tuple[datetime, Job]]:
    """Every scheduled job of ``queues`` (default: all) with its due time (UTC), earliest first."""
    found: list[tuple[datetime, Job]] = []
    for queue in resolve_queues(connection, queues, serializer):
        registry = queue.scheduled_job_registry
        job_ids = registry.get_job_ids(cleanup=False)
        jobs = queue.job_class.fetch_many(job_ids, connection, serializer=queue.serializer)
        for job in jobs:
            if job is not None:
                due = registry.get_scheduled_time(job)
                found.append((due.astimezone(timezone.utc), job))
    found.sort(key=lambda pair: pair[0])
    return found
