"""``RQScheduler`` in this process, with its clock under the test's control: due jobs move, the at-front
rules, TTLs, batches, the locks (refresh, release, take-over of a silent holder) and races."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import redis

import rqtest_jobs
from rq import Queue, Retry
from rq._redis import keys
from rq.job import JobStatus
from rq.scheduler import RQScheduler
from rq.utils import now
from rq.worker import SimpleWorker

SCHEDULED = keys.registry_key('scheduled', 'default')


def queued_ids(queue: Queue) -> list[str]:
    return queue.get_job_ids()


def scheduler(queue: Queue, clock: Any = None, **kwargs: Any) -> RQScheduler:
    options: dict[str, Any] = {'clock': clock} if clock is not None else {}
    return RQScheduler([queue], connection=queue.connection, **options, **kwargs)


def test_a_scheduled_job_moves_when_due_and_not_before(queue: Queue, clock: Any) -> None:
    job = queue.enqueue_in(timedelta(hours=1), rqtest_jobs.say_hello)
    due = queue.scheduled_job_registry.get_scheduled_time(job).timestamp()
    mover = scheduler(queue, clock)
    assert mover.acquire_locks() == {'default'}

    clock.now = due - 1
    assert mover.enqueue_scheduled_jobs() == 0
    assert job.get_status() == JobStatus.SCHEDULED
    assert queued_ids(queue) == []

    clock.now = due
    assert mover.enqueue_scheduled_jobs() == 1
    assert queued_ids(queue) == [job.id]
    assert job.id not in queue.scheduled_job_registry
    job.refresh()
    assert job.get_status() == JobStatus.QUEUED
    assert job.enqueued_at is not None and abs(job.enqueued_at.timestamp() - due) < 1
    assert SimpleWorker([queue]).work(burst=True)
    assert job.get_status() == JobStatus.FINISHED


def test_at_front_rules(queue: Queue, clock: Any, connection: redis.Redis) -> None:
    waiting = queue.enqueue(rqtest_jobs.say_hello)
    back = queue.enqueue_at(now(), rqtest_jobs.say_hello)
    front = queue.enqueue_at(now(), rqtest_jobs.say_hello, at_front=True)
    # asked to go first on retry, but has not run yet: to the back
    not_retried = queue.enqueue_at(now(), rqtest_jobs.say_hello, retry=Retry(max=1, enqueue_at_front=True))
    # a retry that asked for the front, after a failed run
    retried = queue.enqueue(rqtest_jobs.fail, retry=Retry(max=1, interval=30, enqueue_at_front=True))
    assert SimpleWorker([queue]).work(burst=True, max_jobs=2)  # runs `waiting`, then `retried` fails
    assert retried.get_status() == JobStatus.SCHEDULED
    queue.enqueue(rqtest_jobs.say_hello, job_id='last')
    clock.advance(31)
    mover = scheduler(queue, clock)
    mover.acquire_locks()
    assert mover.enqueue_scheduled_jobs() == 4
    ids = queued_ids(queue)
    assert waiting.id not in ids
    assert ids[:2] == [retried.id, front.id] or ids[:2] == [front.id, retried.id]
    assert set(ids[2:]) == {back.id, not_retried.id, 'last'}
    assert ids.index('last') < min(ids.index(back.id), ids.index(not_retried.id))


def test_a_job_whose_hash_is_gone_is_only_taken_out_of_the_registry(
    queue: Queue, clock: Any, connection: redis.Redis
) -> None:
    job = queue.enqueue_at(now(), rqtest_jobs.say_hello)
    connection.delete(job.key)
    clock.advance(1)  # (the clock stood still since the test began: the job is due a moment later)
    mover = scheduler(queue, clock)
    mover.acquire_locks()
    assert mover.enqueue_scheduled_jobs() == 0
    assert connection.zcard(SCHEDULED) == 0
    assert queued_ids(queue) == []


def test_a_job_ttl_counts_from_when_it_is_queued(queue: Queue, clock: Any, connection: redis.Redis) -> None:
    job = queue.enqueue_in(timedelta(seconds=50), rqtest_jobs.say_hello, ttl=100)
    clock.advance(60)
    mover = scheduler(queue, clock)
    mover.acquire_locks()
    connection.expire(job.key, 5)  # as if most of the ttl had passed while it waited
    assert mover.enqueue_scheduled_jobs() == 1
    assert 95 <= connection.ttl(job.key) <= 100


def test_a_large_backlog_moves_in_one_pass_in_due_order(queue: Queue, clock: Any, connection: redis.Redis) -> None:
    start = now() - timedelta(hours=1)
    with connection.pipeline() as pipe:
        jobs = [queue.enqueue_at(start + timedelta(seconds=i), rqtest_jobs.add, i, pipeline=pipe) for i in range(2500)]
        pipe.execute()
    mover = scheduler(queue, clock)
    mover.acquire_locks()
    assert mover.enqueue_scheduled_jobs() == 2500
    assert queued_ids(queue) == [job.id for job in jobs]
    assert connection.zcard(SCHEDULED) == 0


def test_one_lock_holder_per_queue_with_upstream_keys_and_ttls(queue: Queue, connection: redis.Redis) -> None:
    first = scheduler(queue, name='first')
    second = scheduler(queue, name='second')
    assert first.acquire_locks() == {'default'}
    assert second.acquire_locks() == set()
    assert connection.get(keys.scheduler_lock_key('default')) == b'first'
    assert 60 <= connection.ttl(keys.scheduler_lock_key('default')) <= 61

    first.heartbeat()
    fields = connection.hgetall(keys.scheduler_key('first'))
    assert {f.decode() for f in fields} == {'name', 'hostname', 'pid', 'queues', 'created_at', 'last_heartbeat'}
    assert fields[b'queues'] == b'default'
    assert 60 <= connection.ttl(keys.scheduler_key('first')) <= 61
    assert queue.scheduler_pid == first.pid
    assert RQScheduler.fetch('first', connection).acquired_locks == set()

    first.release_locks()
    assert connection.get(keys.scheduler_lock_key('default')) is None
    assert second.acquire_locks() == {'default'}
    first.release_locks()  # not its lock any more: left alone
    assert connection.get(keys.scheduler_lock_key('default')) == b'second'


def test_a_silent_holder_loses_its_lock_and_a_live_one_keeps_it(queue: Queue, connection: redis.Redis) -> None:
    holder = scheduler(queue, name='holder')
    standby = scheduler(queue, name='standby')
    patient = scheduler(queue, name='patient', takeover_after=None)
    holder.acquire_locks()
    lock = keys.scheduler_lock_key('default')

    # a live holder refreshes to 61 s every second: 50.1 s left means 10.9 s of silence
    connection.pexpire(lock, 50_100)
    assert standby.acquire_locks() == set()
    connection.pexpire(lock, 49_900)  # silent for more than 10 s past its interval: dead
    assert patient.acquire_locks() == set()  # takeover_after=None waits for the lock to expire
    assert standby.acquire_locks() == {'default'}
    assert connection.get(lock) == b'standby'
    assert connection.ttl(lock) >= 60

    holder.heartbeat()  # the old holder comes back: the lock is no longer its own
    assert holder.acquired_locks == set()
    assert connection.get(lock) == b'standby'


def test_racing_schedulers_queue_each_job_once(queue: Queue, connection: redis.Redis) -> None:
    with connection.pipeline() as pipe:
        for i in range(3000):
            queue.enqueue_at(now() - timedelta(seconds=10), rqtest_jobs.add, i, pipeline=pipe)
        pipe.execute()
    movers = [scheduler(queue, name=f'racer{i}') for i in range(3)]
    for mover in movers:
        mover._acquired_locks = {'default'}  # (as if each believed it held the lock)
    threads = [threading.Thread(target=mover.enqueue_scheduled_jobs) for mover in movers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = queued_ids(queue)
    assert len(ids) == 3000 and len(set(ids)) == 3000
    assert connection.zcard(SCHEDULED) == 0


def test_the_thread_holds_moves_and_releases_on_stop(queue: Queue, connection: redis.Redis) -> None:
    job = queue.enqueue_at(now() - timedelta(seconds=1), rqtest_jobs.say_hello)
    mover = scheduler(queue, name='threaded', interval=0.2)
    mover.start()
    try:
        assert _wait(lambda: job.get_status() == JobStatus.QUEUED)
        assert mover.acquired_locks == {'default'}
        assert connection.exists(keys.scheduler_key('threaded'))
    finally:
        mover.stop()
    assert not mover.is_running()
    assert connection.get(keys.scheduler_lock_key('default')) is None
    assert not connection.exists(keys.scheduler_key('threaded'))


def test_bad_arguments_say_what_is_wrong(connection: redis.Redis) -> None:
    with pytest.raises(ValueError, match='interval must be a positive number'):
        RQScheduler(['default'], connection=connection, interval=0)
    with pytest.raises(ValueError, match='takeover_after must be between 0 and 60'):
        RQScheduler(['default'], connection=connection, takeover_after=90)


def _wait(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def test_a_dead_scheduler_thread_is_started_again(queue: Queue, connection: redis.Redis) -> None:
    mover = scheduler(queue, name='phoenix', interval=0.2)
    dead = threading.Thread(target=lambda: None)
    dead.start()
    dead.join()
    mover._thread = dead  # (as if its thread had died)
    try:
        assert mover.ensure_running() is True
        assert mover.is_running()
        assert _wait(lambda: connection.get(keys.scheduler_lock_key('default')) == b'phoenix')
        assert mover.ensure_running() is False  # alive: nothing to do
    finally:
        mover.stop()
    assert mover.ensure_running() is False  # stopped on purpose: stays stopped
