"""``work()`` options: burst, max_jobs, max_idle_time, dequeue strategies, suspension, queue
priority, the return value and ``with_scheduler``."""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

import pytest
import redis

import rqtest_jobs
import rqtest_jobs_worker
from redis_events import blocked_clients, wait_blocked
from rq import Queue
from rq.worker import DequeueStrategy, SimpleWorker, SpawnWorker, Worker
from worker_process import wait_until

WORKER_CLASSES = [Worker, SimpleWorker, SpawnWorker]


@pytest.fixture(params=WORKER_CLASSES, ids=lambda cls: cls.__name__)
def worker_class(request: pytest.FixtureRequest) -> type[Worker]:
    return request.param  # type: ignore[no-any-return]


def order(connection: redis.Redis) -> list[str]:
    return [tag.decode() for tag in connection.lrange('order', 0, -1)]


def statuses(connection: redis.Redis, jobs: list[Any]) -> list[str]:
    return [(connection.hget(job.key, 'status') or b'').decode() for job in jobs]


def later(seconds: float, action: Any) -> threading.Thread:
    def run() -> None:
        time.sleep(seconds)
        action()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


# -- burst, max_jobs, the return value ------------------------------------------------------


def test_burst_returns_whether_a_job_was_processed(queue: Queue, worker_class: type[Any]) -> None:
    assert worker_class([queue]).work(burst=True) is False
    job = queue.enqueue(rqtest_jobs.fail)
    assert worker_class([queue]).work(burst=True) is True  # a failed job counts as processed
    assert job.get_status(refresh=True).value == 'failed'


def test_burst_drains_every_queue_then_stops(connection: redis.Redis) -> None:
    queues = [Queue(name, connection=connection) for name in ('a', 'b')]
    jobs = [q.enqueue(rqtest_jobs.add, i) for i, q in enumerate(queues * 2)]
    assert SimpleWorker(queues).work(burst=True) is True
    assert statuses(connection, jobs) == ['finished'] * 4
    assert [q.count for q in queues] == [0, 0]


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker], ids=lambda cls: cls.__name__)
def test_max_jobs(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    jobs = [queue.enqueue(rqtest_jobs.add, i) for i in range(3)]
    worker = worker_class([queue])
    assert worker.work(burst=True, max_jobs=2) is True
    assert statuses(connection, jobs) == ['finished', 'finished', 'queued']
    assert connection.hget(worker.key, 'successful_job_count') == b'2'


def test_max_jobs_without_burst_returns_after_the_jobs(connection: redis.Redis, queue: Queue) -> None:
    jobs = [queue.enqueue(rqtest_jobs.add, i) for i in range(2)]
    started = time.monotonic()
    assert SimpleWorker([queue]).work(max_jobs=2) is True
    assert time.monotonic() - started < 30  # (only a guard: without max_jobs it would wait for ever)
    assert statuses(connection, jobs) == ['finished', 'finished']


def test_max_idle_time_stops_an_idle_worker(queue: Queue) -> None:
    worker = SimpleWorker([queue])
    started = time.monotonic()
    assert worker.work(max_idle_time=1) is False
    assert 0.9 <= time.monotonic() - started < 30  # (the upper bound only catches a wait without end)


def test_max_idle_time_counts_from_the_last_job(connection: redis.Redis, queue: Queue) -> None:
    job_holder: list[Any] = []
    fed_at: list[float] = []

    def feed() -> None:  # once the worker waits, well within its idle time
        wait_blocked(connection, 'blmove')
        job_holder.append(queue.enqueue(rqtest_jobs.add, 1))
        fed_at.append(time.monotonic())

    feeder = later(0, feed)
    assert SimpleWorker([queue]).work(max_idle_time=2) is True
    stopped_at = time.monotonic()
    feeder.join()
    assert statuses(connection, job_holder) == ['finished']
    assert stopped_at - fed_at[0] >= 2 - 0.05  # idle for 2 s after the job, not counted from the start


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker], ids=lambda cls: cls.__name__)
def test_an_idle_worker_wakes_for_a_new_job(connection: redis.Redis, worker_class: type[Any]) -> None:
    queues = [Queue('high', connection=connection), Queue('low', connection=connection)]
    job_holder: list[Any] = []

    def feed() -> None:  # once the worker waits on both queues
        assert wait_until(lambda: blocked_clients(connection, 'blmove') == len(queues), 60)
        job_holder.append(queues[1].enqueue(rqtest_jobs.add, 1))

    feeder = later(0, feed)
    worker = worker_class(queues)
    assert worker.work(max_jobs=1) is True  # woke up for the job and ran it
    feeder.join()
    assert statuses(connection, job_holder) == ['finished']


def test_waiting_threads_end_with_the_worker(connection: redis.Redis) -> None:
    """A worker watching several queues returns with its watchers ended and none of their blocking
    commands left on the server (a watcher whose connection was cut must not send its BLMOVE again,
    as redis-py's default retries would: the worker then waited for it)."""
    queues = [Queue('a', connection=connection), Queue('b', connection=connection)]
    SimpleWorker(queues).work(max_idle_time=0.2)

    watchers = [t for t in threading.enumerate() if t.name.startswith('rq-wait-') and t.is_alive()]
    assert watchers == []
    assert connection.info('clients')['blocked_clients'] == 0


def test_waiting_takes_nothing(connection: redis.Redis, queue: Queue) -> None:
    """A worker waiting for work leaves queued ids in place (no intermediate list, no pop)."""
    seen: dict[str, Any] = {}

    def observe_then_stop() -> None:
        job = queue.enqueue(rqtest_jobs.add, 1)
        seen['job'] = job
        wait_until(lambda: connection.hget(job.key, 'status') == b'finished', timeout=5)
        seen['keys'] = sorted(k.decode() for k in connection.keys('rq:queue:*'))

    thread = later(0.3, observe_then_stop)
    SimpleWorker([queue]).work(max_jobs=1)
    thread.join()
    assert seen['keys'] == []  # no rq:queue:default:intermediate either


# -- queue order ----------------------------------------------------------------------------


def _three_queues(connection: redis.Redis, per_queue: int) -> list[Queue]:
    queues = [Queue(name, connection=connection) for name in ('q1', 'q2', 'q3')]
    for queue in reversed(queues):  # enqueue the lowest priority first
        for index in range(per_queue):
            queue.enqueue(rqtest_jobs_worker.record_order, f'{queue.name}.{index}')
    return queues


def test_queues_are_served_in_priority_order(connection: redis.Redis) -> None:
    queues = _three_queues(connection, 2)
    SimpleWorker(queues).work(burst=True)
    assert order(connection) == ['q1.0', 'q1.1', 'q2.0', 'q2.1', 'q3.0', 'q3.1']


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker], ids=lambda cls: cls.__name__)
def test_priority_is_checked_before_each_job(connection: redis.Redis, worker_class: type[Any]) -> None:
    high, low = Queue('high', connection=connection), Queue('low', connection=connection)
    low.enqueue(rqtest_jobs_worker.record_and_enqueue, 'low.0', 'high', 'high.0')  # queues a high job
    low.enqueue(rqtest_jobs_worker.record_order, 'low.1')
    worker_class([high, low]).work(burst=True)
    assert order(connection) == ['low.0', 'high.0', 'low.1']


@pytest.mark.parametrize('strategy', [DequeueStrategy.ROUND_ROBIN, 'round_robin'])
def test_round_robin(connection: redis.Redis, strategy: Any) -> None:
    queues = _three_queues(connection, 2)
    SimpleWorker(queues).work(burst=True, dequeue_strategy=strategy)
    assert order(connection) == ['q1.0', 'q2.0', 'q3.0', 'q1.1', 'q2.1', 'q3.1']


def test_round_robin_skips_empty_queues(connection: redis.Redis) -> None:
    queues = [Queue(name, connection=connection) for name in ('q1', 'q2', 'q3')]
    for tag in ('q1.0', 'q1.1', 'q1.2'):
        queues[0].enqueue(rqtest_jobs_worker.record_order, tag)
    queues[2].enqueue(rqtest_jobs_worker.record_order, 'q3.0')
    SimpleWorker(queues).work(burst=True, dequeue_strategy='round_robin')
    assert order(connection) == ['q1.0', 'q3.0', 'q1.1', 'q1.2']


def test_random_strategy_shuffles(connection: redis.Redis) -> None:
    queues = _three_queues(connection, 8)
    SimpleWorker(queues).work(burst=True, dequeue_strategy=DequeueStrategy.RANDOM)
    done = order(connection)
    in_priority_order = [f'{q}.{i}' for q in ('q1', 'q2', 'q3') for i in range(8)]
    assert sorted(done) == sorted(in_priority_order)
    assert done != in_priority_order  # 24 jobs in exact priority order: a chance of about 1 in 3**16
    for name in ('q1', 'q2', 'q3'):  # each queue is still first in, first out
        mine = [tag for tag in done if tag.startswith(name)]
        assert mine == sorted(mine, key=lambda tag: int(tag.split('.')[1]))


def test_unknown_dequeue_strategy_is_refused(queue: Queue) -> None:
    with pytest.raises(ValueError):
        SimpleWorker([queue]).work(burst=True, dequeue_strategy='fastest')


def test_deprecated_strategy_workers(connection: redis.Redis) -> None:
    from rq.worker import RoundRobinWorker

    queues = _three_queues(connection, 1)
    with pytest.warns(DeprecationWarning):
        RoundRobinWorker(queues).work(burst=True)
    assert sorted(order(connection)) == ['q1.0', 'q2.0', 'q3.0']


# -- suspension -----------------------------------------------------------------------------


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker], ids=lambda cls: cls.__name__)
def test_burst_quits_while_suspended(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs.add, 1)
    connection.set('rq:suspended', 1)
    started = time.monotonic()
    assert worker_class([queue]).work(burst=True) is False
    assert time.monotonic() - started < 30  # (only a guard: waiting would last as long as the suspension)
    assert statuses(connection, [job]) == ['queued']
    assert queue.count == 1


def test_non_burst_waits_while_suspended(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs.add, 1)
    connection.set('rq:suspended', 1)
    worker = SimpleWorker([queue])
    seen: dict[str, Any] = {}

    def look_then_resume() -> None:
        seen['state'] = connection.hget(worker.key, 'state')
        seen['status'] = connection.hget(job.key, 'status')
        seen['queued'] = queue.count
        connection.delete('rq:suspended')

    thread = later(0.6, look_then_resume)
    started = time.monotonic()
    assert worker.work(max_jobs=1) is True
    thread.join()
    assert time.monotonic() - started >= 0.6
    assert seen == {'state': b'suspended', 'status': b'queued', 'queued': 1}
    assert statuses(connection, [job]) == ['finished']


# -- with_scheduler -------------------------------------------------------------------------


def test_with_scheduler_without_rq_cron_says_so_and_works(
    connection: redis.Redis, queue: Queue, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, 'rq.cron', None)  # as if rq-cron were not installed
    job = queue.enqueue(rqtest_jobs.add, 1)
    with caplog.at_level(logging.INFO, logger='rq.worker'):
        assert SimpleWorker([queue]).work(burst=True, with_scheduler=True) is True
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any('rq-cron' in m and 'not installed' in m for m in messages), messages
    assert statuses(connection, [job]) == ['finished']


# -- maintenance ----------------------------------------------------------------------------


def test_first_maintenance_cleans_the_registries(connection: redis.Redis, queue: Queue) -> None:
    old = int(time.time()) - 10
    connection.zadd('rq:finished:default', {'expired-finished': old, 'kept-finished': old + 1000})
    connection.zadd('rq:failed:default', {'expired-failed': old})
    connection.sadd('rq:workers:default', 'rq:worker:long-gone')
    connection.sadd('rq:workers', 'rq:worker:long-gone')
    SimpleWorker([queue]).work(burst=True)
    assert connection.zrange('rq:finished:default', 0, -1) == [b'kept-finished']
    assert connection.zcard('rq:failed:default') == 0
    assert not connection.sismember('rq:workers', 'rq:worker:long-gone')
    assert not connection.sismember('rq:workers:default', 'rq:worker:long-gone')
    assert not connection.exists('rq:clean_registries:default')  # the lock is released


def test_maintenance_skips_a_queue_another_worker_is_cleaning(connection: redis.Redis, queue: Queue) -> None:
    connection.set('rq:clean_registries:default', '1', ex=60)
    connection.zadd('rq:finished:default', {'expired-finished': int(time.time()) - 10})
    SimpleWorker([queue]).work(burst=True)
    assert connection.zcard('rq:finished:default') == 1
    assert connection.exists('rq:clean_registries:default')  # not ours to release
