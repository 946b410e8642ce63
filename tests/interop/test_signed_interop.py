"""Signed jobs (rq.trust) still run on upstream workers, which ignore the ``signature`` field."""

from __future__ import annotations

import pytest
import redis

from redis_server import RedisServer
from rq import Callback, Queue
from rq.job import Job
from rq.trust import verify
from upstream import UPSTREAM_3_VERSION, UPSTREAM_VERSION, burst_worker_code, run_upstream

pytestmark = pytest.mark.upstream


@pytest.mark.parametrize('version', [UPSTREAM_VERSION, UPSTREAM_3_VERSION])
def test_our_signed_jobs_run_on_an_upstream_worker(
    redis_server: RedisServer, connection: redis.Redis, version: str
) -> None:
    queue = Queue(connection=connection, signing_keys='k1,k0')
    jobs = [
        queue.enqueue('rqtest_jobs.add', 1, b=2, meta={'owner': 'me'}),
        queue.enqueue('rqtest_jobs.add', 3, on_success=Callback('rqtest_jobs.record_success')),
        Queue('jq', connection=connection, serializer='json', signing_keys='k1').enqueue('rqtest_jobs.add', 5),
    ]
    assert all(verify([b'k1'], job.id, connection.hgetall(job.key)) == 'signed' for job in jobs)
    code = burst_worker_code('upstream-signed', with_scheduler=False)
    code += burst_worker_code('upstream-signed-json', ('jq',), serializer='json', with_scheduler=False)
    run_upstream(code + 'print("{}")', redis_server.port, version=version)
    fetched = [Job.fetch(job.id, connection=connection, serializer=job.serializer) for job in jobs]
    assert [job.get_status() for job in fetched] == ['finished'] * 3
    assert [job.return_value() for job in fetched] == [3, 4, 6]
