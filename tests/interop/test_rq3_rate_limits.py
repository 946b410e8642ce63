"""Rate-limited jobs (RQ 3.0's ``RateLimit``) between rq-core and real rq 3.0.0, in both directions.

- The same enqueue calls leave the same Redis data under either producer: job hashes (``status``,
  ``rate_limit_key``, ``rate_limit_concurrency`` ...), ``rq:rl-keys``, ``rq:rl:<key>`` and its
  ``allowed``/``rate_limited`` zsets, queues and registries, compared raw (ids fixed, timestamps by
  format, zset scores within seconds).
- Jobs produced by one side are run by three forking workers of the other: never more than the limit
  hold a slot or run at once (a sampler thread and the jobs' own atomic count), every job runs once,
  and afterwards no slot is held and the workers' side's cleanup forgets the key.
- A rate-limited dependent released by a parent of another queue, a rate-limited ``enqueue_in`` job and
  a rate-limited job with ``Retry(max=1, interval=1)`` that fails once, while the only slot is held:
  every producer/worker pairing (3.0→3.0 is the contract) shows the same statuses, slots and queues at
  each step: the released, due or retried job waits as ``rate_limited`` until the slot comes free.

Upstream 3.0.0 runs in its own virtualenv (``tests/support/upstream.py``, ``version='3.0.0'``); the jobs
(``rqtest_jobs_ratelimit``) record their runs in Redis.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest
import redis

from fleet import Fleet
from rate_limit_watch import Sampler, rate_limit_data, recorded_peak, run_counts, statuses
from redis_dump import diff, snapshot
from redis_server import RedisServer
from rq.job import Job, JobStatus
from rq.rate_limit import RateLimitRegistry
from rq.results import Result
from upstream import UPSTREAM_3_VERSION, _last_json_line, run_upstream, start_upstream, worker_code
from worker_process import wait_until, worker_env

pytestmark = [pytest.mark.upstream, pytest.mark.timeout(180)]

OURS, RQ3 = 'ours', 'rq3'
OUR_DB, UPSTREAM_DB = 1, 2

PRELUDE = """
import datetime, json, warnings
warnings.simplefilter('ignore')
from rq import Queue, RateLimit, Retry, SimpleWorker
from rq.job import Dependency
import rqtest_jobs_ratelimit as jobs
default, other = Queue('default', connection=conn), Queue('other', connection=conn)
"""


def run_side(side: str, code: str, port: int, db: int = 0) -> Any:
    """Run ``PRELUDE + code`` under rq 3.0.0 or under ours, each in its own interpreter; ``conn`` is a
    ``redis.Redis`` on the test server. Returns the JSON document printed last (None: nothing)."""
    script = PRELUDE + textwrap.dedent(code)
    if side == RQ3:
        return run_upstream(script + '\nprint("null")', port, db=db, version=UPSTREAM_3_VERSION)
    prelude = f'import redis\nconn = redis.Redis(port={port}, db={db})\n'
    completed = subprocess.run(
        [sys.executable, '-c', prelude + script], capture_output=True, text=True, env=worker_env(), timeout=120
    )
    if completed.returncode != 0:
        raise AssertionError(f'our code failed:\n{completed.stdout}\n{completed.stderr}')
    return _last_json_line(completed.stdout)


# -- the same calls, the same data -------------------------------------------------------------------

FIVE_JOBS = """
limit = RateLimit('k', 2)
for n in range(5):
    default.enqueue(jobs.record, 0.1, job_id=f'rl_{n}', rate_limit=limit)
"""
#: Front placement, a dependent, a scheduled job and a second key, next to jobs of the first key.
VARIANTS = """
limit = RateLimit('k', 2)
parent = other.enqueue(jobs.record, job_id='parent')
default.enqueue(jobs.record, job_id='first', rate_limit=limit)
default.enqueue(jobs.record, job_id='dependent', rate_limit=limit, depends_on=parent)
default.enqueue(jobs.record, job_id='second', rate_limit=limit, at_front=True)
default.enqueue(jobs.record, job_id='waits_front', rate_limit=limit, at_front=True)
default.enqueue(jobs.record, job_id='waits', rate_limit=limit, job_timeout=30, ttl=600, meta={'a': 1})
other.enqueue_in(datetime.timedelta(hours=1), jobs.record, job_id='scheduled', rate_limit=limit)
other.enqueue(jobs.record, job_id='solo', rate_limit=RateLimit('other-key', 1), description='solo')
"""


@pytest.mark.usefixtures('connection')  # (flushes every database)
@pytest.mark.parametrize('code', [FIVE_JOBS, VARIANTS], ids=['five_jobs', 'variants'])
def test_producers_write_the_same_rate_limit_data(redis_server: RedisServer, code: str) -> None:
    run_side(RQ3, code, redis_server.port, db=UPSTREAM_DB)
    run_side(OURS, code, redis_server.port, db=OUR_DB)
    ours = snapshot(redis.Redis(port=redis_server.port, db=OUR_DB))
    theirs = snapshot(redis.Redis(port=redis_server.port, db=UPSTREAM_DB))
    assert diff(ours, theirs) == []
    # (diff compares hash fields and values raw, key types, TTL classes, list order and zset members;
    # zset scores within seconds: 3.0 scores rate-limit entries with whole seconds, rq-core with float
    # seconds, so only rq-core keeps the waiters of one second in enqueue order)

    # What the comparison covered, as 3.0 wrote it.
    assert sorted(theirs) == sorted(ours)
    limited = theirs['rq:job:rl_4' if code is FIVE_JOBS else 'rq:job:waits']['value']
    assert (limited['status'], limited['rate_limit_key'], limited['rate_limit_concurrency']) == (
        b'rate_limited',
        b'k',
        b'2',
    )
    assert theirs['rq:rl-keys']['type'] == 'set' and theirs['rq:rl:k'] == {
        'type': 'hash',
        'ttl': 'none',
        'value': {'concurrency': b'2'},
    }
    if code is FIVE_JOBS:
        assert [m for m, _ in theirs['rq:rl:k:allowed']['value']] == [b'rl_0', b'rl_1']
        assert [m for m, _ in theirs['rq:rl:k:rate_limited']['value']] == [b'rl_2', b'rl_3', b'rl_4']
        assert theirs['rq:queue:default']['value'] == [b'rl_0', b'rl_1']
    else:
        assert theirs['rq:queue:default']['value'] == [b'second', b'first']
        assert sorted(theirs['rq:rl-keys']['value']) == [b'k', b'other-key']
        assert theirs['rq:job:waits_front']['value']['enqueue_at_front'] == b'1'
        assert theirs['rq:job:dependent']['value']['status'] == b'deferred'
        assert theirs['rq:job:scheduled']['value']['status'] == b'scheduled'


# -- one side's jobs, the other side's workers --------------------------------------------------------

JOB_IDS = [f'rl_{n}' for n in range(5)]
WORKERS = 3
PAUSE = 0.4


def start_workers(fleet: Fleet, side: str, count: int, queues: tuple[str, ...] = ('default',)) -> None:
    """``count`` forking workers of ``side``, named ``<side>-<i>``."""
    for i in range(count):
        name = f'{side}-{i}'
        if side == OURS:
            fleet.start_ours(name, queues)
        else:
            fleet.theirs[name] = start_upstream(worker_code(name, queues), fleet.port, version=UPSTREAM_3_VERSION)


def wait_for_workers(connection: redis.Redis, fleet: Fleet) -> None:
    registered = wait_until(
        lambda: all(connection.hget(f'rq:worker:{name}', 'state') == b'idle' for name in fleet.names),
        timeout=60,
        interval=0.05,
    )
    assert registered, f'workers not all idle: alive {fleet.alive()}'


def cleanup_code(key: str) -> str:
    return f'from rq.rate_limit import RateLimitRegistry\nRateLimitRegistry({key!r}, connection=conn).cleanup()\n'


@pytest.mark.parametrize(
    ('producer', 'workers'), [(RQ3, OURS), (OURS, RQ3)], ids=['rq3_jobs_our_workers', 'our_jobs_rq3_workers']
)
def test_workers_run_the_other_sides_jobs(fleet: Fleet, connection: redis.Redis, producer: str, workers: str) -> None:
    start_workers(fleet, workers, WORKERS)
    wait_for_workers(connection, fleet)
    with Sampler(connection, {'k': 2}) as sampler:
        run_side(producer, FIVE_JOBS.replace('0.1', str(PAUSE)), fleet.port)
        done = wait_until(
            lambda: set(statuses(connection, JOB_IDS).values()) == {'finished'} or len(fleet.alive()) < WORKERS,
            timeout=90,
            interval=0.05,
        )
        assert done, statuses(connection, JOB_IDS)
        time.sleep(0.2)  # a second run would show here
    fleet.shut_down(connection)

    assert statuses(connection, JOB_IDS) == dict.fromkeys(JOB_IDS, 'finished'), fleet.alive()
    assert run_counts(connection) == dict.fromkeys(JOB_IDS, 1)
    for job_id in JOB_IDS:
        job = Job.fetch(job_id, connection=connection)
        assert job.return_value() == job_id
        assert [r.type for r in job.results()] == [Result.Type.SUCCESSFUL]
        assert job.worker_name in fleet.names
    # Never more than 2 held a slot or ran at once; the limit was used (3 idle workers, 5 jobs).
    assert sampler.over == [] and sampler.samples > 100
    assert sampler.max_allowed == {'k': 2}
    assert recorded_peak(connection, 'k') <= 2 and sampler.max_running['k'] <= 2
    # No slot is held; the key is still known until a cleanup, which forgets it.
    assert rate_limit_data(connection) == {
        'rq:rl-keys': ['k'],
        'rq:rl:k': {'concurrency': '2'},
    }
    run_side(workers, cleanup_code('k'), fleet.port)
    assert rate_limit_data(connection) == {}


# -- a slot held while a dependent, a due job or a retry comes back ------------------------------------

#: Each scenario is a list of steps: ('produce', code) run by the producer's side, ('work', code) by the
#: workers' side, ('due', None) waits until the scheduled jobs are due; after every step the test reads
#: the statuses, queues, slots, waiters and run counts, and compares them with what 3.0 gives (the
#: expected values below, which the 3.0→3.0 pairing checks too).
Step = tuple[str, 'str | None', dict[str, Any]]

DEPENDENT: list[Step] = [
    (
        'produce',
        """
        limit = RateLimit('k', 1)
        default.enqueue(jobs.record, job_id='holder', rate_limit=limit)
        other.enqueue(jobs.record, job_id='parent')
        default.enqueue(jobs.record, job_id='dependent', rate_limit=limit, depends_on='parent')
        """,
        {
            'statuses': {'holder': 'queued', 'parent': 'queued', 'dependent': 'deferred'},
            'queues': {'default': ['holder'], 'other': ['parent']},
            'allowed': ['holder'],
            'waiting': [],
        },
    ),
    (
        'work',
        'SimpleWorker([other], connection=conn).work(burst=True, with_scheduler=False)',
        {
            'statuses': {'holder': 'queued', 'parent': 'finished', 'dependent': 'rate_limited'},
            'queues': {'default': ['holder'], 'other': []},
            'allowed': ['holder'],
            'waiting': ['dependent'],
            'runs': {'parent': 1},
        },
    ),
    (
        'work',
        'SimpleWorker([default], connection=conn).work(burst=True, with_scheduler=False)',
        {
            'statuses': {'holder': 'finished', 'parent': 'finished', 'dependent': 'finished'},
            'queues': {'default': [], 'other': []},
            'allowed': [],
            'waiting': [],
            'runs': {'parent': 1, 'holder': 1, 'dependent': 1},
        },
    ),
]

SCHEDULED: list[Step] = [
    (
        'produce',
        """
        limit = RateLimit('k', 1)
        default.enqueue(jobs.record, job_id='holder', rate_limit=limit)
        other.enqueue_in(datetime.timedelta(seconds=1), jobs.record, job_id='later', rate_limit=limit)
        """,
        {
            'statuses': {'holder': 'queued', 'later': 'scheduled'},
            'queues': {'default': ['holder'], 'other': []},
            'allowed': ['holder'],
            'waiting': [],
            'scheduled': ['later'],
        },
    ),
    ('due', None, {}),
    (
        'work',
        'SimpleWorker([other], connection=conn).work(burst=True, with_scheduler=True)',
        {
            'statuses': {'holder': 'queued', 'later': 'rate_limited'},
            'queues': {'default': ['holder'], 'other': []},
            'allowed': ['holder'],
            'waiting': ['later'],
            'scheduled': [],
        },
    ),
    (
        'work',
        'SimpleWorker([default, other], connection=conn).work(burst=True, with_scheduler=False)',
        {
            'statuses': {'holder': 'finished', 'later': 'finished'},
            'queues': {'default': [], 'other': []},
            'allowed': [],
            'waiting': [],
            'scheduled': [],
            'runs': {'holder': 1, 'later': 1},
        },
    ),
]

RETRY: list[Step] = [
    (
        'produce',
        """
        limit = RateLimit('k', 1)
        default.enqueue(jobs.record, 0, 1, job_id='flaky', rate_limit=limit, retry=Retry(max=1, interval=1))
        other.enqueue(jobs.record, job_id='waiter', rate_limit=limit)
        """,
        {
            'statuses': {'flaky': 'queued', 'waiter': 'rate_limited'},
            'queues': {'default': ['flaky'], 'other': []},
            'allowed': ['flaky'],
            'waiting': ['waiter'],
            'scheduled': [],
        },
    ),
    (
        'work',
        'SimpleWorker([default], connection=conn).work(burst=True, with_scheduler=False)',
        {
            # the failed run's retry is scheduled: it gives its slot to the waiter
            'statuses': {'flaky': 'scheduled', 'waiter': 'queued'},
            'queues': {'default': [], 'other': ['waiter']},
            'allowed': ['waiter'],
            'waiting': [],
            'scheduled': ['flaky'],
            'runs': {'flaky': 1},
        },
    ),
    ('due', None, {}),
    (
        'work',
        'SimpleWorker([default], connection=conn).work(burst=True, with_scheduler=True)',
        {
            'statuses': {'flaky': 'rate_limited', 'waiter': 'queued'},
            'queues': {'default': [], 'other': ['waiter']},
            'allowed': ['waiter'],
            'waiting': ['flaky'],
            'scheduled': [],
            'runs': {'flaky': 1},
        },
    ),
    (
        'work',
        'SimpleWorker([other, default], connection=conn).work(burst=True, with_scheduler=False)',
        {
            'statuses': {'flaky': 'finished', 'waiter': 'finished'},
            'queues': {'default': [], 'other': []},
            'allowed': [],
            'waiting': [],
            'scheduled': [],
            'runs': {'flaky': 2, 'waiter': 1},
        },
    ),
]

SCENARIOS = {'dependent': DEPENDENT, 'scheduled': SCHEDULED, 'retry': RETRY}
PAIRINGS = {
    'rq3_rq3': (RQ3, RQ3),
    'ours_ours': (OURS, OURS),
    'rq3_jobs_our_workers': (RQ3, OURS),
    'our_jobs_rq3_workers': (OURS, RQ3),
}


def observe(connection: redis.Redis, expected: dict[str, Any]) -> dict[str, Any]:
    """The same view as ``expected``: only what it names is read."""
    seen: dict[str, Any] = {}
    if 'statuses' in expected:
        seen['statuses'] = statuses(connection, list(expected['statuses']))
    if 'queues' in expected:
        seen['queues'] = {
            q: [m.decode() for m in connection.lrange(f'rq:queue:{q}', 0, -1)] for q in expected['queues']
        }
    if 'allowed' in expected:
        seen['allowed'] = [m.decode() for m in connection.zrange('rq:rl:k:allowed', 0, -1)]
    if 'waiting' in expected:
        seen['waiting'] = [m.decode() for m in connection.zrange('rq:rl:k:rate_limited', 0, -1)]
    if 'scheduled' in expected:
        seen['scheduled'] = sorted(
            m.decode() for q in ('default', 'other') for m in connection.zrange(f'rq:scheduled:{q}', 0, -1)
        )
    if 'runs' in expected:
        seen['runs'] = run_counts(connection)
    return seen


def wait_until_due(connection: redis.Redis) -> None:
    scores = [
        s for q in ('default', 'other') for _, s in connection.zrange(f'rq:scheduled:{q}', 0, -1, withscores=True)
    ]
    assert scores, 'nothing is scheduled'
    assert wait_until(lambda: time.time() >= max(scores) + 0.5, timeout=30, interval=0.05)


@pytest.mark.parametrize('pairing', PAIRINGS)
@pytest.mark.parametrize('scenario', SCENARIOS)
def test_limiter_honoured_while_the_slot_is_held(
    redis_server: RedisServer, connection: redis.Redis, scenario: str, pairing: str
) -> None:
    producer, workers = PAIRINGS[pairing]
    for number, (kind, code, expected) in enumerate(SCENARIOS[scenario]):
        if kind == 'due':
            wait_until_due(connection)
            continue
        assert code is not None
        run_side(producer if kind == 'produce' else workers, code, redis_server.port)
        assert observe(connection, expected) == expected, f'step {number} ({kind})'
    # Every job's outcome as rq-core reads it, and nothing is left of the limiter after a cleanup.
    for job_id in expected['statuses']:
        assert Job.fetch(job_id, connection=connection).get_status() == JobStatus.FINISHED
    assert rate_limit_data(connection) == {'rq:rl-keys': ['k'], 'rq:rl:k': {'concurrency': '1'}}
    RateLimitRegistry('k', connection).cleanup()
    assert rate_limit_data(connection) == {}
