from __future__ import annotations

import pytest
import redis

from rq import Queue


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    return Queue(connection=connection)
