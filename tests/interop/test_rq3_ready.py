"""RQ 3.0's ready registry (``rq:ready:<queue>``) shared with upstream rq 3.0.0: what 3.0 leaves there
when its process stops between ``move_dependents_to_ready()`` and the drain (the crash window) is
queued by our maintenance and run by our worker; what our ``move_dependents_to_ready()`` writes is
drained by 3.0's ``ReadyJobRegistry.cleanup()`` (its limiter admitting the rate-limited dependent).

Upstream 3.0.0 runs in its own virtualenv (``tests/support/upstream.py``, ``version='3.0.0'``).
"""

from __future__ import annotations

import pytest
import redis

import rqtest_jobs
from redis_server import RedisServer
from rq import Queue, RateLimit
from rq.job import Job, JobStatus
from rq.registry import clean_registries
from rq.worker import SimpleWorker
from upstream import UPSTREAM_3_VERSION, run_upstream

pytestmark = pytest.mark.upstream

#: rq 3.0 finishes a parent and moves its two dependents (one rate-limited) to the ready registry, then
#: stops before draining it.
LEAVE_READY = """
import warnings
warnings.simplefilter('ignore')
from rq import Queue, RateLimit
from rq.job import Job, JobStatus
from rqtest_jobs import add

q = Queue(connection=conn)
parent = Queue('parents', connection=conn).enqueue(add, 0, job_id='parent')
q.enqueue(add, 1, job_id='plain', depends_on=parent)
q.enqueue(add, 2, job_id='limited', depends_on=parent, rate_limit=RateLimit('reports', 1))
Queue('parents', connection=conn).remove(parent)
parent.set_status(JobStatus.FINISHED)
moved = q.move_dependents_to_ready(parent)
print(json.dumps({
    'moved': moved,
    'statuses': {i: Job.fetch(i, connection=conn).get_status().value for i in ('plain', 'limited')},
    'queue': q.job_ids,
}))
"""

#: rq 3.0 drains the ready registry our move filled, then works the queue.
DRAIN = """
import warnings
warnings.simplefilter('ignore')
from rq import Queue, SimpleWorker
from rq.job import Job
q = Queue(connection=conn)
drained = sorted(job.id for job in q.ready_job_registry.cleanup())
after_drain = {
    'drained': drained,
    'statuses': {i: Job.fetch(i, connection=conn).get_status().value for i in ('plain', 'limited', 'waiting')},
    'queue': q.job_ids,
    'ready': [m.decode() for m in conn.zrange('rq:ready:default', 0, -1)],
    'allowed': [m.decode() for m in conn.zrange('rq:rl:reports:allowed', 0, -1)],
}
SimpleWorker([q], connection=conn, name='rq3-drainer').work(burst=True, with_scheduler=False)
print(json.dumps({
    **after_drain,
    'returns': {i: Job.fetch(i, connection=conn).return_value() for i in ('plain', 'limited', 'waiting')},
}))
"""


def test_our_worker_queues_and_runs_what_rq3_left_ready(redis_server: RedisServer, connection: redis.Redis) -> None:
    left = run_upstream(LEAVE_READY, redis_server.port, version=UPSTREAM_3_VERSION)
    assert left['moved'] == {'default': ['plain', 'limited']} or left['moved'] == {'default': ['limited', 'plain']}
    assert left['statuses'] == {'plain': 'ready_to_enqueue', 'limited': 'ready_to_enqueue'}
    assert left['queue'] == []
    assert sorted(m.decode() for m in connection.zrange('rq:ready:default', 0, -1)) == ['limited', 'plain']

    queue = Queue(connection=connection)
    worker = SimpleWorker([queue], connection=connection)
    assert worker.work(burst=True, with_scheduler=False) is True  # its maintenance drains rq:ready first

    for job_id, value in (('plain', 2), ('limited', 3)):
        job = Job.fetch(job_id, connection=connection)
        assert job.get_status() is JobStatus.FINISHED
        assert job.return_value() == value
    assert connection.zcard('rq:ready:default') == 0
    assert connection.zcard('rq:rl:reports:allowed') == 0  # the limited job's slot was given back


def test_clean_registries_queues_what_rq3_left_ready(redis_server: RedisServer, connection: redis.Redis) -> None:
    run_upstream(LEAVE_READY, redis_server.port, version=UPSTREAM_3_VERSION)
    holder = Queue('other', connection=connection).enqueue(rqtest_jobs.add, 9, rate_limit=RateLimit('reports', 1))
    queue = Queue(connection=connection)
    clean_registries(queue)
    assert queue.get_job_ids() == ['plain']
    assert Job.fetch('limited', connection=connection).get_status() is JobStatus.RATE_LIMITED  # the slot is held
    assert connection.zrange('rq:rl:reports:allowed', 0, -1) == [holder.id.encode()]
    assert connection.zcard('rq:ready:default') == 0


def test_rq3_drains_what_our_move_left_ready(redis_server: RedisServer, connection: redis.Redis) -> None:
    queue = Queue(connection=connection)
    parents = Queue('parents', connection=connection)
    parent = parents.enqueue(rqtest_jobs.add, 0, job_id='parent')
    queue.enqueue(rqtest_jobs.add, 1, job_id='plain', depends_on=parent)
    queue.enqueue(rqtest_jobs.add, 2, job_id='limited', depends_on=parent, rate_limit=RateLimit('reports', 1))
    queue.enqueue(rqtest_jobs.add, 3, job_id='waiting', depends_on=parent, rate_limit=RateLimit('reports', 1))
    parents.remove(parent)
    parent.set_status(JobStatus.FINISHED)
    moved = queue.move_dependents_to_ready(parent)
    assert sorted(moved['default']) == ['limited', 'plain', 'waiting'] and list(moved) == ['default']
    assert queue.get_job_ids() == []

    drained = run_upstream(DRAIN, redis_server.port, version=UPSTREAM_3_VERSION)
    assert drained['drained'] == ['limited', 'plain', 'waiting']
    assert drained['ready'] == []
    # 3.0's limiter admitted one of the two rate-limited jobs; the other waits for its slot
    statuses = drained['statuses']
    assert statuses['plain'] == 'queued'
    assert sorted([statuses['limited'], statuses['waiting']]) == ['queued', 'rate_limited']
    assert len(drained['allowed']) == 1 and sorted(drained['queue']) == sorted(['plain', *drained['allowed']])
    # 3.0's worker then ran all three (the second limited job once the first gave its slot back)
    assert drained['returns'] == {'plain': 2, 'limited': 3, 'waiting': 4}
