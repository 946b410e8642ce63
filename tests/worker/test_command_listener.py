"""The command listener ends with its worker, whatever the redis-py version and its poll interval."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import redis

from rq import Queue, SimpleWorker, Worker
from rq.worker import commands
from rq.worker.commands import CommandListener
from worker_process import wait_until

# Long enough that a listener stopped by its poll timeout would hang the test (pytest-timeout):
# only an UNSUBSCRIBE that ends the read lets these tests finish.
HOUR = 3600.0


def listener_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith('rq-commands:') and t.is_alive()]


def subscribers(connection: redis.Redis, channel: str) -> int:
    counts = dict(connection.pubsub_numsub(channel))
    return int(counts.get(channel.encode(), 0))


@pytest.fixture
def hour_long_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands, 'POLL_SECONDS', HOUR)


class FakeWorker:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self.name = 'listener-test'
        self.pubsub_channel_name = 'rq:pubsub:listener-test'


@pytest.mark.usefixtures('hour_long_reads')
def test_stop_ends_the_thread_and_the_subscription(connection: redis.Redis) -> None:
    listener = CommandListener(FakeWorker(connection))
    listener.start()
    assert wait_until(lambda: subscribers(connection, 'rq:pubsub:listener-test') == 1, 10)
    listener.stop()
    assert listener.thread is not None and not listener.thread.is_alive()
    assert subscribers(connection, 'rq:pubsub:listener-test') == 0


@pytest.mark.usefixtures('hour_long_reads')
def test_stop_right_after_start(connection: redis.Redis) -> None:
    """Stopped before its thread has read the subscription's confirmation."""
    for _ in range(20):
        listener = CommandListener(FakeWorker(connection))
        listener.start()
        listener.stop()
        assert listener.thread is not None and not listener.thread.is_alive()
    assert wait_until(lambda: subscribers(connection, 'rq:pubsub:listener-test') == 0, 10)


def test_stop_with_redis_gone_still_returns(connection: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the UNSUBSCRIBE cannot be sent, the read ends by its own (short) timeout."""
    monkeypatch.setattr(commands, 'POLL_SECONDS', 0.2)
    listener = CommandListener(FakeWorker(connection))
    listener.start()
    assert wait_until(lambda: subscribers(connection, 'rq:pubsub:listener-test') == 1, 10)
    pubsub: Any = listener._pubsub
    original = pubsub.unsubscribe

    def unreachable(*args: Any) -> None:
        raise redis.exceptions.ConnectionError('server away')

    pubsub.unsubscribe = unreachable
    listener.stop()
    pubsub.unsubscribe = original
    assert listener.thread is not None and not listener.thread.is_alive()


@pytest.mark.usefixtures('hour_long_reads')
@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker], ids=lambda cls: cls.__name__)
def test_a_burst_worker_returns_with_its_listener_ended(connection: redis.Redis, worker_class: type[Any]) -> None:
    worker = worker_class([Queue(connection=connection)])
    assert worker.work(burst=True) is False
    assert listener_threads() == []
    assert subscribers(connection, worker.pubsub_channel_name) == 0
