"""The pytest plugin of rq-testing (registered through the ``pytest11`` entry point).

It does nothing until a test asks for one of its fixtures: no autouse fixture, no patching, and
neither fakeredis, the eager runner nor rq-worker is imported before then (only rq-core, which
``import rq`` loads anyway, and the test clock).

Fixtures (all function-scoped, except the server):

- ``rq_connection``: a Redis connection, empty at the start of each test. In-memory fakeredis by
  default; a real Redis with ``--rq-real-redis`` (a throwaway ``redis-server`` for the session),
  ``--rq-real-redis=URL`` or ``RQ_TESTING_REDIS_URL=URL`` (that database is emptied before each
  test), and for tests marked ``@pytest.mark.rq_real_redis``.
- ``rq_queue``: ``Queue('default')`` on ``rq_connection``; ``rq_queue_factory(name, **kwargs)`` for more.
- ``rq_clock``: a :class:`~rq.testing.Clock` that moves scheduled jobs (and, through
  ``rq_clock.cron()``, rq-cron entries) without sleeping.
- ``rq_runner``: an :class:`~rq.testing.EagerRunner` on ``rq_connection`` sharing ``rq_clock``.
- ``rq_worker``: a ``SimpleWorker`` on ``rq_queue`` (needs rq-worker; the error says how to
  install it); ``rq_worker_factory(queues=None, worker_class=None, **kwargs)`` for others.
- ``rq_redis_target``: the :class:`~rq.testing.RedisTarget` of the session (fake or real).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from rq.queue import Queue

from .clock import Clock

if TYPE_CHECKING:
    from redis import Redis

    from .connections import RedisTarget
    from .eager import EagerRunner

__all__ = [
    'pytest_addoption',
    'pytest_configure',
    'pytest_report_header',
    'rq_clock',
    'rq_connection',
    'rq_queue',
    'rq_queue_factory',
    'rq_redis_target',
    'rq_runner',
    'rq_throwaway_redis_target',
    'rq_worker',
    'rq_worker_factory',
]

OPTION = '--rq-real-redis'
MARKER = 'rq_real_redis'


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup('rq-testing', 'rq-testing: Redis for the rq_* fixtures')
    group.addoption(
        OPTION,
        action='store',
        nargs='?',
        const='spawn',
        default=None,
        metavar='URL',
        dest='rq_real_redis',
        help=(
            'Run the rq_* fixtures against a real Redis: at URL (its database is emptied before each test), '
            'or, without a URL, a throwaway redis-server. Default: in-memory fakeredis, or $RQ_TESTING_REDIS_URL.'
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        'markers', f'{MARKER}: the rq_connection fixture of this test is a real Redis even in fake mode'
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    setting = _setting(config)
    return f'rq-testing: rq_connection is a real Redis ({setting})' if setting else None


def _setting(config: pytest.Config) -> str | None:
    value = config.getoption('rq_real_redis', default=None)
    return str(value) if value else os.environ.get('RQ_TESTING_REDIS_URL')


@pytest.fixture(scope='session')
def rq_redis_target(request: pytest.FixtureRequest) -> Iterator[RedisTarget]:
    """Where this session's ``rq_connection`` goes (fake unless a real Redis was chosen)."""
    from .connections import RedisTarget  # deferred: fakeredis only once a test asks for an rq_* fixture

    with RedisTarget(_setting(request.config)) as target:
        yield target


@pytest.fixture(scope='session')
def rq_throwaway_redis_target() -> Iterator[RedisTarget]:
    """A throwaway redis-server for tests marked ``rq_real_redis`` in a fake-mode session."""
    from .connections import SPAWN, RedisTarget  # deferred: fakeredis only once a test asks for an rq_* fixture

    with RedisTarget(SPAWN) as target:
        yield target


@pytest.fixture
def rq_connection(request: pytest.FixtureRequest, rq_redis_target: RedisTarget) -> Iterator[Redis]:
    """A connection to an empty Redis: fake by default, real when chosen (see the plugin docs)."""
    target = rq_redis_target
    if target.is_fake and request.node.get_closest_marker(MARKER) is not None:
        target = request.getfixturevalue('rq_throwaway_redis_target')
    connection = target.connect(clean=True)
    yield connection
    connection.close()


@pytest.fixture
def rq_queue_factory(rq_connection: Redis) -> Callable[..., Queue]:
    """``make(name='default', **queue_kwargs)``: a Queue on ``rq_connection``."""

    def make(name: str = 'default', **queue_kwargs: Any) -> Queue:
        return Queue(name, connection=rq_connection, **queue_kwargs)

    return make


@pytest.fixture
def rq_queue(rq_queue_factory: Callable[..., Queue]) -> Queue:
    """The queue named ``default`` on ``rq_connection``."""
    return rq_queue_factory('default')


@pytest.fixture
def rq_clock(rq_connection: Redis) -> Clock:
    """A clock for the scheduled jobs of every queue on ``rq_connection``."""
    return Clock(rq_connection)


@pytest.fixture
def rq_runner(rq_connection: Redis, rq_clock: Clock) -> EagerRunner:
    """Runs queued jobs in the test: ``rq_runner.run()`` (every queue) or ``rq_runner.run(queue, ...)``."""
    from .eager import EagerRunner  # deferred: the eager runner's job execution only for rq_runner

    return EagerRunner(rq_connection, clock=rq_clock)


@pytest.fixture
def rq_worker_factory(rq_connection: Redis, rq_queue: Queue) -> Callable[..., Any]:
    """``make(queues=None, worker_class=None, **worker_kwargs)``: a worker on ``rq_connection``
    (default: SimpleWorker on ``rq_queue``). Needs rq-worker."""
    from .workers import make_worker  # deferred: rq-worker is optional; fakeredis only when asked for

    def make(queues: Any = None, worker_class: Any = None, **worker_kwargs: Any) -> Any:
        return make_worker(queues if queues is not None else [rq_queue], rq_connection, worker_class, **worker_kwargs)

    return make


@pytest.fixture
def rq_worker(rq_worker_factory: Callable[..., Any]) -> Any:
    """A SimpleWorker on ``rq_queue``: ``rq_worker.work(burst=True)`` runs what is queued. Needs rq-worker."""
    return rq_worker_factory()
