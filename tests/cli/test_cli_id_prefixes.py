"""Commands that take a job id accept the start of one (the 8 characters the demo prints) when it
names a single job; an id that exists exactly always names that job."""

from __future__ import annotations

import json
from typing import Any

import redis
from cli_helpers import assert_one_line_error, invoke, job_id_in

from rq import Queue
from rq.cli._job_prefix import LISTED, job_ids_starting_with, members_starting_with
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.worker import SimpleWorker


def shown_id(url: str, given: str) -> str:
    result = invoke('job', '-u', url, '--json', given)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return str(document['id'])


def test_a_unique_start_names_the_job(url: str, connection: redis.Redis) -> None:
    queue = Queue(connection=connection)
    job = queue.enqueue('rqtest_jobs_cli.echo', 1)
    queue.enqueue('rqtest_jobs_cli.echo', 2, depends_on=job)  # adds rq:job:<id>:dependents, not a job
    assert connection.exists(Job.dependents_key_for(job.id))
    assert shown_id(url, job.id[:8]) == job.id
    table = invoke('job', '-u', url, job.id[:8], env={'COLUMNS': '100'})
    assert table.exit_code == 0 and table.stdout.splitlines()[0] == f'Job {job.id}'


def test_an_exact_id_wins_and_an_ambiguous_start_is_an_error(url: str, connection: redis.Redis) -> None:
    queue = Queue(connection=connection)
    for job_id in ('batch-1', 'batch-10', 'batch-11'):
        queue.enqueue('rqtest_jobs_cli.echo', job_id=job_id)
    assert shown_id(url, 'batch-1') == 'batch-1'  # exists: not read as the start of batch-10 or batch-11
    assert shown_id(url, 'batch-10') == 'batch-10'
    ambiguous = invoke('job', '-u', url, 'batch')
    assert ambiguous.exit_code == 2
    assert_one_line_error(ambiguous.stderr, "'batch' is the start of 3 job ids: batch-1, batch-10, batch-11")
    assert ambiguous.stdout == ''


def test_an_ambiguity_lists_a_bounded_number_of_ids(url: str, connection: redis.Redis) -> None:
    queue = Queue(connection=connection)
    for number in range(LISTED + 4):
        queue.enqueue('rqtest_jobs_cli.echo', job_id=f'nightly-{number}')
    result = invoke('job', '-u', url, 'nightly')
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, f"'nightly' is the start of more than {LISTED} job ids: ", ', ...;')
    assert result.stderr.count('nightly-') == LISTED


def test_no_match_is_the_usual_missing_job_error(url: str, connection: redis.Redis) -> None:
    Queue(connection=connection).enqueue('rqtest_jobs_cli.echo', job_id='present-job')
    missing = invoke('job', '-u', url, 'absent')
    assert missing.exit_code == 1
    assert_one_line_error(missing.stderr, "no such job: 'absent'")
    assert shown_id(url, 'pres') == 'present-job'


def commands_run(connection: redis.Redis) -> set[str]:
    stats: dict[str, Any] = connection.info('commandstats')
    return {name.removeprefix('cmdstat_') for name in stats}


def test_the_lookup_scans_and_never_uses_keys(url: str, connection: redis.Redis) -> None:
    job = Queue(connection=connection).enqueue('rqtest_jobs_cli.echo')
    connection.config_resetstat()
    assert shown_id(url, job.id[:6]) == job.id
    used = commands_run(connection)
    assert 'scan' in used and 'keys' not in used
    connection.config_resetstat()
    assert shown_id(url, job.id) == job.id
    assert 'scan' not in commands_run(connection)  # an existing id is fetched as it always was


def test_glob_characters_in_a_prefix_are_literal(url: str, connection: redis.Redis) -> None:
    """Keys that only a glob pattern would confuse: ``*``, ``?`` and ``[`` match themselves."""
    for key in ('rq:job:gl*b', 'rq:job:glob', 'rq:job:gl?x', 'rq:job:gl[o]b', 'rq:job:gl\\b'):
        connection.hset(key, 'status', 'queued')
    for prefix, expected in (('gl*', ['gl*b']), ('gl?', ['gl?x']), ('gl[o', ['gl[o]b']), ('gl\\', ['gl\\b'])):
        assert job_ids_starting_with(connection, 'rq:job:', prefix, 10) == expected, prefix
    assert sorted(job_ids_starting_with(connection, 'rq:job:', 'gl', 10)) == sorted(
        ['gl*b', 'glob', 'gl?x', 'gl[o]b', 'gl\\b']
    )
    connection.zadd('some-registry', {'a*1': 1, 'ab2': 2})
    assert members_starting_with(connection, 'some-registry', 'a*', 10) == ['a*1']
    glob = invoke('job', '-u', url, 'gl*')  # not a valid id, so not even the start of one
    assert glob.exit_code == 2 and 'glob' not in glob.stderr


def failed_in(connection: redis.Redis, queue_name: str, *job_ids: str) -> None:
    queue = Queue(queue_name, connection=connection)
    for job_id in job_ids:
        queue.enqueue('rqtest_jobs_cli.fail', job_id=job_id)
    SimpleWorker([queue], connection=connection).work(burst=True)


def test_requeue_takes_the_start_of_a_failed_job_id(url: str, connection: redis.Redis) -> None:
    failed_in(connection, 'default', 'export-2026-a1', 'export-2026-b2')
    failed_in(connection, 'other', 'export-2026-c3')
    registry = FailedJobRegistry('default', connection=connection)
    ambiguous = invoke('requeue', '-u', url, '-q', 'default', 'export-2026-a1', 'export-2026')
    assert ambiguous.exit_code == 2  # checked before anything is requeued
    assert_one_line_error(ambiguous.stderr, "'export-2026' is the start of 2 job ids: export-2026-a1, export-2026-b2")
    assert registry.count == 2
    one = invoke('requeue', '-u', url, '-q', 'default', 'export-2026-b')
    assert one.exit_code == 0, one.output
    assert one.stdout == 'Requeueing 1 jobs from failed queue\n\n'
    assert 'export-2026-b: job export-2026-b2' in one.stderr
    assert registry.get_job_ids() == ['export-2026-a1']
    assert Queue(connection=connection).get_job_ids() == ['export-2026-b2']
    elsewhere = invoke('requeue', '-u', url, '-q', 'default', 'export-2026-c')  # failed in 'other' only
    assert elsewhere.exit_code == 1
    assert elsewhere.stdout.splitlines()[-1] == 'Unable to requeue 1 jobs from failed job registry'
    assert_one_line_error(elsewhere.stderr, "'export-2026-c'", 'export-2026-c3', "failed on queue 'other'")


def test_depends_on_keeps_the_id_as_typed_and_warns(url: str, connection: redis.Redis) -> None:
    parent = Queue(connection=connection).enqueue('rqtest_jobs_cli.echo')
    result = invoke('enqueue', '-u', url, '--depends-on', parent.id[:8], 'rqtest_jobs_cli.echo')
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith('Warning: ')]
    assert len(warnings) == 1 and f'--depends-on {parent.id[:8]!r}' in warnings[0] and parent.id in warnings[0]
    child = Job.fetch(job_id_in(result.stdout), connection=connection)
    assert child._dependency_ids == [parent.id[:8]]  # upstream's meaning of an id that names no job
    whole = invoke('enqueue', '-u', url, '--depends-on', parent.id, 'rqtest_jobs_cli.echo')
    assert whole.exit_code == 0 and 'Warning' not in whole.stderr
