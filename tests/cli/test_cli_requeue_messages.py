"""``rq requeue`` names every id it could not requeue, and why, on stderr; stdout keeps upstream RQ's
lines (``Requeueing N jobs from failed queue``, the empty line of its progress bar, ``Unable to
requeue K jobs from failed job registry``) for scripts that parse them; the exit code is 1 when any id
was not requeued, or (before anything is requeued) for an id that cannot be one.

Failed jobs are made by a synchronous queue, so these tests need no worker.
"""

from __future__ import annotations

import redis
from cli_helpers import invoke

from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry


def fail_in(connection: redis.Redis, queue_name: str, *job_ids: str) -> None:
    queue = Queue(queue_name, connection=connection, is_async=False)
    for job_id in job_ids:
        queue.enqueue('rqtest_jobs_cli.fail', 'boom', job_id=job_id)
        assert Job.fetch(job_id, connection=connection).get_status() == JobStatus.FAILED


def corrupt(connection: redis.Redis, job_id: str) -> None:
    """Make the job hash unreadable. (Not its ``data``: the call is decoded when read, as in RQ, so a
    job whose payload is corrupt is requeued like any other, and a worker fails it with the cause.)"""
    connection.hset(f'rq:job:{job_id}', 'status', b'not a status')


def error_lines(stderr: str) -> dict[str, str]:
    """The ``Error:`` lines of stderr, by the quoted id they name."""
    found = {}
    for line in stderr.splitlines():
        assert not line.startswith('Traceback'), stderr
        if line.startswith("Error: job '"):
            job_id = line.split("'")[1]
            found[job_id] = line
    return found


def test_each_id_not_requeued_is_named_with_its_reason(url: str, connection: redis.Redis) -> None:
    fail_in(connection, 'default', 'good-1', 'unreadable-1')
    fail_in(connection, 'other', 'elsewhere-1')
    Queue(connection=connection).enqueue('rqtest_jobs_cli.echo', job_id='waiting-1')
    corrupt(connection, 'unreadable-1')
    registry = FailedJobRegistry('default', connection=connection)
    connection.zadd(registry.key, {'ghost-1': '+inf'})  # an entry whose job hash is gone

    ids = ('good-1', 'elsewhere-1', 'waiting-1', 'no-such-1', 'unreadable-1', 'ghost-1')
    result = invoke('requeue', '-u', url, '-q', 'default', *ids)

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        'Requeueing 6 jobs from failed queue',
        '',
        'Unable to requeue 5 jobs from failed job registry',
    ]
    errors = error_lines(result.stderr)
    assert set(errors) == {'elsewhere-1', 'waiting-1', 'no-such-1', 'unreadable-1', 'ghost-1'}, result.stderr
    assert "failed on queue 'other'" in errors['elsewhere-1'] and '--queue other' in errors['elsewhere-1']
    assert "not in the failed job registry of queue 'default'" in errors['waiting-1']
    assert "'queued'" in errors['waiting-1']
    assert errors['no-such-1'].endswith('no such job')
    assert 'cannot read its job data' in errors['unreadable-1'] and '--serializer' in errors['unreadable-1']
    assert 'gone' in errors['ghost-1']

    assert Job.fetch('good-1', connection=connection).get_status() == JobStatus.QUEUED
    assert registry.get_job_ids() == ['unreadable-1']  # kept for another try; the ghost entry dropped
    assert FailedJobRegistry('other', connection=connection).get_job_ids() == ['elsewhere-1']


def test_requeue_all_goes_on_past_an_unreadable_job(url: str, connection: redis.Redis) -> None:
    fail_in(connection, 'default', 'a-1', 'b-1', 'c-1')
    corrupt(connection, 'b-1')
    result = invoke('requeue', '-u', url, '-q', 'default', '--all')
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == 'Unable to requeue 1 jobs from failed job registry'
    assert set(error_lines(result.stderr)) == {'b-1'}
    assert Queue(connection=connection).get_job_ids() == ['a-1', 'c-1']


def test_the_start_of_an_id_is_accepted_and_explained(url: str, connection: redis.Redis) -> None:
    fail_in(connection, 'default', 'report-7f3a9c')
    fail_in(connection, 'other', 'invoice-2b81d0')
    result = invoke('requeue', '-u', url, '-q', 'default', 'report-7f', 'invoice-2b')
    assert result.exit_code == 1
    assert 'report-7f: job report-7f3a9c' in result.stderr
    why = error_lines(result.stderr)['invoice-2b']
    assert 'invoice-2b81d0' in why and "failed on queue 'other'" in why
    assert Queue(connection=connection).get_job_ids() == ['report-7f3a9c']


def test_an_id_that_cannot_be_one_is_refused_before_anything_is_requeued(url: str, connection: redis.Redis) -> None:
    fail_in(connection, 'default', 'kept-1')
    result = invoke('requeue', '-u', url, '-q', 'default', 'kept-1', 'bad:id')
    assert result.exit_code == 1  # (upstream's: it stops with a traceback)
    assert result.stdout == ''
    assert "Invalid job id 'bad:id'" in result.stderr
    assert FailedJobRegistry('default', connection=connection).get_job_ids() == ['kept-1']
