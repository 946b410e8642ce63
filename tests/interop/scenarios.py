"""Enqueue scenarios written once and run by both implementations (same code, same Redis layout)."""

from __future__ import annotations

PRELUDE = """
import datetime, warnings
warnings.simplefilter('ignore')
from rq import Queue, Retry, Repeat, Callback, Webhook
from rq.job import Job, Dependency
from rq.group import Group
from rq.decorators import job as job_decorator
import rqtest_jobs
from rqtest_jobs import add, echo, fail
q = Queue(connection=conn)
"""

SCENARIOS = {
    'plain': "q.enqueue(add, 1, b=2, job_id='j1')",
    'no_args': "q.enqueue(rqtest_jobs.return_none, job_id='j1')",
    'meta_and_description': "q.enqueue(add, 1, job_id='j1', meta={'owner': 'me', 'n': 3}, description='custom text')",
    'ttls_and_timeouts': "q.enqueue(add, 1, job_id='j1', job_timeout='1h', result_ttl='5m', ttl='2d', failure_ttl=-1)\n"
    "q.enqueue(add, 2, job_id='j2', job_timeout=-1, result_ttl=-1, failure_ttl=100)",
    'timeout_kwarg_reaches_function': "q.enqueue(echo, 1, timeout=5, job_id='j1')",
    'explicit_args_kwargs': "q.enqueue(echo, job_id='j1', ttl=30, args=(1, 2), kwargs={'description': 'x', 'ttl': 15})",
    'at_front': "q.enqueue(add, 1, job_id='j1')\nq.enqueue(add, 2, job_id='j2', at_front=True)",
    'long_arguments': "q.enqueue(echo, 'x' * 100, key='y' * 90, job_id='j1')",
    'callables': "q.enqueue(rqtest_jobs.Calculator(2).add, 6, job_id='bound')\n"
    "q.enqueue(rqtest_jobs.Calculator(3), 7, job_id='instance')\n"
    "q.enqueue('rqtest_jobs.add', 8, job_id='dotted')\n"
    "q.enqueue(len, [1, 2], job_id='builtin')\n"
    "q.enqueue(rqtest_jobs.Calculator.static_double, 4, job_id='static')",
    'dependencies': "p = q.enqueue(add, 1, job_id='parent')\n"
    "q.enqueue(add, 2, job_id='child', depends_on=p)\n"
    "q.enqueue(add, 3, job_id='child2', depends_on=Dependency(jobs=[p, 'missing'], allow_failure=True,"
    ' enqueue_at_front=True))\n'
    "q.enqueue(add, 4, job_id='child3', depends_on=[Dependency(jobs=['parent']), 'child'])\n"
    "q.enqueue(add, 5, job_id='orphan', depends_on='missing')",
    'dependency_with_ttl': "p = q.enqueue(add, 1, job_id='parent')\n"
    "q.enqueue(add, 2, job_id='child', depends_on=p, ttl=60)",
    'scheduled': "q.enqueue_at(datetime.datetime(2030, 1, 1, 12, 0, 0), add, 1, job_id='s1', at_front=True)\n"
    "q.enqueue_in(datetime.timedelta(hours=1), add, 2, job_id='s2', meta={'a': 1})\n"
    'q.enqueue_at(datetime.datetime(2030, 1, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),'
    " add, 3, job_id='s3')",
    'json_serializer': "Queue('jq', connection=conn, serializer='json')"
    ".enqueue(add, 1, b=2, job_id='j1', meta={'k': 'v'})",
    'retry_and_callbacks': "q.enqueue(add, 1, job_id='j1', retry=Retry(max=3, interval=[1, 2]),"
    ' on_success=Callback(rqtest_jobs.record_success), on_failure=Callback(rqtest_jobs.record_failure, timeout=10),'
    " on_stopped=Callback('rqtest_jobs.record_stopped', timeout='2m'))\n"
    "q.enqueue(add, 2, job_id='j2', retry=Retry(max=2, interval=5, enqueue_at_front=True),"
    ' on_success=rqtest_jobs.record_success)',
    'repeat_single_interval': "q.enqueue(add, 1, job_id='j1', repeat=Repeat(times=3, interval=30))",
    'webhooks': "q.enqueue(add, 1, job_id='j1', webhooks=[Webhook('http://127.0.0.1:9/hook', 'finished',"
    " method='POST', headers={'X-A': 'b'}), Webhook('https://example.com/f', 'failed', timeout=3)])",
    'group': "Group.create(connection=conn, name='g1').enqueue_many(q, [Queue.prepare_data(add, (1,), job_id='g_a'),"
    " Queue.prepare_data(add, (2,), job_id='g_b', at_front=True)])",
    'enqueue_many_pipeline': 'with conn.pipeline() as pipe:\n'
    "    q.enqueue_many([Queue.prepare_data(add, (1,), job_id='m1'), Queue.prepare_data(add, (2,), job_id='m2',"
    ' result_ttl=10)], pipeline=pipe)\n'
    '    pipe.execute()',
    'decorator': "f = job_decorator('default', connection=conn, timeout=5, result_ttl=500)(rqtest_jobs.add)\n"
    "f.delay(5, job_id='d1')",  # (2.12 writes its default 500; 3.0 and rq-core write none: test_rq3_behaviour.py)
    'unique': "q.enqueue(add, 1, job_id='u1', unique=True)",
    'other_queue_and_default_timeout': "Queue('low', connection=conn, default_timeout='10m')"
    ".enqueue(add, 1, job_id='j1')",
}
