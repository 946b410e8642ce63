from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from crash_support import PersistentRedisServer, ProcessGuard
from redis_server import running
from rq import Queue


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    return Queue(connection=connection)


@pytest.fixture
def guard() -> Iterator[ProcessGuard]:
    """Kills, at the end of the test, every process it was given and their descendants."""
    guard = ProcessGuard()
    try:
        yield guard
    finally:
        guard.cleanup()


@pytest.fixture
def persistent() -> Iterator[PersistentRedisServer]:
    """A private Redis whose data survives restarts and crashes (AOF, fsync always): a stop, a
    pause or a restart concerns only this test."""
    with running(PersistentRedisServer()) as server:
        yield server
