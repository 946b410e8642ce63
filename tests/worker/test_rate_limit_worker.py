"""Rate limits (RQ 3.0) with real workers: several worker processes never run more jobs of a key at
once than its concurrency; every end of a job (success, failure, scheduled retry, stop, a worker
SIGKILLed at any point) gives its slot back, so the waiting jobs run and no slot stays held."""

from __future__ import annotations

import signal
import subprocess

import pytest
import redis

import rqtest_jobs
from crash_support import ABANDONED_TEXT, ProcessGuard, drain, expire_started_entries, start_victim, victims_die
from redis_server import RedisServer
from rq import Queue, RateLimit, Retry
from rq.command import send_stop_job_command
from rq.job import Job
from worker_process import start_worker, wait_until

pytestmark = pytest.mark.timeout(240)  # (a guard against hangs only)

#: How long to wait for an event before calling it a hang (never a measure of speed).
PATIENCE = 90.0
LONG_INTERVAL = 3600


def status_of(connection: redis.Redis, job: Job) -> str | None:
    raw = connection.hget(job.key, 'status')
    return raw.decode() if raw is not None else None


def slots(connection: redis.Redis, key: str = 'k') -> tuple[list[bytes], list[bytes]]:
    return connection.zrange(f'rq:rl:{key}:allowed', 0, -1), connection.zrange(f'rq:rl:{key}:rate_limited', 0, -1)


def all_ended(connection: redis.Redis, jobs: list[Job]) -> bool:
    return all(status_of(connection, job) in ('finished', 'failed', 'stopped') for job in jobs)


def stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait(PATIENCE)


def test_three_workers_never_exceed_the_concurrency_and_free_every_slot(
    connection: redis.Redis, redis_server: RedisServer, guard: ProcessGuard
) -> None:
    queues = [Queue('high', connection=connection), Queue('default', connection=connection)]
    limit = RateLimit('k', 2)
    jobs = [queues[i % 2].enqueue('rqtest_jobs_ratelimit.limited', 'k', 0.1, rate_limit=limit) for i in range(12)]
    failing = queues[1].enqueue(rqtest_jobs.fail, rate_limit=limit)
    retried = queues[0].enqueue(
        'rqtest_jobs_ratelimit.fail_once', 'runs:retried', rate_limit=limit, retry=Retry(max=1, interval=1)
    )
    other = queues[1].enqueue('rqtest_jobs_ratelimit.limited', 'other', rate_limit=RateLimit('other', 1))
    every = [*jobs, failing, retried, other]
    assert len(slots(connection)[1]) == 12  # two of the 14 of key k were queued at once
    workers = [
        guard.add(start_worker(redis_server.port, '--with-scheduler', '--name', f'w{i}', 'high', 'default'))
        for i in range(3)
    ]
    try:
        assert wait_until(lambda: all_ended(connection, every), PATIENCE)
    finally:
        stop_all(workers)
    seen = [int(n) for n in connection.lrange('seen:k', 0, -1)]
    assert len(seen) == 12 and max(seen) <= 2
    assert sorted(connection.lrange('ran:k', 0, -1)) == sorted(job.id.encode() for job in jobs)  # each ran once
    assert status_of(connection, failing) == 'failed'
    assert status_of(connection, retried) == 'finished'
    assert connection.get('runs:retried') == b'2'
    assert slots(connection) == ([], [])
    assert slots(connection, 'other') == ([], [])


def test_a_stopped_job_gives_its_slot_back(
    connection: redis.Redis, redis_server: RedisServer, guard: ProcessGuard
) -> None:
    queue = Queue('default', connection=connection)
    limit = RateLimit('k', 1)
    long = queue.enqueue('rqtest_jobs_ratelimit.announce_and_sleep', 'started:long', 600, rate_limit=limit)
    waiting = queue.enqueue('rqtest_jobs_ratelimit.limited', 'k', rate_limit=limit)
    worker = guard.add(start_worker(redis_server.port, '--name', 'stopper', 'default'))
    try:
        assert wait_until(lambda: connection.exists('started:long'), PATIENCE)
        assert status_of(connection, waiting) == 'rate_limited'
        send_stop_job_command(connection, long.id)
        assert wait_until(lambda: status_of(connection, waiting) == 'finished', PATIENCE)
    finally:
        stop_all([worker])
    assert status_of(connection, long) == 'stopped'
    assert slots(connection) == ([], [])


@pytest.mark.parametrize('point', ['claimed', 'mid-job', 'recording'])
def test_a_worker_killed_while_holding_slots_frees_them(
    connection: redis.Redis, redis_server: RedisServer, guard: ProcessGuard, point: str
) -> None:
    """A victim takes a rate-limited job and is SIGKILLed right after the claim, while the job runs,
    or after the run before its outcome is written. Once the job is found abandoned (failed, or
    retried when it has retries left), its slot is free and the jobs that waited for it run."""
    queue = Queue('default', connection=connection)
    limit = RateLimit('k', 2)
    sleep = 600 if point == 'mid-job' else 0
    plain = queue.enqueue('rqtest_jobs_ratelimit.announce_and_sleep', 'started:plain', sleep, rate_limit=limit)
    retried = queue.enqueue(
        'rqtest_jobs_ratelimit.announce_and_sleep_once', 'started:retried', sleep, rate_limit=limit, retry=Retry(max=1)
    )
    waiting = [queue.enqueue('rqtest_jobs_ratelimit.limited', 'k', rate_limit=limit) for _ in range(3)]
    assert [status_of(connection, job) for job in waiting] == ['rate_limited'] * 3
    die_at = None if point == 'mid-job' else point
    victims = [
        guard.add(start_victim(redis_server.port, ['default'], 'Worker', interval=LONG_INTERVAL, die_at=die_at))
        for _ in range(2)
    ]
    victims_die(connection, guard, victims, ['started:plain', 'started:retried'], point == 'mid-job', PATIENCE)
    assert sorted(slots(connection)[0]) == sorted([plain.id.encode(), retried.id.encode()])  # held by the dead

    expire_started_entries(connection, ['default'])
    drain(connection, ['default'])

    assert status_of(connection, plain) == 'failed'
    result = Job.fetch(plain.id, connection=connection).latest_result()
    assert result is not None and (result.exc_string or '').startswith(ABANDONED_TEXT)
    assert status_of(connection, retried) == 'finished'
    assert [status_of(connection, job) for job in waiting] == ['finished'] * 3
    assert max(int(n) for n in connection.lrange('seen:k', 0, -1)) <= 2
    assert slots(connection) == ([], [])


def test_a_parent_killed_before_its_outcome_releases_its_rate_limited_dependent(
    connection: redis.Redis, redis_server: RedisServer, guard: ProcessGuard
) -> None:
    """Our parents record their outcome and release their dependents in one transaction: a worker
    killed before writing it leaves the parent started and the dependent deferred; once the parent
    is found abandoned and retried, its success releases the dependent through the limiter."""
    queue = Queue('default', connection=connection)
    limit = RateLimit('k', 1)
    parent = queue.enqueue(
        'rqtest_jobs_ratelimit.announce_and_sleep', 'started:parent', 0, rate_limit=limit, retry=Retry(max=1)
    )
    child = queue.enqueue('rqtest_jobs_ratelimit.limited', 'k', depends_on=parent, rate_limit=limit)
    victim = guard.add(
        start_victim(redis_server.port, ['default'], 'Worker', interval=LONG_INTERVAL, die_at='recording')
    )
    victim.wait(PATIENCE)
    assert victim.returncode == -signal.SIGKILL
    assert (status_of(connection, parent), status_of(connection, child)) == ('started', 'deferred')

    expire_started_entries(connection, ['default'])
    drain(connection, ['default'])

    assert (status_of(connection, parent), status_of(connection, child)) == ('finished', 'finished')
    assert slots(connection) == ([], [])
