"""``rq.asyncio.Queue.enqueue``/``enqueue_call`` write exactly what the synchronous API writes.

Each case enqueues the same job through ``rq.Queue`` and through ``rq.asyncio.Queue`` on an empty
database (after the same setup) and compares the raw Redis data: every key, its type and TTL, every
job hash field (timestamps by their format), queue lists, registries and sets; then the returned
jobs. The cases are those of test_enqueue.py and test_dependencies.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
from redis.asyncio import Redis as AsyncRedis

import rqtest_jobs
import rqtest_jobs_queue
from asyncio_support import Setup, assert_same_job, run_async, twice
from redis_server import RedisServer
from rq import Callback, Queue, RateLimit, Repeat, Retry, Webhook
from rq import asyncio as rq_asyncio
from rq.job import Dependency, Job, JobStatus


@dataclass
class Case:
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    method: str = 'enqueue'
    queue: dict[str, Any] = field(default_factory=dict)
    setup: Setup | None = None


def parent_queued(connection: redis.Redis) -> None:
    Queue(connection=connection).enqueue(rqtest_jobs.say_hello, job_id='p')


def parent_with_status(status: str) -> Setup:
    def setup(connection: redis.Redis) -> None:
        parent_queued(connection)
        connection.hset('rq:job:p', 'status', status)

    return setup


def two_parents(connection: redis.Redis) -> None:
    queue = Queue(connection=connection)
    queue.enqueue(rqtest_jobs.say_hello, job_id='a')
    queue.enqueue(rqtest_jobs.say_hello, job_id='b')
    connection.hset('rq:job:a', 'status', 'finished')


def queue_holds_two(connection: redis.Redis) -> None:
    queue = Queue(connection=connection)
    queue.enqueue(rqtest_jobs.say_hello, job_id='first')
    queue.enqueue(rqtest_jobs.say_hello, job_id='second')


def slot_taken(connection: redis.Redis) -> None:
    Queue(connection=connection).enqueue(rqtest_jobs.add, 0, rate_limit=RateLimit('k', 1), job_id='holder')


J = {'job_id': 'j1'}
CALLBACKS = {
    'on_success': Callback(rqtest_jobs.record_success),
    'on_failure': Callback(rqtest_jobs.record_failure, timeout=10),
    'on_stopped': Callback('rqtest_jobs.record_stopped', timeout='2m'),
}
WEBHOOKS = [
    Webhook('https://example.test/done', 'finished'),
    Webhook('http://example.test/fail', 'failed', method='POST', headers={'X-A': 'b'}, timeout=3),
]

CASES: dict[str, Case] = {
    'plain': Case((rqtest_jobs.add, 1), {'b': 2, **J}),
    'plain-random-id': Case((rqtest_jobs.add, 1), {'b': 2}),
    'no-args': Case((rqtest_jobs.return_none,), J),
    'dotted-string': Case(('rqtest_jobs.add', 3), J),
    'bound-method': Case((rqtest_jobs.Calculator(2).add, 3), J),
    'async-function': Case((rqtest_jobs.async_add, 1, 2), J),
    'job-timeout-int': Case((rqtest_jobs.say_hello,), {'job_timeout': 5, **J}),
    'job-timeout-units': Case((rqtest_jobs.say_hello,), {'job_timeout': '1h', **J}),
    'job-timeout-infinite': Case((rqtest_jobs.say_hello,), {'job_timeout': -1, **J}),
    'timeout-goes-to-the-function': Case((rqtest_jobs_queue.takes_timeout,), {'timeout': 5, **J}),
    'result-ttl-0': Case((rqtest_jobs.say_hello,), {'result_ttl': 0, **J}),
    'result-ttl-units': Case((rqtest_jobs.say_hello,), {'result_ttl': '5m', **J}),
    'failure-ttl': Case((rqtest_jobs.say_hello,), {'failure_ttl': 100, **J}),
    'ttl': Case((rqtest_jobs.say_hello,), {'ttl': 100, **J}),
    'ttl-units': Case((rqtest_jobs.say_hello,), {'ttl': '2h', **J}),
    'description': Case((rqtest_jobs.add, 1), {'description': 'adding one', **J}),
    'empty-description': Case((rqtest_jobs.add, 1), {'description': '', **J}),
    'meta': Case((rqtest_jobs.say_hello,), {'meta': {'owner': 'me', 'n': 3}, **J}),
    'retry': Case((rqtest_jobs.say_hello,), {'retry': Retry(max=3, interval=[1, 2]), **J}),
    'retry-at-front': Case((rqtest_jobs.say_hello,), {'retry': Retry(max=1, enqueue_at_front=True), **J}),
    'repeat': Case((rqtest_jobs.say_hello,), {'repeat': Repeat(times=3, interval=30), **J}),
    'callbacks': Case((rqtest_jobs.say_hello,), {**CALLBACKS, **J}),
    'webhooks': Case((rqtest_jobs.say_hello,), {'webhooks': WEBHOOKS, **J}),
    'explicit-args': Case((rqtest_jobs_queue.takes_timeout,), {'args': (1,), 'kwargs': {'ttl': 2}, 'ttl': 30, **J}),
    'at-front': Case((rqtest_jobs.say_hello,), {'at_front': True, **J}, setup=queue_holds_two),
    'at-back': Case((rqtest_jobs.say_hello,), J, setup=queue_holds_two),
    'unique': Case((rqtest_jobs.add, 1), {'unique': True, 'ttl': 60, **J}),
    'unmet-dependency': Case((rqtest_jobs.say_hello,), {'depends_on': 'p', **J}, setup=parent_queued),
    'unmet-dependency-ttl': Case((rqtest_jobs.say_hello,), {'depends_on': 'p', 'ttl': 50, **J}, setup=parent_queued),
    'met-dependency': Case((rqtest_jobs.say_hello,), {'depends_on': 'p', **J}, setup=parent_with_status('finished')),
    'missing-dependency': Case((rqtest_jobs.say_hello,), {'depends_on': 'nobody', **J}),
    'dependency-list': Case((rqtest_jobs.say_hello,), {'depends_on': ['a', 'b'], **J}, setup=two_parents),
    'allow-failure-failed-parent': Case(
        (rqtest_jobs.say_hello,),
        {'depends_on': Dependency(['p'], allow_failure=True, enqueue_at_front=True), **J},
        setup=parent_with_status('failed'),
    ),
    'allow-failure-queued-parent': Case(
        (rqtest_jobs.say_hello,),
        {'depends_on': Dependency(['p'], allow_failure=True, enqueue_at_front=True), **J},
        setup=parent_queued,
    ),
    'failed-parent-without-allow-failure': Case(
        (rqtest_jobs.say_hello,), {'depends_on': 'p', **J}, setup=parent_with_status('failed')
    ),
    'rate-limit-free-slot': Case((rqtest_jobs.add, 1), {'rate_limit': RateLimit('k', 2), **J}),
    'rate-limit-waits': Case((rqtest_jobs.add, 1), {'rate_limit': RateLimit('k', 1), **J}, setup=slot_taken),
    'rate-limit-at-front': Case(
        (rqtest_jobs.add, 1), {'rate_limit': RateLimit('k', 1), 'at_front': True, **J}, setup=slot_taken
    ),
    'other-queue': Case((rqtest_jobs.add, 1), J, queue={'name': 'low'}),
    'json-serializer': Case((rqtest_jobs.add, 1), {'meta': {'a': [1]}, **J}, queue={'serializer': 'json'}),
    'default-timeout': Case((rqtest_jobs.add, 1), J, queue={'default_timeout': '10m'}),
    'signed': Case((rqtest_jobs.add, 1), J, queue={'signing_keys': 'k1,k0'}),
    'enqueue-call': Case(
        (),
        {
            'func': rqtest_jobs.add,
            'args': (1,),
            'kwargs': {'b': 5},
            'timeout': 30,
            'result_ttl': 20,
            'ttl': 40,
            'failure_ttl': 50,
            'description': 'call',
            'meta': {'m': 1},
            'retry': Retry(max=2),
            'repeat': Repeat(times=1),
            **CALLBACKS,
            **J,
        },
        method='enqueue_call',
    ),
    'enqueue-call-at-front': Case(
        (rqtest_jobs.add, (1,)), {'at_front': True, **J}, 'enqueue_call', {}, queue_holds_two
    ),
}


def sync_queue(connection: redis.Redis, options: dict[str, Any]) -> Queue:
    options = dict(options)
    return Queue(options.pop('name', 'default'), connection=connection, **options)


def async_queue(client: AsyncRedis, options: dict[str, Any]) -> rq_asyncio.Queue:
    options = dict(options)
    return rq_asyncio.Queue(options.pop('name', 'default'), connection=client, **options)


@pytest.mark.parametrize('name', list(CASES))
def test_same_data_as_the_sync_api(connection: redis.Redis, redis_server: RedisServer, name: str) -> None:
    case = CASES[name]

    def sync_call(connection: redis.Redis) -> Job:
        method = getattr(sync_queue(connection, case.queue), case.method)
        return method(*case.args, **case.kwargs)  # type: ignore[no-any-return]

    async def async_call(client: AsyncRedis) -> rq_asyncio.Job:
        method = getattr(async_queue(client, case.queue), case.method)
        return await method(*case.args, **case.kwargs)  # type: ignore[no-any-return]

    sync_job, async_job = twice(connection, redis_server.port, sync_call, async_call, case.setup)
    assert_same_job(sync_job, async_job)


def test_the_statuses_the_cases_reach(connection: redis.Redis, redis_server: RedisServer) -> None:
    """(The comparisons above cover each outcome of an enqueue.)"""
    expected = {
        'plain': JobStatus.QUEUED,
        'unmet-dependency': JobStatus.DEFERRED,
        'allow-failure-failed-parent': JobStatus.QUEUED,
        'failed-parent-without-allow-failure': JobStatus.DEFERRED,
        'rate-limit-waits': JobStatus.RATE_LIMITED,
    }
    for name, status in expected.items():
        case = CASES[name]
        connection.flushall()
        if case.setup is not None:
            case.setup(connection)

        async def enqueue(client: AsyncRedis, case: Case = case) -> JobStatus:
            job = await getattr(async_queue(client, case.queue), case.method)(*case.args, **case.kwargs)
            return await job.get_status()  # type: ignore[no-any-return]

        assert run_async(redis_server.port, enqueue) == status, name


def test_signed_jobs_verify(connection: redis.Redis, redis_server: RedisServer) -> None:
    from rq.trust import verify

    async def enqueue(client: AsyncRedis) -> str:
        job = await rq_asyncio.Queue(connection=client, signing_keys='k1,k0').enqueue(rqtest_jobs.add, 1)
        return job.id

    job_id = run_async(redis_server.port, enqueue)
    assert verify([b'k1'], job_id, connection.hgetall(f'rq:job:{job_id}')) == 'signed'  # type: ignore[arg-type]


@pytest.mark.parametrize('wrap', ['job', 'list'])
def test_depends_on_the_returned_jobs(connection: redis.Redis, redis_server: RedisServer, wrap: str) -> None:
    """``depends_on`` takes the jobs each API returns (an ``rq.asyncio.Job`` for the asyncio one)."""

    def sync_call(connection: redis.Redis) -> Job:
        queue = Queue(connection=connection)
        parent = queue.enqueue(rqtest_jobs.say_hello, job_id='p')
        return queue.enqueue(rqtest_jobs.say_hello, job_id='c', depends_on=parent if wrap == 'job' else [parent, 'x'])

    async def async_call(client: AsyncRedis) -> rq_asyncio.Job:
        queue = rq_asyncio.Queue(connection=client)
        parent = await queue.enqueue(rqtest_jobs.say_hello, job_id='p')
        return await queue.enqueue(
            rqtest_jobs.say_hello, job_id='c', depends_on=parent if wrap == 'job' else [parent, 'x']
        )

    sync_job, async_job = twice(connection, redis_server.port, sync_call, async_call)
    assert_same_job(sync_job, async_job)
    assert async_job._model.get_status(refresh=False) == JobStatus.DEFERRED
