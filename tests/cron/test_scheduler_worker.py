"""The scheduler inside workers: ``work(with_scheduler=True)`` in burst mode and as a thread of a
running worker (``python -m rq.worker --with-scheduler``), a pool's workers, Retry and Repeat
intervals end to end, and the take-over after the lock holder is SIGKILLed."""

from __future__ import annotations

import signal
import time
from datetime import timedelta

import pytest
import redis

import rqtest_jobs
import rqtest_jobs_cron
from redis_server import RedisServer
from rq import Queue, Repeat, Retry
from rq._redis import keys
from rq.job import JobStatus
from rq.scheduler import DEFAULT_TAKEOVER_AFTER
from rq.utils import now
from rq.worker import SimpleWorker
from signal_support import launched, pool_command, running_worker
from worker_process import wait_until

LOCK = keys.scheduler_lock_key('default')
#: The stated take-over bound: takeover_after, plus the holder's last refresh and the standby's
#: look happening up to one interval (1 s) each on the wrong side of it.
TAKEOVER_BOUND = DEFAULT_TAKEOVER_AFTER + 2


def worker_args(redis_server: RedisServer) -> tuple[str, ...]:
    """A SimpleWorker with its scheduler. (The URL sets socket_timeout: without it, redis-py 8's
    from_url leaves the 5 s default out of the pool's kwargs, and the worker's blocking wait, which
    reads them, outlasts the socket timeout and stops the worker after 5 s idle.)"""
    url = f'redis://127.0.0.1:{redis_server.port}/0?socket_timeout=30'
    return ('--url', url, '--with-scheduler', '--worker-class', 'SimpleWorker')


def lock_holder(connection: redis.Redis) -> str | None:
    value = connection.get(LOCK)
    return value.decode() if isinstance(value, bytes) else None


def run_times(connection: redis.Redis, key: str) -> list[float]:
    return [float(value) for value in connection.lrange(key, 0, -1)]


def test_burst_worker_moves_due_jobs_once_then_releases_the_lock(queue: Queue, connection: redis.Redis) -> None:
    due = queue.enqueue_at(now() - timedelta(seconds=5), rqtest_jobs.say_hello, 'due')
    later = queue.enqueue_in(timedelta(hours=1), rqtest_jobs.say_hello, 'later')
    assert SimpleWorker([queue]).work(burst=True, with_scheduler=True) is True
    assert due.get_status() == JobStatus.FINISHED
    assert later.get_status() == JobStatus.SCHEDULED
    assert lock_holder(connection) is None


def test_burst_worker_leaves_a_queue_locked_by_another_scheduler_alone(queue: Queue, connection: redis.Redis) -> None:
    connection.set(LOCK, 'someone-else', ex=61)
    due = queue.enqueue_at(now() - timedelta(seconds=5), rqtest_jobs.say_hello)
    assert SimpleWorker([queue]).work(burst=True, with_scheduler=True) is False
    assert due.get_status() == JobStatus.SCHEDULED
    assert lock_holder(connection) == 'someone-else'


def test_a_running_worker_moves_a_job_when_it_is_due(
    queue: Queue, connection: redis.Redis, redis_server: RedisServer
) -> None:
    with running_worker(connection, redis_server.port, 'mover', *worker_args(redis_server)) as worker:
        assert wait_until(lambda: lock_holder(connection) == 'mover', 30)
        job = queue.enqueue_in(timedelta(seconds=2), rqtest_jobs_cron.record_run, 'runs:in2')
        due = queue.scheduled_job_registry.get_scheduled_time(job).timestamp()
        assert wait_until(lambda: job.get_status() == JobStatus.FINISHED, 30)  # (how soon: ran_at below)
        (ran_at,) = run_times(connection, 'runs:in2')
        assert due <= ran_at <= due + 2.5
        worker.send(signal.SIGTERM)
        assert worker.wait(10) == 0, worker.output()
    assert lock_holder(connection) is None  # released at the worker's warm shutdown
    assert not connection.exists(keys.scheduler_key('mover'))


def test_retry_and_repeat_intervals_run_at_the_documented_delays(
    queue: Queue, connection: redis.Redis, redis_server: RedisServer
) -> None:
    retried = queue.enqueue(rqtest_jobs_cron.fail_and_record, 'runs:retry', retry=Retry(max=2, interval=[2, 4]))
    repeated = queue.enqueue(rqtest_jobs_cron.record_run, 'runs:repeat', repeat=Repeat(times=2, interval=[2, 4]))
    with running_worker(connection, redis_server.port, 'timing', *worker_args(redis_server)):
        assert wait_until(
            lambda: retried.get_status() == JobStatus.FAILED and repeated.get_status() == JobStatus.FINISHED, 15
        )
    for key in ('runs:retry', 'runs:repeat'):
        times = run_times(connection, key)
        assert len(times) == 3, (key, times)
        first_wait, second_wait = times[1] - times[0], times[2] - times[1]
        # scores are whole seconds and the scheduler looks every second: a delay d is d-1 .. d+1.5 s
        assert 1 <= first_wait <= 3.5, (key, times)
        assert 3 <= second_wait <= 5.5, (key, times)


def test_every_worker_of_a_pool_runs_a_scheduler(
    queue: Queue, connection: redis.Redis, redis_server: RedisServer
) -> None:
    with launched(pool_command(redis_server.port, '--num-workers', '2', 'default')) as pool:
        assert wait_until(lambda: len(connection.keys(keys.scheduler_key('*'))) == 2, 10), pool.output()
        holder = lock_holder(connection)
        assert holder is not None and connection.exists(keys.scheduler_key(holder))
        job = queue.enqueue_in(timedelta(seconds=1), rqtest_jobs.say_hello)
        assert wait_until(lambda: job.get_status() == JobStatus.FINISHED, 30), pool.output()
        pool.send(signal.SIGTERM)
        assert pool.wait(10) == 0, pool.output()
    assert lock_holder(connection) is None


@pytest.mark.timeout(60)
def test_a_standby_takes_over_within_the_bound_after_the_holder_is_sigkilled(
    queue: Queue, connection: redis.Redis, redis_server: RedisServer
) -> None:
    args = worker_args(redis_server)
    with running_worker(connection, redis_server.port, 'holder', *args) as holder:
        assert wait_until(lambda: lock_holder(connection) == 'holder', 30)
        with running_worker(connection, redis_server.port, 'standby', *args) as standby:
            assert wait_until(lambda: connection.exists(keys.scheduler_key('standby')), 30)
            assert lock_holder(connection) == 'holder'
            holder.send(signal.SIGKILL)
            killed_at = time.time()
            assert holder.wait(30) is not None
            job = queue.enqueue_at(now(), rqtest_jobs.say_hello)
            assert wait_until(lambda: lock_holder(connection) == 'standby', TAKEOVER_BOUND + 8), standby.output()
            took = time.time() - killed_at
            # not before the holder was silent for takeover_after; within the stated bound (plus
            # the 20 ms this test polls at, and some slack for a loaded machine)
            assert DEFAULT_TAKEOVER_AFTER - 1 <= took <= TAKEOVER_BOUND + 1, took
            assert wait_until(lambda: job.get_status() == JobStatus.FINISHED, 30), standby.output()
