"""Replica-acknowledged enqueueing: a queue's ``replicas`` and ``replica_timeout`` settings (or
their environment variables), and the check of what ``WAIT`` answered.

Redis replicates asynchronously: an enqueue returns once the master has the job, and a master that
dies before its replicas received the job takes it along (the replica promoted in its place never
had it). With ``replicas=N`` an enqueue returns only once N replicas hold the job; if fewer do
within ``replica_timeout`` seconds it raises :class:`~rq.exceptions.ReplicationTimeout` (the job is
written on the master all the same).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .exceptions import ReplicationTimeout

if TYPE_CHECKING:
    from .job import Job

#: The environment variable that gives ``replicas`` where a queue is created without it.
REPLICAS_ENV = 'RQ_ENQUEUE_REPLICAS'
#: The environment variable that gives ``replica_timeout`` where a queue is created without it.
REPLICA_TIMEOUT_ENV = 'RQ_ENQUEUE_REPLICA_TIMEOUT'
#: Seconds an enqueue waits for its replicas when neither the queue nor the environment says.
DEFAULT_REPLICA_TIMEOUT = 1.0


def resolve_replicas(replicas: Any) -> int:
    """How many replicas must acknowledge an enqueue: ``replicas``, or when None
    ``$RQ_ENQUEUE_REPLICAS``, else 0 (do not wait: the usual asynchronous replication).

    Raises:
        ValueError: not a whole number >= 0.
    """
    source = 'replicas'
    if replicas is None:
        replicas, source = os.environ.get(REPLICAS_ENV, '').strip() or 0, REPLICAS_ENV
    if isinstance(replicas, bool):
        raise ValueError(f'{source} must be a whole number of replicas >= 0, not {replicas!r}')
    try:
        count = int(replicas)
    except (TypeError, ValueError):
        raise ValueError(f'{source} must be a whole number of replicas >= 0, not {replicas!r}') from None
    if count < 0 or (isinstance(replicas, float) and count != replicas):
        raise ValueError(f'{source} must be a whole number of replicas >= 0, not {replicas!r}')
    return count


def resolve_timeout(timeout: Any) -> float:
    """Seconds an enqueue waits for its replicas: ``timeout``, or when None
    ``$RQ_ENQUEUE_REPLICA_TIMEOUT``, else :data:`DEFAULT_REPLICA_TIMEOUT`.

    Raises:
        ValueError: not a number > 0 (Redis's ``WAIT`` with 0 would wait for ever).
    """
    source = 'replica_timeout'
    if timeout is None:
        timeout, source = (
            os.environ.get(REPLICA_TIMEOUT_ENV, '').strip() or DEFAULT_REPLICA_TIMEOUT,
            REPLICA_TIMEOUT_ENV,
        )
    try:
        seconds = float(timeout)
    except (TypeError, ValueError):
        raise ValueError(f'{source} must be a number of seconds > 0, not {timeout!r}') from None
    if isinstance(timeout, bool) or not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f'{source} must be a number of seconds > 0, not {timeout!r}')
    return seconds


def timeout_ms(seconds: float) -> int:
    """``WAIT``'s timeout argument (milliseconds, at least 1: 0 means no timeout)."""
    return max(1, round(seconds * 1000))


def check(jobs: Sequence[Job], acknowledged: int, requested: int, timeout: float) -> None:
    """Raise :class:`~rq.exceptions.ReplicationTimeout` when fewer than ``requested`` replicas
    acknowledged the write of ``jobs``."""
    if acknowledged >= requested:
        return
    error = ReplicationTimeout([job.id for job in jobs], acknowledged, requested, timeout)
    error.jobs = list(jobs)
    raise error
