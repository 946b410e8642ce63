"""Jobs whose return value cannot be stored (tests/worker/test_unserializable_results.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from rq import get_current_job


def numbers(count: int) -> Iterator[int]:
    """A generator function: calling it runs none of this body (so the marker is never set)."""
    job = get_current_job()
    assert job is not None
    job.connection.set(f'ran:{job.id}', 1)
    yield from range(count)


def a_lock() -> threading.Lock:
    return threading.Lock()
