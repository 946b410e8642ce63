"""Abandoned means abandoned: a started job is failed as abandoned only when its worker is gone.

An outage of Redis longer than a started entry's slack lets every running job's entry lapse; the
first worker to get through must not fail the jobs other live workers still run (it waits one entry
lifetime after Redis answered again), and a registry cleanup keeps an expired entry whose worker is
still heard from. A result that arrives after its job was failed as abandoned anyway is recorded
for what it is. (A dead worker's job is still failed: tests/worker/test_crashes.py.)

The victims run in their own processes (``crash_support.py``). "Cut off from Redis" is played by
SIGSTOP: a frozen worker is one that cannot reach Redis, and thawing it decides when it does again.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest
import redis

from crash_support import (
    ABANDONED_TEXT,
    PersistentRedisServer,
    ProcessGuard,
    census,
    descendants,
    output_of,
    start_victim,
    wait_started_expired,
)
from redis_server import RedisServer
from rq import Queue, Retry
from rq._jobs.liveness import SAME_BEAT_SECONDS
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.results import Result
from rq.worker import Worker
from rq.worker.maintenance import Maintenance
from rq.worker.reachability import RedisReachability
from worker_process import wait_until

pytestmark = pytest.mark.timeout(180)  # (a guard against hangs only)

#: How long to wait for an event before calling it a hang (never a measure of speed).
PATIENCE = 60.0
JOB = 'rqtest_jobs_liveness.count_then_wait_for'


def freeze(process: object) -> list[int]:
    """SIGSTOP a victim and what it forked (its horse factory, its horse)."""
    pid = process.pid  # type: ignore[attr-defined]
    pids = [pid, *descendants(pid)]
    for each in pids:
        os.kill(each, signal.SIGSTOP)
    return pids


def thaw(pids: list[int]) -> None:
    for each in pids:
        try:
            os.kill(each, signal.SIGCONT)
        except ProcessLookupError:
            pass


def entry_score(connection: redis.Redis, job: Job, queue_name: str = 'default') -> float | None:
    """The expiry of the job's started entry; None when it has none."""
    for member, score in connection.zrange(f'rq:wip:{queue_name}', 0, -1, withscores=True):
        if member.decode().startswith(f'{job.id}:'):
            return float(score)
    return None


def runs(connection: redis.Redis, key: str) -> int:
    return int(connection.get(key) or 0)


# -- an outage of Redis ---------------------------------------------------------------------------


def test_after_an_outage_no_live_workers_job_is_failed_or_run_twice(
    persistent: PersistentRedisServer, guard: ProcessGuard, tmp_path: Path
) -> None:
    """Two workers each run a long job (one with a retry left). Redis goes away for two heartbeat
    intervals, and one worker stays cut off a while longer: the other gets through first and finds
    the first one's entry lapsed. It waits two entry lifetimes before failing anything; meanwhile
    the late worker renews its entry. Both jobs then finish, each run exactly once.

    (Without the grace, the first worker through fails the late one's job at its first look: it
    is retried and runs a second time, at the same time as the first run.) The interval is 2 s:
    the late worker, thawed a third of a lifetime after the early one got through, has the rest of
    that lifetime (2 s) to reach Redis again."""
    interval = 2
    lifetime = 1.5 * interval
    connection = redis.Redis(port=persistent.port)
    queue = Queue(connection=connection)
    release = tmp_path / 'release'
    late = queue.enqueue(JOB, 'runs:late', str(release), retry=Retry(max=1))
    late_worker = guard.add(start_victim(persistent.port, ['default'], 'Worker', interval=interval, name='late'))
    assert wait_until(lambda: runs(connection, 'runs:late') == 1, PATIENCE)
    early = queue.enqueue(JOB, 'runs:early', str(release))
    early_worker = guard.add(start_victim(persistent.port, ['default'], 'Worker', interval=interval, name='early'))
    assert wait_until(lambda: runs(connection, 'runs:early') == 1, PATIENCE)

    frozen = freeze(late_worker)
    persistent.stop()
    time.sleep(2 * interval)  # (every started entry lapses meanwhile)
    back = time.time()
    persistent.start()
    assert wait_until(lambda: (entry_score(connection, early) or 0.0) > back, PATIENCE), 'the early worker is stuck'
    time.sleep(lifetime / 3)  # (the early worker's look for abandoned jobs comes right after its renewal)
    thaw(frozen)

    def late_renewed_or_failed() -> bool:
        score = entry_score(connection, late)
        return score is None or score > time.time()

    assert wait_until(late_renewed_or_failed, PATIENCE)
    assert entry_score(connection, late) is not None, "a live worker's job was taken for abandoned"
    time.sleep(2 * lifetime)  # (the early worker's grace is over: its looks find nothing to fail)
    assert late.get_status() == JobStatus.STARTED
    assert early.get_status() == JobStatus.STARTED

    release.touch()
    done = [late.id, early.id]
    assert wait_until(lambda: census(connection, ['default'], done).count('finished') == 2, PATIENCE)
    assert runs(connection, 'runs:late') == 1
    assert runs(connection, 'runs:early') == 1
    for job in (late, early):
        assert [result.type for result in job.results()] == [Result.Type.SUCCESSFUL]
    assert connection.zcard('rq:wip:default') == 0
    early_log = output_of(early_worker)
    assert 'no job is failed as abandoned' in early_log, early_log[-3000:]
    assert 'abandoned' not in output_of(late_worker).replace('no job is failed as abandoned', '')


# -- a late result ----------------------------------------------------------------------------------


def test_a_result_that_comes_after_its_job_was_failed_as_abandoned_is_kept(
    connection: redis.Redis, redis_server: RedisServer, guard: ProcessGuard, tmp_path: Path
) -> None:
    """A worker cut off for longer than its entry lives has its job failed as abandoned by another
    worker; when it gets through again with the job's result, the result is kept among the job's
    results (next to the abandonment), the job stays failed, and the worker says so in a warning."""
    queue = Queue(connection=connection)
    release = tmp_path / 'release'
    job = queue.enqueue(JOB, 'runs:cut', str(release))
    victim = guard.add(start_victim(redis_server.port, ['default'], 'Worker', interval=1, name='cut-off'))
    assert wait_until(lambda: runs(connection, 'runs:cut') == 1, PATIENCE)
    frozen = freeze(victim)
    wait_started_expired(connection, ['default'])
    Maintenance(Worker(['default'], connection=connection, job_monitoring_interval=1)).fail_abandoned_jobs()
    assert job.get_status() == JobStatus.FAILED
    [abandonment] = job.results()
    assert ABANDONED_TEXT in (abandonment.exc_string or '')

    release.touch()
    thaw(frozen)
    assert wait_until(lambda: len(job.results()) == 2, PATIENCE)
    # (its warning comes once the result is written: a warm shutdown lets it finish saying so)
    victim.send_signal(signal.SIGTERM)
    victim.wait(PATIENCE)
    output = output_of(victim)
    latest = job.results()[0]
    assert latest.type == Result.Type.SUCCESSFUL
    assert latest.return_value == 'released'
    assert latest.worker_name == 'cut-off'
    assert job.get_status() == JobStatus.FAILED  # (not flipped: its failure was acted on already)
    assert f'job {job.id}: result arrived after the job was failed as abandoned' in output, output[-3000:]
    assert int(connection.hget('rq:worker:cut-off', 'successful_job_count') or 0) == 1


# -- the registry's cleanup looks at the worker ---------------------------------------------------


def test_cleanup_keeps_an_expired_entry_whose_worker_is_heard_from(connection: redis.Redis) -> None:
    """An expired started entry whose worker spoke after its last renewal of the run (and recently)
    is kept, its expiry moved one lifetime past that word; the same entry is failed once the name
    belongs to a new worker (born after the run began: the old process is gone)."""
    # (a queue and a worker name of its own on this shared server)
    token = uuid.uuid4().hex
    queue = Queue(f'liveness-{token}', connection=connection)
    job = queue.enqueue(JOB, 'runs:never', '/nonexistent')
    holder = Worker([queue], connection=connection, job_monitoring_interval=1, name=f'holder-{token}')
    holder.register_birth()
    claimed = holder.claim()
    assert isinstance(claimed, tuple)
    registry = StartedJobRegistry(queue=queue)
    member = claimed[2].composite_key
    connection.zadd(registry.key, {member: time.time() - 1}, xx=True)  # (lapsed)
    # (a heartbeat within SAME_BEAT_SECONDS of the claim counts as the claim's own: on a quick
    # machine the next line comes sooner than that)
    time.sleep(10 * SAME_BEAT_SECONDS)
    holder.heartbeat()  # (yet the worker is heard from)

    registry.cleanup()  # (as rq info or a dashboard calls it: the default lifetime, 45 s)
    assert job.get_status() == JobStatus.STARTED
    assert (connection.zscore(registry.key, member) or 0.0) > time.time()

    holder.register_death()
    connection.zadd(registry.key, {member: time.time() - 1}, xx=True)
    reborn = Worker([queue], connection=connection, job_monitoring_interval=1, name=f'holder-{token}')
    reborn.register_birth()
    reborn.heartbeat()
    registry.cleanup(heartbeat_lifetime=1.5)
    assert job.get_status() == JobStatus.FAILED
    assert connection.zscore(registry.key, member) is None


def test_the_grace_period_follows_an_error_or_a_silence() -> None:
    """Grace (one lifetime) starts at the first answer after a Redis error, or after a gap between
    answers longer than the limit; regular answers start none."""
    moment = [100.0]
    reachability = RedisReachability(clock=lambda: moment[0])
    reachability.note_answered(gap_limit=1.0)
    moment[0] += 0.5
    reachability.note_answered(gap_limit=1.0)
    assert reachability.seconds_of_grace_left(1.5) == 0.0

    reachability.note_unreachable()
    moment[0] += 0.25
    reachability.note_answered(gap_limit=1.0)
    assert reachability.seconds_of_grace_left(1.5) == 1.5
    for _ in range(2):
        moment[0] += 0.75
        reachability.note_answered(gap_limit=1.0)
    assert reachability.seconds_of_grace_left(1.5) == 0.0

    moment[0] += 5.0  # (no answer, and no error seen either: the worker could not even ask)
    reachability.note_answered(gap_limit=1.0)
    assert reachability.seconds_of_grace_left(1.5) == 1.5
