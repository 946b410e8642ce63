"""SIGKILL a worker or its work horse at points of a job's lifecycle; no job may be lost.

The victim workers run in their own processes (``crash_support.py``), with a heartbeat interval of
1 s, so a started entry lives 1.5 s without heartbeats (unless a test says otherwise). Afterwards a
fresh worker (or the registries) must show every job finished, queued, or failed with a stated
cause; none lost or stuck ``started``; and a job with retries left is run again.
"""

from __future__ import annotations

import os
import random
import signal
import time
import uuid

import pytest
import redis

from crash_support import (
    ABANDONED_TEXT,
    ProcessGuard,
    alive,
    census,
    drain,
    expire_started_entries,
    kill,
    start_victim,
    victim_processes,
    victims_die,
    wait_for_worker,
)
from redis_events import blocked_clients
from redis_server import RedisServer
from rq import Queue, Retry
from rq._redis import scripts
from rq.job import Job
from rq.worker import Worker
from rq.worker.maintenance import Maintenance
from worker_process import start_worker, wait_until

pytestmark = pytest.mark.timeout(180)  # (a guard against hangs only: victims start slowly on a loaded machine)

#: How long to wait for an event before calling it a hang (never a measure of speed).
PATIENCE = 60.0

CLASSES = ['Worker', 'SimpleWorker']
ONE_QUEUE = ['default']
TWO_QUEUES = ['high', 'default']
MB = 1024 * 1024
#: The heartbeat interval of victims whose test must not depend on how fast the machine runs: their
#: started entries live 1.5 of it and their maintenance comes every quarter of it, both far beyond
#: the test's timeout; the test lets the entries expire once it is done with the victims
#: (:func:`expire_started_entries`).
LONG_INTERVAL = 3600


def status_of(connection: redis.Redis, job: Job) -> str | None:
    raw = connection.hget(job.key, 'status')
    return raw.decode() if raw is not None else None


def pids(connection: redis.Redis, key: str) -> list[int]:
    return [int(p) for p in connection.lrange(key, 0, -1)]


def assert_no_leftover_processes(port: int) -> None:
    assert wait_until(lambda: not victim_processes(port), PATIENCE), f'left behind: {victim_processes(port)}'


# -- the worker dies at a point of the lifecycle ------------------------------------------------

LIFECYCLE = [
    # (point, worker class, queues)
    *[
        (point, cls, ONE_QUEUE)
        for point in ('claimed', 'mid-job', 'recording', 'result-partial', 'result-sent')
        for cls in CLASSES
    ],
    ('mid-job', 'SpawnWorker', ONE_QUEUE),
    ('claimed', 'Worker', TWO_QUEUES),
    ('claimed', 'SimpleWorker', TWO_QUEUES),
    ('mid-job', 'Worker', TWO_QUEUES),
    ('result-partial', 'SimpleWorker', TWO_QUEUES),
]


@pytest.mark.parametrize(
    ('point', 'worker_class', 'queue_names'),
    LIFECYCLE,
    ids=[f'{p}-{c}-{len(q)}q' for p, c, q in LIFECYCLE],
)
def test_a_worker_killed_during_a_job_loses_nothing(
    connection: redis.Redis,
    redis_server: RedisServer,
    guard: ProcessGuard,
    point: str,
    worker_class: str,
    queue_names: list[str],
) -> None:
    """Two victims each take one job and die at ``point``: right after the claim, while the job
    runs (killed by the test), after the run but before the outcome is written, halfway through
    sending the outcome, or right after sending it. One job has no retries, one has one.

    The victims start together, yet one may start (and look for abandoned jobs) only after the other
    died: with a heartbeat interval of 1 s, the first one's job would already be failed as abandoned
    by then. Their long interval keeps every job ``started`` until the test expires the entries."""
    queues = [Queue(name, connection=connection) for name in queue_names]
    marker = f'marker-{uuid.uuid4().hex}'
    size = MB if point.startswith('result') else 0
    sleep = 30 if point == 'mid-job' else 0
    plain = queues[0].enqueue('rqtest_jobs_crash.crash_target', 'runs:plain', marker, size, sleep)
    retried = queues[-1].enqueue('rqtest_jobs_crash.crash_target', 'runs:retried', marker, size, sleep, retry=Retry(1))
    others = [queues[-1].enqueue('rqtest_jobs_crash.short', i) for i in range(3)]  # behind both
    die_at = None if point == 'mid-job' else point
    connection.script_load(scripts.source('finish_job'))  # else the first call of it is refused (NOSCRIPT)
    victims = [
        guard.add(start_victim(redis_server.port, queue_names, worker_class, interval=LONG_INTERVAL, die_at=die_at))
        for _ in range(2)
    ]
    victims_die(connection, guard, victims, ['runs:plain:pids', 'runs:retried:pids'], point == 'mid-job', PATIENCE)
    assert_no_leftover_processes(redis_server.port)  # no orphan horse or factory
    horses = pids(connection, 'runs:plain:pids') + pids(connection, 'runs:retried:pids')
    assert wait_until(lambda: not any(alive(pid) for pid in horses), PATIENCE), 'a horse outlived its worker'
    for job in (plain, retried):
        assert status_of(connection, job) == ('finished' if point == 'result-sent' else 'started')
    assert all(status_of(connection, job) == 'queued' for job in others)

    expire_started_entries(connection, queue_names)
    drain(connection, queue_names, worker_class)

    every = [plain.id, retried.id, *[job.id for job in others]]
    found = census(connection, queue_names, every)
    assert found.problems == []
    ran_before = 0 if point == 'claimed' else 1
    if point == 'result-sent':
        assert found.places[plain.id] == found.places[retried.id] == 'finished'
        assert connection.get('runs:retried') == b'1'
    else:
        assert found.places[plain.id] == 'failed'
        assert found.exc[plain.id].startswith(ABANDONED_TEXT)
        assert int(connection.get('runs:plain') or 0) == ran_before
        assert found.places[retried.id] == 'finished'
        assert int(connection.get('runs:retried') or 0) == ran_before + 1
    assert Job.fetch(retried.id, connection=connection).return_value() == marker + 'x' * (size - len(marker))
    assert found.count('finished') == len(every) - (0 if point == 'result-sent' else 1)


@pytest.mark.parametrize('worker_class', ['Worker', 'SimpleWorker'])
def test_a_worker_killed_right_after_recording_with_a_claim_ahead_loses_nothing(
    connection: redis.Redis, redis_server: RedisServer, guard: ProcessGuard, worker_class: str
) -> None:
    """A worker records a success and claims its next job in the same round trip. Killed right
    after sending both, it holds a job it never started: that job is noticed as abandoned like any
    other (failed with AbandonedJobError, or retried when it has retries left); nothing is lost.

    (A worker claims ahead only when its maintenance is not due: with a heartbeat interval of 1 s it
    is due every quarter second, and a slow run of the first job left the second one queued.)"""
    queue = Queue('default', connection=connection)
    marker = f'marker-{uuid.uuid4().hex}'
    first = queue.enqueue('rqtest_jobs_crash.crash_target', 'runs:first', marker, 0, 0)
    second = queue.enqueue('rqtest_jobs_crash.crash_target', 'runs:second', marker, 0, 0, retry=Retry(1))
    third = queue.enqueue('rqtest_jobs_crash.short', 3)
    connection.script_load(scripts.source('finish_job'))
    connection.script_load(scripts.source('claim_job'))
    victim = guard.add(
        start_victim(
            redis_server.port, ['default'], worker_class, interval=LONG_INTERVAL, die_at='result-sent', claim_ahead=True
        )
    )
    victim.wait(PATIENCE)
    assert victim.returncode == -signal.SIGKILL
    assert status_of(connection, first) == 'finished'
    assert status_of(connection, second) == 'started'  # claimed with the recording, never run
    assert connection.get('runs:second') is None
    assert status_of(connection, third) == 'queued'

    expire_started_entries(connection, ['default'])
    drain(connection, ['default'], worker_class)

    found = census(connection, ['default'], [first.id, second.id, third.id])
    assert found.problems == []
    assert found.places == {first.id: 'finished', second.id: 'finished', third.id: 'finished'}
    assert connection.get('runs:second') == b'1'  # retried once it was found abandoned, and ran once


# -- the horse dies ----------------------------------------------------------------------------


@pytest.mark.parametrize('worker_class', ['Worker', 'SpawnWorker'])
@pytest.mark.parametrize('queue_names', [ONE_QUEUE, TWO_QUEUES], ids=['1q', '2q'])
def test_a_horse_killed_mid_job_fails_the_job_or_retries_it(
    connection: redis.Redis, redis_server: RedisServer, guard: ProcessGuard, worker_class: str, queue_names: list[str]
) -> None:
    queues = [Queue(name, connection=connection) for name in queue_names]
    retried = queues[0].enqueue('rqtest_jobs_crash.crash_target', 'runs:retried', 'done', 0, 30, retry=Retry(1))
    plain = queues[-1].enqueue('rqtest_jobs_crash.crash_target', 'runs:plain', 'done', 0, 30)
    after = queues[-1].enqueue('rqtest_jobs_crash.short', 42)
    worker = guard.add(start_victim(redis_server.port, queue_names, worker_class, name='survivor'))
    for key in ('runs:retried:pids', 'runs:plain:pids'):  # priority order
        assert wait_until(lambda key=key: connection.llen(key) >= 1, PATIENCE)  # type: ignore[misc]
        horse = pids(connection, key)[0]
        assert horse != worker.pid
        kill(horse)
    assert wait_until(lambda: {status_of(connection, after), status_of(connection, retried)} == {'finished'}, PATIENCE)
    assert worker.poll() is None, 'the worker must survive its horses'
    found = census(connection, queue_names, [plain.id, retried.id, after.id])
    assert found.problems == []
    assert found.places[plain.id] == 'failed'
    assert 'Work-horse terminated unexpectedly' in found.exc[plain.id] and 'SIGKILL' in found.exc[plain.id]
    assert found.places[retried.id] == 'finished' and connection.get('runs:retried') == b'2'
    assert connection.hget('rq:worker:survivor', 'state') in (b'idle', b'busy')


def test_a_killed_horse_factory_is_replaced_and_its_running_job_still_finishes(
    connection: redis.Redis, redis_server: RedisServer, guard: ProcessGuard
) -> None:
    """The factory only forks horses; its death does not stop a running job, whose result comes
    straight to the worker. The worker starts a new factory for the next job."""
    queue = Queue(connection=connection)
    running = queue.enqueue('rqtest_jobs_crash.crash_target', 'runs', 'done', 0, 0, 'release')
    worker = guard.add(start_victim(redis_server.port, ['default'], 'Worker'))
    assert wait_until(lambda: connection.llen('runs:pids') >= 1, PATIENCE)
    horse = pids(connection, 'runs:pids')[0]
    children = guard.remember_tree(worker)
    factory = next(pid for pid in children if pid != horse and horse in _children_of(pid))
    kill(factory)
    assert wait_until(lambda: not alive(factory), PATIENCE)
    connection.set('release', 1)  # the job ends only now, after its factory's death
    assert wait_until(lambda: status_of(connection, running) == 'finished', PATIENCE)
    after = queue.enqueue('rqtest_jobs_crash.short', 42)
    assert wait_until(lambda: status_of(connection, after) == 'finished', PATIENCE)
    assert worker.poll() is None
    assert Job.fetch(after.id, connection=connection).return_value() == 42


def test_a_spare_horse_killed_before_its_job_is_passed_over(
    connection: redis.Redis, redis_server: RedisServer, guard: ProcessGuard
) -> None:
    """The factory hands each spare horse to the worker ahead of need; one that dies while it
    waits (killed by an operator, the OOM killer) must not take the next job with it: the worker
    finds its job pipe closed and uses the next spare."""
    queue = Queue(connection=connection)
    first = queue.enqueue('rqtest_jobs_crash.short', 1)
    worker = guard.add(start_victim(redis_server.port, ['default'], 'Worker'))
    assert wait_until(lambda: status_of(connection, first) == 'finished', PATIENCE)
    assert wait_until(lambda: any(_children_of(pid) for pid in guard.remember_tree(worker)), PATIENCE)
    children = guard.remember_tree(worker)
    factories = [pid for pid in children if _children_of(pid)]
    assert wait_until(lambda: len(_children_of(factories[0])) == 1, PATIENCE)  # the spare, waiting
    [spare] = _children_of(factories[0])
    kill(spare)
    assert wait_until(lambda: not alive(spare), PATIENCE)
    after = queue.enqueue('rqtest_jobs_crash.short', 42)
    assert wait_until(lambda: status_of(connection, after) == 'finished', PATIENCE)
    assert Job.fetch(after.id, connection=connection).return_value() == 42
    assert worker.poll() is None


def _children_of(pid: int) -> list[int]:
    from crash_support import descendants

    return descendants(pid)


# -- the worker dies while waiting -------------------------------------------------------------


@pytest.mark.parametrize('worker_class', CLASSES)
@pytest.mark.parametrize('queue_names', [ONE_QUEUE, TWO_QUEUES, ['a', 'b', 'c']], ids=['1q', '2q', '3q'])
def test_a_worker_killed_while_idle_takes_nothing_with_it(
    connection: redis.Redis, redis_server: RedisServer, guard: ProcessGuard, worker_class: str, queue_names: list[str]
) -> None:
    """An idle worker waits for jobs without taking them: killed while waiting, it leaves every
    job queued, even one pushed just as it dies."""
    victim = guard.add(start_victim(redis_server.port, queue_names, worker_class, name='idle'))
    assert wait_for_worker(connection, 'idle', PATIENCE)
    # blocked in its wait: one BLMOVE per queue when there are several (one thread each)
    assert wait_until(lambda: blocked_clients(connection, 'blmove') == len(queue_names), PATIENCE)
    queues = [Queue(name, connection=connection) for name in queue_names]
    victim.send_signal(signal.SIGSTOP)  # frozen in its wait, it cannot take the jobs
    jobs = [queue.enqueue('rqtest_jobs_crash.short', i) for i, queue in enumerate(queues)]
    victim.kill()
    victim.wait(PATIENCE)
    found = census(connection, queue_names, [job.id for job in jobs])
    assert found.problems == [] and found.count('queued') == len(jobs)
    assert not any(connection.zcard(f'rq:wip:{name}') for name in queue_names)
    drain(connection, queue_names, worker_class)
    assert census(connection, queue_names, [job.id for job in jobs]).count('finished') == len(jobs)


# -- killed at random moments ------------------------------------------------------------------


@pytest.mark.parametrize(
    ('worker_class', 'queue_names'),
    [('Worker', TWO_QUEUES), ('SimpleWorker', ONE_QUEUE)],
    ids=['Worker-2q', 'SimpleWorker-1q'],
)
def test_workers_killed_at_random_moments_lose_nothing(
    connection: redis.Redis, redis_server: RedisServer, guard: ProcessGuard, worker_class: str, queue_names: list[str]
) -> None:
    """Three workers in turn drain short jobs and are SIGKILLed at a random moment each; a last
    worker finishes. Every job ends finished, or failed as abandoned (no retries) or run again
    (with retries)."""
    rng = random.Random(os.getpid() ^ int(time.time()))
    queues = [Queue(name, connection=connection) for name in queue_names]
    jobs: list[Job] = []
    for i in range(150):
        queue = queues[i % len(queues)]
        retry = Retry(1) if i % 2 else None
        jobs.append(queue.enqueue('rqtest_jobs_crash.short', i, rng.choice([0.0, 0.0, 0.005, 0.02]), retry=retry))
    for round_ in range(3):
        name = f'victim-{round_}'
        done_before = sum(
            connection.zcard(f'rq:finished:{n}') + connection.zcard(f'rq:failed:{n}') for n in queue_names
        )
        victim = guard.add(start_victim(redis_server.port, queue_names, worker_class, name=name))
        assert wait_until(
            lambda done_before=done_before: (  # type: ignore[misc]
                sum(connection.zcard(f'rq:finished:{n}') for n in queue_names) > done_before
            ),
            PATIENCE,
            0.005,
        )
        time.sleep(rng.uniform(0.0, 0.15))
        guard.remember_tree(victim)
        victim.kill()
        victim.wait(PATIENCE)
    assert_no_leftover_processes(redis_server.port)
    drain(connection, queue_names, worker_class)
    found = census(connection, queue_names, [job.id for job in jobs])
    assert found.problems == []
    assert found.count('finished') + found.count('failed') == len(jobs)
    for job_id in found.ids('failed'):
        assert found.exc[job_id].startswith(ABANDONED_TEXT)
    failed_with_retries = [job.id for job in jobs if job.retries_left and found.places[job.id] == 'failed']
    assert failed_with_retries == []


# -- how soon is a dead worker's job noticed ---------------------------------------------------


@pytest.mark.parametrize('worker_class', CLASSES)
def test_a_dead_workers_job_is_noticed_within_two_heartbeat_intervals(
    connection: redis.Redis, redis_server: RedisServer, guard: ProcessGuard, worker_class: str
) -> None:
    """Three victims (heartbeat interval 1 s: a beat every half second) are killed mid-job, right
    after a heartbeat or a third or two thirds of an interval later; a live, idle worker on their
    queues fails their jobs once their started entries expire. The promise of two intervals, by
    design: each dead worker's started entry expires at most 1.5 intervals after its death (read
    from Redis: its last heartbeat came before the death), and the watcher looks every quarter
    interval; it fails no job before its entry expired. (How soon it notices on this machine is
    printed, not asserted: that measures the machine's load.)"""
    phases = [0.0, 0.33, 0.66]
    names = [f'q{k}' for k in range(len(phases))]
    jobs = [
        Queue(name, connection=connection).enqueue('rqtest_jobs_crash.crash_target', name, '', 0, 60) for name in names
    ]
    victims = [
        guard.add(start_victim(redis_server.port, [name], worker_class, name=f'victim-{name}')) for name in names
    ]
    assert wait_until(lambda: all(connection.llen(f'{name}:pids') for name in names), PATIENCE)
    watcher = guard.add(start_worker(redis_server.port, '--job-monitoring-interval', '1', '--name', 'watcher', *names))
    assert wait_for_worker(connection, 'watcher', PATIENCE)
    assert Maintenance(Worker(names, connection=connection, job_monitoring_interval=1)).abandoned_check_period <= 0.25
    deaths: list[float] = []
    expiries: list[float] = []
    for name, victim, phase in zip(names, victims, phases, strict=True):
        [member] = connection.zrange(f'rq:wip:{name}', 0, -1)
        score = connection.zscore(f'rq:wip:{name}', member)
        assert wait_until(
            lambda name=name, member=member, score=score: connection.zscore(f'rq:wip:{name}', member) != score,
            PATIENCE,
            0.002,
        )  # type: ignore[misc]
        time.sleep(phase)  # the heartbeat just happened; die this long after it
        last_seen = connection.zscore(f'rq:wip:{name}', member)
        victim.kill()
        victim.wait(PATIENCE)
        deaths.append(time.time())
        final = connection.zscore(f'rq:wip:{name}', member)  # (None once the watcher removed it)
        expiry = final if final is not None else last_seen
        assert expiry is not None and expiry <= deaths[-1] + 1.5 + 0.01, (
            f'the started entry of a worker dead at {deaths[-1]} lives until {expiry}'
        )
        expiries.append(expiry)
    assert wait_until(lambda: all(status_of(connection, job) == 'failed' for job in jobs), PATIENCE, 0.005), [
        status_of(connection, job) for job in jobs
    ]
    failed_at = [Job.fetch(job.id, connection=connection).latest_result().created_at.timestamp() for job in jobs]  # type: ignore[union-attr]
    assert all(failed >= expiry - 0.01 for failed, expiry in zip(failed_at, expiries, strict=True)), (
        f'failed at {failed_at}, before the entries expired at {expiries}'
    )
    latencies = [round(failed - died, 2) for failed, died in zip(failed_at, deaths, strict=True)]
    print(f"{worker_class}: the dead workers' jobs were noticed after {latencies} s (by design at most 1.75 s)")
    assert watcher.poll() is None


def test_an_expired_started_entry_is_failed_by_the_next_check(connection: redis.Redis) -> None:
    """Started scores are exact moments: the check compares them with the exact time, not the time
    in whole seconds (which would let an expired entry wait up to a second more)."""
    queue = Queue(connection=connection)
    job = queue.enqueue('rqtest_jobs_crash.short', 1)
    connection.lrem(queue.key, 0, job.id)
    connection.hset(job.key, 'status', 'started')
    while not 0.2 <= time.time() % 1 <= 0.8:  # so that the expiry and the check fall in the same second
        time.sleep(0.01)
    connection.zadd(f'rq:wip:{queue.name}', {f'{job.id}:{uuid.uuid4().hex}': time.time() - 0.05})
    Maintenance(Worker([queue], connection=connection, job_monitoring_interval=1)).fail_abandoned_jobs()
    assert status_of(connection, job) == 'failed'


@pytest.mark.parametrize('worker_class', CLASSES)
def test_a_busy_worker_notices_a_dead_workers_job(
    connection: redis.Redis, redis_server: RedisServer, guard: ProcessGuard, worker_class: str
) -> None:
    """The only live worker is busy with a long job: it still fails the dead worker's job in time."""
    dead_job = Queue('b', connection=connection).enqueue('rqtest_jobs_crash.crash_target', 'dead', '', 0, 0, 'never')
    victim = guard.add(start_victim(redis_server.port, ['b'], 'Worker', name='victim'))
    assert wait_until(lambda: connection.llen('dead:pids') >= 1, PATIENCE)
    long_job = Queue('a', connection=connection).enqueue('rqtest_jobs_crash.crash_target', 'long', '', 0, 0, 'done')
    busy = guard.add(start_victim(redis_server.port, ['a', 'b'], worker_class, name='busy'))
    assert wait_until(lambda: connection.llen('long:pids') >= 1, PATIENCE)
    victim.kill()
    assert wait_until(lambda: status_of(connection, dead_job) == 'failed', PATIENCE, 0.01)
    # noticed while busy: the long job runs until the test releases it
    assert status_of(connection, long_job) == 'started' and busy.poll() is None
    connection.set('done', 1)
    assert wait_until(lambda: status_of(connection, long_job) == 'finished', PATIENCE)
