"""Pub/sub commands (shutdown, kill-horse, stop-job) to workers running in their own process."""

from __future__ import annotations

import json
import time

import pytest
import redis

from redis_server import RedisServer
from rq import Callback, Queue, Retry
from rq.command import (
    PUBSUB_CHANNEL_TEMPLATE,
    parse_payload,
    send_command,
    send_kill_horse_command,
    send_shutdown_command,
    send_stop_job_command,
)
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.results import Result
from signal_support import running_worker, wait_running, worker_hash
from worker_process import wait_until

CLASSES = ['Worker', 'SimpleWorker']


def _settled(job_status: JobStatus | str) -> bool:
    return job_status not in (JobStatus.QUEUED, JobStatus.STARTED)


# -- the sending side (rq-core) ---------------------------------------------------------------


def test_send_command_publishes_json_on_the_worker_channel(connection: redis.Redis) -> None:
    pubsub = connection.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe('rq:pubsub:listener')
    try:
        assert PUBSUB_CHANNEL_TEMPLATE % 'listener' == 'rq:pubsub:listener'
        assert send_shutdown_command(connection, 'listener') == 1
        assert send_kill_horse_command(connection, 'listener') == 1
        assert send_command(connection, 'listener', 'stop-job', job_id='abc') == 1
        assert send_shutdown_command(connection, 'nobody') == 0
        received = []
        deadline = time.monotonic() + 30
        while len(received) < 3 and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.5)
            if message is not None:
                received.append(parse_payload(message))
    finally:
        pubsub.close()
    assert received == [{'command': 'shutdown'}, {'command': 'kill-horse'}, {'command': 'stop-job', 'job_id': 'abc'}]
    assert json.loads('{"command": "shutdown"}') == parse_payload({'data': b'{"command": "shutdown"}'})


def test_stop_job_command_needs_an_executing_job(connection: redis.Redis, queue: Queue) -> None:
    with pytest.raises(NoSuchJobError):
        send_stop_job_command(connection, 'no-such-job')
    job = queue.enqueue('rqtest_jobs.say_hello')
    with pytest.raises(InvalidJobOperation):
        send_stop_job_command(connection, job.id)


# -- shutdown ---------------------------------------------------------------------------------


@pytest.mark.parametrize('worker_class', CLASSES)
def test_shutdown_command_stops_an_idle_worker(
    connection: redis.Redis, redis_server: RedisServer, worker_class: str
) -> None:
    with running_worker(connection, redis_server.port, 'cmd-idle', '--worker-class', worker_class) as worker:
        assert send_shutdown_command(connection, 'cmd-idle') == 1
        assert worker.wait(30) == 0, worker.output()
        assert 'Received shutdown command' in worker.output()
    fields = worker_hash(connection, 'cmd-idle')
    assert 'death' in fields and 'shutdown_requested_date' in fields
    assert b'rq:worker:cmd-idle' not in connection.smembers('rq:workers')


@pytest.mark.parametrize('worker_class', CLASSES)
def test_shutdown_command_lets_the_current_job_finish(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str
) -> None:
    with running_worker(connection, redis_server.port, 'cmd-busy', '--worker-class', worker_class) as worker:
        job = queue.enqueue('rqtest_jobs_signals.announce_and_sleep', 0.8)
        wait_running(connection, job.id)
        waiting = queue.enqueue('rqtest_jobs.say_hello')
        send_shutdown_command(connection, 'cmd-busy')
        assert worker.wait(30) == 0, worker.output()  # (after the job: it finished, see below)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 0.8
    assert waiting.get_status() == JobStatus.QUEUED


# -- kill-horse -------------------------------------------------------------------------------


def test_kill_horse_fails_the_job_and_the_worker_goes_on(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue
) -> None:
    with running_worker(connection, redis_server.port, 'killer') as worker:
        job = queue.enqueue('rqtest_jobs_signals.announce_and_sleep', 30)
        wait_running(connection, job.id)
        assert send_kill_horse_command(connection, 'killer') == 1
        assert wait_until(lambda: _settled(job.get_status()), 25), worker.output()  # (the job: 30 s)
        assert job.get_status() == JobStatus.FAILED
        result = job.latest_result()
        assert result is not None and result.exc_string is not None
        assert 'terminated unexpectedly' in result.exc_string
        assert 'SIGKILL' in result.exc_string
        assert job.id in FailedJobRegistry(queue=queue)
        assert job.id not in StartedJobRegistry(queue=queue).get_job_ids()

        after = queue.enqueue('rqtest_jobs.say_hello', 'again')
        assert wait_until(lambda: after.get_status() == JobStatus.FINISHED, 30), worker.output()
        assert after.return_value() == 'Hi there, again!'
        assert worker.wait(0) is None
        fields = worker_hash(connection, 'killer')
        assert fields['failed_job_count'] == '1'
        assert fields['successful_job_count'] == '1'


def test_kill_horse_without_a_horse_is_ignored(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue
) -> None:
    """A SimpleWorker has no horse: the command changes nothing, the job finishes."""
    with running_worker(connection, redis_server.port, 'no-horse', '--worker-class', 'SimpleWorker') as worker:
        job = queue.enqueue('rqtest_jobs_signals.announce_and_sleep', 0.6)
        wait_running(connection, job.id)
        send_kill_horse_command(connection, 'no-horse')
        assert wait_until(lambda: _settled(job.get_status()), 30)
        assert job.get_status() == JobStatus.FINISHED
        assert worker.wait(0) is None
        assert wait_until(lambda: 'no horse is running' in worker.output(), 30), worker.output()


def test_kill_horse_on_an_idle_worker_is_ignored(connection: redis.Redis, redis_server: RedisServer) -> None:
    with running_worker(connection, redis_server.port, 'idle-horse') as worker:
        send_kill_horse_command(connection, 'idle-horse')
        assert wait_until(lambda: 'no horse is running' in worker.output(), 30)
        assert worker.wait(0) is None
        assert worker_hash(connection, 'idle-horse')['state'] == 'idle'


# -- stop-job ---------------------------------------------------------------------------------


@pytest.mark.parametrize('worker_class', CLASSES)
def test_stop_job_stops_only_that_job(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str
) -> None:
    with running_worker(connection, redis_server.port, 'stopper', '--worker-class', worker_class) as worker:
        job = queue.enqueue(
            'rqtest_jobs_signals.announce_and_sleep_in_steps',
            30,
            retry=Retry(max=2),
            on_stopped=Callback('rqtest_jobs_signals.on_stopped'),
        )
        wait_running(connection, job.id)
        assert send_stop_job_command(connection, job.id) == 1
        assert wait_until(lambda: _settled(job.get_status()), 25), worker.output()  # (the job: 30 s)

        job.refresh()
        assert job.get_status() == JobStatus.STOPPED
        assert job.retries_left == 2  # a stopped job is not retried
        assert job.id not in queue.get_job_ids()
        assert job.id in FailedJobRegistry(queue=queue)
        assert job.id not in StartedJobRegistry(queue=queue).get_job_ids()
        result = job.latest_result()
        assert result is not None and result.type == Result.Type.FAILED
        assert result.exc_string is not None and 'stopped' in result.exc_string
        assert connection.get(f'rqtest:stopped-callback:{job.id}') == b'called'

        after = queue.enqueue('rqtest_jobs.say_hello', 'next')
        assert wait_until(lambda: after.get_status() == JobStatus.FINISHED, 30), worker.output()
        assert worker.wait(0) is None


def test_simple_worker_stop_job_interrupts_a_blocking_call(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue
) -> None:
    with running_worker(connection, redis_server.port, 'stop-sleep', '--worker-class', 'SimpleWorker'):
        job = queue.enqueue('rqtest_jobs_signals.announce_and_sleep', 30)
        wait_running(connection, job.id)
        send_stop_job_command(connection, job.id)
        assert wait_until(lambda: _settled(job.get_status()), 25)  # (the job: 30 s)
        assert job.get_status() == JobStatus.STOPPED


@pytest.mark.parametrize('worker_class', CLASSES)
def test_stop_job_naming_another_job_is_ignored(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str
) -> None:
    with running_worker(connection, redis_server.port, 'not-mine', '--worker-class', worker_class) as worker:
        job = queue.enqueue('rqtest_jobs_signals.announce_and_sleep_in_steps', 0.8)
        wait_running(connection, job.id)
        assert send_command(connection, 'not-mine', 'stop-job', job_id='some-other-job') == 1
        assert wait_until(lambda: _settled(job.get_status()), 30)
        assert job.get_status() == JobStatus.FINISHED
        assert job.return_value() == 0.8
        assert worker.wait(0) is None
        ignored = 'Not working on job some-other-job, command ignored.'
        assert wait_until(lambda: ignored in worker.output(), 30), worker.output()


def test_unknown_and_malformed_commands_are_ignored(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue
) -> None:
    with running_worker(connection, redis_server.port, 'robust') as worker:
        send_command(connection, 'robust', 'dance')
        connection.publish('rq:pubsub:robust', b'not json at all')
        assert wait_until(lambda: 'malformed command' in worker.output(), 30), worker.output()
        job = queue.enqueue('rqtest_jobs.say_hello')
        assert wait_until(lambda: job.get_status() == JobStatus.FINISHED, 30), worker.output()
        assert worker.wait(0) is None
        assert "unknown command 'dance'" in worker.output()


def test_commands_still_arrive_after_redis_restarts() -> None:
    """The listener reconnects (and subscribes again) after losing its connection."""
    server = RedisServer()
    server.start()
    try:
        connection = redis.Redis(port=server.port)
        with running_worker(connection, server.port, 'resubscribed') as worker:
            server.restart()  # (a new server: nobody subscribed until the listener does again)

            def delivered() -> bool:
                return send_shutdown_command(connection, 'resubscribed') == 1

            assert wait_until(delivered, 30, interval=0.2), worker.output()
            assert worker.wait(30) == 0, worker.output()
            assert 'Received shutdown command' in worker.output()
        connection.close()
    finally:
        server.stop()
