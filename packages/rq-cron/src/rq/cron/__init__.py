"""rq-cron: the scheduler that moves due scheduled jobs, and cron.

- :func:`register` (in a cron config), :class:`CronScheduler`, :class:`CronJob`, :func:`create_cron`:
  periodic jobs on an interval or a cron string (in a timezone), each run enqueued exactly once by
  any number of ``rq cron`` processes.
- :func:`scheduler_for_worker`: the scheduler of ``work(with_scheduler=True)``; the class itself is
  :class:`rq.scheduler.RQScheduler`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._worker import scheduler_for_worker
from .config import CronConfigError, register, take_registered
from .config import _job_data_registry as _job_data_registry  # RQ 2.x's name for the registered entries
from .job import CronJob, get_cron_job_history_key, get_cron_job_ids
from .scheduler import CronScheduler

if TYPE_CHECKING:
    from redis import Redis

__all__ = [
    'CronConfigError',
    'CronJob',
    'CronScheduler',
    'create_cron',
    'get_cron_job_history_key',
    'get_cron_job_ids',
    'register',
    'scheduler_for_worker',
]


def create_cron(connection: Redis) -> CronScheduler:
    """A CronScheduler with the jobs registered so far with :func:`register` (which it takes, so a
    second call does not get them again). Raises ValueError for a bad entry."""
    scheduler = CronScheduler(connection=connection)
    for entry, notes in take_registered():
        if notes.error:
            raise ValueError(notes.error)
        scheduler.register(**entry, timezone=notes.timezone)
    return scheduler
