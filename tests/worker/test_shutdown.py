"""Warm and cold shutdown on SIGINT/SIGTERM, for workers running in their own process."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest
import redis

from redis_server import RedisServer
from rq import Queue, Retry
from rq._redis import codec
from rq.exceptions import StopRequested
from rq.job import JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.suspension import resume, suspend
from rq.worker import SimpleWorker
from signal_support import running_worker, wait_running, worker_hash
from worker_process import wait_until

CLASSES = ['Worker', 'SimpleWorker']
SIGNALS = [signal.SIGTERM, signal.SIGINT]


def _gone(connection: redis.Redis, name: str) -> bool:
    key = f'rq:worker:{name}'.encode()
    return key not in connection.smembers('rq:workers') and key not in connection.smembers('rq:workers:default')


# -- warm shutdown --------------------------------------------------------------------------


@pytest.mark.parametrize('worker_class', CLASSES)
@pytest.mark.parametrize('signum', SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_idle_worker_stops_at_once(
    connection: redis.Redis, redis_server: RedisServer, worker_class: str, signum: int
) -> None:
    with running_worker(connection, redis_server.port, 'idle', '--worker-class', worker_class) as worker:
        worker.send(signum)
        assert worker.wait(30) == 0, worker.output()  # (how soon: a benchmark's question, not a test's)
        fields = worker_hash(connection, 'idle')
        assert 'death' in fields
        assert 'shutdown_requested_date' in fields
        assert _gone(connection, 'idle')
        assert 0 < connection.ttl('rq:worker:idle') <= 60
        assert 'warm shut down requested' in worker.output()


@pytest.mark.parametrize('worker_class', CLASSES)
@pytest.mark.parametrize('signum', SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_busy_worker_finishes_its_job_then_stops(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str, signum: int
) -> None:
    with running_worker(connection, redis_server.port, 'busy', '--worker-class', worker_class) as worker:
        job = queue.enqueue('rqtest_jobs_signals.announce_and_sleep', 1.0)
        wait_running(connection, job.id)
        waiting = queue.enqueue('rqtest_jobs.say_hello')
        worker.send(signum)
        assert wait_until(lambda: worker_hash(connection, 'busy').get('shutdown_requested_date')), worker.output()
        assert worker.wait(30) == 0, worker.output()  # (not before the job: it finished, see below)

    job.refresh()
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 1.0
    fields = worker_hash(connection, 'busy')
    assert 'death' in fields
    assert fields['successful_job_count'] == '1'
    requested = codec.parse_timestamp(fields['shutdown_requested_date'])
    assert job.started_at is not None and job.ended_at is not None and requested is not None
    assert job.started_at < requested < job.ended_at
    assert _gone(connection, 'busy')
    # a warm shutdown does not take another job
    assert waiting.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [waiting.id]


@pytest.mark.parametrize('worker_class', CLASSES)
def test_second_signal_within_a_second_is_ignored(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str
) -> None:
    with running_worker(connection, redis_server.port, 'twice', '--worker-class', worker_class) as worker:
        job = queue.enqueue('rqtest_jobs_signals.announce_and_sleep', 1.2)
        wait_running(connection, job.id)
        worker.send(signal.SIGINT)
        worker.send(signal.SIGTERM)  # right after (a pause here could last a second on a loaded machine)
        assert worker.wait(30) == 0, worker.output()
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 1.2


def test_a_signal_as_a_job_is_claimed_never_leaves_it_started(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue
) -> None:
    """Whenever the signal lands (waiting, claiming, starting the horse), the job ends up finished
    or still queued once the worker has exited; never claimed and abandoned."""
    for attempt in range(4):
        name = f'race-{attempt}'
        with running_worker(connection, redis_server.port, name) as worker:
            job = queue.enqueue('rqtest_jobs.say_hello')
            time.sleep(attempt * 0.002)
            worker.send(signal.SIGTERM)
            assert worker.wait(10) == 0, worker.output()
        assert job.get_status() in (JobStatus.FINISHED, JobStatus.QUEUED), (attempt, job.get_status())
        assert job.id not in StartedJobRegistry(queue=queue).get_job_ids()
        queue.empty()


def test_stop_request_outside_the_wait_is_deferred_until_the_worker_waits(connection: redis.Redis) -> None:
    """Raising StopRequested anywhere but in the wait for work could abandon a claimed job: the
    request is only noted, and honoured as the worker starts waiting again."""
    worker = SimpleWorker(['default'], connection=connection, name='deferred')
    worker.register_birth()
    worker.request_stop()  # not waiting: no exception
    assert worker._stop_requested
    assert worker.shutdown_requested_date is not None
    with pytest.raises(StopRequested):
        worker._idle = True
    worker.restore_signal_handlers()  # joins the thread that records the date
    assert connection.hget(worker.key, 'shutdown_requested_date')


# -- cold shutdown ----------------------------------------------------------------------------


@pytest.mark.parametrize('worker_class', CLASSES)
def test_second_signal_after_a_second_interrupts_the_job(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str
) -> None:
    with running_worker(connection, redis_server.port, 'cold', '--worker-class', worker_class) as worker:
        job = queue.enqueue('rqtest_jobs_signals.announce_and_sleep', 30)
        wait_running(connection, job.id)
        worker.send(signal.SIGTERM)
        time.sleep(1.2)
        assert worker.wait(0) is None
        worker.send(signal.SIGTERM)
        assert worker.wait(25) is not None, worker.output()  # before the 30 s job could end
        assert wait_until(lambda: not worker.alive_in_session(), 30), 'a horse outlived its worker'
        output = worker.output()

    assert job.get_status() == JobStatus.FAILED, output
    assert job.id in FailedJobRegistry(queue=queue)
    assert job.id not in StartedJobRegistry(queue=queue).get_job_ids()
    result = job.latest_result()
    assert result is not None and result.exc_string is not None
    assert 'cold shutdown' in result.exc_string
    assert 'death' in worker_hash(connection, 'cold')
    assert 'cold shut down' in output


@pytest.mark.parametrize('worker_class', CLASSES)
def test_cold_shutdown_puts_back_a_job_with_retries_left(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str
) -> None:
    with running_worker(connection, redis_server.port, 'cold-retry', '--worker-class', worker_class) as worker:
        job = queue.enqueue('rqtest_jobs_signals.announce_and_sleep', 30, retry=Retry(max=2))
        wait_running(connection, job.id)
        worker.send(signal.SIGINT)
        time.sleep(1.2)
        worker.send(signal.SIGINT)
        assert worker.wait(25) is not None, worker.output()  # before the 30 s job could end

    job.refresh()
    assert job.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [job.id]
    assert job.retries_left == 1
    assert job.id not in StartedJobRegistry(queue=queue).get_job_ids()
    assert job.id not in FailedJobRegistry(queue=queue)


# -- HerokuWorker ---------------------------------------------------------------------------


def test_heroku_worker_warns_the_job_of_an_imminent_shutdown(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue
) -> None:
    worker_class = 'signal_support.QuickHerokuWorker'  # imminent_shutdown_delay = 1
    with running_worker(connection, redis_server.port, 'heroku', '--worker-class', worker_class) as worker:
        job = queue.enqueue('rqtest_jobs_signals.announce_and_sleep', 30)
        wait_running(connection, job.id)
        signalled = time.monotonic()
        worker.send(signal.SIGTERM)
        assert worker.wait(25) == 0, worker.output()  # before the 30 s job could end
        elapsed = time.monotonic() - signalled

    assert elapsed >= 0.9, 'the job was interrupted before imminent_shutdown_delay'
    assert job.get_status() == JobStatus.FAILED
    result = job.latest_result()
    assert result is not None and result.exc_string is not None
    assert 'ShutDownImminentException' in result.exc_string
    assert 'SIGALRM' in result.exc_string or 'SIGRTMIN' in result.exc_string


def test_heroku_worker_without_delay_interrupts_the_job_at_once(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue
) -> None:
    worker_class = 'signal_support.InstantHerokuWorker'  # imminent_shutdown_delay = 0
    with running_worker(connection, redis_server.port, 'heroku0', '--worker-class', worker_class) as worker:
        job = queue.enqueue('rqtest_jobs_signals.announce_and_sleep', 30)
        wait_running(connection, job.id)
        worker.send(signal.SIGTERM)
        assert worker.wait(25) == 0, worker.output()  # before the 30 s job could end

    result = job.latest_result()
    assert job.get_status() == JobStatus.FAILED
    assert result is not None and result.exc_string is not None
    assert 'ShutDownImminentException' in result.exc_string


def test_heroku_worker_idle_stops_at_once(connection: redis.Redis, redis_server: RedisServer) -> None:
    with running_worker(connection, redis_server.port, 'heroku-idle', '--worker-class', 'HerokuWorker') as worker:
        worker.send(signal.SIGTERM)
        assert worker.wait(30) == 0, worker.output()
    assert 'death' in worker_hash(connection, 'heroku-idle')


# -- stopping while not waiting for work -------------------------------------------------------


def test_suspended_worker_stops_promptly(connection: redis.Redis, redis_server: RedisServer, queue: Queue) -> None:
    with running_worker(connection, redis_server.port, 'paused') as worker:
        suspend(connection)
        queue.enqueue('rqtest_jobs.say_hello')  # wakes the worker, which then sees the suspension
        assert wait_until(lambda: worker_hash(connection, 'paused').get('state') == 'suspended', 30), worker.output()
        worker.send(signal.SIGTERM)
        assert worker.wait(30) == 0, worker.output()  # (how soon: a benchmark's question, not a test's)
    resume(connection)
    assert 'death' in worker_hash(connection, 'paused')
    assert queue.count == 1


def _backing_off(output: str) -> bool:
    """The worker found Redis away and waits to try again (see rq.worker.reconnect)."""
    return any('Redis connection lost' in line for line in output.splitlines())


def test_worker_stops_promptly_while_redis_is_unreachable() -> None:
    """A stop request interrupts the wait before reconnecting (no job is claimed then)."""
    server = RedisServer()
    server.start()
    try:
        connection = redis.Redis(port=server.port)
        with running_worker(connection, server.port, 'cut-off') as worker:
            server.stop()
            assert wait_until(lambda: _backing_off(worker.output()), 30), worker.output()
            time.sleep(0.3)
            worker.send(signal.SIGTERM)
            code = worker.wait(30)
            assert code is not None, worker.output()
            assert code == 0, worker.output()  # (how soon: a benchmark's question, not a test's)
    finally:
        server.stop()


class _StopDuringMaintenance(SimpleWorker):
    """As if SIGTERM landed while the worker ran its maintenance (a signal handler only notes it
    there, see rq.worker.signals)."""

    def bootstrap(self, *args: Any) -> None:
        super().bootstrap(*args)
        run_due = self.maintenance.run_due

        def run_due_then_stop(worker: Any) -> None:
            run_due(worker)
            if not worker._stop_requested:
                worker.request_stop()

        self.maintenance.run_due = run_due_then_stop  # type: ignore[method-assign]


def test_stop_request_during_maintenance_starts_no_new_job(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue('rqtest_jobs.say_hello')
    worker = _StopDuringMaintenance([queue], connection=connection, name='maintained')
    assert worker.work() is False
    assert job.get_status() == JobStatus.QUEUED
