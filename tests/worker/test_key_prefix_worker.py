"""Workers, the scheduler and ``rq info`` under RQ 3.0's ``RQ_KEY_PREFIX``: a fleet started with a
prefix runs its jobs (retried, scheduled, dependent) with every key under that prefix, and two fleets
with different prefixes share one Redis without seeing each other's jobs or workers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import redis

from crash_support import ProcessGuard
from redis_server import RedisServer
from worker_process import stop, wait_until, worker_env

#: Run with RQ_KEY_PREFIX set: a job that succeeds, one that depends on it, one that fails and is
#: retried a second later (through the scheduled registry), one scheduled a second ahead.
ENQUEUE = """
import sys
from datetime import timedelta

import redis

import rqtest_jobs
from rq import Queue, Retry

queue = Queue('default', connection=redis.Redis(port=int(sys.argv[1])))
ok = queue.enqueue(rqtest_jobs.add, 1, 2, job_id='ok')
queue.enqueue(rqtest_jobs.add, 3, depends_on=ok, job_id='dependent')
queue.enqueue(rqtest_jobs.fail, 'again', retry=Retry(max=1, interval=1), job_id='flaky')
queue.enqueue_in(timedelta(seconds=1), rqtest_jobs.say_hello, 'later', job_id='later')
"""

#: Each job's status once the fleet is done with it.
DONE = {'ok': 'finished', 'dependent': 'finished', 'later': 'finished', 'flaky': 'failed'}


def enqueue(prefix: str, port: int) -> None:
    completed = subprocess.run(
        [sys.executable, '-c', ENQUEUE, str(port)],
        env=worker_env(RQ_KEY_PREFIX=prefix),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr


def start_fleet(prefix: str, port: int, name: str, worker_class: str) -> subprocess.Popen[bytes]:
    """A worker that also runs the scheduler, with ``RQ_KEY_PREFIX=prefix``."""
    command = [sys.executable, '-m', 'rq.worker', '--url', f'redis://127.0.0.1:{port}/0']
    command += ['-w', worker_class, '-n', name, '--with-scheduler', 'default']
    env = worker_env(RQ_KEY_PREFIX=prefix)
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def rq_info(prefix: str, port: int) -> dict[str, list[dict[str, object]]]:
    completed = subprocess.run(
        [sys.executable, '-m', 'rq.cli', 'info', '--url', f'redis://127.0.0.1:{port}/0', '--json'],
        env=worker_env(RQ_KEY_PREFIX=prefix),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    document: dict[str, list[dict[str, object]]] = json.loads(completed.stdout)
    return document


def statuses(connection: redis.Redis, prefix: str) -> dict[str, str | None]:
    raw = {job_id: connection.hget(f'{prefix}:job:{job_id}', 'status') for job_id in DONE}
    return {job_id: value.decode() if value else None for job_id, value in raw.items()}


def shut_down(connection: redis.Redis, prefix: str, name: str, worker: subprocess.Popen[bytes]) -> str:
    """Send the shutdown command on the prefixed channel; the worker listens there, nowhere else."""
    channel = f'{prefix}:pubsub:{name}'
    assert wait_until(lambda: dict(connection.pubsub_numsub(channel)).get(channel.encode()) == 1)
    assert connection.publish(f'rq:pubsub:{name}', json.dumps({'command': 'shutdown'})) == 0
    assert connection.publish(channel, json.dumps({'command': 'shutdown'})) == 1
    worker.wait(timeout=60)
    return stop(worker)


def all_keys(connection: redis.Redis) -> list[str]:
    return sorted(key.decode() for key in connection.scan_iter(count=1000))


@pytest.mark.parametrize('worker_class', ['Worker', 'SimpleWorker'])
def test_a_fleet_under_a_prefix(
    worker_class: str, redis_server: RedisServer, connection: redis.Redis, guard: ProcessGuard
) -> None:
    port = redis_server.port
    enqueue('myapp', port)
    worker = start_fleet('myapp', port, 'prefixed', worker_class)
    guard.add(worker)

    assert wait_until(lambda: statuses(connection, 'myapp') == DONE, timeout=60), statuses(connection, 'myapp')
    assert connection.sismember('myapp:workers', 'myapp:worker:prefixed')
    assert connection.sismember('myapp:workers:default', 'myapp:worker:prefixed')
    assert connection.hget('myapp:worker:prefixed', 'queues') == b'default'
    assert wait_until(lambda: connection.get('myapp:scheduler-lock:default') == b'prefixed')
    assert connection.hget('myapp:job:dependent', 'worker_name') == b'prefixed'
    # the failing job was retried once (after its interval: through the scheduled registry), then failed
    assert connection.zrange('myapp:failed:default', 0, -1) == [b'flaky']
    assert connection.hget('myapp:job:flaky', 'retries_left') == b'0'
    assert connection.xlen('myapp:results:flaky') >= 1
    assert connection.xlen('myapp:results:later') == 1
    assert sorted(connection.zrange('myapp:finished:default', 0, -1)) == [b'dependent', b'later', b'ok']

    info = rq_info('myapp', port)
    assert [w['name'] for w in info['workers']] == ['prefixed']
    [queue] = info['queues']
    assert (queue['name'], queue['finished'], queue['failed'], queue['queued']) == ('default', 3, 1, 0)
    unprefixed = rq_info('rq', port)
    assert (unprefixed['queues'], unprefixed['workers']) == ([], [])

    output = shut_down(connection, 'myapp', 'prefixed', worker)
    assert not connection.sismember('myapp:workers', 'myapp:worker:prefixed'), output
    assert connection.hexists('myapp:worker:prefixed', 'death')
    names = all_keys(connection)
    assert [name for name in names if not name.startswith('myapp:')] == [], output
    assert 'myapp:queues' in names and 'myapp:job:ok' in names


def test_two_fleets_on_one_redis_keep_to_their_own_jobs(
    redis_server: RedisServer, connection: redis.Redis, guard: ProcessGuard
) -> None:
    """The same queue name and the same job ids under two prefixes: each fleet runs only its jobs."""
    port = redis_server.port
    enqueue('fleet-a', port)
    enqueue('fleet-b', port)
    fleet_a = start_fleet('fleet-a', port, 'worker-a', 'Worker')
    guard.add(fleet_a)
    assert wait_until(lambda: statuses(connection, 'fleet-a') == DONE, timeout=60), statuses(connection, 'fleet-a')
    # fleet b's jobs are untouched by fleet a's worker and scheduler
    assert statuses(connection, 'fleet-b') == {
        'ok': 'queued',
        'dependent': 'deferred',
        'flaky': 'queued',
        'later': 'scheduled',
    }
    assert connection.llen('fleet-b:queue:default') == 2

    fleet_b = start_fleet('fleet-b', port, 'worker-b', 'SimpleWorker')
    guard.add(fleet_b)
    assert wait_until(lambda: statuses(connection, 'fleet-b') == DONE, timeout=60), statuses(connection, 'fleet-b')
    for prefix, name in (('fleet-a', 'worker-a'), ('fleet-b', 'worker-b')):
        ran_by = {connection.hget(f'{prefix}:job:{job_id}', 'worker_name') for job_id in DONE}
        assert ran_by == {name.encode()}
        info = rq_info(prefix, port)
        assert [w['name'] for w in info['workers']] == [name]
        assert [(q['name'], q['finished'], q['failed']) for q in info['queues']] == [('default', 3, 1)]

    shut_down(connection, 'fleet-a', 'worker-a', fleet_a)
    shut_down(connection, 'fleet-b', 'worker-b', fleet_b)
    assert {name.split(':', 1)[0] for name in all_keys(connection)} == {'fleet-a', 'fleet-b'}


#: Run with RQ_KEY_PREFIX set: the names rq-worker and rq-cron expose as upstream's attributes.
NAMES = """
import json, sys

import redis

from rq import Worker
from rq.cron import CronScheduler
from rq.cron_job_registry import get_registry_key as cron_jobs_key
from rq.cron_scheduler_registry import get_registry_key as cron_schedulers_key
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, SCHEDULER_LOCKING_KEY_TEMPLATE, RQScheduler

connection = redis.Redis(port=int(sys.argv[1]))
worker = Worker(['default'], connection=connection, name='w1')
worker.procline('idle')
cron = CronScheduler(connection, name='c1')
print(json.dumps({
    'worker_prefix': Worker.redis_worker_namespace_prefix,
    'worker_key': worker.key,
    'worker_executions': worker.executions_key,
    'procline': worker.procline_message,
    'scheduler_key': SCHEDULER_KEY_TEMPLATE % 's1',
    'lock_key': SCHEDULER_LOCKING_KEY_TEMPLATE % 'default',
    'locking_key': RQScheduler.get_locking_key('default'),
    'cron_jobs': cron_jobs_key(),
    'cron_schedulers': cron_schedulers_key(),
    'cron_scheduler': cron.key,
}))
"""


def test_worker_scheduler_and_cron_names_follow_the_prefix(redis_server: RedisServer) -> None:
    completed = subprocess.run(
        [sys.executable, '-c', NAMES, str(redis_server.port)],
        env=worker_env(RQ_KEY_PREFIX='{myapp}'),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == {
        'worker_prefix': '{myapp}:worker:',
        'worker_key': '{myapp}:worker:w1',
        'worker_executions': '{myapp}:worker:w1:executions',
        'procline': 'rq:worker:w1: idle',  # a process title, not a key: 'rq:' whatever the prefix (as RQ 3.0)
        'scheduler_key': '{myapp}:scheduler:s1',
        'lock_key': '{myapp}:scheduler-lock:default',
        'locking_key': '{myapp}:scheduler-lock:default',
        'cron_jobs': '{myapp}:cron_jobs',
        'cron_schedulers': '{myapp}:cron_schedulers',
        'cron_scheduler': '{myapp}:cron_scheduler:c1',
    }
