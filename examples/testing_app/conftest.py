"""Fixtures of the example app, built on rq-testing's (the plugin is loaded by its entry point)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from redis import Redis

from shop import jobs


@pytest.fixture
def outbox(rq_connection: Redis) -> Callable[[], list[str]]:
    """The messages the shop sent so far."""

    def read() -> list[str]:
        return [item.decode() for item in rq_connection.lrange(jobs.OUTBOX, 0, -1)]

    return read
