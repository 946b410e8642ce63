"""Jobs that upstream rq 3.0.0 leaves in states 2.x does not have are read by rq-core: a job waiting for
its rate-limit slot (``rate_limited``), a dependent released by its parent but not yet on its queue
(``ready_to_enqueue``), and the rate-limit fields of any job (``rate_limit_key``,
``rate_limit_concurrency``). rq-core reads and keeps them, and its worker works them as 3.0's does.

Upstream 3.0.0 runs in its own virtualenv (``tests/support/upstream.py``, ``version='3.0.0'``) and
produces every state with its own code: three jobs share ``RateLimit('reports', 1)``, so the second and
third wait; the ready dependent is the state 3.0 leaves when its process stops between moving a
released dependent to ``rq:ready:<queue>`` and pushing it onto the queue (``move_dependents_to_ready``
without ``enqueue_ready_jobs_by_queue``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis

from redis_dump import diff, snapshot
from redis_server import RedisServer
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import DeferredJobRegistry, FinishedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.worker import SimpleWorker
from upstream import UPSTREAM_3_VERSION, run_upstream

pytestmark = pytest.mark.upstream

SUPPORT = Path(__file__).resolve().parents[1] / 'support'
RATE_LIMITED_IDS = ('rl_2', 'rl_3')
#: Every job with a rate limit, and the status 3.0 gave it.
LIMITED = {
    'rl_1': 'queued',
    'rl_2': 'rate_limited',
    'rl_3': 'rate_limited',
    'rl_deferred': 'deferred',
    'rl_scheduled': 'scheduled',
}
PRODUCE = """
import datetime, warnings
warnings.simplefilter('ignore')
from rq import Queue, RateLimit
from rq.job import Job, JobStatus
from rqtest_jobs import add

q = Queue(connection=conn)
limit = RateLimit('reports', 1)
for n in (1, 2, 3):
    q.enqueue(add, n, job_id=f'rl_{n}', rate_limit=limit)
q.enqueue(add, 4, job_id='rl_deferred', rate_limit=limit, depends_on='rl_1')
q.enqueue_in(datetime.timedelta(hours=1), add, 5, job_id='rl_scheduled', rate_limit=limit)

# The parent of 'ready_1' finishes; its dependent moves to the ready registry, and the process stops
# before pushing it onto its queue.
other = Queue('other', connection=conn)
parent = other.enqueue(add, 0, job_id='parent')
other.enqueue(add, 6, job_id='ready_1', depends_on=parent)
other.remove(parent)
parent.set_status(JobStatus.FINISHED)
other.finished_job_registry.add(parent, -1)
moved = other.move_dependents_to_ready(parent)

ids = ['rl_1', 'rl_2', 'rl_3', 'rl_deferred', 'rl_scheduled', 'parent', 'ready_1']
print(json.dumps({
    'moved': moved,
    'statuses': {i: Job.fetch(i, connection=conn).get_status().value for i in ids},
    'queue': q.job_ids,
}))
"""
#: What upstream 3.0 reads back of every job (after rq-core saved them).
READ_BACK = """
from rq.job import Job
ids = ['rl_1', 'rl_2', 'rl_3', 'rl_deferred', 'rl_scheduled', 'ready_1']
jobs = {i: Job.fetch(i, connection=conn) for i in ids}
print(json.dumps({i: [j.get_status().value, j.has_rate_limit, j.rate_limit_key, j.rate_limit_concurrency]
                  for i, j in jobs.items()}))
"""
#: Upstream 3.0 recovers the ready dependent and works both queues; its limiter admits the waiting jobs
#: one at a time as slots are released.
WORK = """
import warnings
warnings.simplefilter('ignore')
from rq import Queue, SimpleWorker
from rq.job import Job
Queue('other', connection=conn).ready_job_registry.cleanup()
queues = [Queue('default', connection=conn), Queue('other', connection=conn)]
SimpleWorker(queues, connection=conn, name='rq3-worker').work(burst=True, with_scheduler=False)
ids = ['rl_1', 'rl_2', 'rl_3', 'rl_deferred', 'ready_1']
print(json.dumps({
    'statuses': {i: Job.fetch(i, connection=conn).get_status().value for i in ids},
    'returns': {i: Job.fetch(i, connection=conn).return_value() for i in ids},
    'allowed': [m.decode() for m in conn.zrange('rq:rl:reports:allowed', 0, -1)],
    'waiting': [m.decode() for m in conn.zrange('rq:rl:reports:rate_limited', 0, -1)],
}))
"""


def produce(redis_server: RedisServer) -> Any:
    produced = run_upstream(PRODUCE, redis_server.port, version=UPSTREAM_3_VERSION)
    # The states this file is about, as upstream 3.0 itself reports them.
    assert produced['statuses'] == {**LIMITED, 'parent': 'finished', 'ready_1': 'ready_to_enqueue'}
    assert produced['moved'] == {'other': ['ready_1']}
    assert produced['queue'] == ['rl_1']
    return produced


def rq_command(redis_server: RedisServer, *args: str) -> subprocess.CompletedProcess[str]:
    """Our ``rq ARGS`` as a real process writing to a pipe (upstream's text, no tables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('RQ_', 'REDIS_'))}
    env['PYTHONPATH'] = os.pathsep.join([str(SUPPORT / 'shared_jobs'), str(SUPPORT)])
    url = f'redis://localhost:{redis_server.port}/0'
    return subprocess.run(
        [sys.executable, '-m', 'rq.cli', *args, '-u', url], capture_output=True, text=True, env=env, timeout=60
    )


def test_we_read_rq3_statuses_and_rate_limits(redis_server: RedisServer, connection: redis.Redis) -> None:
    """``Job.fetch``, ``get_status()``, ``Queue.jobs``/``fetch_job`` and the registries work on 3.0's
    rate-limited and ready jobs and report their statuses and limits; reading writes nothing."""
    produce(redis_server)
    before = snapshot(connection)

    for job_id, status in LIMITED.items():
        job = Job.fetch(job_id, connection=connection)
        assert job.get_status(refresh=False) == status
        assert job.get_status() == status
        assert (job.rate_limit_key, job.rate_limit_concurrency, job.has_rate_limit) == ('reports', 1, True)
        assert job.is_ready_to_enqueue is False
    waiting = Job.fetch('rl_2', connection=connection)
    assert waiting.get_status() is JobStatus.RATE_LIMITED
    assert (waiting.func_name, waiting.args, waiting.origin) == ('rqtest_jobs.add', (2,), 'default')

    ready = Job.fetch('ready_1', connection=connection)
    assert ready.get_status() is JobStatus.READY_TO_ENQUEUE
    assert ready.is_ready_to_enqueue is True
    assert ready.is_deferred is False
    assert (ready.rate_limit_key, ready.rate_limit_concurrency, ready.has_rate_limit) == (None, None, False)
    assert ready.dependency_ids == ['parent']
    assert Job.fetch('parent', connection=connection).has_rate_limit is False

    fetched = Job.fetch_many(['rl_1', 'rl_2', 'ready_1'], connection=connection)
    assert [job.get_status(refresh=False) for job in fetched if job] == ['queued', 'rate_limited', 'ready_to_enqueue']

    queue, other = Queue(connection=connection), Queue('other', connection=connection)
    assert [job.id for job in queue.jobs] == ['rl_1']
    assert queue.count == 1 and other.count == 0
    assert queue.fetch_job('rl_3').get_status() is JobStatus.RATE_LIMITED  # type: ignore[union-attr]
    assert other.fetch_job('ready_1').get_status() is JobStatus.READY_TO_ENQUEUE  # type: ignore[union-attr]
    assert DeferredJobRegistry(queue=queue).get_job_ids() == ['rl_deferred']
    assert ScheduledJobRegistry(queue=queue).get_job_ids() == ['rl_scheduled']
    assert DeferredJobRegistry(queue=other).get_job_ids() == []  # 3.0 moved the dependent out of it
    assert FinishedJobRegistry(queue=other).get_job_ids() == ['parent']
    assert StartedJobRegistry(queue=queue).get_job_ids() == []

    assert diff(snapshot(connection), before) == [], 'reading changed the database'


def test_rq_commands_on_rq3_jobs(redis_server: RedisServer, connection: redis.Redis) -> None:
    """``rq info`` (piped) counts the queues beside 3.0's jobs; ``rq job`` shows their statuses."""
    produce(redis_server)

    info = rq_command(redis_server, 'info')
    assert info.returncode == 0, info.stderr
    assert 'Traceback' not in info.stderr
    lines = [' '.join(line.split()) for line in info.stdout.splitlines()]
    assert 'default |█ 1, 0 executing, 0 finished, 0 failed' in lines, info.stdout
    assert 'other | 0, 0 executing, 1 finished, 0 failed' in lines, info.stdout
    assert '2 queues, 1 jobs total' in lines, info.stdout

    for job_id, status in {**LIMITED, 'ready_1': 'ready_to_enqueue'}.items():
        shown = rq_command(redis_server, 'job', job_id, '--json')
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)['status'] == status
    plain = rq_command(redis_server, 'job', 'rl_2')
    assert plain.returncode == 0, plain.stderr
    assert 'rate_limited' in plain.stdout


def test_jobs_saved_by_us_keep_rq3_fields(redis_server: RedisServer, connection: redis.Redis) -> None:
    """A 3.0 job fetched and saved by rq-core keeps its status and rate-limit fields byte for byte, so
    3.0 reads the same job back and its limiter still admits the waiting jobs and runs them all."""
    produce(redis_server)
    ids = [*LIMITED, 'ready_1']
    fields = ('status', 'rate_limit_key', 'rate_limit_concurrency')
    before = {job_id: connection.hmget(Job.key_for(job_id), fields) for job_id in ids}
    assert before['rl_2'] == [b'rate_limited', b'reports', b'1']
    assert before['ready_1'] == [b'ready_to_enqueue', None, None]

    for job_id in ids:
        job = Job.fetch(job_id, connection=connection)
        job.meta['seen_by'] = 'rq-core'
        job.save()
    after = {job_id: connection.hmget(Job.key_for(job_id), fields) for job_id in ids}
    assert after == before

    read_back = run_upstream(READ_BACK, redis_server.port, version=UPSTREAM_3_VERSION)
    assert read_back == {
        **{job_id: [status, True, 'reports', 1] for job_id, status in LIMITED.items()},
        'ready_1': ['ready_to_enqueue', False, None, None],
    }

    worked = run_upstream(WORK, redis_server.port, version=UPSTREAM_3_VERSION)
    assert worked['statuses'] == dict.fromkeys(['rl_1', 'rl_2', 'rl_3', 'rl_deferred', 'ready_1'], 'finished')
    assert worked['returns'] == {'rl_1': 2, 'rl_2': 3, 'rl_3': 4, 'rl_deferred': 5, 'ready_1': 7}
    assert worked['allowed'] == [] and worked['waiting'] == []
    assert Job.fetch('rl_3', connection=connection).meta == {'seen_by': 'rq-core'}


def test_our_worker_beside_rq3_jobs(redis_server: RedisServer, connection: redis.Redis) -> None:
    """Our worker runs 3.0's jobs as 3.0's would: the admitted job, then, as each run gives its slot
    back, the waiting ones and the rate-limited dependent, one at a time; its maintenance queues the
    dependent 3.0 left in ``rq:ready``. The scheduled job stays scheduled."""
    produce(redis_server)
    worker = SimpleWorker([Queue(connection=connection), Queue('other', connection=connection)], connection=connection)
    assert worker.work(burst=True, with_scheduler=False) is True

    assert Job.fetch('rl_1', connection=connection).return_value() == 2
    assert Job.fetch('ready_1', connection=connection).return_value() == 7
    statuses = {job_id: Job.fetch(job_id, connection=connection).get_status() for job_id in [*LIMITED, 'ready_1']}
    assert statuses == {**dict.fromkeys([*LIMITED, 'ready_1'], 'finished'), 'rl_scheduled': 'scheduled'}
    assert connection.zcard('rq:rl:reports:allowed') == connection.zcard('rq:rl:reports:rate_limited') == 0
    assert connection.zcard('rq:ready:other') == 0
