"""Fixtures for rq-testing's own tests: every behaviour is checked on the fake and on a real Redis.

The real server is the kit's own throwaway ``RedisServerProcess`` (one per session, started only
when a real-mode test runs).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from rq import Queue
from rq.testing import RedisServerProcess, fake_connection


@pytest.fixture(scope='session')
def kit_redis_server() -> Iterator[RedisServerProcess]:
    with RedisServerProcess() as server:
        yield server


@pytest.fixture
def real_redis(kit_redis_server: RedisServerProcess) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(kit_redis_server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture(params=['fake', 'real'])
def kit_connection(request: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    """A fake connection, then a real one: each test using it runs in both modes."""
    if request.param == 'fake':
        client: redis.Redis = fake_connection()
        yield client
        client.close()
    else:
        yield request.getfixturevalue('real_redis')


@pytest.fixture
def kit_queue(kit_connection: redis.Redis) -> Queue:
    return Queue('default', connection=kit_connection)
