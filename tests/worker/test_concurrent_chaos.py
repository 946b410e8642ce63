"""A worker running 50 jobs at once is SIGKILLed again and again over 2,000 jobs: none may be lost.

Each victim is ``python -m rq.worker --concurrency 50 --no-supervisor`` with a heartbeat interval of
1 s (a started entry lives 1.5 s without heartbeats, so the next victims fail or retry the jobs of
the dead as abandoned soon). Afterwards a last worker drains the queue: every job is finished, or
failed with a stated cause (abandoned); none lost, none left started; a job with a retry left that
was killed once ran again.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time

import pytest
import redis

from crash_support import ABANDONED_TEXT, ProcessGuard, census, drain, expire_started_entries, max_started_score
from redis_server import RedisServer
from rq import Queue, Retry
from rq._registries.started import ABANDONED_CLAIM_SECONDS
from rq.job import Job
from signal_support import worker_command
from worker_process import wait_until, worker_env

pytestmark = pytest.mark.timeout(600)  # (a guard against hangs only)

JOBS = 2000
CONCURRENCY = 50
#: How long to wait for an event before calling it a hang (never a measure of speed).
PATIENCE = 120.0
#: How long a victim's started entry lives without a heartbeat (1.5 heartbeat intervals of 1 s).
LIFETIME = 1.5


def settled(connection: redis.Redis) -> int:
    return int(connection.zcard('rq:finished:default') + connection.zcard('rq:failed:default'))


def in_flight(connection: redis.Redis) -> int:
    return int(connection.zcard('rq:wip:default'))


def test_a_concurrent_worker_killed_again_and_again_loses_nothing(
    connection: redis.Redis, redis_server: RedisServer, guard: ProcessGuard
) -> None:
    rng = random.Random(JOBS)
    queue = Queue(connection=connection)
    jobs: list[Job] = []
    for i in range(JOBS):
        function = 'rqtest_jobs_concurrent.short_async' if i % 2 else 'rqtest_jobs_crash.short'
        retry = Retry(1) if i % 3 == 0 else None
        jobs.append(queue.enqueue(function, i, rng.choice([0.0, 0.01, 0.05, 0.2]), retry=retry))
    kills = 0
    command = worker_command(
        redis_server.port, '--concurrency', str(CONCURRENCY), '--no-supervisor', '--job-monitoring-interval', '1'
    )
    while connection.llen('rq:queue:default') and kills < 60:
        before = settled(connection)
        victim = guard.add(
            subprocess.Popen(command, env=worker_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        # (killed with many jobs in flight, once it has finished some: in the middle of everything)
        assert wait_until(
            lambda before=before: (  # type: ignore[misc]
                (in_flight(connection) >= CONCURRENCY and settled(connection) >= before + 100)
                or not connection.llen('rq:queue:default')
            ),
            PATIENCE,
            0.005,
        )
        victim.send_signal(signal.SIGKILL)
        victim.wait(PATIENCE)
        kills += 1
    assert kills >= 5  # (the queue outlasted several victims)
    # Every victim is dead. Their entries expire within one entry lifetime of their last word, except
    # those of jobs a victim was failing as abandoned when it was killed: a cleaner holds those
    # ABANDONED_CLAIM_SECONDS. Time is let pass: one lifetime (a worker heard from within it counts
    # as alive), and for the others the entries expire now. A last worker then handles them all
    # and drains the queue.
    assert max_started_score(connection, ['default']) - time.time() <= ABANDONED_CLAIM_SECONDS + 1
    time.sleep(LIFETIME)
    expire_started_entries(connection, ['default'])
    drain(connection, ['default'], 'ConcurrentWorker')
    found = census(connection, ['default'], [job.id for job in jobs])
    assert found.problems == []
    assert found.count('finished') + found.count('failed') == JOBS  # (none queued, started or lost)
    for job_id in found.ids('failed'):
        assert found.exc[job_id].startswith(ABANDONED_TEXT)
    assert 0 < found.count('failed') < JOBS / 2
    # a job with a retry left was put back when it was abandoned: failed only once it had used it
    failed_with_a_retry_left = [
        job.id
        for job in jobs
        if job.retries_left == 1
        and found.places[job.id] == 'failed'
        and Job.fetch(job.id, connection).retries_left != 0
    ]
    assert failed_with_a_retry_left == []
