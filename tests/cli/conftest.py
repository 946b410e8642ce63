from __future__ import annotations

import pytest
import redis

from redis_server import RedisServer


@pytest.fixture
def url(redis_server: RedisServer, connection: redis.Redis) -> str:
    """The URL of the test Redis, emptied for this test (through the ``connection`` fixture)."""
    return redis_server.url
