"""Jobs enqueued by rq-core are fetched and run by upstream rq (2.12.0, then 3.0.0); rq-core then reads the outcome.

rq-core enqueues in this process; upstream (its own virtualenv, see ``tests/support/upstream.py``)
fetches the jobs and runs them with ``SimpleWorker(...).work(burst=True, with_scheduler=True)``; then
rq-core reads status, return values, tracebacks, Result types and registries, which must be what
``shared/spec/rq2-reference.md`` (sections 3, 4.4-4.6) says upstream writes.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis
from scenarios import PRELUDE

from redis_dump import diff, snapshot
from redis_server import RedisServer
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry
from rq.results import Result
from rqtest_introspect import (
    all_job_fields,
    all_outcome_fields,
    as_json,
    differences,
    fetch_job,
    job_fields,
    queue_contents,
)
from ttl_checks import assert_expires_at, assert_ttl
from upstream import burst_worker_code, finish_upstream, run_upstream, start_upstream
from worker_process import wait_until

pytestmark = [
    pytest.mark.upstream,
    # rqtest_introspect.outcome_fields reads job.exc_info on purpose (both implementations have it).
    pytest.mark.filterwarnings('ignore:job.exc_info is deprecated:DeprecationWarning'),
]

WORKER = 'upstream-worker'
JSON_WORKER = 'upstream-json-worker'
ONE_YEAR = 31536000

#: Enqueue code run by rq-core (and, for the raw comparison, by upstream): ``conn``, ``q``, ``add``,
#: ``fail``, ``Retry`` and ``datetime`` come from ``scenarios.PRELUDE``. ``due`` is scheduled in the
#: past because upstream's burst scheduler only moves jobs that are already due.
ENQUEUE = """
past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=30)
q.enqueue(add, 1, b=2, job_id='plain')
q.enqueue(add, 2, job_id='with_meta', meta={'owner': 'me', 'n': 3})
parent = q.enqueue(add, 3, job_id='parent')
q.enqueue(add, 4, job_id='child', depends_on=parent)
q.enqueue_at(past, add, 5, job_id='due')
Queue('jq', connection=conn, serializer='json').enqueue(add, 6, job_id='json_job', meta={'k': 'v'})
q.enqueue(fail, 'bad input', job_id='failing')
q.enqueue(add, 7, job_id='keep_forever', result_ttl=-1)
q.enqueue(fail, 'again', job_id='retried', retry=Retry(max=1))
"""
JOB_IDS = ['child', 'due', 'failing', 'json_job', 'keep_forever', 'parent', 'plain', 'retried', 'with_meta']

#: Upstream runs the default queue (with its scheduler) and then the JSON queue with a JSON worker.
RUN_ALL = burst_worker_code(WORKER) + burst_worker_code(JSON_WORKER, ('jq',), serializer='json', with_scheduler=False)
INTROSPECT = 'from rqtest_introspect import all_job_fields, all_outcome_fields, job_fields, queue_contents\n'
READ_AFTER_RUN = 'print(json.dumps({"outcomes": all_outcome_fields(conn), "jobs": all_job_fields(conn)}))'


def enqueue_ours(connection: redis.Redis) -> None:
    exec(compile(PRELUDE + ENQUEUE, '<enqueue>', 'exec'), {'conn': connection})


def test_upstream_fetches_our_jobs_with_equal_fields(redis_server: RedisServer, connection: redis.Redis) -> None:
    enqueue_ours(connection)
    ours = all_job_fields(connection)
    theirs = run_upstream(
        INTROSPECT + 'print(json.dumps({"jobs": all_job_fields(conn), "queues": queue_contents(conn)}))',
        redis_server.port,
    )

    assert sorted(ours) == JOB_IDS
    assert differences(ours, theirs['jobs']) == []
    assert theirs['queues'] == as_json(queue_contents(connection))
    queued = ['plain', 'with_meta', 'parent', 'failing', 'keep_forever', 'retried']
    assert theirs['queues']['default']['queued'] == queued
    assert theirs['queues']['default']['deferred'] == ['child']
    assert theirs['queues']['default']['scheduled'] == ['due']
    assert theirs['queues']['jq']['jobs'] == ['json_job']


def run_ours_with_upstream(redis_server: RedisServer, connection: redis.Redis) -> Any:
    """Enqueue with rq-core, run everything with upstream; return upstream's view afterwards."""
    enqueue_ours(connection)
    return run_upstream(RUN_ALL + INTROSPECT + READ_AFTER_RUN, redis_server.port)


def test_upstream_runs_our_jobs_and_we_read_what_the_spec_says(
    redis_server: RedisServer, connection: redis.Redis
) -> None:
    run_ours_with_upstream(redis_server, connection)
    jobs = {job_id: fetch_job(connection, job_id) for job_id in JOB_IDS}

    # Every success: status, value, one SUCCESSFUL result by the worker that ran it.
    expected_values = {'plain': 3, 'with_meta': 3, 'parent': 4, 'child': 5, 'due': 6, 'json_job': 7, 'keep_forever': 8}
    for job_id, value in expected_values.items():
        job = jobs[job_id]
        worker = JSON_WORKER if job_id == 'json_job' else WORKER
        assert job.get_status() == JobStatus.FINISHED, job_id
        assert job.return_value() == value, job_id
        assert [r.type for r in job.results()] == [Result.Type.SUCCESSFUL], job_id
        latest = job.latest_result()
        assert latest is not None and latest.worker_name == worker and latest.return_value == value, job_id
        assert job.worker_name == worker, job_id
        assert job.started_at is not None and job.ended_at is not None and job.started_at <= job.ended_at, job_id
        assert job.exc_info is None, job_id

    # Default result_ttl (500) from the end of the job: the job hash, the results stream and the
    # finished registry score (upstream's worker may take a while to exit: time is measured from
    # the recorded end, not from now).
    plain = jobs['plain']
    assert plain.ended_at is not None
    assert_ttl(connection, 'rq:job:plain', 500, plain.ended_at)
    assert_ttl(connection, 'rq:results:plain', 500, plain.ended_at)
    expires = FinishedJobRegistry(queue=Queue(connection=connection)).get_expiration_time(plain)
    assert_expires_at(expires, 500, plain.ended_at)

    # Meta survives the run; the JSON job's meta and value came back through JSON.
    assert jobs['with_meta'].get_meta() == {'owner': 'me', 'n': 3}
    assert jobs['json_job'].meta == {'k': 'v'}

    # Dependencies: the child was released when its parent finished, into its own queue.
    child = jobs['child']
    assert child.dependency_ids == ['parent'] and child.enqueued_at is not None
    assert connection.exists('rq:job:parent:dependents') == 0

    # The scheduled job was moved by upstream's burst scheduler and run.
    assert jobs['due'].enqueued_at is not None

    # result_ttl=-1: the job and its results are kept forever, scored +inf in the finished registry.
    assert connection.ttl('rq:job:keep_forever') == -1
    assert connection.ttl('rq:results:keep_forever') == -1
    assert connection.zscore('rq:finished:default', 'keep_forever') == float('inf')

    # A failure: FAILED result with the traceback, no value, one year in the failed registry, and a
    # results stream without TTL (failure_ttl is None).
    failing = jobs['failing']
    assert failing.get_status() == JobStatus.FAILED
    assert failing.return_value() is None
    assert failing.exc_info is not None and failing.exc_info.strip().splitlines()[-1] == 'ValueError: bad input'
    assert [r.type for r in failing.results()] == [Result.Type.FAILED]
    latest = failing.latest_result()
    assert latest is not None and latest.exc_string == failing.exc_info and latest.worker_name == WORKER
    assert failing.ended_at is not None
    assert_ttl(connection, 'rq:job:failing', ONE_YEAR, failing.ended_at)
    assert connection.ttl('rq:results:failing') == -1
    failed_expiry = FailedJobRegistry(queue=Queue(connection=connection)).get_expiration_time(failing)
    assert_expires_at(failed_expiry, ONE_YEAR, failing.ended_at)

    # Retry(max=1): retried once at once (no result for that attempt), then failed for good.
    retried = jobs['retried']
    assert retried.get_status() == JobStatus.FAILED
    assert retried.retries_left == 0
    assert [r.type for r in retried.results()] == [Result.Type.FAILED]
    assert retried.exc_info is not None and retried.exc_info.strip().splitlines()[-1] == 'ValueError: again'
    assert connection.hget(f'rq:worker:{WORKER}', 'failed_job_count') == b'3'  # failing once, retried twice

    # Registries after the burst: nothing queued, started, deferred or scheduled any more.
    contents = queue_contents(connection)
    assert set(contents) == {'default', 'jq'}
    default = contents['default']
    assert default['queued'] == default['jobs'] == default['started'] == []
    assert default['deferred'] == default['scheduled'] == default['canceled'] == []
    assert sorted(default['finished']) == ['child', 'due', 'keep_forever', 'parent', 'plain', 'with_meta']
    assert default['finished'][-1] == 'keep_forever'  # +inf sorts last
    assert sorted(default['failed']) == ['failing', 'retried']
    assert contents['jq']['finished'] == ['json_job'] and contents['jq']['failed'] == []
    assert all(not job.get_executions() for job in jobs.values())


def test_we_read_the_same_outcomes_as_upstream(redis_server: RedisServer, connection: redis.Redis) -> None:
    theirs = run_ours_with_upstream(redis_server, connection)
    assert sorted(theirs['outcomes']) == JOB_IDS
    assert differences(all_outcome_fields(connection), theirs['outcomes']) == []
    assert differences(all_job_fields(connection), theirs['jobs']) == []


#: Worker hash fields that differ between any two runs (process, socket, timing).
VOLATILE_WORKER_FIELDS = {'pid', 'ip_address', 'hostname', 'total_working_time', 'current_job_working_time'}


def comparable(client: redis.Redis) -> dict[str, Any]:
    data = snapshot(client)
    for key, entry in data.items():
        if key.startswith('rq:worker:'):
            entry['value'] = {k: v for k, v in entry['value'].items() if k not in VOLATILE_WORKER_FIELDS}
    return data


def test_upstream_run_leaves_the_same_data_as_for_its_own_jobs(
    redis_server: RedisServer, connection: redis.Redis
) -> None:
    """Our enqueue + upstream's run, and upstream's enqueue + upstream's run: every key, hash field,
    stream entry, TTL and registry score the same (times by format, scores within a few seconds)."""
    theirs_db = 2
    run_ours_with_upstream(redis_server, connection)
    run_upstream(PRELUDE + ENQUEUE + RUN_ALL + 'print("null")', redis_server.port, db=theirs_db)
    ours = comparable(connection)
    theirs = comparable(redis.Redis(port=redis_server.port, db=theirs_db))
    assert f'rq:worker:{WORKER}' in ours and 'rq:results:retried' in ours
    assert diff(ours, theirs) == []


def test_upstream_worker_busy_with_our_job(redis_server: RedisServer, connection: redis.Redis) -> None:
    """While upstream runs one of our jobs, we see it started, in the started registry with its
    execution; upstream sees the same job fields; after release we read the result."""
    queue = Queue(connection=connection)
    queue.enqueue('rqtest_introspect.wait_for_key', 'release:blocker', job_id='blocker')
    worker = start_upstream(burst_worker_code(WORKER) + 'print("null")', redis_server.port)
    try:
        job = Job.fetch('blocker', connection=connection)
        started = wait_until(lambda: job.get_status() != JobStatus.QUEUED or worker.poll() is not None, 60, 0.05)
        assert started and worker.poll() is None, 'upstream never started the job, or exited early'
        assert job.get_status() == JobStatus.STARTED
        job.refresh()
        registry = StartedJobRegistry(queue=queue)
        [(job_id, execution_id)] = registry.get_job_and_execution_ids()
        assert job_id == 'blocker' and registry.get_job_ids() == ['blocker']
        assert 'blocker' in registry
        assert [e.id for e in job.get_executions()] == [execution_id]
        assert job.get_executions()[0].worker_name == WORKER
        assert job.worker_name == WORKER and job.started_at is not None and job.ended_at is None
        # SimpleWorker sends no heartbeats during a job: the entry lasts timeout + 60 s from its start.
        score = connection.zscore('rq:wip:default', f'blocker:{execution_id}')
        assert_expires_at(score, 180 + 60, job.started_at)
        assert queue.job_ids == [] and queue.intermediate_queue.get_job_ids() == []
        theirs = run_upstream(
            INTROSPECT + 'from rq.job import Job\n'
            "print(json.dumps({'blocker': job_fields(Job.fetch('blocker', connection=conn))}))",
            redis_server.port,
        )
        assert differences({'blocker': job_fields(job)}, theirs) == []
    finally:
        connection.set('release:blocker', 'go')
        finish_upstream(worker)

    job.refresh()
    assert job.get_status() == JobStatus.FINISHED and job.return_value() == 'go'
    assert StartedJobRegistry(queue=queue).get_job_ids() == []
    assert FinishedJobRegistry(queue=queue).get_job_ids() == ['blocker']
    assert job.get_executions() == []
    assert connection.exists(f'rq:execution:blocker:{execution_id}') == 0
    assert job.started_at is not None and job.ended_at is not None and job.started_at <= job.ended_at
