"""Job functions of the test site, importable by the workers that django-rq's commands start."""

import os
import time

import redis
from django.conf import settings
from django_rq import job


def _redis() -> redis.Redis:
    return redis.Redis(host='127.0.0.1', port=settings.REDIS_PORT)


def add(a: int, b: int) -> int:
    return a + b


def describe_process(tag: str) -> dict[str, object]:
    """Which process ran the job (a pool's workers are separate processes)."""
    return {'tag': tag, 'pid': os.getpid()}


def fail(message: str) -> None:
    raise ValueError(message)


def mark(key: str) -> str:
    """Count a run in Redis (the cron test waits for it)."""
    _redis().incr(key)
    return key


def wait_for_key(started_key: str, release_key: str, limit: float = 60.0) -> str:
    """Say it started, then block until the test sets ``release_key`` (so the job is seen as started)."""
    connection = _redis()
    connection.set(started_key, os.getpid())
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if connection.exists(release_key):
            return 'released'
        time.sleep(0.05)
    raise TimeoutError(f'{release_key} was never set')


@job
def decorated_default(x: int) -> int:
    return x * 2


@job('high')
def decorated_high(x: int) -> int:
    return x * 3


@job('low', timeout=1234, result_ttl=77)
def decorated_with_options(x: int) -> int:
    return x * 4
