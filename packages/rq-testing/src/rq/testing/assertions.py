"""Assertions about jobs: "this function was enqueued with these arguments", statuses, results.

A queue's jobs are the ones waiting on it and the ones its registries hold (deferred, scheduled,
started, finished, failed, canceled), so an assertion made after the jobs ran (eager runner,
worker, ``is_async=False``) still finds them. Expected arguments are compared with ``==`` from the
expected side, so ``unittest.mock.ANY`` and other matchers work::

    job = assert_enqueued(queue, send_welcome, 'ada@example.com', locale=ANY)
    run_until_empty(queue)
    assert_job_result(job, 'sent')
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rq._jobs.callable import describe_callable
from rq.exceptions import NoSuchJobError
from rq.job import JobStatus

if TYPE_CHECKING:
    from rq.job import Job
    from rq.queue import Queue

__all__ = [
    'assert_enqueued',
    'assert_job_failed',
    'assert_job_result',
    'assert_job_status',
    'assert_not_enqueued',
    'queue_jobs',
]

_REGISTRY_ORDER = ('deferred', 'scheduled', 'started', 'finished', 'failed', 'canceled')
_StatusFilter = str | JobStatus | Iterable[str | JobStatus] | None


def _func_name(func: Any) -> str:
    return func if isinstance(func, str) else describe_callable(func)[0]


def _statuses(status: _StatusFilter) -> set[str] | None:
    if status is None:
        return None
    items = [status] if isinstance(status, (str, JobStatus)) else list(status)
    return {JobStatus(item).value for item in items}


def queue_jobs(queue: Queue, func: Any = None, *, status: _StatusFilter = None) -> list[Job]:
    """The jobs of ``queue`` (waiting, then those in its registries), optionally only those of
    ``func`` (a callable or a dotted name) and with ``status`` (one or several)."""
    registries = {
        'deferred': queue.deferred_job_registry,
        'scheduled': queue.scheduled_job_registry,
        'started': queue.started_job_registry,
        'finished': queue.finished_job_registry,
        'failed': queue.failed_job_registry,
        'canceled': queue.canceled_job_registry,
    }
    job_ids = queue.get_job_ids()
    for kind in _REGISTRY_ORDER:
        job_ids += [job_id for job_id in registries[kind].get_job_ids(cleanup=False) if job_id not in job_ids]
    jobs = [job for job in queue.job_class.fetch_many(job_ids, queue.connection, serializer=queue.serializer) if job]
    wanted_name = _func_name(func) if func is not None else None
    wanted_statuses = _statuses(status)
    return [
        job
        for job in jobs
        if (wanted_name is None or _safe_func_name(job) == wanted_name)
        and (wanted_statuses is None or job.get_status(refresh=False).value in wanted_statuses)
    ]


def _safe_func_name(job: Job) -> str:
    try:
        return job.func_name
    except Exception:
        return '<undecodable>'


def _matches(job: Job, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    try:
        return bool(args == tuple(job.args) and kwargs == dict(job.kwargs))
    except Exception:
        return False


def _describe(job: Job) -> str:
    try:
        call = job.get_call_string()
    except Exception:
        call = _safe_func_name(job)
    return f'{call} [{job.get_status(refresh=False).value}, id {job.id}]'


def _call(func_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f'{k}={v!r}' for k, v in sorted(kwargs.items())]
    return f'{func_name}({", ".join(parts)})'


def _listing(jobs: list[Job]) -> str:
    return '\n'.join(f'  - {_describe(job)}' for job in jobs) if jobs else '  (none)'


def assert_enqueued(queue: Queue, func: Any, *args: Any, **kwargs: Any) -> Job:
    """Assert that ``func(*args, **kwargs)`` was enqueued on ``queue`` (in any state since); returns
    the job (the first one, when several match)."""
    name = _func_name(func)
    jobs = queue_jobs(queue)
    for job in jobs:
        if _safe_func_name(job) == name and _matches(job, args, kwargs):
            return job
    raise AssertionError(
        f'{_call(name, args, kwargs)} was not enqueued on queue {queue.name!r}. Its jobs:\n{_listing(jobs)}'
    )


def assert_not_enqueued(queue: Queue, func: Any, *args: Any, **kwargs: Any) -> None:
    """Assert that ``func`` was not enqueued on ``queue``: with these arguments, or with any
    arguments when none are given."""
    name = _func_name(func)
    any_arguments = not args and not kwargs
    found = [job for job in queue_jobs(queue, name) if any_arguments or _matches(job, args, kwargs)]
    if found:
        what = name if any_arguments else _call(name, args, kwargs)
        raise AssertionError(f'{what} was enqueued on queue {queue.name!r}:\n{_listing(found)}')


def _refreshed(job: Job) -> Job:
    try:
        job.refresh()
    except NoSuchJobError:
        raise AssertionError(f'Job {job.id} no longer exists (deleted, or its result_ttl expired)') from None
    return job


def _failure_text(job: Job) -> str:
    result = job.latest_result()
    text = (result.exc_string or '') if result is not None else ''
    return text.strip()


def assert_job_status(job: Job, status: str | JobStatus) -> None:
    """Assert the job's status as stored in Redis now."""
    expected = JobStatus(status)
    actual = _refreshed(job).get_status(refresh=False)
    if actual != expected:
        detail = _failure_text(job) if actual in (JobStatus.FAILED, JobStatus.STOPPED) else ''
        suffix = f'\nIts latest failure:\n{detail}' if detail else ''
        raise AssertionError(f'Job {job.id} ({_safe_func_name(job)}) is {actual.value}, not {expected.value}{suffix}')


def assert_job_result(job: Job, expected: Any) -> None:
    """Assert that the job finished and returned ``expected`` (compared with ``==``)."""
    assert_job_status(job, JobStatus.FINISHED)
    value = job.return_value(refresh=True)
    if not expected == value:
        raise AssertionError(f'Job {job.id} ({_safe_func_name(job)}) returned {value!r}, not {expected!r}')


def assert_job_failed(job: Job, exc_type: type[BaseException] | str | None = None, match: str | None = None) -> str:
    """Assert that the job failed; optionally that its traceback names ``exc_type`` (a class or its
    name) and matches the regular expression ``match``. Returns the traceback text."""
    assert_job_status(job, JobStatus.FAILED)
    text = _failure_text(job)
    if exc_type is not None:
        name = exc_type if isinstance(exc_type, str) else exc_type.__name__
        if not re.search(rf'(^|[.\s]){re.escape(name)}(:|$)', text, re.MULTILINE):
            raise AssertionError(f'Job {job.id} failed, but not with {name}:\n{text}')
    if match is not None and not re.search(match, text):
        raise AssertionError(f'Job {job.id} failed, but its traceback does not match {match!r}:\n{text}')
    return text
