"""Job operations that touch several keys: cancel, requeue, delete, dependency checks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from . import _links, _ready
from ._jobs.status import JobStatus
from ._outcome import schedule_retry
from ._redis import codec, keys, ops, rate_limit_ops
from ._utils import current_timestamp
from .exceptions import InvalidJobOperation, NoSuchJobError

if TYPE_CHECKING:
    from redis.client import Pipeline

    from .job import Job
    from .queue import Queue

logger = logging.getLogger('rq.job')


def cancel(
    job: Job,
    pipeline: Pipeline | None = None,
    enqueue_dependents: bool = False,
    remove_from_dependencies: bool = False,
) -> dict[str, list[str]]:
    """Cancel ``job`` (one atomic script). With ``pipeline`` the status is checked now and the
    writes are queued on the pipeline for the caller to execute; dependents, when asked for, are
    released right away either way (the canceled parent does not count). Returns ``{queue name:
    [ids]}`` of the dependents released (RQ 3.0's return; empty without ``enqueue_dependents``)."""
    if pipeline is not None:
        if job.rate_limit_key:
            # (RQ 3.0's rule: the slot must move in the same step as the status, which a caller's
            # pipeline cannot promise)
            raise InvalidJobOperation(f'Job {job.id} has a rate limit: cancel it without a pipeline')
        status = job.connection.hget(job.key, 'status')
        if status is None:
            raise NoSuchJobError(f'No such job: {job.id}')
        if codec.text(status) == JobStatus.CANCELED.value:
            raise InvalidJobOperation(f'Cannot cancel already canceled job: {job.id}')
        ops.cancel(pipeline, job.id, job.origin, current_timestamp())
    else:
        outcome = ops.cancel(job.connection, job.id, job.origin, current_timestamp())
        if outcome == -1:
            raise NoSuchJobError(f'No such job: {job.id}')
        if outcome == 0:
            raise InvalidJobOperation(f'Cannot cancel already canceled job: {job.id}')
    job._status = JobStatus.CANCELED
    if job.rate_limit_key:
        rate_limit_ops.settle(job.connection, job.rate_limit_key, job.id, keep_while_running=True)
    if remove_from_dependencies:
        client = pipeline if pipeline is not None else job.connection
        ops.remove_from_dependents_sets(client, job.id, job._dependency_ids)
    if not enqueue_dependents:
        return {}
    try:
        return _ready.release_dependents(job, exclude_job_id=job.id)
    except Exception:
        logger.exception('Job %s: could not enqueue its dependents', job.id)
        return {}


def requeue(job: Job, at_front: bool = False) -> Job:
    return _links.registry_class('failed')(
        job.origin, connection=job.connection, job_class=type(job), serializer=job.serializer
    ).requeue(job, at_front=at_front)


def delete(
    job: Job, pipeline: Pipeline | None = None, remove_from_queue: bool = True, delete_dependents: bool = False
) -> None:
    if delete_dependents:
        delete_dependents_of(job, pipeline=pipeline)
    client = pipeline if pipeline is not None else job.connection
    execution_ids = ops.execution_ids(job.connection, job.id)
    ops.delete_job(
        client,
        job.id,
        job.origin,
        execution_ids=execution_ids,
        group_id=job.group_id,
        remove_from_queue=remove_from_queue,
    )
    if job.rate_limit_key:
        _forget_rate_limited(job, pipeline, running=bool(execution_ids))


def _forget_rate_limited(job: Job, pipeline: Pipeline | None, running: bool) -> None:
    """A deleted job leaves its rate limit's waiters; its slot is given back now, or, while a run of
    it is live, by that run's outcome (the job being gone, nothing keeps it)."""
    key = job.rate_limit_key or ''
    if running:
        (pipeline if pipeline is not None else job.connection).zrem(keys.rate_limit_waiting_key(key), job.id)
    elif pipeline is not None:
        rate_limit_ops.queue_settle(pipeline, key, job.id)
    else:
        rate_limit_ops.settle(job.connection, key, job.id, keep_while_running=False)


def delete_dependents_of(job: Job, pipeline: Pipeline | None = None) -> None:
    for dependent in type(job).fetch_many(job.dependent_ids, job.connection, serializer=job.serializer):
        if dependent is not None:
            delete(dependent, pipeline=pipeline, remove_from_queue=True)
    (pipeline if pipeline is not None else job.connection).delete(job.dependents_key)


delete_dependents = delete_dependents_of


def dependencies_are_met(
    job: Job, parent_job: Job | None = None, exclude_job_id: str | None = None, refresh_job_status: bool = True
) -> bool:
    """Every dependency that still exists is finished (or failed when failures are allowed).

    ``exclude_job_id`` is left out of the check. ``parent_job`` is taken as it is in memory when
    ``refresh_job_status`` is False; otherwise every status, the parent's included, is read from Redis.
    """
    ids = [i for i in job._dependency_ids if i != exclude_job_id]
    if not ids:
        return True
    with job.connection.pipeline(transaction=False) as pipe:
        for dependency_id in ids:
            pipe.hget(job.key_for(dependency_id), 'status')
        replies = pipe.execute()
    for dependency_id, raw in zip(ids, replies, strict=True):
        if parent_job is not None and dependency_id == parent_job.id and not refresh_job_status:
            status: str | None = parent_job.get_status(refresh=False).value
        else:
            status = codec.text(raw) if raw else None
        if status is None:
            continue
        if status == JobStatus.FINISHED.value:
            continue
        if status == JobStatus.FAILED.value and job.allow_dependency_failures:
            continue
        return False
    return True


def retry(job: Job, queue: Queue, pipeline: Pipeline) -> None:
    schedule_retry(job, queue, pipeline)
