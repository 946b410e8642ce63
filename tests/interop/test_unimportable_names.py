"""Functions a worker cannot import (a lambda, a nested function, a bare name, a dotted path to
nothing) are accepted by upstream rq 2.12.0, which stores a name for each: we store the same
``data`` payload and description, and a job that upstream enqueued this way fails on our worker
with the reason."""

from __future__ import annotations

import pickle
import zlib
from typing import Any

import pytest
import redis

from redis_server import RedisServer
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from upstream import run_upstream

pytestmark = pytest.mark.upstream

OUR_DB, UPSTREAM_DB = 1, 2

ENQUEUE = """
from rq import Queue
import rqtest_jobs_unimportable as m
q = Queue(connection=conn)
jobs = [
    q.enqueue(m.double, 1, job_id='lam'),
    q.enqueue(m.make_nested(), 2, job_id='nest'),
    q.enqueue('myfunc', 3, job_id='bare'),
    q.enqueue('rqtest_jobs_unimportable.missing', 4, job_id='missing'),
]
"""


def payloads(connection: redis.Redis) -> dict[str, Any]:
    out = {}
    for job_id in ('lam', 'nest', 'bare', 'missing'):
        raw = connection.hgetall(f'rq:job:{job_id}')
        out[job_id] = (pickle.loads(zlib.decompress(raw[b'data'])), raw[b'description'])
    return out


def test_same_payload_and_description_as_upstream(redis_server: RedisServer, connection: redis.Redis) -> None:
    run_upstream(ENQUEUE + 'print("null")', redis_server.port, db=UPSTREAM_DB)
    ours = redis.Redis(port=redis_server.port, db=OUR_DB)
    exec(compile(ENQUEUE, '<ours>', 'exec'), {'conn': ours})
    theirs = payloads(redis.Redis(port=redis_server.port, db=UPSTREAM_DB))
    assert payloads(ours) == theirs
    assert theirs['lam'][0][0] == 'rqtest_jobs_unimportable.<lambda>'
    assert theirs['nest'][0][0] == 'rqtest_jobs_unimportable.make_nested.<locals>.nested'


def test_our_worker_fails_upstreams_jobs_saying_why(redis_server: RedisServer, connection: redis.Redis) -> None:
    run_upstream(ENQUEUE + 'print("null")', redis_server.port)
    queue = Queue(connection=connection)
    SimpleWorker([queue], connection=connection).work(burst=True)
    texts = {}
    for job_id in ('lam', 'nest', 'bare', 'missing'):
        job = Job.fetch(job_id, connection=connection)
        assert job.get_status() == JobStatus.FAILED
        result = job.latest_result()
        assert result is not None
        texts[job_id] = result.exc_string or ''
    assert 'is a lambda, which no worker can import' in texts['lam']
    assert 'is a nested function' in texts['nest'] and "'rqtest_jobs_unimportable.make_nested'" in texts['nest']
    assert "'myfunc' is a bare name" in texts['bare']
    assert 'missing' in texts['missing']
