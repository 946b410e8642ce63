"""What ``rq.asyncio.Queue`` refuses: the synchronous API's errors (same type, same message, nothing
written), ``unique=True`` on an existing job, and what only the asyncio API refuses (a caller's
pipeline, ``is_async=False``)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import redis
from redis.asyncio import Redis as AsyncRedis

import rqtest_jobs
from asyncio_support import comparable, run_async
from redis_server import RedisServer
from rq import Queue, RateLimit
from rq import asyncio as rq_asyncio
from rq.exceptions import DuplicateJobError

AT = datetime.datetime(2031, 1, 1, tzinfo=datetime.timezone.utc)

#: (method, positional arguments, keywords) that both APIs refuse before writing anything.
REFUSED: dict[str, tuple[str, tuple[Any, ...], dict[str, Any]]] = {
    'zero-job-timeout': ('enqueue', (rqtest_jobs.add, 1), {'job_timeout': 0}),
    'zero-timeout': ('enqueue_call', (rqtest_jobs.add, (1,)), {'timeout': 0}),
    'zero-ttl': ('enqueue', (rqtest_jobs.add, 1), {'ttl': 0}),
    'negative-ttl': ('enqueue', (rqtest_jobs.add, 1), {'ttl': -1}),
    'bad-timeout-unit': ('enqueue', (rqtest_jobs.add, 1), {'job_timeout': '1.5h'}),
    'unique-without-job-id': ('enqueue', (rqtest_jobs.add, 1), {'unique': True}),
    'unique-with-dependency': ('enqueue', (rqtest_jobs.add, 1), {'unique': True, 'job_id': 'u', 'depends_on': 'p'}),
    'unique-with-rate-limit': (
        'enqueue',
        (rqtest_jobs.add, 1),
        {'unique': True, 'job_id': 'u', 'rate_limit': RateLimit('k', 1)},
    ),
    'bad-job-id': ('enqueue', (rqtest_jobs.add, 1), {'job_id': 'no spaces'}),
    'args-with-positional': ('enqueue', (rqtest_jobs.add, 1), {'args': (2,)}),
    'not-callable': ('enqueue', (42,), {}),
    'self-dependency': ('enqueue', (rqtest_jobs.add, 1), {'job_id': 'me', 'depends_on': 'me'}),
    'bad-dependency': ('enqueue', (rqtest_jobs.add, 1), {'depends_on': 42}),
    'enqueue-at-zero-timeout': ('enqueue_at', (AT, rqtest_jobs.add, 1), {'job_timeout': 0}),
    'enqueue-in-bad-ttl': ('enqueue_in', (datetime.timedelta(seconds=5), rqtest_jobs.add, 1), {'ttl': 0}),
}


@pytest.fixture
def port(redis_server: RedisServer) -> int:
    return redis_server.port


@pytest.mark.parametrize('name', list(REFUSED))
def test_the_sync_apis_refusals(connection: redis.Redis, port: int, name: str) -> None:
    method, args, kwargs = REFUSED[name]
    with pytest.raises(Exception) as from_sync:
        getattr(Queue(connection=connection), method)(*args, **kwargs)

    async def scenario(client: AsyncRedis) -> Any:
        return await getattr(rq_asyncio.Queue(connection=client), method)(*args, **kwargs)

    with pytest.raises(type(from_sync.value)) as from_async:
        run_async(port, scenario)
    assert str(from_async.value) == str(from_sync.value)
    assert connection.dbsize() == 0


def test_unique_refuses_an_existing_job_and_changes_nothing(connection: redis.Redis, port: int) -> None:
    async def scenario(client: AsyncRedis) -> None:
        queue = rq_asyncio.Queue(connection=client)
        await queue.enqueue(rqtest_jobs.add, 1, job_id='u1', unique=True)
        before = comparable(connection)
        with pytest.raises(DuplicateJobError, match='u1'):
            await queue.enqueue(rqtest_jobs.add, 2, job_id='u1', unique=True, description='second')
        with pytest.raises(DuplicateJobError, match='u1'):
            await rq_asyncio.Queue('other', connection=client).enqueue_call(
                rqtest_jobs.add, (3,), job_id='u1', unique=True
            )
        assert comparable(connection) == before
        # not unique: written again, and queued a second time (as the sync API does)
        await queue.enqueue(rqtest_jobs.add, 4, job_id='u1')

    run_async(port, scenario)
    assert connection.lrange('rq:queue:default', 0, -1) == [b'u1', b'u1']
    assert connection.hget('rq:job:u1', 'description') == b'rqtest_jobs.add(4)'


def test_unique_sees_a_job_written_by_the_sync_api(connection: redis.Redis, port: int) -> None:
    Queue(connection=connection).enqueue(rqtest_jobs.add, 1, job_id='s1')
    connection.hset('rq:job:s1', 'status', 'finished')

    async def scenario(client: AsyncRedis) -> None:
        with pytest.raises(DuplicateJobError):
            await rq_asyncio.Queue(connection=client).enqueue(rqtest_jobs.add, 1, job_id='s1', unique=True)

    run_async(port, scenario)


def test_a_pipeline_is_refused_everywhere(connection: redis.Redis, port: int) -> None:
    async def scenario(client: AsyncRedis) -> None:
        queue = rq_asyncio.Queue(connection=client)
        job = rq_asyncio.Job(queue._model.create_job(rqtest_jobs.add, args=(1,)))
        async with client.pipeline() as pipe:
            calls = [
                queue.enqueue(rqtest_jobs.add, 1, pipeline=pipe),
                queue.enqueue_call(rqtest_jobs.add, (1,), pipeline=pipe),
                queue.enqueue_at(AT, rqtest_jobs.add, 1, pipeline=pipe),
                queue.enqueue_in(datetime.timedelta(seconds=1), rqtest_jobs.add, 1, pipeline=pipe),
                queue.enqueue_job(job, pipeline=pipe),
                queue.schedule_job(job, AT, pipeline=pipe),
                queue.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (1,))], pipeline=pipe),
            ]
            for call in calls:
                with pytest.raises(TypeError, match='takes no pipeline'):
                    await call
            assert len(pipe) == 0

    run_async(port, scenario)
    assert connection.dbsize() == 0


def test_schedule_job_needs_a_datetime(port: int) -> None:
    async def scenario(client: AsyncRedis) -> None:
        queue = rq_asyncio.Queue(connection=client)
        job = rq_asyncio.Job(queue._model.create_job(rqtest_jobs.add, args=(1,)))
        with pytest.raises(TypeError, match='needs a datetime'):
            await queue.schedule_job(job, datetime.timedelta(seconds=5))  # type: ignore[arg-type]

    run_async(port, scenario)


def test_is_async_false_is_refused(port: int) -> None:
    async def scenario(client: AsyncRedis) -> None:
        with pytest.raises(ValueError, match='is_async=False'):
            rq_asyncio.Queue(connection=client, is_async=False)
        assert rq_asyncio.Queue(connection=client, is_async=True).name == 'default'

    run_async(port, scenario)


def test_the_connection_checks(port: int) -> None:
    with pytest.raises(TypeError, match='requires a Redis connection'):
        rq_asyncio.Queue()

    async def scenario(client: AsyncRedis) -> None:
        with pytest.raises(ValueError, match='decode_responses'):
            rq_asyncio.Queue(connection=client)

    run_async(port, scenario, decode_responses=True)


def test_the_queue_reads_as_the_sync_one(port: int) -> None:
    async def scenario(client: AsyncRedis) -> None:
        queue = rq_asyncio.Queue('low', connection=client, serializer='json')
        assert (queue.name, queue.key, queue.connection) == ('low', 'rq:queue:low', client)
        assert queue.serializer is Queue('low', connection=client, serializer='json').serializer
        assert repr(queue) == '<rq.asyncio.Queue low>'
        assert rq_asyncio.AsyncQueue is rq_asyncio.Queue and rq_asyncio.AsyncJob is rq_asyncio.Job
        assert rq_asyncio.Queue.prepare_data is Queue.prepare_data

    run_async(port, scenario)
