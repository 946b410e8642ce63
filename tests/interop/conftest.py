"""The interop tests whose scenarios hold for every upstream release run against each of them; the
worker fleets of the mixed-fleet tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from fleet import Fleet
from redis_server import RedisServer
from upstream import UPSTREAM_3_VERSION, UPSTREAM_VERSION, set_release_under_test

#: Modules whose every test runs once per upstream release (the others name the release they need).
BOTH_RELEASES = {'test_wire_format', 'test_upstream_runs_ours', 'test_we_read_upstream'}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.module.__name__.rsplit('.', 1)[-1] in BOTH_RELEASES:
        metafunc.fixturenames.append('upstream_release')
        metafunc.parametrize('upstream_release', [UPSTREAM_VERSION, UPSTREAM_3_VERSION], indirect=True)


@pytest.fixture
def upstream_release(request: pytest.FixtureRequest) -> Iterator[str]:
    """The upstream release that ``run_upstream``/``start_upstream`` use in this test."""
    set_release_under_test(request.param)
    try:
        yield request.param
    finally:
        set_release_under_test(UPSTREAM_VERSION)


@pytest.fixture
def fleet(redis_server: RedisServer, connection: redis.Redis) -> Iterator[Fleet]:
    """The worker processes a test starts, killed at its end if still running."""
    processes = Fleet(redis_server.port)
    try:
        yield processes
    finally:
        processes.kill_all()
