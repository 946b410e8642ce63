"""Writing a job onto its queue (or deferring or scheduling it) and reading back the outcome."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from redis.exceptions import ConnectionError, TimeoutError

from . import _replicas
from ._jobs.callable import warn_if_unimportable
from ._redis import acknowledged as acknowledged_calls
from ._redis import codec, keys, ops, scripts
from ._utils import now
from .exceptions import DeserializationError, DuplicateJobError
from .job import JobStatus

if TYPE_CHECKING:
    from redis.client import Pipeline

    from .job import Job
    from .queue import Queue


def place(
    queue: Queue,
    job: Job,
    pipeline: Pipeline | None,
    placement: str,
    unique: bool,
    score: int = 0,
    check_dependencies: bool = True,
    predict: bool = True,
) -> Job:
    """Save ``job`` and place it with one script call (``ops.enqueue``); see there for ``placement``.

    Without a pipeline the job's status reflects what happened; with one, the likely outcome
    (unless ``predict`` is False: the caller applies the real outcome after ``execute()``).

    With the queue's ``replicas`` set and no pipeline, the call is followed by ``WAIT`` on its
    connection (see :mod:`rq._replicas`); a caller's pipeline is the caller's to send, and to wait
    on, and a synchronous queue (``is_async=False``) runs the job here and now: neither waits.

    Raises:
        ReplicationTimeout: fewer replicas than asked acknowledged the write in time (it is done).
    """
    call, moment = prepare_call(queue, job, placement, unique, score, check_dependencies, pipeline is not None)
    if unique and pipeline is not None and job.exists(job.id, queue.connection):
        raise DuplicateJobError(f'Job {job.id} already exists')
    if pipeline is None and queue.replicas and queue._is_async:
        [outcome], acknowledged = acknowledged_calls.run_then_wait(
            queue.connection, 'enqueue', [call], queue.replicas, _replicas.timeout_ms(queue.replica_timeout)
        )
        apply_outcome(job, outcome, moment)
        _replicas.check([job], acknowledged, queue.replicas, queue.replica_timeout)
        return job
    outcome = send(queue.connection, call) if pipeline is None else scripts.run('enqueue', pipeline, *call)
    if pipeline is not None and not predict:
        return job
    if pipeline is not None:  # the reply comes with execute(); assume the likely outcome
        if placement == 'S':
            outcome = ops.SCHEDULED
        elif placement in ('L', 'R') and check_dependencies and _may_be_deferred(queue, job):
            outcome = ops.DEFERRED
        else:
            outcome = ops.QUEUED
    apply_outcome(job, outcome, moment)
    return job


def send(connection: Any, call: tuple[list[str], list[Any]]) -> Any:
    """Run one ``enqueue`` script call and return its outcome: packed and sent by
    :func:`scripts.call` (a third of the time redis-py's command path takes for its ~60 arguments);
    when that connection fails, sent again through redis-py, with its retries: the call's token makes
    a second copy return the first one's outcome, if the first one ran."""
    try:
        return scripts.call('enqueue', connection, *call)
    except (ConnectionError, TimeoutError):
        # (under the client's retry policy as a whole too: redis-py 5 reconnects outside it)
        retry = connection.get_retry() if hasattr(connection, 'get_retry') else None
        if retry is None:
            return scripts.run('enqueue', connection, *call)
        return retry.call_with_retry(lambda: scripts.run('enqueue', connection, *call), lambda error: None)


def place_acknowledged(queue: Queue, jobs: Sequence[Job], fronts: Sequence[bool]) -> list[Job]:
    """``enqueue_many`` on a queue with ``replicas`` set: the jobs placed in one MULTI/EXEC (as
    ``place`` does them in a transaction), then ``WAIT`` on the same connection.

    Raises:
        ReplicationTimeout: fewer replicas than asked acknowledged the write in time (it is done).
    """
    prepared = [
        prepare_call(queue, job, 'L' if at_front else 'R', False, 0, True, in_pipeline=True)
        for job, at_front in zip(jobs, fronts, strict=True)
    ]
    outcomes, acknowledged = acknowledged_calls.run_then_wait(
        queue.connection,
        'enqueue',
        [call for call, _ in prepared],
        queue.replicas,
        _replicas.timeout_ms(queue.replica_timeout),
        atomic=True,
    )
    for job, outcome, (_, moment) in zip(jobs, outcomes, prepared, strict=True):
        apply_outcome(job, outcome, moment)
    _replicas.check(jobs, acknowledged, queue.replicas, queue.replica_timeout)
    return list(jobs)


def prepare_call(
    queue: Queue,
    job: Job,
    placement: str,
    unique: bool,
    score: int,
    check_dependencies: bool,
    in_pipeline: bool,
) -> tuple[tuple[list[str], list[Any]], datetime]:
    """The ``enqueue`` script call that saves and places ``job`` (keys, arguments), and its moment."""
    job.origin = queue.name
    rate_limit = _rate_limit_of(job, in_pipeline, placement, unique)
    warn_if_unimportable_job(queue, job)
    if job.timeout is None:
        job.timeout = queue._default_timeout
    moment = now()
    mapping = job.to_dict()
    if placement == 'N':
        mapping['status'] = JobStatus.QUEUED.value
        mapping['enqueued_at'] = codec.format_timestamp(moment)
    call = ops.enqueue_call(
        job.id,
        queue.name,
        mapping,
        placement=placement,
        unique=unique,
        ttl=job.ttl,
        score=score or codec.to_score(moment),
        enqueued_at=codec.format_timestamp(moment),
        dependency_ids=job._dependency_ids if check_dependencies else (),
        allow_failed_dependencies=bool(job.allow_dependency_failures),
        group_id=job.group_id,
        rate_limit=rate_limit,
    )
    return call, moment


def _rate_limit_of(job: Job, in_pipeline: bool, placement: str, unique: bool) -> tuple[str, int] | None:
    """The (key, concurrency) a job placed on its queue goes through, with RQ 3.0's restrictions.

    Raises:
        ValueError: a rate-limited job with ``unique=True`` or a caller's pipeline (its promotion
            would run inside that pipeline, and a later save of the job on it would undo it).
    """
    if not job.has_rate_limit or placement not in ('L', 'R'):
        return None
    if unique:
        raise ValueError('unique=True is not supported with rate-limited jobs')
    if in_pipeline:
        raise ValueError('rate-limited jobs cannot be enqueued with a pipeline')
    if placement == 'L':
        job.enqueue_at_front = True  # kept on the job: its promotion may come later, from any process
    return job.rate_limit_key or '', job.rate_limit_concurrency or 0


def warn_if_unimportable_job(queue: Queue, job: Job) -> None:
    """Log (never raise) when a worker will not be able to import what the job names: its function
    (unless it runs here, ``is_async=False``) or a callback."""
    try:
        func_name, instance = job.func_name, job.instance
    except DeserializationError:
        return
    if queue._is_async:
        warn_if_unimportable(func_name, instance, job.id)
    for kind in ('success', 'failure', 'stopped'):
        name = getattr(job, f'_{kind}_callback_name')
        if name:
            warn_if_unimportable(name, None, job.id, f'on_{kind} callback')


def _may_be_deferred(queue: Queue, job: Job) -> bool:
    """Whether a job placed in a pipeline is likely to be deferred when the pipeline runs.

    A dependency that does not exist yet counts as unmet: it may be written by the same pipeline.
    """
    if not job._dependency_ids:
        return False
    with queue.connection.pipeline(transaction=False) as pipe:
        for dependency_id in job._dependency_ids:
            pipe.hget(keys.job_key(dependency_id), 'status')
        statuses = [codec.text(raw) if raw else None for raw in pipe.execute()]
    allowed = {JobStatus.FINISHED.value}
    if job.allow_dependency_failures:
        allowed.add(JobStatus.FAILED.value)
    return any(status not in allowed for status in statuses)


def check_unique(unique: bool, job_id: str | None, depends_on: Any) -> None:
    """RQ's checks of ``enqueue``/``enqueue_call``: ``unique=True`` needs a ``job_id`` and no
    dependency (an empty ``depends_on`` is none)."""
    if unique and not job_id:
        raise ValueError('unique=True requires an explicit job_id')
    if unique and depends_on:
        raise ValueError('unique=True is not supported with job dependencies')


def apply_outcome(job: Job, outcome: Any, moment: datetime) -> None:
    """Reflect an ``enqueue.lua`` outcome on the job object (raising for a duplicate)."""
    outcome = int(outcome)
    if outcome == ops.DUPLICATE:
        raise DuplicateJobError(f'Job {job.id} already exists')
    if outcome in (ops.QUEUED, ops.SAVED):
        job._status = JobStatus.QUEUED
        job.enqueued_at = moment
    elif outcome == ops.DEFERRED:
        job._status = JobStatus.DEFERRED
    elif outcome == ops.SCHEDULED:
        job._status = JobStatus.SCHEDULED
    elif outcome == ops.RATE_LIMITED:
        job._status = JobStatus.RATE_LIMITED
