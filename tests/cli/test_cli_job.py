"""``rq job JOB_ID`` and ``rq failed QUEUE``."""

from __future__ import annotations

import json

import redis
from cli_helpers import assert_one_line_error, invoke

from rq import Queue
from rq.serializers import JSONSerializer
from rq.worker import SimpleWorker

WIDE = {'COLUMNS': '200'}


def run_all(connection: redis.Redis, queue: Queue) -> None:
    SimpleWorker([queue], connection=connection, name='cli-test-worker').work(burst=True)


def test_finished_job(url: str, connection: redis.Redis) -> None:
    queue = Queue(connection=connection)
    job = queue.enqueue('rqtest_jobs_cli.echo', 1, key={'nested': [1, 2]}, job_id='done-job')
    run_all(connection, queue)
    result = invoke('job', '-u', url, 'done-job', env=WIDE)
    assert result.exit_code == 0, result.output
    output = result.stdout
    assert 'Job done-job' in output
    assert 'finished' in output
    assert "rqtest_jobs_cli.echo(1, key={'nested': [1, 2]})" in output
    assert 'cli-test-worker' in output
    assert 'Result' in output and "{'nested': [1, 2]}" in output.split('Result')[1]
    document = json.loads(invoke('job', '-u', url, '--json', job.id).stdout)
    assert document['status'] == 'finished' and document['queue'] == 'default'
    assert document['result']['type'] == 'SUCCESSFUL'
    assert document['result']['return_value'] == [[1], {'key': {'nested': [1, 2]}}]
    assert document['worker_name'] == 'cli-test-worker'
    assert document['started_at'] <= document['ended_at']


def test_failed_job_shows_the_traceback(url: str, connection: redis.Redis) -> None:
    queue = Queue(connection=connection)
    job = queue.enqueue('rqtest_jobs_cli.fail', 'it broke')
    run_all(connection, queue)
    output = invoke('job', '-u', url, job.id, env=WIDE).stdout
    assert 'failed' in output and 'Traceback' in output
    assert 'ValueError: it broke' in output
    document = json.loads(invoke('job', '-u', url, '--json', job.id).stdout)
    assert document['result']['type'] == 'FAILED'
    assert document['result']['exc_string'].rstrip().endswith('ValueError: it broke')


def test_queued_job_position_and_json_serializer(url: str, connection: redis.Redis) -> None:
    queue = Queue(connection=connection, serializer=JSONSerializer)
    queue.enqueue('rqtest_jobs_cli.echo')
    job = queue.enqueue('rqtest_jobs_cli.echo', 'x')
    output = invoke('job', '-u', url, '-S', 'json', job.id, env=WIDE).stdout
    assert 'queued' in output and 'Position' in output and "rqtest_jobs_cli.echo('x')" in output


def test_wrong_serializer_and_missing_job_are_one_line(url: str, connection: redis.Redis) -> None:
    job = Queue(connection=connection).enqueue('rqtest_jobs_cli.echo', 'x')
    wrong = invoke('job', '-u', url, '-S', 'json', job.id)
    assert wrong.exit_code == 1
    assert_one_line_error(wrong.stderr, f'cannot read job {job.id!r}', '--serializer')
    missing = invoke('job', '-u', url, 'no-such-job')
    assert missing.exit_code == 1
    assert_one_line_error(missing.stderr, "no such job: 'no-such-job'")
    bad = invoke('job', '-u', url, 'bad id!')
    assert bad.exit_code == 2
    assert_one_line_error(bad.stderr, 'JOB_ID')


def test_failed_lists_recent_failures_with_pages(url: str, connection: redis.Redis) -> None:
    queue = Queue('work', connection=connection)
    jobs = []
    for number in range(5):
        jobs.append(queue.enqueue('rqtest_jobs_cli.fail', f'failure number {number}', failure_ttl=1000 + number))
    queue.enqueue('rqtest_jobs_cli.echo')
    run_all(connection, queue)
    first = invoke('failed', '-u', url, 'work', '--limit', '2', env=WIDE)
    assert first.exit_code == 0, first.output
    assert 'Failed jobs in' in first.stdout and ': 5' in first.stdout
    assert 'ValueError: failure number 4' in first.stdout and 'ValueError: failure number 3' in first.stdout
    assert 'failure number 2' not in first.stdout
    assert 'next: rq failed work --page 2' in first.stdout
    document = json.loads(invoke('failed', '-u', url, 'work', '--limit', '2', '--page', '3', '--json').stdout)
    assert document['total'] == 5 and document['page'] == 3
    assert [row['id'] for row in document['jobs']] == [jobs[0].id]
    assert document['jobs'][0]['exception'] == 'ValueError: failure number 0'
    assert document['jobs'][0]['call'] == "rqtest_jobs_cli.fail('failure number 0')"
    beyond = invoke('failed', '-u', url, 'work', '--page', '9')
    assert beyond.exit_code == 0 and 'page 9 of 1' in beyond.stdout
    assert invoke('failed', '-u', url, 'empty-queue').stdout == "No failed jobs in 'empty-queue'\n"
