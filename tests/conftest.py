from __future__ import annotations

import faulthandler
import os
from collections.abc import Iterator

import pytest
import redis

from redis_server import RedisServer, running


def _fault_reports_to_own_stderr() -> None:
    """In a process forked from the test run (a horse factory, a work horse), send the fatal-error
    dump of a crash to that process's own stderr. pytest's faulthandler writes to a copy of the
    terminal's stderr, which a fork inherits: a job that segfaults on purpose would print its dump
    in the middle of the run's output. The process's stderr is what the test captures (and can
    assert on, with ``capfd``)."""
    if faulthandler.is_enabled():
        faulthandler.enable(file=2, all_threads=True)


os.register_at_fork(after_in_child=_fault_reports_to_own_stderr)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        'markers',
        'install: creates virtualenvs and pip-installs into them (about half of the CPU time of the suite); '
        'deselect with -m "not install" for a quick run',
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest tests (virtualenvs and pip) first, so that pytest-xdist hands them out while every
    process is still busy, instead of leaving them for last as a long tail."""
    items.sort(key=lambda item: item.get_closest_marker('install') is None)


@pytest.fixture(scope='session')
def redis_server() -> Iterator[RedisServer]:
    """One private redis-server per test process (each pytest-xdist worker has its own)."""
    with running(RedisServer()) as server:
        yield server


@pytest.fixture
def connection(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A connection to the private test server, emptied before each test."""
    client = redis.Redis(port=redis_server.port)
    client.flushall()
    yield client
    client.close()
