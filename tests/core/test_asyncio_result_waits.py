"""Reading and waiting for results with ``rq.asyncio.Job``: ``latest_result``, ``results``,
``return_value`` agree with the synchronous job's (test_results.py); ``latest_result(timeout=...)``
and ``result(timeout=...)`` wait on the results stream and return as soon as the entry they wait
for is written (here by the test, as a worker writes it: tests/worker/test_asyncio_results.py has
the worker runs)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
from redis.asyncio import Redis as AsyncRedis

import rqtest_jobs
from asyncio_support import Waiter, run_async
from redis_events import blocked_clients
from redis_server import RedisServer
from rq import Queue, Retry
from rq import asyncio as rq_asyncio
from rq.exceptions import InvalidJobOperation, JobFailedError, NoSuchJobError
from rq.job import Job
from rq.results import Result
from worker_process import wait_until

TRACEBACK = 'Traceback (most recent call last):\n  ValueError: caf\u00e9\n'


@pytest.fixture
def port(redis_server: RedisServer) -> int:
    return redis_server.port


@pytest.fixture
def job(connection: redis.Redis) -> Job:
    return Queue(connection=connection).enqueue(rqtest_jobs.add, 1, job_id='rjob')


#: The status a worker gives a job together with each kind of result (a retried job runs again).
STATUS_WITH = {
    Result.Type.SUCCESSFUL: 'finished',
    Result.Type.FAILED: 'failed',
    Result.Type.STOPPED: 'stopped',
    Result.Type.MAX_RETRIES_EXCEEDED: 'failed',
    Result.Type.RETRIED: 'scheduled',
}


def write(job: Job, kind: Result.Type, **values: Any) -> Result:
    """Write a result and the job's status as a worker does (both at once, in one transaction)."""
    job.connection.hset(job.key, 'status', STATUS_WITH[kind])
    if kind == Result.Type.FAILED:
        return Result.create_failure(job, ttl=100, exc_string=values.get('exc_string', TRACEBACK), worker_name='w')
    return Result.create(job, kind, ttl=100, worker_name='w', **values)


def fetched(client: AsyncRedis, job_id: str = 'rjob') -> Any:
    return rq_asyncio.Job.fetch(job_id, connection=client)


def test_no_result_yet(port: int, job: Job) -> None:
    async def scenario(client: AsyncRedis) -> list[Any]:
        ajob = await fetched(client)
        return [await ajob.latest_result(), await ajob.results(), await ajob.return_value()]

    assert run_async(port, scenario) == [None, [], None]


def test_reads_what_the_sync_job_reads(port: int, job: Job) -> None:
    write(job, Result.Type.FAILED)
    write(job, Result.Type.RETRIED, return_value=Retry(max=1))
    write(job, Result.Type.SUCCESSFUL, return_value={'a': (1, 2)})

    async def scenario(client: AsyncRedis) -> tuple[list[Result], Result | None, Any]:
        ajob = await fetched(client)
        return await ajob.results(), await ajob.latest_result(), await ajob.return_value()

    results, latest, value = run_async(port, scenario)
    expected = job.results()
    assert [(r.id, r.type, r.exc_string, r.worker_name) for r in results] == [
        (r.id, r.type, r.exc_string, r.worker_name) for r in expected
    ]
    assert [r.type for r in results] == [Result.Type.SUCCESSFUL, Result.Type.RETRIED, Result.Type.FAILED]
    assert latest is not None and latest.id == expected[0].id
    assert value == job.return_value(refresh=True) == {'a': (1, 2)}


def test_return_value_of_a_failure_is_none(port: int, job: Job) -> None:
    write(job, Result.Type.FAILED)

    async def scenario(client: AsyncRedis) -> Any:
        return await (await fetched(client)).return_value()

    assert run_async(port, scenario) is None


def test_latest_result_waits_for_the_entry(connection: redis.Redis, port: int, job: Job) -> None:
    async def wait(client: AsyncRedis) -> Result | None:
        return await (await fetched(client)).latest_result(timeout=60)

    waiter = Waiter(port, wait)
    waiter.wait_until_blocked(connection)
    write(job, Result.Type.SUCCESSFUL, return_value=7)
    latest = waiter.result()
    assert latest is not None and latest.type == Result.Type.SUCCESSFUL and latest.return_value == 7


def test_latest_result_returns_an_entry_already_there(port: int, job: Job) -> None:
    write(job, Result.Type.SUCCESSFUL, return_value=1)
    newest = write(job, Result.Type.SUCCESSFUL, return_value=2)

    async def wait(client: AsyncRedis) -> Result | None:
        return await (await fetched(client)).latest_result(timeout=60)

    latest = run_async(port, wait)
    assert latest is not None and latest.id == newest.id and latest.return_value == 2


@pytest.mark.parametrize('timeout', [0.0001, 0.2])
def test_latest_result_gives_none_when_nothing_comes(port: int, job: Job, timeout: float) -> None:
    async def wait(client: AsyncRedis) -> Result | None:
        return await (await fetched(client)).latest_result(timeout=timeout)

    assert run_async(port, wait) is None


def test_result_of_a_success(port: int, job: Job) -> None:
    write(job, Result.Type.SUCCESSFUL, return_value=[1, 'two'])

    async def scenario(client: AsyncRedis) -> Any:
        return await (await fetched(client)).result(timeout=0)

    assert run_async(port, scenario) == [1, 'two']


@pytest.mark.parametrize(
    'kind', [Result.Type.FAILED, Result.Type.STOPPED, Result.Type.MAX_RETRIES_EXCEEDED], ids=lambda kind: kind.name
)
def test_result_of_a_failure_raises(port: int, job: Job, kind: Result.Type) -> None:
    written = write(job, kind, exc_string=TRACEBACK)

    async def scenario(client: AsyncRedis) -> Any:
        return await (await fetched(client)).result(timeout=5)

    with pytest.raises(JobFailedError) as raised:
        run_async(port, scenario)
    error = raised.value
    assert error.job_id == 'rjob'
    assert isinstance(error.result, Result) and error.result.id == written.id and error.result.type == kind
    assert 'rjob' in str(error)
    if kind != Result.Type.MAX_RETRIES_EXCEEDED:
        assert 'ValueError: caf\u00e9' in str(error)


@pytest.mark.parametrize('timeout', [0, 0.2])
def test_result_raises_timeout_error_when_nothing_comes(port: int, job: Job, timeout: float) -> None:
    async def scenario(client: AsyncRedis) -> Any:
        return await (await fetched(client)).result(timeout=timeout)

    with pytest.raises(TimeoutError, match='rjob'):
        run_async(port, scenario)


@pytest.mark.parametrize('timeout', [None, 60])
def test_result_waits_past_retried_entries_for_the_final_one(
    connection: redis.Redis, port: int, job: Job, timeout: float | None
) -> None:
    write(job, Result.Type.RETRIED, return_value=Retry(max=3))  # (already there: not final)

    async def wait(client: AsyncRedis) -> Any:
        return await (await fetched(client)).result(timeout=timeout)

    waiter = Waiter(port, wait)
    waiter.wait_until_blocked(connection)
    write(job, Result.Type.RETRIED, return_value=Retry(max=3))
    waiter.wait_until_blocked(connection)  # read it, and waits again
    write(job, Result.Type.SUCCESSFUL, return_value='at last')
    assert waiter.result() == 'at last'


def test_result_waits_then_raises_for_a_final_failure(connection: redis.Redis, port: int, job: Job) -> None:
    async def wait(client: AsyncRedis) -> Any:
        return await (await fetched(client)).result(timeout=60)

    waiter = Waiter(port, wait)
    waiter.wait_until_blocked(connection)
    write(job, Result.Type.RETRIED, return_value=Retry(max=1))
    waiter.wait_until_blocked(connection)
    write(job, Result.Type.FAILED)
    with pytest.raises(JobFailedError, match='caf\u00e9'):
        waiter.result()


def test_results_of_a_json_job(connection: redis.Redis, port: int) -> None:
    job = Queue('jq', connection=connection, serializer='json').enqueue(rqtest_jobs.add, 1, job_id='js')
    write(job, Result.Type.SUCCESSFUL, return_value={'a': [1, 2]})

    async def scenario(client: AsyncRedis) -> Any:
        ajob = await rq_asyncio.Job.fetch('js', connection=client, serializer='json')
        return await ajob.result(timeout=1), await ajob.return_value()

    assert run_async(port, scenario) == ({'a': [1, 2]}, {'a': [1, 2]})


def test_a_cancelled_wait_leaves_the_client_usable(connection: redis.Redis, port: int, job: Job) -> None:
    """Cancelling a blocked read drops its connection (its reply would come later): the server
    stops blocking for it, and the next commands get their own replies."""

    async def scenario(client: AsyncRedis) -> Any:
        ajob = await fetched(client)
        for wait in (ajob.latest_result(timeout=60), ajob.result(timeout=60), ajob.result()):
            task = asyncio.ensure_future(wait)
            await asyncio.to_thread(lambda: wait_until(lambda: blocked_clients(connection, 'xread') == 1))
            while not task.done():  # (on Python 3.11 a cancel can be lost in redis-py's read timeout)
                task.cancel()
                await asyncio.wait([task], timeout=1)
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.to_thread(lambda: wait_until(lambda: blocked_clients(connection, 'xread') == 0))
            assert blocked_clients(connection, 'xread') == 0
            await client.set('marker', 'm')
            assert await client.get('marker') == b'm'
            assert await ajob.get_status() == 'queued'
        write(job, Result.Type.SUCCESSFUL, return_value=5)
        return await ajob.result(timeout=5)

    assert run_async(port, scenario) == 5


@pytest.mark.parametrize(
    ('prepare', 'error', 'message'),
    [
        (lambda job: job.cancel(), InvalidJobOperation, 'was canceled'),
        (lambda job: job.connection.hset(job.key, 'result_ttl', 0), InvalidJobOperation, 'result_ttl=0'),
        (lambda job: job.connection.delete(job.key), NoSuchJobError, 'No such job'),
    ],
    ids=['canceled', 'result_ttl_0', 'deleted'],
)
def test_result_refuses_to_wait_for_what_cannot_come(
    port: int, job: Job, prepare: Any, error: Any, message: str
) -> None:
    """A canceled job, one that keeps no result, or one that is gone would make ``result()`` wait
    for ever: it says why at once instead."""

    async def scenario(client: AsyncRedis) -> None:
        ajob = await fetched(client)
        prepare(job)
        with pytest.raises(error, match=message):
            await ajob.result(timeout=None)

    run_async(port, scenario)
