"""The registry of running cron schedulers (upstream path ``rq.cron_scheduler_registry``): the sorted
set ``rq:cron_schedulers`` of scheduler names, scored by their last heartbeat (float epoch)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from rq._redis import cron_ops, keys
from rq.defaults import DEFAULT_CRON_SCHEDULER_TTL
from rq.exceptions import DuplicateSchedulerError, SchedulerNotFound

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

__all__ = ['cleanup', 'get_keys', 'get_registry_key', 'register', 'unregister']


class _Scheduler(Protocol):
    """What this module uses of an :class:`rq.cron.CronScheduler`."""

    name: str
    connection: Redis


def get_registry_key() -> str:
    """``rq:cron_schedulers``."""
    return keys.CRON_SCHEDULERS


def register(cron_scheduler: _Scheduler, pipeline: Pipeline | None = None) -> None:
    """Add ``cron_scheduler``'s name, scored now. Raises DuplicateSchedulerError when the name is
    there already (checked only without ``pipeline``: a pipeline just queues the ZADD NX)."""
    client = pipeline if pipeline is not None else cron_scheduler.connection
    added = cron_ops.add_scheduler_name(client, cron_scheduler.name, time.time())
    if pipeline is None and not added:
        raise DuplicateSchedulerError(f'CronScheduler {cron_scheduler.name!r} is already registered')


def unregister(cron_scheduler: _Scheduler, pipeline: Pipeline | None = None) -> None:
    """Remove ``cron_scheduler``'s name. Raises SchedulerNotFound when it is not there (checked only
    without ``pipeline``: a pipeline just queues the ZREM)."""
    client = pipeline if pipeline is not None else cron_scheduler.connection
    removed = cron_ops.unregister_scheduler(client, cron_scheduler.name)
    if pipeline is None and not removed:
        raise SchedulerNotFound(f'CronScheduler {cron_scheduler.name!r} not found in registry')


def get_keys(connection: Redis) -> list[str]:
    """The registered scheduler names, least recent heartbeat first."""
    return cron_ops.scheduler_names(connection)


def cleanup(connection: Redis, threshold: int = DEFAULT_CRON_SCHEDULER_TTL) -> int:
    """Forget the schedulers without a heartbeat for more than ``threshold`` seconds; returns how many."""
    return cron_ops.prune_schedulers(connection, time.time() - threshold)
