"""The names of cron jobs that have enqueued, with their last enqueue time (upstream path
``rq.cron_job_registry``): the sorted set ``rq:cron_jobs``, scored by float epoch."""

from __future__ import annotations

import time

from redis import Redis
from redis.client import Pipeline

from rq._redis import cron_ops, keys
from rq.defaults import DEFAULT_CRON_JOB_HISTORY_TTL

__all__ = ['add', 'get_names', 'get_registry_key', 'remove_stale_entries']


def get_registry_key() -> str:
    """``rq:cron_jobs``."""
    return keys.CRON_JOBS


def add(name: str, connection: Redis | Pipeline, enqueue_timestamp: float | None = None) -> None:
    """Record that cron job ``name`` enqueued at ``enqueue_timestamp`` (default now)."""
    cron_ops.add_cron_job_name(connection, name, enqueue_timestamp or time.time())


def get_names(connection: Redis, cleanup: bool = True) -> list[str]:
    """Cron job names, least recently enqueued first (with ``cleanup``, dropping those idle a year)."""
    if cleanup:
        remove_stale_entries(connection)
    return cron_ops.cron_job_names(connection)


def remove_stale_entries(connection: Redis, threshold: int = DEFAULT_CRON_JOB_HISTORY_TTL) -> int:
    """Forget names whose last enqueue is more than ``threshold`` seconds ago; returns how many."""
    return cron_ops.prune_cron_job_names(connection, time.time() - threshold)
