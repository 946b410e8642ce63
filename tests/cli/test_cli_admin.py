"""``rq empty``, ``rq requeue``, ``rq suspend`` and ``rq resume``."""

from __future__ import annotations

import redis
from cli_helpers import assert_one_line_error, invoke

from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.suspension import WORKERS_SUSPENDED, is_suspended
from rq.worker import SimpleWorker


def failed_jobs(connection: redis.Redis, count: int, queue_name: str = 'default') -> list[Job]:
    queue = Queue(queue_name, connection=connection)
    jobs = [queue.enqueue('rqtest_jobs_cli.fail', f'boom {n}') for n in range(count)]
    SimpleWorker([queue], connection=connection).work(burst=True)
    assert all(job.get_status() == JobStatus.FAILED for job in jobs)
    return jobs


def test_empty_named_queues(url: str, connection: redis.Redis) -> None:
    first, second, kept = (Queue(name, connection=connection) for name in ('first', 'second', 'kept'))
    jobs = [first.enqueue('rqtest_jobs_cli.echo'), first.enqueue('rqtest_jobs_cli.echo')]
    second.enqueue('rqtest_jobs_cli.echo')
    kept.enqueue('rqtest_jobs_cli.echo')
    result = invoke('empty', '-u', url, 'first', 'second')
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ['2 jobs removed from first queue', '1 jobs removed from second queue']
    assert (first.count, second.count, kept.count) == (0, 0, 1)
    assert not any(Job.exists(job.id, connection) for job in jobs)


def test_empty_all(url: str, connection: redis.Redis) -> None:
    for name in ('a', 'b'):
        Queue(name, connection=connection).enqueue('rqtest_jobs_cli.echo')
    result = invoke('empty', '-u', url, '--all')
    assert result.stdout.splitlines() == ['1 jobs removed from a queue', '1 jobs removed from b queue']
    assert invoke('empty', '-u', url).stdout == 'Nothing to do\n'
    for name in ('a', 'b'):
        Queue(name, connection=connection).enqueue('rqtest_jobs_cli.echo')
    both = invoke('empty', '-u', url, '--all', 'a')  # upstream's precedence: --all wins, names aside
    assert both.exit_code == 0
    assert both.stdout.splitlines() == ['1 jobs removed from a queue', '1 jobs removed from b queue']
    assert both.stderr.startswith('Warning: --all empties every queue')


def test_requeue_ids_and_all(url: str, connection: redis.Redis) -> None:
    jobs = failed_jobs(connection, 3)
    registry = FailedJobRegistry('default', connection=connection)
    one = invoke('requeue', '-u', url, '--queue', 'default', jobs[0].id)
    # (piped: upstream's lines, with the empty line its progress bar leaves)
    assert one.exit_code == 0 and one.stdout == 'Requeueing 1 jobs from failed queue\n\n'
    assert jobs[0].get_status() == JobStatus.QUEUED and registry.count == 2
    rest = invoke('requeue', '-u', url, '--queue', 'default', '--all')
    assert rest.exit_code == 0 and 'Requeueing 2 jobs' in rest.stdout
    assert registry.count == 0 and Queue(connection=connection).count == 3
    assert invoke('requeue', '-u', url, '--queue', 'default', '--all').stdout == 'Nothing to do\n'


def test_requeue_at_front(url: str, connection: redis.Redis) -> None:
    job = failed_jobs(connection, 1)[0]
    queue = Queue(connection=connection)
    queue.enqueue('rqtest_jobs_cli.echo')
    assert invoke('requeue', '-u', url, '--queue', 'default', '--at-front', job.id).exit_code == 0
    assert queue.job_ids[0] == job.id


def test_requeue_reports_ids_it_could_not_requeue(url: str, connection: redis.Redis) -> None:
    job = failed_jobs(connection, 1)[0]
    result = invoke('requeue', '-u', url, '--queue', 'default', job.id, 'not-a-failed-job')
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        'Requeueing 2 jobs from failed queue',
        '',
        'Unable to requeue 1 jobs from failed job registry',
    ]
    assert_one_line_error(result.stderr, "job 'not-a-failed-job' not requeued: no such job")
    assert job.get_status() == JobStatus.QUEUED


def test_requeue_needs_a_queue(url: str) -> None:
    result = invoke('requeue', '-u', url, '--all')
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "Missing option '--queue'")


def test_suspend_and_resume(url: str, connection: redis.Redis) -> None:
    result = invoke('suspend', '-u', url)
    assert result.exit_code == 0 and 'Suspending workers' in result.stdout
    assert is_suspended(connection) and connection.ttl(WORKERS_SUSPENDED) == -1
    resumed = invoke('resume', '-u', url)
    assert resumed.exit_code == 0 and resumed.stdout == 'Resuming workers.\n'
    assert not is_suspended(connection)
    timed = invoke('suspend', '-u', url, '--duration', '300')
    assert timed.exit_code == 0 and '300 seconds' in timed.stdout
    assert 295 <= connection.ttl(WORKERS_SUSPENDED) <= 300


def test_suspend_duration_must_be_positive(url: str, connection: redis.Redis) -> None:
    result = invoke('suspend', '-u', url, '--duration', '0')
    assert result.exit_code == 1  # (upstream's)
    assert_one_line_error(result.stderr, '--duration')
    assert not is_suspended(connection)
