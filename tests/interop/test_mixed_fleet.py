"""Our workers and upstream rq 2.12.0's workers serve the same queues at the same time.

Every worker runs in its own process: ours with ``python -m rq.worker`` (``tests/support/worker_process.py``),
upstream's with its own interpreter (``tests/support/upstream.py``). 300 jobs are enqueued, half by
rq-core in this process and half by upstream at the same moment, either while every worker waits for
work (one queue; three queues in different orders) or before any worker starts (burst workers, one of
upstream's stopping after ``max_jobs``). Each job records its execution (``rqtest_jobs_interop.mark``:
a per-job counter, the worker's name and a list of ids). Afterwards every job ran exactly once and
finished with one SUCCESSFUL result by the worker that ran it, nothing is left in any queue,
intermediate list, started registry or execution key, every worker did some of the work, and the
workers' counters add up. Long-running workers are stopped with the shutdown command, sent by rq-core
to ours and upstream's alike. A last test checks that each side's maintenance leaves the other side's
busy worker and job alone."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
import redis

from fleet import Fleet
from rq import Queue
from rq.job import Job, JobStatus
from rq.results import Result
from rqtest_jobs_interop import FLEET_BY, FLEET_ORDER, FLEET_RUNS
from upstream import finish_upstream, run_upstream, start_upstream
from worker_process import wait_until

pytestmark = [pytest.mark.upstream, pytest.mark.timeout(120)]

JOBS_PER_SIDE = 150
#: Seconds each job sleeps after marking itself: long enough for every worker to get some jobs.
PAUSE = 0.01
RUN_DEADLINE = 60.0


def wait_for_idle_workers(connection: redis.Redis, fleet: Fleet) -> None:
    def all_idle() -> bool:
        registered = {member.decode() for member in connection.smembers('rq:workers')}
        if registered != {f'rq:worker:{name}' for name in fleet.names}:
            return False
        states = [connection.hget(f'rq:worker:{name}', 'state') for name in fleet.names]
        return all(state == b'idle' for state in states)

    assert wait_until(all_idle, timeout=30, interval=0.05), (
        f'workers not all idle: alive {fleet.alive()}, registered {connection.smembers("rq:workers")}'
    )


def enqueue_from_both_sides(
    connection: redis.Redis, port: int, queue_names: tuple[str, ...], pause: float = PAUSE
) -> list[str]:
    """Upstream enqueues ``up-<i>`` while rq-core enqueues ``our-<i>``, round robin over the queues."""
    upstream = start_upstream(
        f"""
from rq import Queue
queues = [Queue(name, connection=conn) for name in {list(queue_names)!r}]
for i in range({JOBS_PER_SIDE}):
    queues[i % len(queues)].enqueue('rqtest_jobs_interop.mark', {pause}, job_id=f'up-{{i}}')
print('null')
""",
        port,
    )
    try:
        queues = [Queue(name, connection=connection) for name in queue_names]
        for i in range(JOBS_PER_SIDE):
            queues[i % len(queues)].enqueue('rqtest_jobs_interop.mark', pause, job_id=f'our-{i}')
    finally:
        finish_upstream(upstream, timeout=60)
    return [f'{side}-{i}' for side in ('our', 'up') for i in range(JOBS_PER_SIDE)]


def status(connection: redis.Redis, job_id: str) -> JobStatus | None:
    return Job.fetch(job_id, connection=connection).get_status()


def finished_count(connection: redis.Redis, queue_names: tuple[str, ...]) -> int:
    return sum(int(connection.zcard(f'rq:finished:{name}')) for name in queue_names)


def check_every_job_ran_once(
    connection: redis.Redis, fleet: Fleet, job_ids: list[str], queue_names: tuple[str, ...]
) -> Counter[str]:
    """The assertions shared by the fleet tests; returns how many jobs each worker ran."""
    # Exactly one execution each, none missing, none extra.
    runs = connection.mget([FLEET_RUNS + job_id for job_id in job_ids])
    counts = dict(zip(job_ids, runs, strict=True))
    assert {job_id: n for job_id, n in counts.items() if n != b'1'} == {}
    order = [item.decode() for item in connection.lrange(FLEET_ORDER, 0, -1)]
    assert sorted(order) == sorted(job_ids)

    # Each job finished, with one SUCCESSFUL result written by the worker that ran it.
    ran_by = {k.decode(): v.decode() for k, v in connection.hgetall(FLEET_BY).items()}
    problems = []
    for job_id in job_ids:
        job = Job.fetch(job_id, connection=connection)
        results = job.results()
        if job.get_status() != JobStatus.FINISHED or job.return_value() != job_id:
            problems.append(f'{job_id}: {job.get_status()} {job.return_value()!r}')
        elif [r.type for r in results] != [Result.Type.SUCCESSFUL]:
            problems.append(f'{job_id}: results {[r.type for r in results]}')
        elif results[0].worker_name != ran_by[job_id] or job.worker_name != ran_by[job_id]:
            problems.append(f'{job_id}: ran on {ran_by[job_id]}, result by {results[0].worker_name}')
    assert problems == []
    assert set(ran_by.values()) <= set(fleet.names)

    # Nothing left behind: queues, upstream's intermediate lists, started/failed/deferred/scheduled
    # registries, executions.
    leftovers: dict[str, Any] = {}
    for name in queue_names:
        for key in (f'rq:queue:{name}', f'rq:queue:{name}:intermediate'):
            if connection.llen(key):
                leftovers[key] = connection.lrange(key, 0, -1)
        for kind in ('wip', 'failed', 'deferred', 'scheduled', 'canceled'):
            key = f'rq:{kind}:{name}'
            if connection.zcard(key):
                leftovers[key] = connection.zrange(key, 0, -1)
    leftovers.update({key.decode(): 'exists' for key in connection.scan_iter(match='rq:execution*')})
    assert leftovers == {}
    assert finished_count(connection, queue_names) == len(job_ids)

    # Every worker did some of the work, and the workers' own counters add up to it.
    per_worker = Counter(ran_by.values())
    assert all(per_worker[name] > 0 for name in fleet.names), per_worker
    counted = {name: int(connection.hget(f'rq:worker:{name}', 'successful_job_count') or 0) for name in fleet.names}
    assert counted == dict(per_worker)
    failed = {name: connection.hget(f'rq:worker:{name}', 'failed_job_count') for name in fleet.names}
    assert all(value in (None, b'0') for value in failed.values()), failed
    return per_worker


def run_fleet(connection: redis.Redis, fleet: Fleet, queue_names: tuple[str, ...]) -> Counter[str]:
    wait_for_idle_workers(connection, fleet)
    job_ids = enqueue_from_both_sides(connection, fleet.port, queue_names)
    done = wait_until(
        lambda: finished_count(connection, queue_names) >= len(job_ids) or len(fleet.alive()) < len(fleet.names),
        timeout=RUN_DEADLINE,
        interval=0.1,
    )
    assert done and finished_count(connection, queue_names) == len(job_ids), (
        f'{finished_count(connection, queue_names)} of {len(job_ids)} finished; alive: {fleet.alive()}'
    )
    time.sleep(0.2)  # a double run would show up here
    fleet.shut_down(connection)
    return check_every_job_ran_once(connection, fleet, job_ids, queue_names)


def test_one_queue_served_by_ours_and_upstreams(fleet: Fleet, connection: redis.Redis) -> None:
    queues = ('default',)
    fleet.start_ours('ours-forking', queues)
    fleet.start_ours('ours-simple', queues, 'SimpleWorker')
    fleet.start_theirs('upstream-forking', queues)
    run_fleet(connection, fleet, queues)

    # Upstream's view agrees: everything finished, nothing queued.
    theirs = run_upstream(
        """
from rq import Queue
q = Queue(connection=conn)
finished = q.finished_job_registry.get_job_ids(cleanup=False)
print(json.dumps([q.count, len(finished), q.started_job_registry.count, q.failed_job_registry.count]))
""",
        fleet.port,
    )
    assert theirs == [0, 2 * JOBS_PER_SIDE, 0, 0]


def test_several_queues_served_by_ours_and_upstreams(fleet: Fleet, connection: redis.Redis) -> None:
    queues = ('high', 'default', 'low')
    fleet.start_ours('ours-forking', queues)
    fleet.start_ours('ours-simple', tuple(reversed(queues)), 'SimpleWorker')
    fleet.start_theirs('upstream-simple', queues, 'SimpleWorker')
    fleet.start_theirs('upstream-forking', ('low', 'high', 'default'), dequeue_strategy='round_robin')
    run_fleet(connection, fleet, queues)


def test_backlog_drained_by_burst_workers_of_both_kinds(fleet: Fleet, connection: redis.Redis) -> None:
    """300 jobs waiting before any worker starts; upstream's workers (one stopping after max_jobs) start
    first, ours join them; every worker runs in burst mode and quits on its own."""
    queues = ('high', 'low')
    job_ids = enqueue_from_both_sides(connection, fleet.port, queues, pause=0.02)
    fleet.start_theirs('upstream-forking', queues, burst=True)
    fleet.start_theirs('upstream-simple', ('low',), 'SimpleWorker', burst=True, max_jobs=40)
    registered = wait_until(
        lambda: all(connection.exists(f'rq:worker:{name}') for name in fleet.theirs), timeout=30, interval=0.02
    )
    assert registered, f'upstream workers did not start: alive {fleet.alive()}'
    fleet.start_ours('ours-forking', queues, 'Worker', '--burst')
    fleet.start_ours('ours-simple', tuple(reversed(queues)), 'SimpleWorker', '--burst')
    fleet.wait_for_exit(RUN_DEADLINE, 'in burst mode')
    per_worker = check_every_job_ran_once(connection, fleet, job_ids, queues)
    assert per_worker['upstream-simple'] <= 40


#: Upstream runs its own maintenance on the default queue (what a starting upstream worker does under
#: the cleaning lock) and then reports the workers and the started registry as it sees them.
UPSTREAM_MAINTENANCE = """
from rq import Queue, SimpleWorker, Worker
from rq.registry import StartedJobRegistry, clean_registries
from rq.worker_registration import clean_worker_registry
q = Queue(connection=conn)
clean_registries(q)
clean_worker_registry(q)
q.intermediate_queue.cleanup(SimpleWorker([q], connection=conn, name='upstream-maintenance'), q)
workers = sorted([w.name, w.get_state(), w.get_current_job_id()] for w in Worker.all(queue=q))
print(json.dumps({'workers': workers, 'started': sorted(StartedJobRegistry(queue=q).get_job_ids())}))
"""


def test_busy_workers_are_left_alone_by_each_others_maintenance(fleet: Fleet, connection: redis.Redis) -> None:
    """An upstream worker and ours each run a long job; our worker checks for abandoned jobs every second
    and upstream runs its registry, worker and intermediate-list cleaning: neither touches the other's
    job, upstream sees both workers busy with their jobs, and both jobs finish once."""
    queue = Queue(connection=connection)
    queue.enqueue('rqtest_introspect.wait_for_key', 'release:theirs', 60, job_id='theirs_job')
    fleet.start_theirs('upstream-busy', ('default',))
    started = wait_until(lambda: status(connection, 'theirs_job') == JobStatus.STARTED, timeout=30)
    assert started, f'upstream did not start its job: alive {fleet.alive()}'
    queue.enqueue('rqtest_introspect.wait_for_key', 'release:ours', 60, job_id='ours_job')
    fleet.start_ours('ours-busy', ('default',), monitoring_interval=1)
    started = wait_until(lambda: status(connection, 'ours_job') == JobStatus.STARTED, timeout=30)
    assert started, f'our worker did not start its job: alive {fleet.alive()}'
    time.sleep(3.5)  # our 2 s started entry lives on heartbeats; our abandoned check runs every second

    seen = run_upstream(UPSTREAM_MAINTENANCE, fleet.port)
    assert seen == {
        'workers': [['ours-busy', 'busy', 'ours_job'], ['upstream-busy', 'busy', 'theirs_job']],
        'started': ['ours_job', 'theirs_job'],
    }
    connection.set('release:theirs', 'a')
    connection.set('release:ours', 'b')
    assert wait_until(lambda: finished_count(connection, ('default',)) == 2, timeout=30)
    fleet.shut_down(connection)

    for job_id, worker, value in (('theirs_job', 'upstream-busy', 'a'), ('ours_job', 'ours-busy', 'b')):
        job = Job.fetch(job_id, connection=connection)
        assert job.get_status() == JobStatus.FINISHED and job.return_value() == value, job_id
        assert [(r.type, r.worker_name) for r in job.results()] == [(Result.Type.SUCCESSFUL, worker)], job_id
    assert queue.failed_job_registry.get_job_ids() == [] and queue.started_job_registry.get_job_ids() == []
    assert connection.llen('rq:queue:default:intermediate') == 0
