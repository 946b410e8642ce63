"""``python -m rq.worker`` and the deprecated dequeue-strategy worker classes."""

from __future__ import annotations

import subprocess
import sys

import pytest
import redis

from redis_server import RedisServer, free_port
from rq import Queue
from rq.job import JobStatus
from rq.suspension import resume, suspend
from rq.worker import RandomWorker, RoundRobinWorker
from signal_support import launched, registered_workers, running_worker, worker_command, worker_hash
from worker_process import worker_env


def run_worker(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """``python -m rq.worker ARGS`` to completion (output and errors captured together)."""
    return subprocess.run(
        [sys.executable, '-m', 'rq.worker', *args],
        env=worker_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


def url(server: RedisServer) -> str:
    return f'redis://127.0.0.1:{server.port}/0'


def test_help(redis_server: RedisServer) -> None:
    done = run_worker('--help')
    assert done.returncode == 0
    for option in ('--burst', '--worker-class', '--name', '--url', '--with-scheduler', '--max-jobs'):
        assert option in done.stdout
    assert 'python -m rq.worker' in done.stdout


def test_burst_runs_the_jobs_and_exits(connection: redis.Redis, redis_server: RedisServer) -> None:
    high, low = Queue('high', connection=connection), Queue('low', connection=connection)
    jobs = [low.enqueue('rqtest_jobs.add', 1, 2), high.enqueue('rqtest_jobs.say_hello', 'cli')]
    failing = high.enqueue('rqtest_jobs.div_by_zero')
    done = run_worker('--url', url(redis_server), '--burst', '--name', 'cli-burst', 'high', 'low')
    assert done.returncode == 0, done.stdout
    assert [job.return_value() for job in jobs] == [3, 'Hi there, cli!']
    assert failing.get_status() == JobStatus.FAILED
    for job in [*jobs, failing]:
        job.refresh()
        assert job.worker_name == 'cli-burst'
    fields = worker_hash(connection, 'cli-burst')
    assert fields['successful_job_count'] == '2' and fields['failed_job_count'] == '1'
    assert 'death' in fields
    assert registered_workers(connection) == set()
    assert 'Listening on high, low' in done.stdout


def test_default_queue_and_redis_url_from_the_environment(connection: redis.Redis, redis_server: RedisServer) -> None:
    job = Queue(connection=connection).enqueue('rqtest_jobs.add', 40, 2)
    env = worker_env(RQ_REDIS_URL=url(redis_server))
    done = subprocess.run(
        [sys.executable, '-m', 'rq.worker', '--burst'], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert job.return_value() == 42


@pytest.mark.parametrize(('worker_class', 'in_process'), [('SimpleWorker', True), ('Worker', False)])
def test_worker_class(connection: redis.Redis, redis_server: RedisServer, worker_class: str, in_process: bool) -> None:
    """A SimpleWorker runs its jobs in its own process; a Worker in a work horse."""
    job = Queue(connection=connection).enqueue('rqtest_jobs_signals.announce_and_return_pid')
    with launched(worker_command(redis_server.port, '--burst', '--worker-class', worker_class)) as worker:
        assert worker.wait(60) == 0, worker.output()
    assert job.get_status() == JobStatus.FINISHED
    assert (job.return_value() == worker.pid) is in_process


def test_worker_class_by_dotted_path(connection: redis.Redis, redis_server: RedisServer) -> None:
    job = Queue(connection=connection).enqueue('rqtest_jobs.getpid')
    with launched(worker_command(redis_server.port, '--burst', '-w', 'rq.worker.SimpleWorker')) as worker:
        assert worker.wait(60) == 0, worker.output()
    assert job.return_value() == worker.pid


def test_name_and_options(connection: redis.Redis, redis_server: RedisServer) -> None:
    queue = Queue('named', connection=connection)
    jobs = [queue.enqueue('rqtest_jobs.add', n) for n in range(3)]
    args = ('--name', 'my-worker', '--max-jobs', '2', '--results-ttl', '77', '--logging_level', 'WARNING', 'named')
    with launched(worker_command(redis_server.port, *args)) as worker:
        assert worker.wait(60) == 0, worker.output()
        output = worker.output()
    assert [job.get_status() for job in jobs] == [JobStatus.FINISHED, JobStatus.FINISHED, JobStatus.QUEUED]
    jobs[0].refresh()
    assert jobs[0].worker_name == 'my-worker'
    assert 0 < connection.ttl(jobs[0].key) <= 77
    assert 'death' in worker_hash(connection, 'my-worker')
    assert 'Listening' not in output  # WARNING level: no INFO lines


def test_suspended_refuses_to_start(connection: redis.Redis, redis_server: RedisServer) -> None:
    suspend(connection)
    job = Queue(connection=connection).enqueue('rqtest_jobs.say_hello')
    done = run_worker('--url', url(redis_server), '--burst', '--name', 'suspended')
    assert done.returncode == 1
    assert 'suspended' in done.stdout
    assert 'Traceback' not in done.stdout
    assert job.get_status() == JobStatus.QUEUED
    assert not connection.exists('rq:worker:suspended')
    resume(connection)


def test_unreachable_redis(redis_server: RedisServer) -> None:
    done = run_worker('--url', f'redis://127.0.0.1:{free_port()}/0', '--burst')
    assert done.returncode == 1
    assert done.stdout.startswith('Error: cannot connect to Redis at redis://127.0.0.1:')
    assert 'Traceback' not in done.stdout


def test_invalid_url(redis_server: RedisServer) -> None:
    done = run_worker('--url', 'http://example.com', '--burst')
    assert done.returncode == 1
    assert 'Error: invalid Redis URL' in done.stdout
    assert 'Traceback' not in done.stdout


@pytest.mark.parametrize('path', ['NoSuchWorker', 'rq.worker.NoSuchWorker', 'no_such_module.Worker', 'rq.job.Job'])
def test_unknown_worker_class(redis_server: RedisServer, path: str) -> None:
    done = run_worker('--url', url(redis_server), '--burst', '--worker-class', path)
    assert done.returncode == 1
    assert done.stdout.startswith('Error: ')
    assert 'worker class' in done.stdout
    assert 'Traceback' not in done.stdout


def test_invalid_or_taken_name(connection: redis.Redis, redis_server: RedisServer) -> None:
    done = run_worker('--url', url(redis_server), '--burst', '--name', 'bad:name')
    assert done.returncode == 1
    assert "Error: Invalid worker name 'bad:name'" in done.stdout

    with running_worker(connection, redis_server.port, 'taken') as first:
        done = run_worker('--url', url(redis_server), '--burst', '--name', 'taken')
        assert done.returncode == 1
        assert "a live worker named 'taken'" in done.stdout
        assert first.wait(0) is None
        assert worker_hash(connection, 'taken')['pid'] == str(first.pid)


def test_with_scheduler_runs_rq_crons_scheduler(connection: redis.Redis, redis_server: RedisServer) -> None:
    done = run_worker('--url', url(redis_server), '--burst', '--with-scheduler')
    assert done.returncode == 0, done.stdout
    assert 'this worker runs without it' not in done.stdout


def test_deprecated_worker_classes_warn_on_the_command_line(redis_server: RedisServer) -> None:
    for name, strategy in (('RoundRobinWorker', 'round_robin'), ('RandomWorker', 'random')):
        done = run_worker('--url', url(redis_server), '--burst', '--worker-class', name)
        assert done.returncode == 0, done.stdout
        assert f'Warning: {name} is deprecated; use --dequeue-strategy {strategy}' in done.stdout


# -- the deprecated classes, in this process ------------------------------------------------


def _served_order(connection: redis.Redis, jobs: list) -> list[str]:  # type: ignore[type-arg]
    for job in jobs:
        job.refresh()
    assert all(job.get_status() == JobStatus.FINISHED for job in jobs)
    return [job.origin for job in sorted(jobs, key=lambda job: job.started_at)]


def test_round_robin_worker(connection: redis.Redis) -> None:
    queues = [Queue(name, connection=connection) for name in ('q1', 'q2', 'q3')]
    jobs = [queue.enqueue('rqtest_jobs.say_hello') for queue in queues for _ in range(2)]
    worker = RoundRobinWorker(queues, connection=connection)
    with pytest.warns(DeprecationWarning, match='RoundRobinWorker is deprecated'):
        assert worker.work(burst=True) is True
    assert _served_order(connection, jobs) == ['q1', 'q2', 'q3', 'q1', 'q2', 'q3']


def test_random_worker(connection: redis.Redis) -> None:
    queues = [Queue(name, connection=connection) for name in ('q1', 'q2', 'q3')]
    jobs = [queue.enqueue('rqtest_jobs.say_hello') for queue in queues for _ in range(8)]
    worker = RandomWorker(queues, connection=connection)
    with pytest.warns(DeprecationWarning, match='RandomWorker is deprecated'):
        assert worker.work(burst=True) is True
    order = _served_order(connection, jobs)
    assert sorted(order) == ['q1'] * 8 + ['q2'] * 8 + ['q3'] * 8
    # the declared priority would serve q1 eight times first; a shuffle each time does not (p ~ 1e-4)
    assert order[:8] != ['q1'] * 8


def test_default_order_for_comparison(connection: redis.Redis) -> None:
    from rq.worker import Worker

    queues = [Queue(name, connection=connection) for name in ('q1', 'q2', 'q3')]
    jobs = [queue.enqueue('rqtest_jobs.say_hello') for queue in queues for _ in range(2)]
    assert Worker(queues, connection=connection).work(burst=True) is True
    assert _served_order(connection, jobs) == ['q1', 'q1', 'q2', 'q2', 'q3', 'q3']
