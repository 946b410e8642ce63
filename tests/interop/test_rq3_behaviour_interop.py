"""rq-core against real rq 3.0.0 on the behaviour changes it follows: the same code leaves the same
Redis data (``@job`` without ``result_ttl``; ``Job.delete()`` and ``Queue.empty()`` deleting result
streams), raises the same error (duplicate ids in ``enqueue_many``) and answers the same
(``get_job_ids(length=0)``); a returned ``Retry(enqueue_at_front=True)`` puts the job first under
both workers; a repeating job's interval list is consumed in order whichever worker runs each repeat.

Upstream 3.0.0 runs in its own virtualenv (``tests/support/upstream.py``, ``version='3.0.0'``).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis

from redis_dump import diff, snapshot
from redis_server import RedisServer
from rq import Queue, Repeat
from rq.worker import SimpleWorker
from upstream import UPSTREAM_3_VERSION, run_upstream

pytestmark = [pytest.mark.upstream, pytest.mark.usefixtures('connection')]  # (flushes every database)

OUR_DB, UPSTREAM_DB = 1, 2

PRELUDE = """
import json, warnings
warnings.simplefilter('ignore')
from rq import Queue
from rq.decorators import job as job_decorator
from rq.job import Job
from rq.results import Result
import rqtest_jobs
q = Queue(connection=conn)
"""
#: Jobs with result streams on two queues, then one deleted and one queue emptied.
DELETE_AND_EMPTY = """
for job_id in ('a', 'b', 'c'):
    Result.create(q.enqueue(rqtest_jobs.add, 1, job_id=job_id), Result.Type.SUCCESSFUL, 500, return_value=2)
Result.create(Queue('other', connection=conn).enqueue(rqtest_jobs.add, 1, job_id='kept'), Result.Type.SUCCESSFUL, 500,
              return_value=2)
Job.fetch('a', connection=conn).delete()
q.empty()
"""
DECORATOR = """
job_decorator('default', connection=conn)(rqtest_jobs.add).delay(1, job_id='d1')
job_decorator('default', connection=conn, at_front=True)(rqtest_jobs.add).delay(2, job_id='d2', at_front=False)
"""
ANSWERS = """
for n in range(3):
    q.enqueue(rqtest_jobs.add, n, job_id=f'j{n}')
try:
    q.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (1,), job_id='x'),
                    Queue.prepare_data(rqtest_jobs.add, (2,), job_id='x')])
    error = None
except ValueError as exc:
    error = str(exc)
print(json.dumps({'length_0': q.get_job_ids(length=0), 'jobs_0': len(q.get_jobs(length=0)),
                  'length_2': q.get_job_ids(1, 2), 'duplicate': error}))
"""
#: rq.job.Retry itself is the job: called with these kwargs, it returns the Retry.
RETRY_SETUP = """
q.enqueue('rq.job.Retry', kwargs={'max': 1, 'enqueue_at_front': True}, job_id='r')
q.enqueue(rqtest_jobs.add, 1, job_id='other')
"""
UPSTREAM_RETRY = """
from rq import SimpleWorker
SimpleWorker([q], connection=conn).work(burst=True, max_jobs=1, with_scheduler=False)
print(json.dumps(q.get_job_ids()))
"""

#: One run of the repeating job under rq 3.0's worker; prints the delay it scheduled and what is left.
UPSTREAM_REPEAT_RUN = """
import time
from rq import SimpleWorker
before = time.time()
SimpleWorker([q], connection=conn).work(burst=True, max_jobs=1, with_scheduler=False)
after = time.time()
score = conn.zscore('rq:scheduled:default', 'rep')
left = json.loads(conn.hget('rq:job:rep', 'repeat_intervals'))
print(json.dumps({'delay': [score - after, score + 1 - before], 'left': left}))
"""


def run_ours(code: str, port: int, db: int = 0) -> dict[str, Any]:
    namespace: dict[str, Any] = {'conn': redis.Redis(port=port, db=db)}
    exec(compile(PRELUDE + code, '<ours>', 'exec'), namespace)
    return namespace


def same_data(redis_server: RedisServer, code: str) -> list[str]:
    run_upstream(PRELUDE + code + '\nprint("null")', redis_server.port, db=UPSTREAM_DB, version=UPSTREAM_3_VERSION)
    run_ours(code, redis_server.port, OUR_DB)
    ours = snapshot(redis.Redis(port=redis_server.port, db=OUR_DB))
    theirs = snapshot(redis.Redis(port=redis_server.port, db=UPSTREAM_DB))
    assert ours, 'the code wrote nothing'
    return diff(ours, theirs)


def test_delete_and_empty_remove_result_streams_as_rq3(redis_server: RedisServer) -> None:
    assert same_data(redis_server, DELETE_AND_EMPTY) == []
    ours = redis.Redis(port=redis_server.port, db=OUR_DB)
    assert [k for k in ours.keys('rq:results:*')] == [b'rq:results:kept']


def test_decorator_defaults_as_rq3(redis_server: RedisServer) -> None:
    assert same_data(redis_server, DECORATOR) == []
    ours = redis.Redis(port=redis_server.port, db=OUR_DB)
    assert ours.hget('rq:job:d1', 'result_ttl') is None
    assert ours.lrange('rq:queue:default', 0, -1) == [b'd1', b'd2']


def test_same_answers_as_rq3(redis_server: RedisServer) -> None:
    theirs = run_upstream(PRELUDE + ANSWERS, redis_server.port, db=UPSTREAM_DB, version=UPSTREAM_3_VERSION)
    namespace = run_ours(ANSWERS.replace('print(', 'answers = ('), redis_server.port, OUR_DB)
    ours = json.loads(namespace['answers'])
    assert ours == theirs
    assert theirs['duplicate'] == "Job ID 'x' appears more than once in enqueue_many()"
    assert theirs['length_0'] == [] and theirs['length_2'] == ['j1', 'j2']


def test_returned_retry_goes_to_the_front_as_rq3(redis_server: RedisServer) -> None:
    theirs = run_upstream(
        PRELUDE + RETRY_SETUP + UPSTREAM_RETRY, redis_server.port, db=UPSTREAM_DB, version=UPSTREAM_3_VERSION
    )
    namespace = run_ours(RETRY_SETUP, redis_server.port, OUR_DB)
    queue: Queue = namespace['q']
    SimpleWorker([queue], connection=queue.connection).work(burst=True, max_jobs=1, with_scheduler=False)
    assert theirs == ['r', 'other']
    assert queue.get_job_ids() == theirs
    assert queue.connection.hget('rq:job:r', 'enqueue_at_front_on_retry') == b'1'


def test_repeat_intervals_agree_with_rq3_when_workers_alternate(redis_server: RedisServer) -> None:
    """One job, ``Repeat(times=4, interval=[10, 20, 30])``, its runs taken in turn by rq 3.0's worker
    and ours: each waits the next interval in order, and both leave the same shortened list."""
    conn = redis.Redis(port=redis_server.port, db=UPSTREAM_DB)
    queue = Queue(connection=conn)
    queue.enqueue('rqtest_jobs.add', 1, job_id='rep', repeat=Repeat(times=4, interval=[10, 20, 30]))
    seen = []
    for turn in range(4):
        if turn % 2 == 0:
            seen.append(
                run_upstream(PRELUDE + UPSTREAM_REPEAT_RUN, redis_server.port, UPSTREAM_DB, version=UPSTREAM_3_VERSION)
            )
        else:
            before = time.time()
            SimpleWorker([queue], connection=conn).work(burst=True, max_jobs=1, with_scheduler=False)
            after = time.time()
            score = conn.zscore('rq:scheduled:default', 'rep')
            assert score is not None
            left = json.loads(conn.hget('rq:job:rep', 'repeat_intervals'))
            seen.append({'delay': [score - after, score + 1 - before], 'left': left})
        assert conn.zrem('rq:scheduled:default', 'rep') == 1  # (what the scheduler does when it is due)
        conn.hset('rq:job:rep', 'status', 'queued')
        conn.rpush('rq:queue:default', 'rep')
    # (a delay is known to within the run's time: the score is a whole second; see test_retry_repeat.py)
    delays = [[d for d in (10, 20, 30) if low <= d <= high] for low, high in (run['delay'] for run in seen)]
    assert delays == [[10], [20], [30], [30]]  # rq 3.0, ours, rq 3.0, ours
    assert [run['left'] for run in seen] == [[20, 30], [30], [30], [30]]
