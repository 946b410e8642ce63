from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from redis_server import RedisServer


@pytest.fixture(scope='session')
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def connection(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A connection to the private test server, emptied before each test."""
    client = redis.Redis(port=redis_server.port)
    client.flushall()
    yield client
    client.close()
