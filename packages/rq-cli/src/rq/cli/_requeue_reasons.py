"""Requeueing one failed job for ``rq requeue``, and saying in words why an id was not requeued.

RQ 2.12's command stops with a traceback at the first id it cannot requeue; a count of failures
(its summary line) would not tell a user which id to look at either, nor what to do about it (wrong
queue, a typo, a job that already ran, data written with another serializer). Each reason here
names the state the id was found in, so the command can go on with the other ids.
"""

from __future__ import annotations

from redis import Redis

from rq.exceptions import DeserializationError, InvalidJobOperation, InvalidJobOperationError, NoSuchJobError
from rq.job import JobStatus
from rq.registry import FailedJobRegistry

from ._job_prefix import LISTED, longer_job_ids


def requeue_or_reason(registry: FailedJobRegistry, namespace: str, job_id: str, at_front: bool) -> str | None:
    """Requeue ``job_id`` from ``registry``; None when that worked, else why it did not.

    A job whose data cannot be read stays in the registry untouched (nothing was written).
    """
    try:
        registry.requeue(job_id, at_front=at_front)
    except (InvalidJobOperation, InvalidJobOperationError):
        return _not_in_registry(registry, namespace, job_id)
    except NoSuchJobError:
        return 'its job data is gone (expired or deleted); its entry was removed from the failed job registry'
    except DeserializationError as exc:
        return f'cannot read its job data (is --serializer right?): {exc}; it stays in the failed job registry'
    except (ValueError, TypeError) as exc:  # a registry member that is no valid id (``--all``)
        return str(exc)
    return None


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ''
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else value


def _not_in_registry(registry: FailedJobRegistry, namespace: str, job_id: str, typed: bool = True) -> str:
    """Why ``job_id`` is not in ``registry``: it names no job, a job of another state, or a job that
    failed on another queue. ``typed`` is false for an id found by its start (no further search)."""
    connection: Redis = registry.connection
    status, origin = (_text(value) for value in connection.hmget(namespace + job_id, ['status', 'origin']))
    if not status and not connection.exists(namespace + job_id):
        return _no_such_job(registry, namespace, job_id) if typed else 'it is gone'
    if status == JobStatus.FAILED.value and origin and origin != registry.name:
        return f'it failed on queue {origin!r}, not {registry.name!r} (use --queue {origin})'
    state = f'its status is {status!r}' if status else 'it has no status'
    return f'it is not in the failed job registry of queue {registry.name!r} ({state})'


def _no_such_job(registry: FailedJobRegistry, namespace: str, job_id: str) -> str:
    """ "no such job", and what other jobs it is the start of (jobs of other queues or states, since a
    unique start of a failed job id of this queue was already taken as that id)."""
    others = sorted(longer_job_ids(registry.connection, namespace, job_id))
    if not others:
        return 'no such job'
    if len(others) == 1:
        why = _not_in_registry(registry, namespace, others[0], typed=False)
        return f'no such job; it is the start of the id of job {others[0]}, but {why}'
    shown = ', '.join(others[:LISTED]) + (', ...' if len(others) > LISTED else '')
    return (
        f'no such job, and no failed job of queue {registry.name!r} has an id starting with it (other jobs do: {shown})'
    )
