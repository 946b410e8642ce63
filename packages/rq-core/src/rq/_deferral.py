"""Deferring a job whose dependencies are unmet, RQ's way (``Queue.setup_dependencies``): a WATCH of
the dependencies' hashes, then MULTI, for callers that build their own transaction around it. Our
own enqueue does this check inside its script instead (see :mod:`rq._enqueue`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from redis.exceptions import WatchError

from ._redis import keys
from .job import JobStatus

if TYPE_CHECKING:
    from redis.client import Pipeline

    from .job import Job
    from .queue import Queue


def defer_if_unmet(queue: Queue, job: Job, pipeline: Pipeline | None = None) -> Job:
    """See :meth:`rq.queue.Queue.setup_dependencies`."""
    if not job._dependency_ids:
        if pipeline is not None and not pipeline.explicit_transaction:
            pipeline.multi()
        return job
    pipe = pipeline if pipeline is not None else queue.connection.pipeline(transaction=True)
    status = job._status
    try:
        while True:
            try:
                pipe.watch(*[keys.job_key(dependency_id) for dependency_id in job._dependency_ids])  # type: ignore[no-untyped-call]
                unmet = not job.dependencies_are_met()
                pipe.multi()
                if unmet:
                    job.set_status(JobStatus.DEFERRED, pipeline=pipe)
                    job.register_dependency(pipeline=pipe)
                    queue.deferred_job_registry.add(job, pipeline=pipe)
                    job.save(pipeline=pipe)
                    if pipeline is None:
                        pipe.execute()
                return job
            except WatchError:
                if pipeline is not None:
                    raise
                job._status = status
    finally:
        if pipeline is None:
            pipe.reset()
