"""RQ 3.0's ``RQ_KEY_PREFIX``: every key and channel rq-core writes starts with the prefix read from
the environment when rq is imported, an invalid prefix stops the import, and nothing in the
packages' sources spells ``rq:`` itself (only ``rq._redis.keys`` names keys)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from redis_server import RedisServer
from rq._redis import keys
from worker_process import worker_env

PACKAGES = Path(__file__).resolve().parents[2] / 'packages'

#: Run with RQ_KEY_PREFIX set: writes every kind of key rq-core knows, prints the names rq reports.
WRITE_EVERYTHING = """
import json, sys
from datetime import datetime, timedelta, timezone

import redis

import rqtest_jobs
from rq import Queue, Retry
from rq.command import PUBSUB_CHANNEL_TEMPLATE, send_shutdown_command
from rq.defaults import FORMAT_KEY_PREFIX, RQ_KEY_PREFIX
from rq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE, ExecutionRegistry
from rq.group import Group
from rq.job import Job
from rq.registry import FailedJobRegistry, StartedJobRegistry
from rq.results import Result
from rq.suspension import WORKERS_SUSPENDED, is_suspended, suspend
from rq.worker_registration import REDIS_WORKER_KEYS, WORKERS_BY_QUEUE_KEY

connection = redis.Redis(port=int(sys.argv[1]))
queue = Queue('default', connection=connection)
parent = queue.enqueue(rqtest_jobs.add, 1, 2, job_id='parent')
child = queue.enqueue(rqtest_jobs.add, 3, depends_on=parent, job_id='child')
later = queue.enqueue_at(datetime.now(timezone.utc) + timedelta(hours=1), rqtest_jobs.say_hello, job_id='later')
retried = queue.enqueue(rqtest_jobs.add, 4, retry=Retry(max=2), job_id='retried')
group = Group.create(connection=connection, name='batch')
group.enqueue_many(queue, [Queue.prepare_data(rqtest_jobs.add, (5,), job_id='in-group')])
canceled = queue.enqueue(rqtest_jobs.add, 6, job_id='canceled')
canceled.cancel()

sync = Queue('sync', connection=connection, is_async=False)
done = sync.enqueue(rqtest_jobs.add, 1, 1, job_id='done')
dependent = sync.enqueue(rqtest_jobs.add, 7, depends_on=done, job_id='dependent')
failed = sync.enqueue(rqtest_jobs.div_by_zero, job_id='failed')
suspend(connection)

pubsub = connection.pubsub()
pubsub.subscribe(RQ_KEY_PREFIX + ':pubsub:w1')
pubsub.get_message(timeout=5)
receivers = send_shutdown_command(connection, 'w1')
message = pubsub.get_message(timeout=5)

print(json.dumps({
    'prefix': RQ_KEY_PREFIX,
    'format_prefix': FORMAT_KEY_PREFIX,
    'queue_prefix': Queue.redis_queue_namespace_prefix,
    'queues_key': Queue.redis_queues_keys,
    'job_prefix': Job.redis_job_namespace_prefix,
    'job_key': parent.key.decode() if isinstance(parent.key, bytes) else parent.key,
    'started_template': StartedJobRegistry.key_template,
    'started_key': queue.started_job_registry.key,
    'failed_key': FailedJobRegistry('sync', connection=connection).key,
    'executions_key': ExecutionRegistry('done', connection=connection).key,
    'worker_executions': WORKER_EXECUTIONS_KEY_TEMPLATE.format('w1'),
    'workers': REDIS_WORKER_KEYS,
    'workers_by_queue': WORKERS_BY_QUEUE_KEY % 'default',
    'suspended_key': WORKERS_SUSPENDED,
    'suspended': is_suspended(connection),
    'channel_template': PUBSUB_CHANNEL_TEMPLATE,
    'channel': message['channel'].decode() if message else None,
    'receivers': receivers,
    'result_key': Result.get_key('done'),
    'results': done.latest_result().return_value,
    'dependent': [child.get_status(), dependent.get_status(), dependent.return_value()],
    'failed': failed.get_status(),
    'queues': sorted(q.name for q in Queue.all(connection=connection)),
    'group': sorted(group.get_job_ids()),
    'groups': [g.name for g in Group.all(connection=connection)],
    'scheduled': queue.scheduled_job_registry.get_job_ids(),
    'deferred': queue.deferred_job_registry.get_job_ids(),
    'canceled': queue.canceled_job_registry.get_job_ids(),
    'queued': queue.get_job_ids(),
}))
"""


def run_with_prefix(prefix: str, port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, '-c', WRITE_EVERYTHING, str(port)],
        env=worker_env(RQ_KEY_PREFIX=prefix),
        capture_output=True,
        text=True,
        timeout=120,
    )


def all_keys(connection: redis.Redis) -> list[str]:
    return sorted(key.decode() for key in connection.scan_iter(count=1000))


@pytest.mark.parametrize('prefix', ['myapp', '{rq}'])
def test_every_key_and_channel_follows_the_prefix(
    prefix: str, redis_server: RedisServer, connection: redis.Redis
) -> None:
    completed = run_with_prefix(prefix, redis_server.port)
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout.strip().splitlines()[-1])

    format_prefix = prefix.replace('{', '{{').replace('}', '}}')
    assert seen['prefix'] == prefix and seen['format_prefix'] == format_prefix
    assert seen['queue_prefix'] == f'{prefix}:queue:'
    assert seen['queues_key'] == f'{prefix}:queues'
    assert seen['job_prefix'] == f'{prefix}:job:'
    assert seen['job_key'] == f'{prefix}:job:parent'
    assert seen['started_template'] == f'{format_prefix}:wip:{{0}}'
    assert seen['started_key'] == f'{prefix}:wip:default'
    assert seen['failed_key'] == f'{prefix}:failed:sync'
    assert seen['executions_key'] == f'{prefix}:executions:done'
    assert seen['worker_executions'] == f'{prefix}:worker:w1:executions'
    assert seen['workers'] == f'{prefix}:workers'
    assert seen['workers_by_queue'] == f'{prefix}:workers:default'
    assert seen['suspended_key'] == f'{prefix}:suspended' and seen['suspended'] is True
    assert seen['channel_template'] == f'{prefix}:pubsub:%s'
    assert seen['channel'] == f'{prefix}:pubsub:w1' and seen['receivers'] == 1
    assert seen['result_key'] == f'{prefix}:results:done'

    # the jobs behaved as they do under the default prefix
    assert seen['results'] == 2
    assert seen['dependent'] == ['deferred', 'finished', 8]
    assert seen['failed'] == 'failed'
    assert seen['queues'] == ['default', 'sync']
    assert seen['group'] == ['in-group'] and seen['groups'] == ['batch']
    assert seen['scheduled'] == ['later'] and seen['deferred'] == ['child'] and seen['canceled'] == ['canceled']
    assert seen['queued'] == ['parent', 'retried', 'in-group']

    names = all_keys(connection)
    assert [name for name in names if not name.startswith(prefix + ':')] == []
    assert [name for name in names if name.startswith('rq:')] == []
    for expected in (
        'queues',
        'queue:default',
        'job:parent',
        'job:parent:dependents',
        'job::child:dependencies',
        'deferred:default',
        'scheduled:default',
        'canceled:default',
        'finished:sync',
        'failed:sync',
        'results:done',
        'group:batch',
        'groups',
        'suspended',
    ):
        assert f'{prefix}:{expected}' in names, expected


def test_two_prefixes_share_one_redis_without_seeing_each_other(
    redis_server: RedisServer, connection: redis.Redis
) -> None:
    for prefix in ('app-one', 'app.two'):
        completed = run_with_prefix(prefix, redis_server.port)
        assert completed.returncode == 0, completed.stderr
        # each run found only its own queues, groups and registries
        seen = json.loads(completed.stdout.strip().splitlines()[-1])
        assert seen['queues'] == ['default', 'sync'] and seen['groups'] == ['batch']
        assert seen['queued'] == ['parent', 'retried', 'in-group']
    names = all_keys(connection)
    assert {name.split(':', 1)[0] for name in names} == {'app-one', 'app.two'}


@pytest.mark.parametrize('prefix', ['my app', 'rq*', '', 'a%s', 'ключ'])
def test_an_invalid_prefix_stops_the_import(prefix: str) -> None:
    completed = subprocess.run(
        [sys.executable, '-c', 'import rq'],
        env=worker_env(RQ_KEY_PREFIX=prefix),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1
    last_line = completed.stderr.strip().splitlines()[-1]
    assert last_line == (
        f'ValueError: Invalid RQ_KEY_PREFIX {prefix!r}: only letters, digits, and _ . : - {{ }} are allowed'
    )


def test_the_default_prefix_is_rq() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            '-c',
            'from rq.defaults import RQ_KEY_PREFIX, FORMAT_KEY_PREFIX as F; print(RQ_KEY_PREFIX, F)',
        ],
        env={k: v for k, v in worker_env().items() if k != 'RQ_KEY_PREFIX'},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ['rq', 'rq']


#: A string that starts with ``rq:`` (``'rq:…``, ``f"rq:…``, ``b'rq:…``), not a docstring's opening ``"""rq:``.
RQ_LITERAL = re.compile(r"""(?<!["'])['"]rq:""")

#: The one ``rq:`` that is not a key: the worker's process title, as upstream's (3.0 keeps it too).
NOT_A_KEY = 'rq-worker/src/rq/worker/upstream_api.py'


def stray_literals(path: Path) -> list[str]:
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if path.suffix == '.lua':
            stray = 'rq:' in line.split('--', 1)[0]
        else:
            stray = not line.lstrip().startswith('#') and RQ_LITERAL.search(line) is not None
        if stray:
            found.append(f'{path.relative_to(PACKAGES)}:{number}: {line.strip()}')
    return found


def test_no_source_spells_a_key_prefix_but_the_keys_module() -> None:
    """Key names come from ``rq._redis.keys``: a literal ``rq:`` elsewhere (Python or Lua) would
    ignore ``RQ_KEY_PREFIX``. Comments and docstrings describing the default names are fine."""
    keys_module = PACKAGES / 'rq-core' / 'src' / 'rq' / '_redis' / 'keys.py'
    sources = sorted(PACKAGES.glob('*/src/rq/**/*.py')) + sorted(PACKAGES.glob('*/src/rq/**/*.lua'))
    assert len(sources) > 100
    found = [line for path in sources if path != keys_module for line in stray_literals(path)]
    assert [line for line in found if not line.startswith(NOT_A_KEY + ':')] == []
    assert len(found) == 1  # the process title (test_key_prefix_worker.py checks it stays 'rq:worker:<name>: …')


def test_keys_module_uses_the_prefix_it_read() -> None:
    """The suite runs with the default prefix: the module's names are RQ 2.x's, byte for byte."""
    assert keys.KEY_PREFIX == 'rq' and keys.PREFIX == 'rq:'
    assert keys.dependencies_key('x') == 'rq:job::x:dependencies'
    assert keys.registry_key('started', 'q') == 'rq:wip:q'
    assert keys.format_escaped('{rq}:wip:') == '{{rq}}:wip:'
