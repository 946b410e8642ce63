"""RQ 3.0's two-step release of dependents (``Queue.move_dependents_to_ready`` and the drain of the
ready registry ``rq:ready:<queue>``), and our one-step release that says what it released.

Our outcomes release a parent's dependents in the script that stores the outcome, so none of ours
wait in the ready registry. The two-step API is there for rq 3.0 code running on rq-core, and the
drain for what rq 3.0 processes (or that API) leave: it runs after such a move and in maintenance.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ._redis import ready_ops

if TYPE_CHECKING:
    from redis.client import Pipeline

    from .job import Job
    from .queue import Queue

logger = logging.getLogger('rq.queue')


def move_dependents_to_ready(
    queue: Queue,
    job: Job,
    pipeline: Pipeline | None = None,
    exclude_job_id: str | None = None,
    refresh_job_status: bool = True,
) -> dict[str, list[str]]:
    """See :meth:`rq.queue.Queue.move_dependents_to_ready`."""
    parent_status = None if refresh_job_status or job._status is None else job._status.value
    connection = queue.connection
    if pipeline is None:
        return ready_ops.move_dependents(
            connection, job.id, ready_ops.READY, exclude_job_id, parent_status, lenient_parent=True
        )
    if not pipeline.watching and not pipeline.explicit_transaction:
        raise ValueError('move_dependents_to_ready() requires a watched pipeline when pipeline is provided')
    if not pipeline.explicit_transaction:
        # (what decides each dependent is watched before it is looked at, then the transaction starts,
        # as rq 3.0 does: only when there are dependents)
        if not ready_ops.watch_dependents(pipeline, connection, job.id):
            return {}
        pipeline.multi()
    moved = ready_ops.move_dependents(
        connection, job.id, ready_ops.LOOK, exclude_job_id, parent_status, lenient_parent=True
    )
    ready_ops.queue_move_to_ready(pipeline, job.id, exclude_job_id, parent_status, lenient_parent=True)
    return moved


def release_dependents(
    job: Job, exclude_job_id: str | None = None, refresh_job_status: bool = True
) -> dict[str, list[str]]:
    """Queue the deferred dependents of ``job`` whose dependencies are all met now (one script), and
    say which: ``{origin queue: [ids]}``. The parent counts as met when it is finished (or gone, or
    failed where failures are allowed) or is ``exclude_job_id``; without ``refresh_job_status`` its
    status is the one in memory."""
    parent_status = None if refresh_job_status or job._status is None else job._status.value
    return ready_ops.move_dependents(job.connection, job.id, ready_ops.QUEUE, exclude_job_id, parent_status)


def enqueue_ready_jobs_by_queue(queue: Queue, job_ids_by_queue_name: dict[str, list[str]]) -> None:
    """Queue the given ids of each queue's ready registry; a queue that fails is logged and left for
    maintenance (``clean_registries`` drains every ready registry)."""
    for queue_name, job_ids in job_ids_by_queue_name.items():
        try:
            ready_ops.enqueue(queue.connection, queue_name, job_ids)
        except Exception:
            logger.exception('Could not enqueue the ready jobs of queue %s; maintenance will', queue_name)
