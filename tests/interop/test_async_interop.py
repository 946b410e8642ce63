"""Jobs enqueued with ``rq.asyncio`` run on upstream rq's workers (2.12.0 and 3.0.0, each in its
own virtualenv), and ``rq.asyncio`` reads what those workers wrote: the coroutines waiting with
``latest_result(timeout=...)``/``result(timeout=...)`` start before the upstream worker does and
return once it has written the results."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
from redis.asyncio import Redis as AsyncRedis

from asyncio_support import run_async
from redis_server import RedisServer
from rq import Callback, Retry
from rq import asyncio as rq_asyncio
from rq.exceptions import JobFailedError
from rq.job import JobStatus
from rq.results import Result
from upstream import UPSTREAM_3_VERSION, UPSTREAM_VERSION, burst_worker_code, finish_upstream, start_upstream

pytestmark = pytest.mark.upstream

VERSIONS = [UPSTREAM_VERSION, UPSTREAM_3_VERSION]
#: Upstream's burst workers: the default queue (with its scheduler, for the retried job), then the
#: JSON queue with a JSON worker.
RUN_ALL = (
    burst_worker_code('upstream-async', with_scheduler=True)
    + burst_worker_code('upstream-async-json', ('jq',), serializer='json', with_scheduler=False)
    + 'print("null")\n'
)
WAIT = 120


async def enqueue_everything(client: AsyncRedis) -> dict[str, rq_asyncio.Job]:
    queue = rq_asyncio.Queue(connection=client)
    json_queue = rq_asyncio.Queue('jq', connection=client, serializer='json')
    first = await queue.enqueue('rqtest_jobs.add', 10, 1)
    second = await queue.enqueue('rqtest_jobs.add', 20, 2, depends_on=first)
    return {
        'plain': await queue.enqueue('rqtest_jobs.add', 1, b=2),
        'kwargs-meta': await queue.enqueue(
            'rqtest_jobs.echo', 'x', key='v', meta={'owner': 'me'}, job_timeout=60, result_ttl=600
        ),
        'callback': await queue.enqueue('rqtest_jobs.add', 3, on_success=Callback('rqtest_jobs.record_success')),
        'json': await json_queue.enqueue('rqtest_jobs.echo', 5, meta={'k': 'v'}),
        'first': first,
        'second': second,
        'third': await queue.enqueue('rqtest_jobs.add', 30, 3, depends_on=[first, second]),
        'failing': await queue.enqueue('rqtest_jobs.fail', 'bad input'),
        'retried': await queue.enqueue('rqtest_jobs_interop.flaky', 1, retry=Retry(max=1)),
    }


async def outcome(wait: Any) -> Any:
    try:
        return await wait
    except JobFailedError as error:
        return ('failed', error.result.type, error.result.exc_string)


@pytest.mark.parametrize('version', VERSIONS)
def test_upstream_runs_our_asyncio_jobs_while_we_wait(
    redis_server: RedisServer, connection: redis.Redis, version: str
) -> None:
    async def scenario(client: AsyncRedis) -> dict[str, Any]:
        jobs = await enqueue_everything(client)
        assert await jobs['third'].get_status() == JobStatus.DEFERRED
        waits = {name: asyncio.ensure_future(outcome(job.result(timeout=WAIT))) for name, job in jobs.items()}
        latest = asyncio.ensure_future(jobs['plain'].latest_result(timeout=WAIT))
        worker = start_upstream(RUN_ALL, redis_server.port, version=version)
        try:
            values = {name: await wait for name, wait in waits.items()}
            values['latest'] = await latest
        finally:
            await asyncio.to_thread(finish_upstream, worker, WAIT)
        values['statuses'] = {name: await job.get_status() for name, job in jobs.items()}
        values['meta'] = await jobs['kwargs-meta'].get_meta()
        values['json-return'] = await jobs['json'].return_value()
        values['retried-results'] = [result.type for result in await jobs['retried'].results()]
        values['ids'] = {name: job.id for name, job in jobs.items()}
        return values

    values = run_async(redis_server.port, scenario)
    assert values['plain'] == 3
    assert values['kwargs-meta'] == [['x'], {'key': 'v'}]
    assert values['callback'] == 4
    assert values['json'] == [[5], {}]
    assert (values['first'], values['second'], values['third']) == (11, 22, 33)
    kind, result_type, traceback = values['failing']
    assert (kind, result_type) == ('failed', Result.Type.FAILED)
    assert 'ValueError: bad input' in traceback
    assert values['retried'] == 2  # the second run's value: the first failure was retried
    latest = values['latest']
    assert isinstance(latest, Result) and latest.type == Result.Type.SUCCESSFUL and latest.return_value == 3
    assert latest.worker_name == 'upstream-async'
    assert values['statuses'] == {
        **{name: JobStatus.FINISHED for name in values['ids']},
        'failing': JobStatus.FAILED,
    }
    assert values['meta'] == {'owner': 'me'}
    assert values['json-return'] == [[5], {}]
    assert values['retried-results'] == [Result.Type.SUCCESSFUL]
    assert connection.get(f'callback:success:{values["ids"]["callback"]}') == b'4'


@pytest.mark.parametrize('version', VERSIONS)
def test_we_read_upstream_results_after_the_run(
    redis_server: RedisServer, connection: redis.Redis, version: str
) -> None:
    """The results are there already: no waiting (``timeout=0``), and the failed job is requeued
    by us and run again by upstream."""
    ids = run_async(redis_server.port, lambda client: _ids(enqueue_everything(client)))
    finish_upstream(start_upstream(RUN_ALL, redis_server.port, version=version), WAIT)

    async def read(client: AsyncRedis) -> dict[str, Any]:
        jobs = {name: await rq_asyncio.Job.fetch(job_id, connection=client) for name, job_id in ids.items()}
        found = {name: await outcome(job.result(timeout=0)) for name, job in jobs.items() if name != 'json'}
        json_job = await rq_asyncio.Job.fetch(ids['json'], connection=client, serializer='json')
        found['json'] = await json_job.result(timeout=0)
        latest = await jobs['failing'].latest_result()
        found['failing-latest'] = latest.type if latest is not None else None
        await jobs['failing'].requeue()
        found['requeued'] = await jobs['failing'].get_status()
        return found

    found = run_async(redis_server.port, read)
    assert (found['plain'], found['third'], found['json']) == (3, 33, [[5], {}])
    assert found['failing'][:2] == ('failed', Result.Type.FAILED)
    assert (found['failing-latest'], found['requeued']) == (Result.Type.FAILED, JobStatus.QUEUED)
    finish_upstream(start_upstream(RUN_ALL, redis_server.port, version=version), WAIT)
    assert connection.hget(f'rq:job:{ids["failing"]}', 'status') == b'failed'
    assert connection.xlen(f'rq:results:{ids["failing"]}') == 2


async def _ids(jobs: Any) -> dict[str, str]:
    return {name: job.id for name, job in (await jobs).items()}
