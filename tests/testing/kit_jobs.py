"""Job functions for rq-testing's tests (importable by name, as jobs must be)."""

from __future__ import annotations

from typing import Any

from rq import Retry, get_current_job

CALLS = 'kit:calls'
COUNTER = 'kit:counter:'


def _record(name: str) -> None:
    job = get_current_job()
    assert job is not None
    job.connection.rpush(CALLS, name)


def add(a: int, b: int) -> int:
    _record(f'add({a}, {b})')
    return a + b


def echo(value: Any = None, **kwargs: Any) -> Any:
    _record(f'echo({value!r})')
    return value


def fail(message: str = 'boom') -> None:
    _record(f'fail({message!r})')
    raise ValueError(message)


def fail_until(key: str, successes_after: int) -> int:
    """Raises until called more than ``successes_after`` times (counted in Redis under ``key``)."""
    job = get_current_job()
    assert job is not None
    attempt = int(job.connection.incr(COUNTER + key))
    _record(f'fail_until({key!r}) #{attempt}')
    if attempt <= successes_after:
        raise RuntimeError(f'attempt {attempt}')
    return attempt


def ask_for_retry(max_retries: int, interval: int = 0) -> Retry:
    _record('ask_for_retry')
    return Retry(max=max_retries, interval=interval)


def enqueue_itself() -> None:
    job = get_current_job()
    assert job is not None
    from rq import Queue

    Queue(job.origin, connection=job.connection).enqueue(enqueue_itself)


def on_success(job: Any, connection: Any, result: Any) -> None:
    connection.rpush(CALLS, f'success callback {result!r}')


def on_failure(job: Any, connection: Any, exc_type: Any, exc_value: Any, traceback: Any) -> None:
    connection.rpush(CALLS, f'failure callback {exc_type.__name__}')


def calls(connection: Any) -> list[str]:
    return [item.decode() for item in connection.lrange(CALLS, 0, -1)]
