"""Fixtures of the example app, built on rq-testing's (the plugin is loaded by its entry point), and
the ``needs`` marker: a test that needs an rq distribution beyond rq-core and rq-testing is skipped,
saying which and how to install it, when that distribution is not installed (see README.md)."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable

import pytest
from redis import Redis

from rq.exceptions import MissingDistributionError
from shop import jobs


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in item.iter_markers('needs'):
        (distribution,) = marker.args
        try:
            importlib.metadata.distribution(distribution)
        except importlib.metadata.PackageNotFoundError:
            # rq's own error message ends with the command that installs it into this environment
            pytest.skip(str(MissingDistributionError(item.name, distribution)))


@pytest.fixture
def outbox(rq_connection: Redis) -> Callable[[], list[str]]:
    """The messages the shop sent so far."""

    def read() -> list[str]:
        return [item.decode() for item in rq_connection.lrange(jobs.OUTBOX, 0, -1)]

    return read
