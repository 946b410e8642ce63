"""``work(with_scheduler=True)``: the scheduler that moves due jobs lives in rq-cron."""

from __future__ import annotations

import logging
from typing import Any

from rq._install_hint import install_advice

logger = logging.getLogger('rq.worker')

MISSING = (
    'with_scheduler=True: the scheduler that moves scheduled jobs (enqueue_at, enqueue_in, and '
    'retries or repeats with an interval) to their queues is provided by rq-cron, which %s; this '
    'worker runs without it; %s'
)


def start_scheduler(worker: Any, burst: bool) -> Any:
    """Start rq-cron's scheduler for the worker's queues, or say clearly why there is none."""
    try:
        from rq.cron import scheduler_for_worker  # deferred: rq-cron is optional (not a dependency of rq-worker)
    except ImportError as exc:
        missing = isinstance(exc, ModuleNotFoundError) and exc.name in ('rq.cron', 'rq')
        state = 'is not installed' if missing else f'cannot be imported ({exc})'
        worker.log.error(MISSING, state, install_advice('rq-cron'))
        return None
    return scheduler_for_worker(worker, burst=burst)
