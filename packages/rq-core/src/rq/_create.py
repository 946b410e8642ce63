"""Building a ``Job`` from a function call and enqueue options, with every check done up front."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import _links
from ._jobs.callable import default_description
from ._jobs.options import Callback, Retry
from ._jobs.status import JobStatus
from ._utils import parse_timeout
from .dependency import Dependency
from .exceptions import InvalidJobDependency, SerializationError
from .repeat import Repeat
from .serializers import serializer_hint
from .webhook import Webhook

if TYPE_CHECKING:
    from .job import Job


def build_job(cls: type[Job], func: Any, **options: Any) -> Job:
    args = options['args']
    kwargs = options['kwargs']
    args = () if args is None else args
    kwargs = {} if kwargs is None else kwargs
    if not isinstance(args, (tuple, list)):
        raise TypeError(f'{args!r} is not a valid args list')
    if not isinstance(kwargs, dict):
        raise TypeError(f'{kwargs!r} is not a valid kwargs dict')

    job = cls(options['id'], connection=options['connection'], serializer=options['serializer'])
    job._set_call(func, args, kwargs)

    timeout = parse_timeout(options['timeout'])
    if timeout == 0:
        raise ValueError('0 timeout is not allowed. Use -1 for infinite timeout')
    ttl = parse_timeout(options['ttl'])
    if ttl is not None and ttl <= 0:
        raise ValueError('Job ttl must be greater than 0 (leave it out for no limit)')
    job.timeout = timeout
    job.ttl = ttl
    job.result_ttl = parse_timeout(options['result_ttl'])
    job.failure_ttl = parse_timeout(options['failure_ttl'])

    job.origin = options['origin'] or ''
    description = options['description']
    job.description = description or default_description(job._func_name, args, kwargs)  # '' too, as RQ
    job._status = JobStatus(options['status']) if options['status'] is not None else JobStatus.CREATED
    meta = options['meta']
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f'meta must be a dict, not {type(meta).__name__}')
    job.meta = meta or {}  # the caller's dict itself, as RQ keeps it
    job.group_id = options['group_id']

    _apply_retry(job, options['retry'])
    _apply_repeat(job, options['repeat'])
    _apply_callbacks(job, options['on_success'], options['on_failure'], options['on_stopped'])
    _apply_webhooks(job, options['webhooks'])
    _apply_dependencies(job, options['depends_on'])

    job.data  # encode now, so an unencodable call fails before anything is written  # noqa: B018
    _check_meta_encodes(job)
    return job


def _check_meta_encodes(job: Job) -> None:
    if not job.meta:
        return
    try:
        job.serializer.dumps(job.meta)
    except Exception as exc:
        raise SerializationError(
            f'Cannot serialize the meta of job {job.id}: {exc}{serializer_hint(job.serializer)}'
        ) from exc


def _apply_retry(job: Job, retry: Any) -> None:
    if retry is None:
        return
    if not isinstance(retry, Retry):
        raise TypeError(f'retry must be a Retry instance, not {retry!r}')
    job.retries_left = retry.max
    job.retry_intervals = list(retry.intervals)
    job.enqueue_at_front_on_retry = retry.enqueue_at_front


def _apply_repeat(job: Job, repeat: Any) -> None:
    if repeat is None:
        return
    if not isinstance(repeat, Repeat):
        raise TypeError(f'repeat must be a Repeat instance, not {repeat!r}')
    job.repeats_left = repeat.times
    job.repeat_intervals = Repeat.stored_intervals(repeat.times, repeat.intervals)


def _apply_callbacks(job: Job, on_success: Any, on_failure: Any, on_stopped: Any) -> None:
    for kind, callback in (('success', on_success), ('failure', on_failure), ('stopped', on_stopped)):
        if callback is None:
            continue
        if not isinstance(callback, Callback):
            warnings.warn(
                f'Passing a bare function or string as on_{kind} is deprecated; use Callback(...)',
                DeprecationWarning,
                stacklevel=4,
            )
            callback = Callback(callback)
        setattr(job, f'_{kind}_callback_name', callback.name)
        setattr(job, f'_{kind}_callback_timeout', callback.timeout)


def _apply_webhooks(job: Job, webhooks: Iterable[Any] | None) -> None:
    if not webhooks:
        return
    items = list(webhooks) if isinstance(webhooks, Iterable) and not isinstance(webhooks, (str, dict)) else None
    if items is None or not all(isinstance(item, Webhook) for item in items):
        raise TypeError(
            f'webhooks must be a sequence of Webhook instances, not {webhooks!r} '
            '(build each with Webhook(url, job_status, method=..., headers=..., timeout=...))'
        )
    job.webhooks = items


def _apply_dependencies(job: Job, depends_on: Any) -> None:
    if depends_on is None:
        return
    entries = depends_on if isinstance(depends_on, (list, tuple)) else [depends_on]
    ids: list[str] = []
    saw_dependency_object = False
    allow_failure = enqueue_at_front = False
    for entry in entries:
        if isinstance(entry, Dependency):
            saw_dependency_object = True
            allow_failure = allow_failure or entry.allow_failure
            enqueue_at_front = enqueue_at_front or entry.enqueue_at_front
            items = entry.dependencies
        else:
            items = [entry]
        for item in items:
            if isinstance(item, _links.job_class()):
                dependency_id = item.id
            elif isinstance(item, str):
                dependency_id = item
            else:
                raise InvalidJobDependency(f'depends_on takes jobs, job ids or Dependency objects, not {item!r}')
            if dependency_id == job.id:
                raise InvalidJobDependency(f'Job {job.id} cannot depend on itself')
            if dependency_id not in ids:
                ids.append(dependency_id)
    if not ids:
        return  # an empty depends_on means no dependency, as in RQ
    job._dependency_ids = ids
    if saw_dependency_object:
        job.allow_dependency_failures = allow_failure
        job.enqueue_at_front = enqueue_at_front
