"""Commands to workers, published as JSON on ``rq:pubsub:<worker_name>``."""

from __future__ import annotations

import json
import logging
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest
import redis
from redis.client import PubSub

from rq import Queue
from rq.command import (
    PUBSUB_CHANNEL_TEMPLATE,
    handle_command,
    parse_payload,
    send_command,
    send_kill_horse_command,
    send_shutdown_command,
    send_stop_job_command,
)
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rqtest_jobs import say_hello


@pytest.fixture
def subscriber(connection: redis.Redis) -> Iterator[PubSub]:
    pubsub = connection.pubsub()
    pubsub.subscribe('rq:pubsub:w1')
    confirmation = pubsub.get_message(timeout=1)
    assert confirmation is not None
    assert confirmation['type'] == 'subscribe'
    yield pubsub
    pubsub.close()


def next_message(pubsub: PubSub) -> dict[str, Any]:
    message = pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
    assert message is not None, 'no message was published'
    return message


def no_message(pubsub: PubSub) -> bool:
    return pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05) is None


def test_channel_template() -> None:
    assert PUBSUB_CHANNEL_TEMPLATE % 'w1' == 'rq:pubsub:w1'


def test_send_command(connection: redis.Redis, subscriber: PubSub) -> None:
    receivers = send_command(connection, 'w1', 'custom', answer=42, text='hi')
    assert receivers == 1
    message = next_message(subscriber)
    assert message['channel'] == b'rq:pubsub:w1'
    assert json.loads(message['data']) == {'command': 'custom', 'answer': 42, 'text': 'hi'}
    assert parse_payload(message) == {'command': 'custom', 'answer': 42, 'text': 'hi'}


def test_send_command_to_another_worker_is_not_received(connection: redis.Redis, subscriber: PubSub) -> None:
    assert send_command(connection, 'w2', 'shutdown') == 0
    assert no_message(subscriber)


def test_send_shutdown_command(connection: redis.Redis, subscriber: PubSub) -> None:
    send_shutdown_command(connection, 'w1')
    message = next_message(subscriber)
    assert message['data'] == b'{"command": "shutdown"}'
    assert parse_payload(message) == {'command': 'shutdown'}


def test_send_kill_horse_command(connection: redis.Redis, subscriber: PubSub) -> None:
    send_kill_horse_command(connection, 'w1')
    assert parse_payload(next_message(subscriber)) == {'command': 'kill-horse'}


def test_send_stop_job_command(connection: redis.Redis, subscriber: PubSub) -> None:
    queue = Queue(connection=connection)
    job = queue.enqueue(say_hello)
    queue.remove(job)
    with connection.pipeline() as pipe:
        job.prepare_for_execution('w1', pipe)
        pipe.execute()
    send_stop_job_command(connection, job.id)
    message = next_message(subscriber)
    assert message['data'] == json.dumps({'command': 'stop-job', 'job_id': job.id}).encode()
    assert parse_payload(message) == {'command': 'stop-job', 'job_id': job.id}


def test_send_stop_job_command_uses_the_stored_worker_name(connection: redis.Redis, subscriber: PubSub) -> None:
    queue = Queue(connection=connection, serializer='json')
    job = queue.enqueue(say_hello)
    connection.hset(job.key, 'worker_name', 'w1')
    send_stop_job_command(connection, job.id, serializer='json')
    assert parse_payload(next_message(subscriber))['job_id'] == job.id


def test_send_stop_job_command_for_a_job_not_running(connection: redis.Redis, subscriber: PubSub) -> None:
    job = Queue(connection=connection).enqueue(say_hello)
    with pytest.raises(InvalidJobOperation, match='Job is not currently executing'):
        send_stop_job_command(connection, job.id)
    assert no_message(subscriber)


def test_send_stop_job_command_for_a_missing_job(connection: redis.Redis, subscriber: PubSub) -> None:
    with pytest.raises(NoSuchJobError):
        send_stop_job_command(connection, 'missing')
    assert no_message(subscriber)


def test_parse_payload_accepts_text() -> None:
    assert parse_payload({'type': 'message', 'data': '{"command": "shutdown"}'}) == {'command': 'shutdown'}


# -- the worker side ----------------------------------------------------------------------


class FakeWorker:
    """The attributes the command handlers use, recording what they did."""

    def __init__(self, current_job_id: str | None = None, horse_pid: int = 0) -> None:
        self.current_job_id = current_job_id
        self.horse_pid = horse_pid
        self.killed = 0
        self._stopped_job_id: str | None = None
        self.log = logging.getLogger('test.worker')

    def get_current_job_id(self) -> str | None:
        return self.current_job_id

    def kill_horse(self) -> None:
        self.killed += 1


def round_trip(connection: redis.Redis, subscriber: PubSub, send: Any) -> dict[str, Any]:
    send()
    return parse_payload(next_message(subscriber))


def test_handle_stop_job_for_the_current_job(connection: redis.Redis, subscriber: PubSub) -> None:
    job = Job.create(say_hello, connection=connection, id='running')
    job.worker_name = 'w1'
    job.save()
    worker = FakeWorker(current_job_id='running', horse_pid=1234)
    handle_command(worker, round_trip(connection, subscriber, lambda: send_stop_job_command(connection, 'running')))
    assert worker._stopped_job_id == 'running'
    assert worker.killed == 1


def test_handle_stop_job_for_another_job(connection: redis.Redis) -> None:
    worker = FakeWorker(current_job_id='other', horse_pid=1234)
    handle_command(worker, {'command': 'stop-job', 'job_id': 'running'})
    assert worker._stopped_job_id is None
    assert worker.killed == 0


def test_handle_kill_horse(connection: redis.Redis, subscriber: PubSub) -> None:
    worker = FakeWorker(horse_pid=1234)
    handle_command(worker, round_trip(connection, subscriber, lambda: send_kill_horse_command(connection, 'w1')))
    assert worker.killed == 1
    idle = FakeWorker(horse_pid=0)
    handle_command(idle, {'command': 'kill-horse'})
    assert idle.killed == 0


def test_handle_shutdown_sends_sigint_to_itself(connection: redis.Redis, subscriber: PubSub) -> None:
    received: list[int] = []

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        payload = round_trip(connection, subscriber, lambda: send_shutdown_command(connection, 'w1'))
        handle_command(FakeWorker(), payload)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert received == [signal.SIGINT]


def test_handle_unknown_command_is_ignored() -> None:
    worker = FakeWorker(current_job_id='x', horse_pid=1)
    handle_command(worker, {'command': 'dance'})
    assert worker.killed == 0
