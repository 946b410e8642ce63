"""rq on a real Redis Cluster (three masters on loopback) with ``RQ_KEY_PREFIX={rq}``: producers,
a forking worker with its scheduler, cron and ``rq info`` run without a CROSSSLOT or any other
error, and every key they write is under the ``{rq}`` hash tag (one slot, so one node).

The prefix is read when rq is imported, so rq runs in child processes here. They connect through
redis-py's own ``RedisCluster`` (``--connection-class`` on the command line): rq asks for
``pipeline(transaction=True)`` wherever it means a MULTI/EXEC transaction (a cluster client's
``pipeline()`` is none by default, and refuses WATCH outside one).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster as ClusterClient

from redis_cluster import RedisCluster
from worker_process import wait_until, worker_env

HERE = Path(__file__).resolve().parent
CONNECTION_CLASS = 'redis.cluster.RedisCluster'
REDIS_PY = tuple(int(part) for part in redis.__version__.split('.')[:2])

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        REDIS_PY < (6, 1),
        reason=f'rq on Redis Cluster needs redis-py 6.1+ (installed: {redis.__version__}): rq writes in '
        'MULTI/EXEC transactions (with WATCH), which redis-py supports on a cluster from 6.1 on',
    ),
]

#: Run with RQ_KEY_PREFIX={rq}: plain jobs, a dependent one, one retried, one scheduled a second
#: ahead and a group of two; prints the ids and when the scheduled one is due.
PRODUCE = """
import json, sys
from datetime import timedelta

from redis.cluster import RedisCluster

import cluster_jobs
from rq import Queue, Retry
from rq.group import Group

connection = RedisCluster.from_url(sys.argv[1])
queue = Queue('default', connection=connection)
first = queue.enqueue(cluster_jobs.add, 1, 2, job_id='plain-1')
queue.enqueue(cluster_jobs.add, 3, 4, job_id='plain-2')
queue.enqueue(cluster_jobs.add, 5, 6, depends_on=first, job_id='dependent')
queue.enqueue(cluster_jobs.fail_then_succeed, 'retried', retry=Retry(max=1), job_id='retried')
later = queue.enqueue_in(timedelta(seconds=1), cluster_jobs.add, 7, 8, job_id='later')
group = Group.create(connection=connection, name='batch')
group.enqueue_many(queue, [
    Queue.prepare_data(cluster_jobs.add, (10, 1), job_id='group-1'),
    Queue.prepare_data(cluster_jobs.add, (20, 2), job_id='group-2'),
])
print(json.dumps({'due': queue.scheduled_job_registry.get_scheduled_time(later).timestamp()}))
"""

#: Run with RQ_KEY_PREFIX={rq}: each job's status and return value, and the job ids of the group
#: (None when there is no group).
READ_BACK = """
import json, sys

from redis.cluster import RedisCluster

import cluster_jobs
from rq.exceptions import NoSuchGroupError
from rq.group import Group
from rq.job import Job

connection = RedisCluster.from_url(sys.argv[1])
found = {}
for job_id in sys.argv[2:]:
    job = Job.fetch(job_id, connection=connection)
    found[job_id] = [job.get_status(), job.return_value()]
try:
    group = sorted(job.id for job in Group.fetch('batch', connection=connection).get_jobs())
except NoSuchGroupError:
    group = None
print(json.dumps({'jobs': found, 'group': group}))
"""

#: Run with RQ_KEY_PREFIX={rq}: one job on the queue 'default'.
ENQUEUE_ONE = """
import sys

from redis.cluster import RedisCluster

import cluster_jobs
from rq import Queue

connection = RedisCluster.from_url(sys.argv[1])
Queue('default', connection=connection).enqueue(cluster_jobs.add, 2, 2)
"""

EXPECTED = {
    'plain-1': ['finished', 3],
    'plain-2': ['finished', 7],
    'dependent': ['finished', 11],
    'retried': ['finished', 'retried'],
    'later': ['finished', 15],
    'group-1': ['finished', 11],
    'group-2': ['finished', 22],
}


def cluster_env() -> dict[str, str]:
    env = worker_env(RQ_KEY_PREFIX='{rq}')
    env['PYTHONPATH'] = f'{HERE}:{env["PYTHONPATH"]}'
    return env


def run(command: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to its end (output piped); it must succeed and print no error."""
    completed = subprocess.run(command, env=cluster_env(), capture_output=True, text=True, timeout=timeout, check=False)
    assert_clean(completed.stdout + completed.stderr)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed


def python_c(code: str, *args: str) -> list[str]:
    return [sys.executable, '-c', code, *args]


def rq(cluster: RedisCluster, command: str, *args: str) -> list[str]:
    """``python -m rq.cli <command> --url <a node> --connection-class ...`` (the ``rq`` command)."""
    return [
        sys.executable,
        '-m',
        'rq.cli',
        command,
        '--url',
        cluster.url,
        '--connection-class',
        CONNECTION_CLASS,
        *args,
    ]


def start(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(command, env=cluster_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def terminate(process: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM (a warm shutdown); the exit code and everything the process printed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate(timeout=10)
    return process.returncode, output


#: What a process prints when a Redis command failed (the job failure a test makes on purpose is
#: logged with its traceback, so a traceback alone is no sign).
REDIS_FAILURES = ('CROSSSLOT', 'RedisClusterException', 'ResponseError', 'WatchError', 'stopped by', 'Redis error')


def assert_clean(output: str) -> None:
    assert [failure for failure in REDIS_FAILURES if failure in output] == [], output


def assert_every_key_under_the_hash_tag(cluster: RedisCluster) -> list[str]:
    names = cluster.keys()
    assert names, 'rq wrote nothing'
    assert [name for name in names if not name.startswith('{rq}:')] == []
    return names


def cluster_client(cluster: RedisCluster) -> ClusterClient:
    return ClusterClient.from_url(cluster.url, decode_responses=True)


def test_a_forking_worker_with_its_scheduler_runs_every_kind_of_job(redis_cluster: RedisCluster) -> None:
    produced = json.loads(run(python_c(PRODUCE, redis_cluster.url)).stdout)
    client = cluster_client(redis_cluster)
    try:
        # A burst worker's scheduler moves the jobs due when it starts: wait until 'later' is due.
        assert wait_until(lambda: time.time() >= produced['due'] + 0.1, 10)
        assert client.zcard('{rq}:scheduled:default') == 1
        worker = run([*rq(redis_cluster, 'worker'), '--burst', '--with-scheduler', '-n', 'burst', 'default'])
        assert 'burst complete' in worker.stdout + worker.stderr
        read = json.loads(run(python_c(READ_BACK, redis_cluster.url, *EXPECTED)).stdout)
        assert read['jobs'] == EXPECTED
        assert read['group'] == ['group-1', 'group-2']
        assert client.llen('{rq}:queue:default') == 0
        assert client.zcard('{rq}:failed:default') == 0
    finally:
        client.close()
    names = assert_every_key_under_the_hash_tag(redis_cluster)
    assert '{rq}:job:later' in names and '{rq}:queues' in names


def test_cron_and_a_worker_on_two_queues_and_rq_info(redis_cluster: RedisCluster, tmp_path: Path) -> None:
    config = tmp_path / 'cluster_cron.py'
    config.write_text(
        textwrap.dedent("""
            from rq import cron
            import cluster_jobs

            cron.register(cluster_jobs.tick, 'cron', args=('cluster',), interval=60, name='tick')
        """)
    )
    client = cluster_client(redis_cluster)
    worker = start(rq(redis_cluster, 'worker', '--with-scheduler', '-n', 'cluster-worker', 'default', 'cron'))
    scheduler = start(rq(redis_cluster, 'cron', str(config), '--name', 'cluster-cron'))
    try:
        assert wait_until(lambda: client.sismember('{rq}:workers', '{rq}:worker:cluster-worker'), 30)
        assert wait_until(lambda: client.zcard('{rq}:cron_schedulers') == 1, 30)
        run(python_c(ENQUEUE_ONE, redis_cluster.url))
        assert wait_until(lambda: client.zcard('{rq}:finished:default') == 1, 30)
        # An interval entry runs at once: the scheduler enqueues it, the worker (waiting on both
        # queues) runs it.
        assert wait_until(lambda: client.zcard('{rq}:finished:cron') == 1, 30), client.keys('*')
        [job_id] = client.zrange('{rq}:finished:cron', 0, -1)
        read = json.loads(run(python_c(READ_BACK, redis_cluster.url, job_id)).stdout)
        assert read == {'jobs': {job_id: ['finished', 'tick cluster']}, 'group': None}

        info = run(rq(redis_cluster, 'info'))
        assert 'cron' in info.stdout and 'default' in info.stdout
        assert 'cluster-worker' in info.stdout
        assert '1 workers, 2 queues' in info.stdout
        document = json.loads(run(rq(redis_cluster, 'info', '--json')).stdout)
        assert sorted(queue['name'] for queue in document['queues']) == ['cron', 'default']
        assert [entry['name'] for entry in document['workers']] == ['cluster-worker']
    finally:
        scheduler_code, scheduler_output = terminate(scheduler)
        worker_code, worker_output = terminate(worker)
        client.close()
    assert scheduler_code == 0, scheduler_output
    assert "Enqueued cron job 'tick'" in scheduler_output
    assert worker_code == 0, worker_output
    assert 'warm shutdown complete' in worker_output
    for output in (scheduler_output, worker_output):
        assert_clean(output)
    assert_every_key_under_the_hash_tag(redis_cluster)
