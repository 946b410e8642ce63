"""A call that pushes a job id, sent twice by redis-py, queues the id once.

redis-py sends a command (or a whole pipeline, MULTI/EXEC included) again when its reply does not
come within ``socket_timeout`` and the client retries on timeouts (redis-py 6+ does by default; 5.x
with ``retry_on_timeout=True``). When the server was only slow, both copies run once it answers.
Here the server is made to stall (``DEBUG SLEEP`` from another connection) for longer than the
client's timeout while it enqueues, so the first copy times out and a second one is sent on a new
connection. Each test checks from the server's command counts that the second copy was really sent
and run, then that the id is on the queue once and the client got the first copy's outcome.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.retry import Retry

import rqtest_jobs
from redis_server import RedisServer
from rq import Queue
from rq._redis.ops import ENQUEUE_TOKEN_TTL
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry

#: The stall, longer than the client's socket timeout (the first copy times out, and so do the
#: reconnections made meanwhile; enough retries remain to outlast it).
STALL_SECONDS = 1.5
SOCKET_TIMEOUT = 0.5
RETRIES = 8


class DebugRedisServer(RedisServer):
    """A private redis-server that accepts ``DEBUG SLEEP``."""

    def persistence_options(self) -> list[str]:
        return [*super().persistence_options(), '--enable-debug-command', 'yes']


@pytest.fixture(scope='module')
def debug_server() -> Iterator[DebugRedisServer]:
    server = DebugRedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def admin(debug_server: DebugRedisServer) -> Iterator[redis.Redis]:
    """A plain connection for setting up and checking, emptied before each test."""
    client = redis.Redis(port=debug_server.port)
    client.flushall()
    yield client
    client.close()


class StallingRedis(redis.Redis):
    """A client whose next command named :attr:`stall_before` (``'EXEC'``: the next transaction
    of one of its pipelines) is sent while the server stalls."""

    stall_before: str | None = None

    def execute_command(self, *args: Any, **options: Any) -> Any:
        if self._stalls_now(args[0]):
            return during_stall(self._port, lambda: super(StallingRedis, self).execute_command(*args, **options))
        return super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> StallingPipeline:
        return StallingPipeline(self, self.connection_pool, self.response_callbacks, transaction, shard_hint)

    def _stalls_now(self, command: str) -> bool:
        if self.stall_before is None or command != self.stall_before:
            return False
        self.stall_before = None
        return True

    @property
    def _port(self) -> int:
        return int(self.connection_pool.connection_kwargs['port'])


class StallingPipeline(Pipeline):
    def __init__(self, client: StallingRedis, *args: Any) -> None:
        super().__init__(*args)
        self.client = client

    def _execute_transaction(self, *args: Any, **kwargs: Any) -> Any:
        send = super()._execute_transaction
        if self.client._stalls_now('EXEC'):  # (only the first copy: redis-py sends the next ones)
            return during_stall(self.client._port, lambda: send(*args, **kwargs))
        return send(*args, **kwargs)


@pytest.fixture
def retrying(debug_server: DebugRedisServer, admin: redis.Redis) -> Iterator[StallingRedis]:
    """A client that sends a command again after a timeout, the same way on redis-py 5.x (where
    ``retry_on_timeout`` enables it) and 6+ (where that argument is deprecated: the retry object
    already lists TimeoutError)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        client = StallingRedis(
            port=debug_server.port,
            socket_timeout=SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), RETRIES),
            retry_on_timeout=True,
        )
    yield client
    client.close()


def script_calls(client: redis.Redis) -> int:
    """How many EVALSHA and EXEC commands the server has run since the last ``CONFIG RESETSTAT``."""
    stats = client.info('commandstats')
    return sum(int(stats.get(name, {}).get('calls', 0)) for name in ('cmdstat_evalsha', 'cmdstat_exec'))


def during_stall(port: int, action: Callable[[], Any]) -> Any:
    """Run ``action`` while the server sleeps :data:`STALL_SECONDS` (begun before ``action``
    sends anything), and return what it returned."""
    sleeper = redis.Redis(port=port)
    stalling = threading.Thread(target=lambda: sleeper.execute_command('DEBUG', 'SLEEP', STALL_SECONDS))
    probe = redis.Redis(port=port, socket_timeout=0.05, retry=Retry(NoBackoff(), 0))
    stalling.start()
    try:
        while True:  # until a PING goes unanswered: the server is asleep
            try:
                probe.ping()
            except redis.TimeoutError:
                break
        return action()
    finally:
        stalling.join()
        sleeper.close()
        probe.close()


def assert_sent_twice(admin: redis.Redis, calls_before: int, expected: int) -> None:
    assert script_calls(admin) - calls_before >= expected, (
        'redis-py did not send the call again: the test proves nothing'
    )


def test_enqueue_sent_twice_queues_once(retrying: redis.Redis, admin: redis.Redis, debug_server: RedisServer) -> None:
    queue = Queue('default', connection=retrying)
    queue.enqueue(rqtest_jobs.add, 1, 1)  # loads the script: the stalled call is one EVALSHA
    admin.delete(queue.key)
    admin.config_resetstat()

    retrying.stall_before = 'EVALSHA'
    job = queue.enqueue(rqtest_jobs.add, 2, 3, job_id='once')

    assert_sent_twice(admin, 0, 2)
    assert admin.lrange(queue.key, 0, -1) == [b'once']
    assert job.get_status(refresh=False) == JobStatus.QUEUED
    assert Job.fetch('once', connection=admin).args == (2, 3)


def test_unique_enqueue_sent_twice_is_not_a_duplicate(
    retrying: redis.Redis, admin: redis.Redis, debug_server: RedisServer
) -> None:
    queue = Queue('default', connection=retrying)
    queue.enqueue(rqtest_jobs.add, 1, 1)
    admin.delete(queue.key)
    admin.config_resetstat()

    # the second copy finds the job the first one saved: it must still answer "queued"
    retrying.stall_before = 'EVALSHA'
    job = queue.enqueue(rqtest_jobs.add, 1, 2, job_id='u', unique=True)

    assert_sent_twice(admin, 0, 2)
    assert admin.lrange(queue.key, 0, -1) == [b'u']
    assert job.get_status(refresh=False) == JobStatus.QUEUED


def test_enqueue_many_pipeline_sent_twice_queues_each_once(
    retrying: redis.Redis, admin: redis.Redis, debug_server: RedisServer
) -> None:
    queue = Queue('default', connection=retrying)
    queue.enqueue(rqtest_jobs.add, 1, 1)
    admin.delete(queue.key)
    admin.config_resetstat()
    datas = [Queue.prepare_data(rqtest_jobs.add, (i, i), job_id=f'm{i}') for i in range(3)]

    retrying.stall_before = 'EXEC'
    jobs = queue.enqueue_many(datas)

    assert_sent_twice(admin, 0, 2)  # the pipeline is a MULTI/EXEC: two EXECs
    assert admin.lrange(queue.key, 0, -1) == [b'm0', b'm1', b'm2']
    assert [job.get_status(refresh=False) for job in jobs] == [JobStatus.QUEUED] * 3


def test_requeue_sent_twice_queues_once_and_succeeds(
    retrying: redis.Redis, admin: redis.Redis, debug_server: RedisServer
) -> None:
    queue = Queue('default', connection=retrying)
    registry = FailedJobRegistry(queue=queue)
    for job_id in ('warm', 'failed'):
        job = queue.enqueue(rqtest_jobs.add, 1, 1, job_id=job_id)
        admin.delete(queue.key)
        registry.add(job, ttl=600)
    registry.requeue('warm')  # loads the script
    admin.delete(queue.key)
    admin.config_resetstat()

    # without the token, the second copy would answer "not in the registry" (the first moved it)
    retrying.stall_before = 'EVALSHA'
    registry.requeue('failed')

    assert_sent_twice(admin, 0, 2)
    assert admin.lrange(queue.key, 0, -1) == [b'failed']
    assert 'failed' not in registry.get_job_ids()


def test_push_job_id_sent_twice_pushes_once(
    retrying: redis.Redis, admin: redis.Redis, debug_server: RedisServer
) -> None:
    queue = Queue('default', connection=retrying)
    queue.push_job_id('warm')
    admin.delete(queue.key)
    admin.config_resetstat()

    retrying.stall_before = 'EVALSHA'
    queue.push_job_id('pushed')

    assert_sent_twice(admin, 0, 2)
    assert admin.lrange(queue.key, 0, -1) == [b'pushed']


def test_the_token_outlives_the_retries_and_then_expires(admin: redis.Redis) -> None:
    """Each call leaves one token key under ``rq:enqueue-token:``, with a TTL of a minute: far
    longer than redis-py's retries take, short enough that a busy producer's tokens stay few."""
    Queue('default', connection=admin).enqueue(rqtest_jobs.add, 1, 1)
    (token,) = admin.keys('rq:enqueue-token:*')
    assert 30 <= admin.ttl(token) <= ENQUEUE_TOKEN_TTL == 60


def test_enqueue_on_the_direct_path_sent_again_after_a_timeout_queues_once(
    admin: redis.Redis, debug_server: DebugRedisServer
) -> None:
    """A plain client's enqueue is packed and sent by rq itself (``scripts.call``), which never
    sends again; when its reply is late it is sent again through redis-py's retries, with the same
    token: the copy that the sleeping server runs second pushes nothing."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        client = redis.Redis(
            port=debug_server.port,
            socket_timeout=SOCKET_TIMEOUT,
            retry=Retry(NoBackoff(), RETRIES),
            retry_on_timeout=True,
        )
    queue = Queue('default', connection=client)
    queue.enqueue(rqtest_jobs.add, 1, 1)  # loads the script
    admin.delete(queue.key)
    admin.config_resetstat()

    job = during_stall(debug_server.port, lambda: queue.enqueue(rqtest_jobs.add, 2, 3, job_id='direct'))

    assert_sent_twice(admin, 0, 2)
    assert admin.lrange(queue.key, 0, -1) == [b'direct']
    assert job.get_status(refresh=False) == JobStatus.QUEUED
    client.close()
