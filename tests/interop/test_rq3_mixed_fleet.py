"""A mixed fleet on one Redis: upstream rq 3.0.0's workers and ours serve the same queues, with rate limits.

500 jobs, half produced by rq-core in this process and half by rq 3.0.0 at the same moment, on two
queues: plain jobs, failing jobs, dependency chains across the queues (multi-parent; ``allow_failure``
dependents that run after a failed parent, and dependents of a failed parent that stay deferred),
scheduled jobs, and jobs limited by two keys (concurrency 2 and 3): plain, released dependents,
scheduled, and failing once with ``Retry(max=1, interval=1)``. A forking worker of each side runs with
its scheduler, beside a ``SimpleWorker`` of each side (so that more workers than the smaller limit
compete for the limited jobs). Each job records its runs (``rqtest_jobs_ratelimit``); a sampler thread
reads the slots held and the jobs running per key every few milliseconds. Afterwards: every job
finished, failed or stayed deferred as planned, each ran as often as planned and after its parents, the
limits were never exceeded, no slot is held, nothing is left on a queue or in ``rq:ready:*``, and a
cleanup forgets both keys.

A second test adds an rq 2.12.0 worker (with its scheduler) on the queues without rate limits only, as
the README tells users to: jobs produced by all three versions, plain and dependent across queues, run
once each after their parents, while ours and 3.0's run rate-limited jobs on a third queue within the
limit.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import pytest
import redis

from fleet import Fleet
from rate_limit_watch import (
    Sampler,
    held_slots,
    ran_by,
    rate_limit_data,
    recorded_peak,
    run_counts,
    sequence_marks,
    statuses,
)
from redis_server import RedisServer
from rq import Queue, rate_limit
from rq.registry import ReadyJobRegistry
from upstream import (
    UPSTREAM_3_VERSION,
    UPSTREAM_VERSION,
    burst_worker_code,
    finish_upstream,
    run_upstream,
    start_upstream,
    worker_code,
)
from worker_process import wait_until

pytestmark = [pytest.mark.upstream, pytest.mark.timeout(420)]

QUEUES = ('qa', 'qb')
LIMITS = {'ka': 2, 'kb': 3}
#: The second test's queues and limit.
PLAIN_QUEUES = ('plain_a', 'plain_b')
LIMITED_QUEUE = 'limited'
SMALL_LIMITS = {'kc': 1}
RUN_DEADLINE = 300.0


@dataclass
class Spec:
    """One job to enqueue, and what must become of it."""

    id: str
    queue: str
    pause: float = 0.005
    fail: int = 0  # record()'s fail_times: -1 every run, 1 the first run only
    deps: list[str] = field(default_factory=list)
    allow_failure: bool = False
    limit: str | None = None  # a key of LIMITS
    delay: int = 0  # enqueue_in(delay seconds)
    retry: bool = False
    status: str = 'finished'
    runs: int = 1


def plan(side: str, queues: tuple[str, str] = QUEUES, limited: bool = True, plain: int = 105) -> list[Spec]:
    """The jobs one producer enqueues (250 by default; ids start with ``side``), parents first; without
    ``limited``, only those without a rate limit."""
    qa, qb = queues
    specs: list[Spec] = []
    for i in range(plain):
        specs.append(Spec(f'{side}-plain-{i}', (qa, qb)[i % 2]))
    for i in range(10):
        specs.append(Spec(f'{side}-fail-{i}', (qa, qb)[i % 2], fail=-1, status='failed'))
    for c in range(10):
        first, second = f'{side}-ch{c}-0', f'{side}-ch{c}-1'
        specs.append(Spec(first, qa))
        specs.append(Spec(second, qb, deps=[first]))
        specs.append(Spec(f'{side}-ch{c}-2', qa, deps=[first, second]))
    for i in range(5):
        failing = f'{side}-af{i}-f'
        specs.append(Spec(failing, qb, fail=-1, status='failed'))
        specs.append(Spec(f'{side}-af{i}-ok', qa, deps=[failing], allow_failure=True))
        blocked_limit = 'kb' if limited and i % 2 else None
        specs.append(Spec(f'{side}-af{i}-blocked', qa, deps=[failing], limit=blocked_limit, status='deferred', runs=0))
    for i in range(10):
        specs.append(Spec(f'{side}-sched-{i}', (qa, qb)[i % 2], delay=1 + i % 3))
    if not limited:
        return specs
    for i in range(30):
        specs.append(Spec(f'{side}-ka-{i}', (qa, qb)[i % 2], pause=0.02, limit='ka'))
        specs.append(Spec(f'{side}-kb-{i}', (qb, qa)[i % 2], pause=0.02, limit='kb'))
    for i in range(5):
        parent = f'{side}-rlp{i}'
        specs.append(Spec(parent, qb))
        specs.append(Spec(f'{side}-rld{i}', qa, deps=[parent], limit='ka', pause=0.02))
    for i in range(5):
        specs.append(Spec(f'{side}-rls-{i}', (qa, qb)[i % 2], delay=1 + i % 2, limit='kb', pause=0.02))
    for i in range(5):
        specs.append(Spec(f'{side}-rlr-{i}', (qb, qa)[i % 2], fail=1, retry=True, limit='ka', runs=2))
    return specs


#: The producer: the same code under rq 3.0.0 and under ours (``SPECS`` is the plan as JSON).
PRODUCE = """
import datetime, json, warnings
warnings.simplefilter('ignore')
from rq import Queue, Retry
from rq.job import Dependency
import rqtest_jobs_ratelimit as jobs
try:
    from rq import RateLimit
except ImportError:  # rq 2.12
    RateLimit = None
LIMITS = {limits}
queues = {{}}
for spec in json.loads({specs!r}):
    queue = queues.setdefault(spec['queue'], Queue(spec['queue'], connection=conn))
    options = {{'job_id': spec['id']}}
    if spec['limit']:
        options['rate_limit'] = RateLimit(spec['limit'], LIMITS[spec['limit']])
    if spec['retry']:
        options['retry'] = Retry(max=1, interval=1)
    if spec['deps']:
        options['depends_on'] = Dependency(jobs=spec['deps'], allow_failure=spec['allow_failure'])
    call = (jobs.record, spec['pause'], spec['fail'])
    if spec['delay']:
        queue.enqueue_in(datetime.timedelta(seconds=spec['delay']), *call, **options)
    else:
        queue.enqueue(*call, **options)
"""


def produce_code(specs: list[Spec]) -> str:
    return PRODUCE.format(limits={**LIMITS, **SMALL_LIMITS}, specs=json.dumps([asdict(spec) for spec in specs]))


def produce_everywhere(
    connection: redis.Redis, port: int, upstream_plans: dict[str, list[Spec]], ours: list[Spec]
) -> None:
    """Each upstream version enqueues its plan (``{version: specs}``) while rq-core enqueues ``ours``."""
    producers = [
        start_upstream(produce_code(specs) + 'print("null")\n', port, version=version)
        for version, specs in upstream_plans.items()
    ]
    try:
        exec(compile(produce_code(ours), '<our producer>', 'exec'), {'conn': connection})
    finally:
        for producer in producers:
            finish_upstream(producer, timeout=120)


def start_theirs(
    fleet: Fleet,
    name: str,
    queues: tuple[str, ...],
    version: str,
    worker_class: str = 'Worker',
    scheduler: bool = False,
) -> None:
    code = worker_code(name, queues, worker_class, with_scheduler=scheduler)
    fleet.theirs[name] = start_upstream(code, fleet.port, version=version)


def wait_for_idle_workers(connection: redis.Redis, fleet: Fleet) -> None:
    idle = wait_until(
        lambda: all(connection.hget(f'rq:worker:{name}', 'state') == b'idle' for name in fleet.names),
        timeout=60,
        interval=0.05,
    )
    assert idle, f'workers not all idle: alive {fleet.alive()}'


def wait_for_outcomes(
    connection: redis.Redis, fleet: Fleet, specs: list[Spec], queue_names: tuple[str, ...]
) -> list[str]:
    """Poll until every job has its planned status and run count (or a worker died). Returns the ids
    this had to take out of ``rq:ready:*`` itself.

    rq 3.0 drains a dependent it moved to its ready registry under WATCH of the whole registry: when
    another process changes that registry meanwhile (the other 3.0 worker moving a dependent of its own
    parent), the drain skips the job and leaves it to maintenance (``ReadyJobRegistry.cleanup``, every
    10 minutes). The test runs that recovery for ids it sees in a ready registry on two polls 3 s apart,
    and returns them for the caller to check who left them."""
    ids = [spec.id for spec in specs]
    expected_status = {spec.id: spec.status for spec in specs}
    expected_runs = {spec.id: spec.runs for spec in specs if spec.runs}
    recovered: list[str] = []
    seen_ready: set[tuple[str, str]] = set()
    next_sweep = time.monotonic() + 3

    def settled() -> bool:
        nonlocal seen_ready, next_sweep
        if statuses(connection, ids) == expected_status and run_counts(connection) == expected_runs:
            return True
        if time.monotonic() >= next_sweep:
            ready = {(q, m.decode()) for q in queue_names for m in connection.zrange(f'rq:ready:{q}', 0, -1)}
            for queue_name, job_id in sorted(ready & seen_ready):
                queue = Queue(queue_name, connection=connection)
                recovered.extend(job.id for job in ReadyJobRegistry(queue=queue).enqueue_jobs([job_id]))
            seen_ready, next_sweep = ready, time.monotonic() + 3
        return False

    done = wait_until(lambda: settled() or len(fleet.alive()) < len(fleet.names), timeout=RUN_DEADLINE, interval=0.2)
    current = statuses(connection, ids)
    wrong = {job_id: (current[job_id], want) for job_id, want in expected_status.items() if current[job_id] != want}
    assert done and not wrong, f'alive {fleet.alive()}; (status, planned): {dict(list(wrong.items())[:20])}'
    time.sleep(0.3)  # a second run of anything would show here
    return recovered


def check_recovered(connection: redis.Redis, specs: list[Spec], recovered: list[str]) -> None:
    """Only rq 3.0 leaves dependents in its ready registry (ours queue them in the parent's outcome
    step): each recovered job has a parent that an rq 3.0 worker ran."""
    workers = ran_by(connection)
    deps = {spec.id: spec.deps for spec in specs}
    left_by_ours = [job_id for job_id in recovered if not any(workers[p].startswith('rq3') for p in deps[job_id])]
    assert left_by_ours == []


def check_runs(connection: redis.Redis, specs: list[Spec]) -> None:
    """Each job ran as often as planned (none twice, none lost), and after the end of its parents' runs."""
    assert run_counts(connection) == {spec.id: spec.runs for spec in specs if spec.runs}
    starts, ends = sequence_marks(connection)
    runs = {spec.id: spec.runs for spec in specs}
    late = []
    for spec in specs:
        if not spec.runs:
            continue
        first_start = starts[f'{spec.id}:1']
        for parent in spec.deps:
            if first_start < ends[f'{parent}:{runs[parent]}']:
                late.append(f'{spec.id} started before {parent} ended')
    assert late == []


def check_nothing_left(connection: redis.Redis, queue_names: tuple[str, ...], specs: list[Spec]) -> None:
    leftovers: dict[str, Any] = {}
    for name in queue_names:
        for key in (f'rq:queue:{name}', f'rq:queue:{name}:intermediate'):
            if connection.llen(key):
                leftovers[key] = connection.lrange(key, 0, -1)
        for kind in ('wip', 'scheduled', 'canceled'):
            if connection.zcard(f'rq:{kind}:{name}'):
                leftovers[f'rq:{kind}:{name}'] = connection.zrange(f'rq:{kind}:{name}', 0, -1)
    for key in connection.scan_iter(match='rq:ready:*'):
        if connection.zcard(key):
            leftovers[key.decode()] = connection.zrange(key, 0, -1)
    leftovers.update({key.decode(): 'exists' for key in connection.scan_iter(match='rq:execution:*')})
    assert leftovers == {}
    for kind, status in (('failed', 'failed'), ('deferred', 'deferred')):
        listed = sorted(m.decode() for q in queue_names for m in connection.zrange(f'rq:{kind}:{q}', 0, -1))
        assert listed == sorted(spec.id for spec in specs if spec.status == status), kind


def check_limits(connection: redis.Redis, sampler: Sampler, limits: dict[str, int]) -> None:
    """Never more than the limit held a slot or ran at once; no slot is held; a cleanup forgets the keys."""
    assert sampler.over == [] and sampler.samples > 100
    peaks = {key: recorded_peak(connection, key) for key in limits}
    assert all(peaks[key] <= limit for key, limit in limits.items()), peaks
    assert all(sampler.max_allowed[key] <= limit for key, limit in limits.items()), sampler.max_allowed
    assert held_slots(connection) == {}
    rate_limit.cleanup_all(connection)
    assert rate_limit_data(connection) == {}


def test_rq3_and_our_workers_share_rate_limited_queues(fleet: Fleet, connection: redis.Redis) -> None:
    fleet.start_ours('ours-forking', QUEUES, 'Worker', '--with-scheduler')
    fleet.start_ours('ours-simple', tuple(reversed(QUEUES)), 'SimpleWorker')
    start_theirs(fleet, 'rq3-forking', QUEUES, UPSTREAM_3_VERSION, scheduler=True)
    start_theirs(fleet, 'rq3-simple', tuple(reversed(QUEUES)), UPSTREAM_3_VERSION, 'SimpleWorker')
    wait_for_idle_workers(connection, fleet)
    ours, theirs = plan('our'), plan('up')
    specs = ours + theirs
    assert len(specs) == 500

    with Sampler(connection, LIMITS) as sampler:
        produce_everywhere(connection, fleet.port, {UPSTREAM_3_VERSION: theirs}, ours)
        recovered = wait_for_outcomes(connection, fleet, specs, QUEUES)
    fleet.shut_down(connection)

    check_runs(connection, specs)
    check_recovered(connection, specs, recovered)
    check_nothing_left(connection, QUEUES, specs)
    check_limits(connection, sampler, LIMITS)
    workers = Counter(ran_by(connection).values())
    assert set(workers) <= set(fleet.names), workers
    # Both implementations ran rate-limited jobs of both producers' keys.
    limited_by = Counter(ran_by(connection)[spec.id].split('-')[0] for spec in specs if spec.limit and spec.runs)
    assert set(limited_by) == {'ours', 'rq3'}, limited_by


def small_plan(side: str, limited: bool) -> list[Spec]:
    """Plain, failing, chained and scheduled jobs on the plain queues, and (``limited``) ten jobs of
    ``kc`` on the limited queue, one of them a dependent of a job without a limit on that queue."""
    specs = plan(side, PLAIN_QUEUES, limited=False, plain=20)
    if limited:
        parent = f'{side}-kcp'
        specs.append(Spec(parent, LIMITED_QUEUE))  # (a 2.12 worker must not release a limited dependent)
        specs += [Spec(f'{side}-kc-{i}', LIMITED_QUEUE, pause=0.02, limit='kc') for i in range(9)]
        specs.append(Spec(f'{side}-kcd', LIMITED_QUEUE, deps=[parent], pause=0.02, limit='kc'))
    return specs


def test_rq212_worker_on_the_queues_without_rate_limits(fleet: Fleet, connection: redis.Redis) -> None:
    everything = (LIMITED_QUEUE, *PLAIN_QUEUES)
    fleet.start_ours('ours-forking', everything, 'Worker', '--with-scheduler')
    start_theirs(fleet, 'rq3-forking', everything, UPSTREAM_3_VERSION, scheduler=True)
    start_theirs(fleet, 'rq212-forking', PLAIN_QUEUES, UPSTREAM_VERSION, scheduler=True)
    wait_for_idle_workers(connection, fleet)
    ours, rq3, rq212 = small_plan('our', True), small_plan('up3', True), small_plan('up2', False)
    specs = ours + rq3 + rq212

    with Sampler(connection, SMALL_LIMITS) as sampler:
        produce_everywhere(connection, fleet.port, {UPSTREAM_3_VERSION: rq3, UPSTREAM_VERSION: rq212}, ours)
        recovered = wait_for_outcomes(connection, fleet, specs, everything)
    fleet.shut_down(connection)

    check_runs(connection, specs)
    check_recovered(connection, specs, recovered)
    check_nothing_left(connection, everything, specs)
    check_limits(connection, sampler, SMALL_LIMITS)
    workers = ran_by(connection)
    # rq 2.12 took part, only with jobs of its queues, produced by every version.
    by_212 = [spec for spec in specs if workers.get(spec.id) == 'rq212-forking']
    assert by_212 and all(spec.queue in PLAIN_QUEUES and not spec.limit for spec in by_212)


#: rq 3.0 enqueues a job holding the only slot of ``kd`` and a dependent of ``kd`` whose parent has no limit.
BYPASS = """
import warnings
warnings.simplefilter('ignore')
from rq import Queue, RateLimit
import rqtest_jobs_ratelimit as jobs
limit = RateLimit('kd', 1)
limited, plain = Queue('limited', connection=conn), Queue('plain_a', connection=conn)
limited.enqueue(jobs.record, job_id='holder', rate_limit=limit)
plain.enqueue(jobs.record, job_id='parent')
limited.enqueue(jobs.record, job_id='dependent', rate_limit=limit, depends_on='parent')
print('null')
"""


def test_rq212_worker_releasing_a_limited_dependent_bypasses_the_limit(
    redis_server: RedisServer, connection: redis.Redis
) -> None:
    """Why the README keeps rq 2.12 workers off the queues of the parents of rate-limited jobs too: a
    2.12 worker that runs the parent queues the rate-limited dependent directly, beside the job that
    holds the only slot, outside both ``allowed`` and ``rate_limited`` (spec 2.5; 3.0 and ours make it
    wait, ``test_rq3_rate_limits.py``)."""
    run_upstream(BYPASS, redis_server.port, version=UPSTREAM_3_VERSION)
    worker = burst_worker_code('rq212-simple', ('plain_a',), with_scheduler=False)
    run_upstream(worker + 'print("null")\n', redis_server.port)
    assert statuses(connection, ['holder', 'parent', 'dependent']) == {
        'holder': 'queued',
        'parent': 'finished',
        'dependent': 'queued',
    }
    assert connection.lrange('rq:queue:limited', 0, -1) == [b'holder', b'dependent']
    assert held_slots(connection) == {'rq:rl:kd:allowed': ['holder']}
