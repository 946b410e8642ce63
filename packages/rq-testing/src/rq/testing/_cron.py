"""Cron entries under a test :class:`~rq.testing.Clock` (needs rq-cron, imported only when used).

rq-cron's ``CronScheduler`` takes a ``clock`` (a ``time.time`` replacement); the test clock gives it
its cron time (:meth:`~rq.testing.Clock.cron_timestamp`, which moves only when the clock does) and,
each time it moves, asks it to enqueue the runs then due. A scheduler enqueues one run per entry per
look, as a real one coming back after a pause does: a move more than a second past a slot makes one
catch-up run, which also takes the place of the next slot when that would come less than an interval
after it (rq-cron's rule, in ``rq.cron._schedule``). To see every run of an interval entry, advance
the clock one interval at a time.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rq.exceptions import MissingDistributionError
from rq.job import Job

if TYPE_CHECKING:
    from redis import Redis


def load_cron_module() -> Any:
    """``rq.cron``, or :class:`~rq.exceptions.MissingDistributionError` naming the install command."""
    try:
        module = importlib.import_module('rq.cron')
    except ModuleNotFoundError as exc:
        if exc.name is None or not 'rq.cron'.startswith(exc.name):
            raise
        raise MissingDistributionError('Cron entries under a test clock (Clock.cron)', 'rq-cron') from None
    if not hasattr(module, 'CronScheduler'):
        raise MissingDistributionError('Cron entries under a test clock (Clock.cron)', 'rq-cron', installed=True)
    return module


def make_scheduler(connection: Redis, time_source: Callable[[], float], **scheduler_kwargs: Any) -> Any:
    """A ``CronScheduler`` on ``connection`` whose time is ``time_source``."""
    module = load_cron_module()
    scheduler_kwargs.setdefault('logging_level', None)
    return module.CronScheduler(connection, clock=time_source, **scheduler_kwargs)


def enqueue_due_runs(scheduler: Any, connection: Redis) -> list[Job]:
    """Have ``scheduler`` enqueue the runs due at its time; returns the jobs it enqueued (found as
    the new ids in the entries' job histories, which entries sharing a name also share)."""
    names = sorted({cron_job.name for cron_job in scheduler.get_jobs()})
    before = {name: set(cron_job_ids(name, connection)) for name in names}
    if not scheduler.enqueue_jobs():
        return []
    new_ids: list[str] = []
    for name in names:
        new_ids += [job_id for job_id in reversed(cron_job_ids(name, connection)) if job_id not in before[name]]
    found = Job.fetch_many(new_ids, connection, serializer=scheduler.serializer)
    return [job for job in found if job is not None]


def cron_job_ids(name: str, connection: Redis) -> list[str]:
    """The ids in a cron job's history, newest first."""
    return list(load_cron_module().get_cron_job_ids(name, connection))
