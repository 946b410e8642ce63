from __future__ import annotations

import time

import pytest
import redis

from rq import Queue


class FakeClock:
    """A ``time.time`` replacement the test moves by hand."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    return Queue(connection=connection)
