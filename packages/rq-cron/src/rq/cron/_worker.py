"""The scheduler of a worker started with ``work(with_scheduler=True)`` (``rq worker --with-scheduler``,
and every worker of a pool)."""

from __future__ import annotations

import logging
from typing import Any

from rq.scheduler import RQScheduler

logger = logging.getLogger('rq.scheduler')


def scheduler_for_worker(worker: Any, burst: bool) -> RQScheduler | None:
    """Start moving the due scheduled jobs of ``worker``'s queues.

    In burst mode (as RQ 2.x): one pass now, for the queues whose lock this worker gets, then the
    locks are released; returns None. Otherwise: a scheduler thread in the worker's process, named
    after the worker, which holds the queues' locks it can get and stands by for the others (taking
    over from a holder that dies); returns it, for the worker to ``stop()`` at teardown.
    """
    scheduler = RQScheduler(
        [queue.name for queue in worker.queues],
        connection=worker.connection,
        serializer=getattr(worker, 'serializer', None),
        name=worker.name,
    )
    if burst:
        try:
            if scheduler.acquire_locks():
                scheduler.enqueue_scheduled_jobs()
        finally:
            scheduler.release_locks()
        return None
    scheduler.start()
    return scheduler
