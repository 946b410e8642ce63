"""Splitting ``enqueue(f, *args, **kwargs)`` into the call and RQ's reserved options."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple


class EnqueueArgs(NamedTuple):
    """What ``Queue.parse_args`` returns (field order as in RQ 3.0: ``rate_limit`` before ``pipeline``)."""

    func: Any
    timeout: Any
    description: Any
    result_ttl: Any
    ttl: Any
    failure_ttl: Any
    depends_on: Any
    job_id: Any
    at_front: Any
    meta: Any
    retry: Any
    repeat: Any
    on_success: Any
    on_failure: Any
    on_stopped: Any
    rate_limit: Any
    pipeline: Any
    unique: Any
    args: Any
    kwargs: Any
    webhooks: Any


class EnqueueData(NamedTuple):
    """One job of ``enqueue_many``, built by ``Queue.prepare_data`` (field order as in RQ)."""

    func: Callable[..., Any] | str
    args: Any
    kwargs: Any
    timeout: Any
    result_ttl: Any
    ttl: Any
    failure_ttl: Any
    description: Any
    depends_on: Any
    job_id: Any
    at_front: Any
    meta: Any
    retry: Any
    on_success: Any
    on_failure: Any
    on_stopped: Any
    repeat: Any
    webhooks: Any


#: Keyword arguments of ``enqueue`` that configure the job instead of reaching the function.
RESERVED = (
    'job_timeout',
    'description',
    'result_ttl',
    'ttl',
    'failure_ttl',
    'depends_on',
    'job_id',
    'at_front',
    'meta',
    'retry',
    'repeat',
    'on_success',
    'on_failure',
    'on_stopped',
    'webhooks',
    'rate_limit',
    'pipeline',
    'unique',
)

#: The options of a call with no keyword arguments at all (read, never changed).
_NO_OPTIONS: dict[str, Any] = dict.fromkeys(RESERVED)


def parse_args(f: Any, *args: Any, **kwargs: Any) -> EnqueueArgs:
    """Pop the reserved keywords; ``args=``/``kwargs=`` replace the call arguments when given.

    Raises:
        TypeError: ``f`` is neither callable nor a string, or ``args=``/``kwargs=`` are mixed with
            other positional or keyword arguments for the function.
        ValueError: ``f`` comes from ``__main__`` (as RQ refuses it here; ``enqueue_call`` and
            ``Job.create`` accept it).
    """
    if not isinstance(f, str) and not callable(f):
        raise TypeError(f'The first argument of enqueue must be a callable or a dotted path, not {f!r}')
    if not isinstance(f, str) and getattr(f, '__module__', None) == '__main__':
        raise ValueError(
            f'Functions from the __main__ module cannot be processed by workers: {f!r} '
            '(move it to a module the workers can import)'
        )
    options = {name: kwargs.pop(name, None) for name in RESERVED} if kwargs else _NO_OPTIONS
    if 'args' in kwargs or 'kwargs' in kwargs:
        if args:
            raise TypeError('Extra positional arguments cannot be used with explicit args= and kwargs=')
        call_args = kwargs.pop('args', None)
        call_kwargs = kwargs.pop('kwargs', None)
        if kwargs:
            raise TypeError(
                f'Keyword arguments {sorted(kwargs)} cannot be used with explicit args= and kwargs=: '
                'put them in kwargs='
            )
        args, kwargs = tuple(call_args or ()), dict(call_kwargs or {})
    return EnqueueArgs(
        func=f,
        timeout=options['job_timeout'],
        description=options['description'],
        result_ttl=options['result_ttl'],
        ttl=options['ttl'],
        failure_ttl=options['failure_ttl'],
        depends_on=options['depends_on'],
        job_id=options['job_id'],
        at_front=bool(options['at_front']),
        meta=options['meta'],
        retry=options['retry'],
        repeat=options['repeat'],
        on_success=options['on_success'],
        on_failure=options['on_failure'],
        on_stopped=options['on_stopped'],
        rate_limit=options['rate_limit'],
        pipeline=options['pipeline'],
        unique=bool(options['unique']),
        args=args,
        kwargs=kwargs,
        webhooks=options['webhooks'],
    )
