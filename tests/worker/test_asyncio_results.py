"""Jobs enqueued with ``rq.asyncio``, run by our worker (``SimpleWorker``, burst): waiting for their
results (``latest_result``/``result`` started before the run, returning once the worker writes the
entry), failures (``JobFailedError``, status, ``requeue`` as the synchronous API does it), retries
(``result`` waits for the final outcome), dependency chains and callbacks.

The waiting coroutine runs in a thread of its own (its own event loop and client) while this
thread runs the worker, which must run in the main thread (its timeouts are signals)."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from redis.asyncio import Redis as AsyncRedis

import rqtest_jobs
import rqtest_jobs_worker
from asyncio_support import Waiter, run_async, twice
from redis_server import RedisServer
from rq import Callback, Queue, Retry
from rq import asyncio as rq_asyncio
from rq.exceptions import JobFailedError
from rq.job import Job, JobStatus
from rq.results import Result
from rq.worker import SimpleWorker


@pytest.fixture
def port(redis_server: RedisServer) -> int:
    return redis_server.port


def run_worker(connection: redis.Redis, max_jobs: int | None = None, queue: str = 'default') -> None:
    SimpleWorker([Queue(queue, connection=connection)], connection=connection, name='w').work(
        burst=True, max_jobs=max_jobs
    )


def enqueue(port: int, func: Any, *args: Any, **kwargs: Any) -> str:
    async def scenario(client: AsyncRedis) -> str:
        return (await rq_asyncio.Queue(connection=client).enqueue(func, *args, **kwargs)).id

    return run_async(port, scenario)


def waiting(port: int, job_id: str, method: str, timeout: float | None = 60) -> Waiter[Any]:
    async def wait(client: AsyncRedis) -> Any:
        job = await rq_asyncio.Job.fetch(job_id, connection=client)
        return await getattr(job, method)(timeout=timeout)

    return Waiter(port, wait)


def test_latest_result_returns_what_the_worker_writes(connection: redis.Redis, port: int) -> None:
    job_id = enqueue(port, rqtest_jobs.add, 1, b=2)
    waiter = waiting(port, job_id, 'latest_result')
    waiter.wait_until_blocked(connection)
    run_worker(connection)
    latest = waiter.result()
    assert isinstance(latest, Result) and latest.type == Result.Type.SUCCESSFUL
    assert latest.return_value == 3 and latest.worker_name == 'w'


@pytest.mark.parametrize('timeout', [60, None])
def test_result_returns_the_return_value(connection: redis.Redis, port: int, timeout: float | None) -> None:
    job_id = enqueue(port, rqtest_jobs.echo, 1, 'two', three=3)
    waiter = waiting(port, job_id, 'result', timeout)
    waiter.wait_until_blocked(connection)
    run_worker(connection)
    assert waiter.result() == [[1, 'two'], {'three': 3}]


def test_a_failure_raises_and_the_job_can_be_requeued(connection: redis.Redis, port: int) -> None:
    job_id = enqueue(port, rqtest_jobs.div_by_zero, 1, job_id='doomed')
    waiter = waiting(port, job_id, 'result')
    waiter.wait_until_blocked(connection)
    run_worker(connection)
    with pytest.raises(JobFailedError, match='ZeroDivisionError') as raised:
        waiter.result()
    assert raised.value.job_id == 'doomed'
    assert isinstance(raised.value.result, Result) and raised.value.result.type == Result.Type.FAILED

    async def requeue(client: AsyncRedis) -> list[Any]:
        job = await rq_asyncio.Job.fetch('doomed', connection=client)
        before = await job.get_status()
        latest = await job.latest_result()
        assert latest is not None and 'ZeroDivisionError' in (latest.exc_string or '')
        await job.requeue()
        return [before, await job.get_status(), await job.get_position()]

    assert run_async(port, requeue) == [JobStatus.FAILED, JobStatus.QUEUED, 0]
    assert connection.zscore('rq:failed:default', 'doomed') is None
    run_worker(connection)
    assert connection.hget('rq:job:doomed', 'status') == b'failed'
    assert len(Job.fetch('doomed', connection=connection).results()) == 2


def test_result_after_a_requeue_waits_for_the_new_run(connection: redis.Redis, port: int) -> None:
    """The failure of the first run is not the outcome of the run a requeue starts: ``result()``
    waits for the new one (here a success: the job's function fails only while a flag key exists)."""
    connection.set('rqtest:fail-once', '1')
    job_id = enqueue(port, rqtest_jobs.fail_while_flag, 'rqtest:fail-once', job_id='again')
    run_worker(connection)
    assert connection.hget('rq:job:again', 'status') == b'failed'
    Job.fetch('again', connection=connection).requeue()
    connection.delete('rqtest:fail-once')
    waiter = waiting(port, job_id, 'result')
    waiter.wait_until_blocked(connection)
    run_worker(connection)
    assert waiter.result() == 'passed'


def test_requeue_of_a_job_the_worker_failed_writes_what_the_sync_api_writes(connection: redis.Redis, port: int) -> None:
    def failed_by_the_worker(connection: redis.Redis) -> None:
        Queue(connection=connection).enqueue(rqtest_jobs.fail, 'nope', job_id='f', ttl=600)
        run_worker(connection)
        for key in connection.keys('rq:worker*'):  # (the worker's own keys: times, pids)
            connection.delete(key)

    def sync_call(connection: redis.Redis) -> None:
        Job.fetch('f', connection=connection).requeue(at_front=True)

    async def async_call(client: AsyncRedis) -> None:
        await (await rq_asyncio.Job.fetch('f', connection=client)).requeue(at_front=True)

    twice(connection, port, sync_call, async_call, failed_by_the_worker)


def test_result_waits_past_an_exception_retry(connection: redis.Redis, port: int) -> None:
    """The failed first run is retried (no result entry): ``result`` keeps waiting for the second."""
    job_id = enqueue(port, rqtest_jobs_worker.fail_then_succeed, 'runs', 1, retry=Retry(max=1))
    waiter = waiting(port, job_id, 'result')
    waiter.wait_until_blocked(connection)
    run_worker(connection, max_jobs=1)
    assert connection.get('runs') == b'1' and connection.hget(f'rq:job:{job_id}', 'status') == b'queued'
    waiter.wait_until_blocked(connection)
    run_worker(connection)
    assert waiter.result() == 'ok after 2 runs'


def test_result_waits_past_a_retried_entry_then_raises_for_the_final_one(connection: redis.Redis, port: int) -> None:
    """A job that returns ``Retry``: a RETRIED entry (not final), then MAX_RETRIES_EXCEEDED."""
    job_id = enqueue(port, rqtest_jobs_worker.return_retry, 1, 0, 'calls')
    waiter = waiting(port, job_id, 'result')
    waiter.wait_until_blocked(connection)
    run_worker(connection, max_jobs=1)
    [(_, first)] = connection.xrange(f'rq:results:{job_id}')
    assert first[b'type'] == str(Result.Type.RETRIED.value).encode()
    waiter.wait_until_blocked(connection)
    run_worker(connection)
    with pytest.raises(JobFailedError) as raised:
        waiter.result()
    assert raised.value.result.type == Result.Type.MAX_RETRIES_EXCEEDED
    assert connection.get('calls') == b'2'


def test_a_dependency_chain_and_a_callback(connection: redis.Redis, port: int) -> None:
    async def chain(client: AsyncRedis) -> list[str]:
        queue = rq_asyncio.Queue(connection=client)
        first = await queue.enqueue(rqtest_jobs.add, 1, 1)
        second = await queue.enqueue(rqtest_jobs.add, 2, 2, depends_on=first)
        third = await queue.enqueue(
            rqtest_jobs.add, 3, 3, depends_on=[first, second], on_success=Callback(rqtest_jobs.record_success)
        )
        assert [await job.get_status() for job in (first, second, third)] == ['queued', 'deferred', 'deferred']
        return [first.id, second.id, third.id]

    ids = run_async(port, chain)
    waiter = waiting(port, ids[-1], 'result')
    waiter.wait_until_blocked(connection)
    run_worker(connection)
    assert waiter.result() == 6
    assert connection.get(f'callback:success:{ids[-1]}') == b'6'

    async def read(client: AsyncRedis) -> list[Any]:
        jobs = await rq_asyncio.Job.fetch_many(ids, connection=client)
        return [(await job.get_status(), await job.return_value()) for job in jobs if job is not None]

    assert run_async(port, read) == [(JobStatus.FINISHED, 2), (JobStatus.FINISHED, 4), (JobStatus.FINISHED, 6)]
