"""Job functions and helper classes for the Job model, result and serializer tests (tests/core)."""

from __future__ import annotations

import asyncio
from typing import Any


def multiply(a: int, b: int) -> int:
    return a * b


def current_job_info() -> dict[str, Any]:
    """What ``get_current_job()`` sees while the job runs."""
    from rq import get_current_job

    job = get_current_job()
    return {'id': job.id if job is not None else None, 'args': list(job.args) if job is not None else None}


def nested_current_job_ids(inner_job_id: str) -> list[str | None]:
    """Performs another job from inside this one: the current job must switch and come back."""
    from rq import get_current_job
    from rq.job import Job

    outer = get_current_job()
    assert outer is not None
    inner = Job.fetch(inner_job_id, connection=outer.connection)
    inner_seen = inner.perform()
    after = get_current_job()
    return [outer.id, inner_seen, after.id if after is not None else None]


async def async_current_job_id(delay: float = 0.01) -> str | None:
    from rq import get_current_job

    await asyncio.sleep(delay)
    job = get_current_job()
    return job.id if job is not None else None


def raise_value_error() -> None:
    raise ValueError('model boom')


class Counter:
    """A picklable object with a bound method and ``__call__``."""

    def __init__(self, start: int) -> None:
        self.start = start

    def increment(self, by: int = 1) -> int:
        return self.start + by

    def __call__(self, x: int) -> int:
        return self.start - x

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Counter) and other.start == self.start

    def __hash__(self) -> int:
        return hash(self.start)


class CustomSerializer:
    """A serializer class importable by dotted path (JSON with a marker prefix)."""

    @staticmethod
    def dumps(obj: Any) -> bytes:
        import json

        return b'CS:' + json.dumps(obj).encode('utf-8')

    @staticmethod
    def loads(data: bytes) -> Any:
        import json

        if not data.startswith(b'CS:'):
            raise ValueError('not a CustomSerializer payload')
        return json.loads(data[3:].decode('utf-8'))


class NotASerializer:
    """Has dumps but no loads."""

    @staticmethod
    def dumps(obj: Any) -> bytes:
        return b''


NOT_CALLABLE = 42
