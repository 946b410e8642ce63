"""Job functions and pluggable classes for the ``rq`` command's tests (tests/cli)."""

from __future__ import annotations

import json
import os
from typing import Any

import redis

from rq import Queue
from rq.job import Job
from rq.worker import SimpleWorker


def echo(*args: Any, **kwargs: Any) -> Any:
    return [list(args), kwargs]


def fail(message: str = 'boom') -> None:
    raise ValueError(message)


def say_hello(name: str = 'World') -> str:
    return f'Hi there, {name}!'


def touch(path: str) -> str:
    """Create the file ``path``: proof that a worker ran the job."""
    with open(path, 'w') as handle:
        handle.write(str(os.getpid()))
    return path


def record_failure(job: Any, exc_type: Any, exc_value: Any, traceback: Any) -> bool:
    """An exception handler that leaves a trace in Redis (``cli-handled`` holds the job ids)."""
    job.connection.rpush('cli-handled', job.id)
    return True


class CliQueue(Queue):
    """A queue subclass, to check that --queue-class reaches the commands."""


class CliJob(Job):
    """A job subclass, to check that --job-class reaches the commands."""


class CliWorker(SimpleWorker):
    """A worker subclass that marks the jobs it runs (``cli-worker-ran`` holds their ids)."""

    def execute_job(self, job: Any, queue: Any, execution: Any = None) -> Any:
        self.connection.rpush('cli-worker-ran', job.id)
        return super().execute_job(job, queue, execution)


class CountingRedis(redis.Redis):
    """A connection class, to check that --connection-class is used (``CREATED`` counts instances)."""

    CREATED = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).CREATED += 1
        super().__init__(*args, **kwargs)


class Utf8JsonSerializer:
    """A serializer reachable by dotted path (JSON, as bytes)."""

    @staticmethod
    def dumps(obj: Any) -> bytes:
        return json.dumps(obj).encode()

    @staticmethod
    def loads(data: bytes) -> Any:
        return json.loads(data)


NOT_A_CLASS = 42


class BrokenQueue(Queue):
    """A queue class whose listing fails: an unexpected error inside a command."""

    @classmethod
    def all(cls, *args: Any, **kwargs: Any) -> list[Queue]:
        raise RuntimeError('broken on purpose')
