"""Suspending every worker on a Redis database: the key ``rq:suspended``."""

from __future__ import annotations

import time

import pytest
import redis
from redis.client import Pipeline

from rq.suspension import WORKERS_SUSPENDED, is_suspended, resume, suspend
from ttl_checks import assert_ttl


def test_key_name() -> None:
    assert WORKERS_SUSPENDED == 'rq:suspended'


def test_not_suspended_by_default(connection: redis.Redis) -> None:
    assert is_suspended(connection) is False


def test_suspend_and_resume(connection: redis.Redis) -> None:
    suspend(connection)
    assert is_suspended(connection) is True
    assert connection.get('rq:suspended') == b'1'
    assert connection.ttl('rq:suspended') == -1
    resume(connection)
    assert is_suspended(connection) is False
    assert not connection.exists('rq:suspended')


def test_suspend_with_ttl(connection: redis.Redis) -> None:
    since = time.time()
    suspend(connection, ttl=300)
    assert is_suspended(connection)
    assert_ttl(connection, 'rq:suspended', 300, since)


def test_suspend_without_ttl_removes_a_previous_ttl(connection: redis.Redis) -> None:
    suspend(connection, ttl=300)
    suspend(connection)
    assert connection.ttl('rq:suspended') == -1


def test_suspension_expires(connection: redis.Redis) -> None:
    suspend(connection, ttl=1)
    connection.pexpire('rq:suspended', 50)
    time.sleep(0.1)
    assert is_suspended(connection) is False


@pytest.mark.parametrize('ttl', [0, -1, -100])
def test_suspend_rejects_non_positive_ttl(connection: redis.Redis, ttl: int) -> None:
    with pytest.raises(ValueError):
        suspend(connection, ttl=ttl)
    assert not connection.exists('rq:suspended')


def test_resume_when_not_suspended(connection: redis.Redis) -> None:
    assert resume(connection) == 0
    suspend(connection)
    assert resume(connection) == 1


def test_set_by_another_client(connection: redis.Redis) -> None:
    connection.set('rq:suspended', 1)
    assert is_suspended(connection)


class HeartbeatingWorker:
    def __init__(self) -> None:
        self.beats = 0

    def heartbeat(self, pipeline: Pipeline) -> None:
        self.beats += 1
        pipeline.hset('rq:worker:w1', 'last_heartbeat', 'now')


def test_is_suspended_heartbeats_the_worker(connection: redis.Redis) -> None:
    worker = HeartbeatingWorker()
    assert is_suspended(connection, worker) is False
    assert worker.beats == 1
    assert connection.hget('rq:worker:w1', 'last_heartbeat') == b'now'
    suspend(connection)
    assert is_suspended(connection, worker=worker) is True
    assert worker.beats == 2
