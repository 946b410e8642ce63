"""Jobs enqueued and run by upstream rq (2.12.0, then 3.0.0) are read by rq-core, and rq-core's in-process runs
(``Queue(is_async=False)``) are read by upstream.

Upstream runs in its own virtualenv (``tests/support/upstream.py``); both sides describe what they
read with the same helpers (``rqtest_introspect``), which must agree field by field. Reading must not
write: every test also checks that rq-core's reads left the database exactly as upstream left it.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

import pytest
import redis
from scenarios import PRELUDE, SCENARIOS

from redis_dump import diff, snapshot
from redis_server import RedisServer
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.registry import DeferredJobRegistry, FailedJobRegistry, FinishedJobRegistry
from rq.results import Result
from rqtest_introspect import (
    all_job_fields,
    all_outcome_fields,
    as_json,
    differences,
    fetch_job,
    job_ids,
    queue_contents,
)
from ttl_checks import assert_ttl
from upstream import burst_worker_code, run_upstream

pytestmark = [
    pytest.mark.upstream,
    # rqtest_introspect.outcome_fields reads job.exc_info on purpose (both implementations have it).
    pytest.mark.filterwarnings('ignore:job.exc_info is deprecated:DeprecationWarning'),
]

WORKER = 'upstream-worker'
JSON_WORKER = 'upstream-json-worker'
INTROSPECT = 'from rqtest_introspect import all_job_fields, all_outcome_fields, queue_contents\n'
READ_JOBS = INTROSPECT + 'print(json.dumps({"jobs": all_job_fields(conn), "queues": queue_contents(conn)}))'
READ_ALL = (
    INTROSPECT + 'print(json.dumps({"jobs": all_job_fields(conn), "outcomes": all_outcome_fields(conn),'
    ' "queues": queue_contents(conn)}))'
)


def read_jobs(connection: redis.Redis) -> Any:
    return as_json({'jobs': all_job_fields(connection), 'queues': queue_contents(connection)})


# -- upstream enqueues, rq-core fetches -----------------------------------------------------------


@pytest.mark.parametrize('name', sorted(SCENARIOS))
def test_we_fetch_upstream_enqueued_jobs(name: str, redis_server: RedisServer, connection: redis.Redis) -> None:
    """Every enqueue scenario of the wire-format test, enqueued by upstream: ``Job.fetch``,
    ``Queue.jobs`` and the registries give rq-core the same fields and ids upstream reads."""
    theirs = run_upstream(PRELUDE + SCENARIOS[name] + '\n' + READ_JOBS, redis_server.port)
    before = snapshot(connection)
    ours = read_jobs(connection)
    assert theirs['jobs'], 'the scenario enqueued nothing'
    assert differences(ours['jobs'], theirs['jobs']) == []
    assert ours['queues'] == theirs['queues']
    assert diff(snapshot(connection), before) == [], 'reading changed the database'


def test_we_fetch_upstream_job_options(redis_server: RedisServer, connection: redis.Redis) -> None:
    """Spot checks on values (not only agreement): the options upstream stored come back as given."""
    run_upstream(
        PRELUDE
        + """
p = q.enqueue(add, 1, job_id='parent')
q.enqueue(echo, 1, 'two', key=[3], job_id='full', job_timeout='1h', result_ttl=-1, ttl=600, failure_ttl=60,
          description='custom', meta={'owner': 'me'}, depends_on=p, retry=Retry(max=3, interval=[5, 10]),
          on_success=Callback(rqtest_jobs.record_success), on_failure=Callback(rqtest_jobs.record_failure, timeout=7))
print('null')
""",
        redis_server.port,
    )
    job = Job.fetch('full', connection=connection)
    assert job.func_name == 'rqtest_jobs.echo' and job.args == (1, 'two') and job.kwargs == {'key': [3]}
    assert (job.timeout, job.result_ttl, job.ttl, job.failure_ttl) == (3600, -1, 600, 60)
    assert job.description == 'custom' and job.meta == {'owner': 'me'} and job.origin == 'default'
    assert job.get_status() == JobStatus.DEFERRED and job.dependency_ids == ['parent']
    assert (job.retries_left, job.retry_intervals) == (3, [5, 10])
    assert job._success_callback_name == 'rqtest_jobs.record_success'
    assert job._failure_callback_name == 'rqtest_jobs.record_failure' and job._failure_callback_timeout == 7
    assert job.enqueued_at is None and job.created_at is not None
    assert DeferredJobRegistry(queue=Queue(connection=connection)).get_job_ids() == ['full']
    assert Queue(connection=connection).job_ids == ['parent']
    assert job.created_at is not None
    assert_ttl(connection, 'rq:job:full', 600, job.created_at)


# -- upstream enqueues and runs, rq-core reads the outcome -----------------------------------------

#: Jobs enqueued by upstream and run by upstream's SimpleWorker (default queue with its scheduler,
#: then the JSON queue): successes, failures, retries, dependents, meta saved by the job itself.
RUN = """
import rqtest_introspect
past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=30)
jq = Queue('jq', connection=conn, serializer='json')
q.enqueue(add, 1, b=2, job_id='ok')
q.enqueue(rqtest_jobs.return_none, job_id='none')
q.enqueue(rqtest_jobs.Calculator(2).add, 3, job_id='bound')
q.enqueue(rqtest_jobs.async_add, 2, 3, job_id='coroutine')
q.enqueue(rqtest_jobs.unpicklable_return, job_id='unpicklable')
q.enqueue(fail, 'bad input', job_id='failing')
q.enqueue(rqtest_jobs.div_by_zero, job_id='zero_div', failure_ttl=300)
q.enqueue(fail, 'twice', job_id='retried', retry=Retry(max=2))
q.enqueue(rqtest_introspect.retry_by_return, 1, job_id='retry_rv')
q.enqueue(rqtest_jobs.set_meta, 'progress', 100, job_id='meta_job', meta={'owner': 'me'})
parent = q.enqueue(add, 10, job_id='parent')
q.enqueue(add, 20, job_id='child', depends_on=parent)
bad = q.enqueue(fail, 'parent failed', job_id='bad_parent')
q.enqueue(add, 30, job_id='tolerant_child', depends_on=Dependency(jobs=[bad], allow_failure=True))
q.enqueue(add, 40, job_id='blocked_child', depends_on=bad)
q.enqueue(add, 5, job_id='keep', result_ttl=-1)
q.enqueue(add, 6, job_id='gone', result_ttl=0)
q.enqueue(add, 7, job_id='repeated', repeat=Repeat(times=1))
q.enqueue_at(past, add, 8, job_id='due')
q.enqueue(add, 9, job_id='cb', on_success=Callback(rqtest_jobs.record_success), on_failure=rqtest_jobs.record_failure)
q.enqueue(fail, 'in cbf', job_id='cbf', on_failure=rqtest_jobs.record_failure)
jq.enqueue(add, 1, b=2, job_id='json_ok', meta={'k': 'v'})
jq.enqueue(fail, 'json bad', job_id='json_fail')
"""
RUN_WORKERS = burst_worker_code(WORKER) + burst_worker_code(
    JSON_WORKER, ('jq',), serializer='json', with_scheduler=False
)

S, F, R, M = (
    t.value for t in (Result.Type.SUCCESSFUL, Result.Type.FAILED, Result.Type.RETRIED, Result.Type.MAX_RETRIES_EXCEEDED)
)
#: job id -> (status, repr of return_value(), last traceback line, result types newest first).
EXPECTED_OUTCOMES = {
    'ok': ('finished', '3', None, [S]),
    'none': ('finished', 'None', None, [S]),
    'bound': ('finished', '5', None, [S]),
    'coroutine': ('finished', '5', None, [S]),
    'unpicklable': ('finished', "'Unserializable return value'", None, [S]),
    'failing': ('failed', 'None', 'ValueError: bad input', [F]),
    'zero_div': ('failed', 'None', 'ZeroDivisionError: division by zero', [F]),
    'retried': ('failed', 'None', 'ValueError: twice', [F]),
    'retry_rv': ('failed', 'None', None, [M, R]),
    'meta_job': ('finished', '100', None, [S]),
    'parent': ('finished', '11', None, [S]),
    'child': ('finished', '21', None, [S]),
    'bad_parent': ('failed', 'None', 'ValueError: parent failed', [F]),
    'tolerant_child': ('finished', '31', None, [S]),
    'blocked_child': ('deferred', 'None', None, []),
    'keep': ('finished', '6', None, [S]),
    'repeated': ('finished', '8', None, [S, S]),
    'due': ('finished', '9', None, [S]),
    'cb': ('finished', '10', None, [S]),
    'cbf': ('failed', 'None', 'ValueError: in cbf', [F]),
    'json_ok': ('finished', '3', None, [S]),
    'json_fail': ('failed', 'None', 'ValueError: json bad', [F]),
}


def run_upstream_jobs(redis_server: RedisServer) -> Any:
    return run_upstream(PRELUDE + RUN + RUN_WORKERS + READ_ALL, redis_server.port)


def test_we_read_the_outcomes_upstream_reads(redis_server: RedisServer, connection: redis.Redis) -> None:
    theirs = run_upstream_jobs(redis_server)
    before = snapshot(connection)
    ours = as_json({'jobs': all_job_fields(connection), 'outcomes': all_outcome_fields(connection)})
    queues = as_json(queue_contents(connection))

    assert differences(ours['outcomes'], theirs['outcomes']) == []
    assert differences(ours['jobs'], theirs['jobs']) == []
    assert queues == theirs['queues']
    assert diff(snapshot(connection), before) == [], 'reading changed the database'

    # ... and what both read is what upstream is documented to do.
    seen = {
        job_id: (o['status'], o['return_value'], o['exc_tail'], o['result_types'])
        for job_id, o in ours['outcomes'].items()
    }
    assert seen == EXPECTED_OUTCOMES
    for job_id, outcome in ours['outcomes'].items():
        if outcome['result_types']:
            worker = JSON_WORKER if job_id.startswith('json') else WORKER
            assert outcome['latest_worker'] == outcome['worker_name'] == worker, job_id
    default, jq = queues['default'], queues['jq']
    assert default['queued'] == default['jobs'] == default['started'] == default['scheduled'] == []
    assert default['deferred'] == ['blocked_child']
    assert sorted(default['failed']) == ['bad_parent', 'cbf', 'failing', 'retried', 'retry_rv', 'zero_div']
    assert default['finished'][-1] == 'keep'  # result_ttl=-1 scores +inf
    assert (jq['finished'], jq['failed']) == (['json_ok'], ['json_fail'])


def test_we_read_upstream_results_in_detail(redis_server: RedisServer, connection: redis.Redis) -> None:
    run_upstream_jobs(redis_server)
    queue = Queue(connection=connection)

    # Meta the job saved while running, on top of the meta it was enqueued with.
    assert Job.fetch('meta_job', connection=connection).get_meta() == {'owner': 'me', 'progress': 100}
    json_job = fetch_job(connection, 'json_ok')
    assert json_job.meta == {'k': 'v'} and json_job.return_value() == 3

    # Return-value retry: a RETRIED then a MAX_RETRIES_EXCEEDED result, each holding upstream's
    # pickled rq.job.Retry, which must load as our Retry.
    retry_rv = Job.fetch('retry_rv', connection=connection)
    results = retry_rv.results()
    assert [r.type for r in results] == [Result.Type.MAX_RETRIES_EXCEEDED, Result.Type.RETRIED]
    assert all(isinstance(r.return_value, Retry) and r.return_value.max == 1 for r in results)
    assert retry_rv.number_of_retries == 1 and retry_rv.return_value() is None

    # Exception retry: no result for the retried attempts, retries_left used up.
    retried = Job.fetch('retried', connection=connection)
    assert retried.retries_left == 0 and len(retried.results()) == 1

    # The traceback we read is the stream's exc_string: base64 over zlib over the text.
    failing = Job.fetch('failing', connection=connection)
    [(_, entry)] = connection.xrange('rq:results:failing')
    raw_text = zlib.decompress(base64.b64decode(entry[b'exc_string'])).decode()
    assert failing.exc_info == raw_text and failing.latest_result().exc_string == raw_text  # type: ignore[union-attr]
    assert entry[b'worker_name'].decode() == WORKER and entry[b'type'] == b'2'

    # A repeated job carries the legacy `result` hash field (upstream re-saves it); we read past it.
    assert connection.hexists('rq:job:repeated', 'result')
    repeated = Job.fetch('repeated', connection=connection)
    assert repeated.repeats_left == 0 and [r.return_value for r in repeated.results()] == [8, 8]

    # Dependents: released on success, and on failure only when they allow it.
    assert Job.fetch('child', connection=connection).enqueued_at is not None
    assert Job.fetch('blocked_child', connection=connection).get_status() == JobStatus.DEFERRED
    assert DeferredJobRegistry(queue=queue).get_job_ids() == ['blocked_child']

    # result_ttl=0 leaves nothing; -1 keeps everything and scores +inf.
    assert not Job.exists('gone', connection=connection) and not connection.exists('rq:results:gone')
    assert FinishedJobRegistry(queue=queue).get_expiration_time(Job.fetch('keep', connection=connection)) is None
    assert 'keep' in FinishedJobRegistry(queue=queue)
    zero_div = Job.fetch('zero_div', connection=connection)
    assert zero_div in FailedJobRegistry(queue=queue) and zero_div.ended_at is not None
    assert_ttl(connection, 'rq:job:zero_div', 300, zero_div.ended_at)

    # Callbacks ran in upstream's worker.
    assert connection.get('callback:success:cb') == b'10'
    assert connection.get('callback:failure:cbf') == b'ValueError: in cbf'


def test_our_save_of_an_upstream_job_rewrites_every_field_unchanged(
    redis_server: RedisServer, connection: redis.Redis
) -> None:
    """Fetch each job upstream left behind and save it again with rq-core: HGETALL must be byte for
    byte the same (every field kept, none added, none re-encoded)."""
    run_upstream_jobs(redis_server)
    problems = []
    ids = job_ids(connection)
    assert len(ids) == len(EXPECTED_OUTCOMES)
    for job_id in ids:
        before = connection.hgetall(f'rq:job:{job_id}')
        job = fetch_job(connection, job_id)
        connection.delete(f'rq:job:{job_id}')
        job.save()
        after = connection.hgetall(f'rq:job:{job_id}')
        for field in sorted(set(before) | set(after)):
            if before.get(field) != after.get(field):
                problems.append(f'{job_id}.{field.decode()}: upstream {before.get(field)!r} ours {after.get(field)!r}')
    assert problems == []


# -- rq-core runs jobs in-process, upstream reads the outcome --------------------------------------

#: Jobs run by ``Queue(is_async=False)``: the same code is run by both implementations.
SYNC = """
import rqtest_introspect
s = Queue('sq', connection=conn, is_async=False)
sj = Queue('jq', connection=conn, is_async=False, serializer='json')
s.enqueue(add, 1, b=2, job_id='ok')
s.enqueue(rqtest_jobs.return_none, job_id='none')
s.enqueue(rqtest_jobs.async_add, 2, 3, job_id='coroutine')
s.enqueue(rqtest_jobs.unpicklable_return, job_id='unpicklable')
s.enqueue(rqtest_jobs.set_meta, 'progress', 100, job_id='meta_job', meta={'owner': 'me'})
s.enqueue(fail, 'nope', job_id='failing')
s.enqueue(fail, 'short', job_id='short_failure_ttl', failure_ttl=100)
s.enqueue(fail, 'no retry in process', job_id='retry', retry=Retry(max=2))
s.enqueue(add, 3, job_id='keep', result_ttl=-1)
s.enqueue(add, 3, job_id='gone', result_ttl=0)
s.enqueue(add, 4, job_id='cb', on_success=Callback(rqtest_jobs.record_success), on_failure=rqtest_jobs.record_failure)
s.enqueue(fail, 'x', job_id='cbf', on_failure=rqtest_jobs.record_failure)
parent = s.enqueue(add, 5, job_id='parent')
s.enqueue(add, 6, job_id='child', depends_on=parent)
s.enqueue(add, 7, job_id='orphan', depends_on='missing')
sj.enqueue(add, 8, job_id='json_ok', meta={'k': 'v'})
sj.enqueue(fail, 'json bad', job_id='json_fail')
"""
SYNC_OUTCOMES = {
    'ok': ('finished', '3', None, [S]),
    'none': ('finished', 'None', None, [S]),
    'coroutine': ('finished', '5', None, [S]),
    'unpicklable': ('finished', "'Unserializable return value'", None, [S]),
    'meta_job': ('finished', '100', None, [S]),
    'failing': ('failed', 'None', 'ValueError: nope', [F]),
    'short_failure_ttl': ('failed', 'None', 'ValueError: short', [F]),
    'retry': ('failed', 'None', 'ValueError: no retry in process', [F]),
    'keep': ('finished', '4', None, [S]),
    'cb': ('finished', '5', None, [S]),
    'cbf': ('failed', 'None', 'ValueError: x', [F]),
    'parent': ('finished', '6', None, [S]),
    'child': ('finished', '7', None, [S]),
    'orphan': ('finished', '8', None, [S]),
    'json_ok': ('finished', '9', None, [S]),
    'json_fail': ('failed', 'None', 'ValueError: json bad', [F]),
}


def run_ours(code: str, connection: redis.Redis) -> None:
    exec(compile(PRELUDE + code, '<ours>', 'exec'), {'conn': connection})


def test_upstream_reads_our_in_process_results(redis_server: RedisServer, connection: redis.Redis) -> None:
    run_ours(SYNC, connection)
    ours = as_json({'jobs': all_job_fields(connection), 'outcomes': all_outcome_fields(connection)})
    theirs = run_upstream(READ_ALL, redis_server.port)

    assert differences(ours['outcomes'], theirs['outcomes']) == []
    assert differences(ours['jobs'], theirs['jobs']) == []
    assert as_json(queue_contents(connection)) == theirs['queues']
    seen = {
        job_id: (o['status'], o['return_value'], o['exc_tail'], o['result_types'])
        for job_id, o in theirs['outcomes'].items()
    }
    assert seen == SYNC_OUTCOMES
    assert theirs['jobs']['meta_job']['meta'] == repr([('owner', 'me'), ('progress', 100)])
    assert all(fields['worker_name'] == 'sync' for fields in theirs['jobs'].values())
    assert sorted(theirs['queues']['sq']['failed']) == ['cbf', 'failing', 'retry', 'short_failure_ttl']
    assert theirs['queues']['sq']['finished'][-1] == 'keep'
    assert not connection.exists('rq:job:gone')


#: Known, accepted differences between the two implementations' in-process runs:
#: - the traceback text (its frames are each implementation's own code): compared by last line;
#: - ``ended_at`` of a failed job: upstream leaves it ``''`` (its sync path never sets it when the
#:   function raises), rq-core records when the run ended, as a worker does.
def _normalized_sync_snapshot(client: redis.Redis) -> dict[str, Any]:
    data = snapshot(client)
    for key, entry in data.items():
        if key.startswith('rq:job:') and entry['type'] == 'hash' and entry['value'].get('status') == b'failed':
            entry['value']['ended_at'] = '<ended_at>'
        if entry['type'] == 'stream':
            for fields in entry['value']:
                if 'exc_string' in fields:
                    text = zlib.decompress(base64.b64decode(fields['exc_string'])).decode()
                    fields['exc_string'] = text.strip().splitlines()[-1]
    return data


def test_our_in_process_runs_write_what_upstream_writes(redis_server: RedisServer, connection: redis.Redis) -> None:
    theirs_db = 2
    run_ours(SYNC, connection)
    run_upstream(PRELUDE + SYNC + 'print("null")', redis_server.port, db=theirs_db)
    ours = _normalized_sync_snapshot(connection)
    theirs = _normalized_sync_snapshot(redis.Redis(port=redis_server.port, db=theirs_db))
    assert 'rq:results:failing' in ours and 'rq:failed:sq' in ours
    assert diff(ours, theirs) == []


def test_in_process_results_have_an_empty_worker_name(redis_server: RedisServer, connection: redis.Redis) -> None:
    """As upstream (spec 3.4): the job hash says ``worker_name='sync'``, its results say ``''``."""
    Queue('sq', connection=connection, is_async=False).enqueue('rqtest_jobs.add', 1, job_id='ok')
    Queue('sq', connection=connection, is_async=False).enqueue('rqtest_jobs.fail', job_id='bad')
    theirs = run_upstream(READ_ALL, redis_server.port)
    assert theirs['outcomes']['ok']['latest_worker'] == ''
    assert theirs['outcomes']['bad']['latest_worker'] == ''
    assert [fields[b'worker_name'] for _, fields in connection.xrange('rq:results:ok')] == [b'']
    assert Job.fetch('ok', connection=connection).worker_name == 'sync'


def test_upstream_loads_a_retry_we_pickled(redis_server: RedisServer, connection: redis.Redis) -> None:
    """A pickled ``Retry`` must name ``rq.job.Retry``, the only path upstream can import."""
    # A Retry returned by a job run in-process is its return value.
    Queue('sq', connection=connection, is_async=False).enqueue('rqtest_introspect.retry_by_return', 2, job_id='rv')
    # A return-value retry run by upstream, re-saved by rq-core (the legacy `result` field holds the Retry).
    run_upstream(
        PRELUDE
        + "q.enqueue('rqtest_introspect.retry_by_return', 1, job_id='retry_rv')\n"
        + RUN_WORKERS
        + "print('null')",
        redis_server.port,
    )
    Job.fetch('retry_rv', connection=connection).save()
    theirs = run_upstream(
        """
from rq.job import Job
def describe(read):
    try:
        value = read()
    except Exception as exc:
        return repr(exc)
    return [type(value).__module__, type(value).__name__, getattr(value, 'max', None)]
print(json.dumps({
    'returned': describe(lambda: Job.fetch('rv', connection=conn).return_value()),
    'resaved': describe(lambda: Job.fetch('retry_rv', connection=conn)._result),
}))
""",
        redis_server.port,
    )
    assert theirs == {'returned': ['rq.job', 'Retry', 2], 'resaved': ['rq.job', 'Retry', 1]}


# -- rq-core manages upstream's jobs (requeue, cancel, delete) as upstream does --------------------

#: Run by upstream: three failed jobs, then queued, deferred and scheduled jobs left waiting.
MANAGED_SETUP = (
    """
q.enqueue(fail, 'one', job_id='failing')
q.enqueue(rqtest_jobs.div_by_zero, job_id='zero_div')
q.enqueue(fail, 'three', job_id='third', failure_ttl=300)
"""
    + burst_worker_code(WORKER)
    + """
q.enqueue(add, 1, job_id='waiting')
parent = q.enqueue(add, 2, job_id='dep_parent')
q.enqueue(add, 3, job_id='dep_child', depends_on=parent)
q.enqueue_in(datetime.timedelta(hours=1), add, 5, job_id='later')
q.enqueue(add, 6, job_id='doomed', meta={'a': 1})
print('null')
"""
)
#: Run by rq-core on one copy of that data and by upstream on another.
MANAGE = """
from rq.job import cancel_job, requeue_job
from rq.registry import FailedJobRegistry
FailedJobRegistry(queue=q).requeue('failing')
requeue_job('zero_div', connection=conn)
FailedJobRegistry(queue=q).requeue('third', at_front=True)
cancel_job('waiting', connection=conn)
Job.fetch('later', connection=conn).cancel()
cancel_job('dep_parent', connection=conn, enqueue_dependents=True)
Job.fetch('doomed', connection=conn).delete()
"""
REQUEUED = ('failing', 'zero_div', 'third')


def _normalized_managed_snapshot(client: redis.Redis) -> dict[str, Any]:
    """Snapshot without worker hashes. The TTL of requeued jobs differs on purpose: upstream keeps the
    failure TTL (a requeued job can expire while it waits), rq-core applies the job's ``ttl`` or
    PERSISTs it."""
    data = {k: v for k, v in snapshot(client).items() if not k.startswith('rq:worker')}
    for job_id in REQUEUED:
        entry = data[f'rq:job:{job_id}']
        entry['ttl'] = '<requeued>'
    return data


def test_our_requeue_cancel_and_delete_of_upstream_jobs_write_what_upstream_writes(
    redis_server: RedisServer, connection: redis.Redis
) -> None:
    theirs_db = 2
    for db in (0, theirs_db):
        run_upstream(PRELUDE + MANAGED_SETUP, redis_server.port, db=db)
    run_ours(MANAGE, connection)
    run_upstream(PRELUDE + MANAGE + 'print("null")', redis_server.port, db=theirs_db)
    ours = _normalized_managed_snapshot(connection)
    theirs = _normalized_managed_snapshot(redis.Redis(port=redis_server.port, db=theirs_db))
    assert ours['rq:queue:default']['value'] == [b'third', b'failing', b'zero_div', b'dep_child']
    assert 'rq:job:doomed' not in ours and 'rq:canceled:default' in ours
    assert diff(ours, theirs) == []

    # Upstream's worker then runs what we requeued and released.
    run_upstream(burst_worker_code(WORKER) + 'print("null")', redis_server.port)
    failing = Job.fetch('failing', connection=connection)
    assert failing.get_status() == JobStatus.FAILED
    assert [r.type for r in failing.results()] == [Result.Type.FAILED, Result.Type.FAILED]
    assert Job.fetch('dep_child', connection=connection).return_value() == 4
    assert Job.fetch('waiting', connection=connection).get_status() == JobStatus.CANCELED
    assert sorted(queue_contents(connection)['default']['canceled']) == ['dep_parent', 'later', 'waiting']
