"""Job functions for the tests. Importable without rq, so upstream rq's workers can run them too."""

from __future__ import annotations

import os
import time
from typing import Any


def say_hello(name: str = 'World') -> str:
    return f'Hi there, {name}!'


def add(a: int, b: int = 1) -> int:
    return a + b


def echo(*args: Any, **kwargs: Any) -> Any:
    return [list(args), kwargs]


def div_by_zero(x: int = 1) -> float:
    return x / 0


def fail(message: str = 'boom') -> None:
    raise ValueError(message)


def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def getpid() -> int:
    return os.getpid()


def return_none() -> None:
    return None


async def async_add(a: int, b: int) -> int:
    return a + b


def current_job_id() -> str | None:
    from rq import get_current_job

    job = get_current_job()
    return job.id if job is not None else None


def fail_while_flag(key: str) -> str:
    """Fail while the Redis key ``key`` exists (read on the job's own connection); else 'passed'."""
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    if job.connection.exists(key):
        raise RuntimeError(f'{key} is set')
    return 'passed'


def set_meta(key: str, value: Any) -> Any:
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    job.meta[key] = value
    job.save_meta()
    return value


def unpicklable_return() -> Any:
    import threading

    return threading.Lock()


class Calculator:
    def __init__(self, base: int) -> None:
        self.base = base

    def add(self, x: int) -> int:
        return self.base + x

    def __call__(self, x: int) -> int:
        return self.base * x

    @staticmethod
    def static_double(x: int) -> int:
        return x * 2


# Callbacks record what they saw in Redis (key 'callback:<kind>:<job id>'), so tests can check them.


def record_success(job: Any, connection: Any, result: Any, *args: Any, **kwargs: Any) -> None:
    connection.set(f'callback:success:{job.id}', repr(result))


def record_failure(job: Any, connection: Any, exc_type: Any, exc_value: Any, tb: Any) -> None:
    connection.set(f'callback:failure:{job.id}', f'{exc_type.__name__}: {exc_value}')


def record_stopped(job: Any, connection: Any) -> None:
    connection.set(f'callback:stopped:{job.id}', 'stopped')


def failing_callback(job: Any, connection: Any, *args: Any) -> None:
    raise RuntimeError('callback failed')
