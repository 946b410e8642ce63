"""``rq info``: tables (on a terminal), upstream's raw lines, JSON, filters, and counting without scanning
(upstream's text, which a pipe gets, is compared with upstream's own in test_cli_upstream_text.py)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import redis
from cli_helpers import assert_one_line_error, invoke, process_env

import rqtest_jobs_cli
from rq import Queue, RateLimit
from rq.utils import current_timestamp
from rq.worker import SimpleWorker

FUTURE = current_timestamp() + 3600


def fill(connection: redis.Redis, name: str, queued: int, **registries: int) -> Queue:
    """A queue with ``queued`` ids and, per registry kind, that many live (unexpired) entries."""
    queue = Queue(name, connection=connection)
    for number in range(queued):
        queue.enqueue('rqtest_jobs_cli.echo', number)
    keys = {
        'started': queue.started_job_registry.key,
        'finished': queue.finished_job_registry.key,
        'failed': queue.failed_job_registry.key,
        'deferred': queue.deferred_job_registry.key,
        'scheduled': queue.scheduled_job_registry.key,
        'canceled': queue.canceled_job_registry.key,
    }
    for kind, count in registries.items():
        members = {f'{name}-{kind}-{i}' + (':exec' if kind == 'started' else ''): FUTURE for i in range(count)}
        connection.zadd(keys[kind], members)  # type: ignore[arg-type]
    return queue


def start_worker(connection: redis.Redis, name: str, queues: list[str], state: str = 'idle') -> SimpleWorker:
    worker = SimpleWorker(queues, connection=connection, name=name)
    worker.register_birth()
    worker.set_state(state)
    if state == 'busy':
        worker.set_current_job_id('job-in-progress')
    connection.hset(worker.key, mapping={'successful_job_count': 3, 'failed_job_count': 1})
    return worker


def row(output: str, first_cell: str) -> list[str]:
    """The cells of the table row that starts with ``first_cell``."""
    for line in output.splitlines():
        cells = line.split()
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f'no row {first_cell!r} in:\n{output}')


@pytest.fixture
def populated(connection: redis.Redis) -> redis.Redis:
    fill(connection, 'alpha', 2, started=1, finished=3, failed=4, deferred=5, scheduled=6, canceled=7)
    fill(connection, 'beta', 1, finished=2)
    start_worker(connection, 'w-busy', ['alpha'], state='busy')
    start_worker(connection, 'w-idle', ['beta', 'alpha'])
    return connection


def test_tables(url: str, populated: redis.Redis) -> None:
    result = invoke('info', '-u', url, env={'COLUMNS': '160'}, tables=True)
    assert result.exit_code == 0, result.output
    output = result.stdout
    assert 'Queues (2)' in output and 'Workers (2)' in output
    assert row(output, 'alpha') == ['alpha', '2', '1', '3', '4', '5', '6', '2']
    assert row(output, 'beta') == ['beta', '1', '0', '2', '0', '0', '0', '1']
    assert row(output, 'total') == ['total', '3', '1', '5', '4', '5', '6', '2']
    busy = row(output, 'w-busy')
    assert busy[1:4] == ['busy', 'job-in-progress', 'alpha']
    assert busy[4:6] == ['3', '1']
    assert row(output, 'w-idle')[1:5] == ['idle', '-', 'beta,', 'alpha']
    assert 'Updated:' in output


def test_raw_lines_match_upstream_format(url: str, populated: redis.Redis) -> None:
    result = invoke('info', '-u', url, '--raw')
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        'queue alpha 2, 1 executing, 3 finished, 4 failed',
        'queue beta 1, 0 executing, 2 finished, 0 failed',
    ]
    assert lines[2].startswith('worker w-busy (') and lines[2].endswith(') busy alpha. jobs: 3 finished, 1 failed')
    assert lines[3].startswith('worker w-idle (') and lines[3].endswith(
        ') idle beta, alpha. jobs: 3 finished, 1 failed'
    )
    assert len(lines) == 4


def test_raw_by_queue(url: str, populated: redis.Redis) -> None:
    result = invoke('info', '-u', url, '--raw', '--by-queue', '--only-workers')
    assert result.stdout.splitlines() == ['alpha: w-busy (busy), w-idle (idle)', 'beta:  w-idle (idle)']


def test_json(url: str, populated: redis.Redis) -> None:
    result = invoke('info', '-u', url, '--json')
    document = json.loads(result.stdout)
    assert document['queues'][0] == {
        'name': 'alpha',
        'queued': 2,
        'started': 1,
        'finished': 3,
        'failed': 4,
        'deferred': 5,
        'scheduled': 6,
        'canceled': 7,
        'ready': 0,
    }
    assert document['rate_limits'] == []
    workers = {w['name']: w for w in document['workers']}
    assert workers['w-busy']['state'] == 'busy' and workers['w-busy']['current_job'] == 'job-in-progress'
    assert workers['w-idle']['queues'] == ['beta', 'alpha']
    assert workers['w-idle']['successful_job_count'] == 3
    assert 0 <= workers['w-idle']['uptime_seconds'] < 60


def test_named_queues_and_only_flags(url: str, populated: redis.Redis) -> None:
    beta = json.loads(invoke('info', '-u', url, '--json', 'beta').stdout)
    assert [q['name'] for q in beta['queues']] == ['beta']
    assert [w['name'] for w in beta['workers']] == ['w-idle']
    only_queues = json.loads(invoke('info', '-u', url, '--json', '-Q').stdout)
    assert 'workers' not in only_queues and len(only_queues['queues']) == 2
    only_workers = json.loads(invoke('info', '-u', url, '--json', '-W').stdout)
    assert 'queues' not in only_workers and len(only_workers['workers']) == 2
    table = invoke('info', '-u', url, '-R', '-W', env={'COLUMNS': '160'}, tables=True).stdout
    assert 'Workers by queue' in table
    assert row(table, 'alpha')[1:] == ['w-busy', '(busy),', 'w-idle', '(idle)']


def test_no_queues_no_workers(url: str) -> None:
    result = invoke('info', '-u', url, tables=True)
    assert result.exit_code == 0
    assert 'Queues (0)' in result.stdout and 'No workers' in result.stdout
    plain = invoke('info', '-u', url).stdout.splitlines()
    assert plain[:4] == ['0 queues, 0 jobs total', '', '0 workers, 0 queues', ''] and len(plain) == 5
    assert json.loads(invoke('info', '-u', url, '--json').stdout)['queues'] == []


def test_expired_entries_are_not_counted_and_clean_drops_them(url: str, connection: redis.Redis) -> None:
    queue = fill(connection, 'gamma', 1, finished=2, failed=1)
    connection.zadd(queue.finished_job_registry.key, {'old-1': 1, 'old-2': current_timestamp() - 5})
    connection.zadd(queue.failed_job_registry.key, {'forever': -1, 'old-3': 10})  # -1: failure_ttl=-1
    counts = json.loads(invoke('info', '-u', url, '--json', '-Q').stdout)['queues'][0]
    assert (counts['finished'], counts['failed']) == (2, 2)
    assert connection.zcard(queue.finished_job_registry.key) == 4  # counting changed nothing
    invoke('info', '-u', url, '--clean', '--raw')
    assert connection.zcard(queue.finished_job_registry.key) == 2
    assert connection.zcard(queue.failed_job_registry.key) == 2


def commandstats(connection: redis.Redis) -> dict[str, int]:
    stats: dict[str, Any] = connection.info('commandstats')
    return {name.removeprefix('cmdstat_'): int(value['calls']) for name, value in stats.items()}


def info_commands(url: str, connection: redis.Redis) -> dict[str, int]:
    connection.config_resetstat()
    assert invoke('info', '-u', url, '--raw').exit_code == 0
    calls = commandstats(connection)
    calls.pop('config|resetstat', None)
    calls.pop('config', None)
    calls.pop('info', None)
    return calls


def test_info_counts_instead_of_scanning(url: str, connection: redis.Redis) -> None:
    """The same commands whether registries hold 10 or 20,000 entries, and none that reads members."""
    for name in ('q1', 'q2'):
        fill(connection, name, 1, finished=5, failed=5)
    small = info_commands(url, connection)
    for name in ('q1', 'q2'):
        queue = Queue(name, connection=connection)
        connection.rpush(queue.key, *[f'id-{i}' for i in range(5000)])
        for registry in (queue.finished_job_registry, queue.failed_job_registry):
            connection.zadd(registry.key, {f'{name}-{i}': FUTURE for i in range(2500)})
    large = info_commands(url, connection)
    assert large == small
    # per queue: its list, 3 expiring registries (ZCARD + ZCOUNT), 3 lasting ones, RQ 3.0's ready registry;
    # the sets of queues, of workers and of RQ 3.0's rate-limit keys in use (none here)
    assert large['llen'] == 2 and large['zcard'] == 14 and large['zcount'] == 6 and large['smembers'] == 3
    reading = {'lrange', 'zrange', 'zrangebyscore', 'zscan', 'scan', 'keys', 'hgetall', 'zremrangebyscore', 'sscan'}
    assert reading.isdisjoint(large), large
    assert sum(large.values()) < 30, large


def test_interval_without_a_terminal_prints_successive_frames(url: str, connection: redis.Redis) -> None:
    fill(connection, 'delta', 1)
    started = time.monotonic()
    frames = invoke('info', '-u', url, '--json', '--interval', '0.05', '--count', '3').stdout.splitlines()
    assert len(frames) == 3 and time.monotonic() - started >= 0.1
    assert all(json.loads(frame)['queues'][0]['queued'] == 1 for frame in frames)
    text = invoke('info', '-u', url, '-Q', '--interval', '0.05', '--count', '2').stdout
    assert text.splitlines().count('1 queues, 1 jobs total') == 2 and '\x1b' not in text


@pytest.mark.parametrize(
    ('arguments', 'fragment'),
    [
        (['--raw', '--json'], '--raw and --json'),
        (['--plain', '--json'], '--plain and --json'),
        (['--interval', '-1'], "Invalid value for '--interval'"),
    ],
)
def test_conflicting_options(url: str, arguments: list[str], fragment: str) -> None:
    result = invoke('info', '-u', url, *arguments)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, fragment)


def test_custom_worker_class_lists_workers_through_its_all(url: str, populated: redis.Redis) -> None:
    default = json.loads(invoke('info', '-u', url, '--json', '-W').stdout)['workers']
    custom = json.loads(invoke('info', '-u', url, '--json', '-W', '-w', 'rqtest_jobs_cli.CliWorker').stdout)['workers']
    fields = ('name', 'state', 'current_job', 'queues', 'successful_job_count', 'failed_job_count', 'pid', 'birth')
    assert [{f: w[f] for f in fields} for w in custom] == [{f: w[f] for f in fields} for w in default]
    assert [w['name'] for w in custom] == ['w-busy', 'w-idle']


def test_ctrl_c_ends_a_piped_interval_with_a_newline_and_code_0(url: str, connection: redis.Redis) -> None:
    """As upstream's: the frames so far, then an empty line."""
    fill(connection, 'delta', 1)
    process = subprocess.Popen(
        [sys.executable, '-m', 'rq.cli', 'info', '-Q', '-i', '0.2', '-u', url],
        stdout=subprocess.PIPE,
        text=True,
        env=process_env(),
    )
    assert process.stdout is not None
    first = [process.stdout.readline(), process.stdout.readline()]
    assert first[0].startswith('delta ') and first[1] == '1 queues, 1 jobs total\n'  # a whole frame
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert (''.join(first) + rest).endswith('\n\n')


def test_counting_takes_any_serializer_as_upstream_does(url: str, connection: redis.Redis) -> None:
    """Counting reads no job, and upstream's ``rq info`` never resolves ``--serializer``; the clean-up
    (``--clean``), which reads jobs, needs a working one."""
    fill(connection, 'delta', 1)
    for arguments in (['-Q'], ['-Q', 'delta'], ['--json']):
        result = invoke('info', '-u', url, '-S', 'nowhere.Serializer', *arguments)
        assert result.exit_code == 0 and 'delta' in result.stdout, result.output
    cleaning = invoke('info', '-u', url, '-S', 'nowhere.Serializer', '--clean')
    assert cleaning.exit_code == 1
    assert_one_line_error(cleaning.stderr, '--serializer')


# -- RQ 3.0's ready jobs and rate limits (lines only when there are some) ---------------------------


@pytest.fixture
def with_rq3_state(populated: redis.Redis) -> redis.Redis:
    """``alpha`` has 2 jobs left in its ready registry (as an rq 3.0 process that stopped between its
    move and its drain leaves them); ``beta`` has 3 jobs sharing ``RateLimit('reports', 1)``."""
    now = current_timestamp()
    populated.zadd('rq:ready:alpha', {'ready-1': now, 'ready-2': now})
    beta = Queue('beta', connection=populated)
    for number in range(3):
        beta.enqueue(rqtest_jobs_cli.echo, number, rate_limit=RateLimit('reports', 1))
    return populated


def test_plain_text_adds_ready_and_rate_limit_lines_after_upstreams(url: str, with_rq3_state: redis.Redis) -> None:
    lines = invoke('info', '-u', url, '-Q').stdout.splitlines()
    assert [line.split()[0] for line in lines[:2]] == ['alpha', 'beta']
    assert lines[0].endswith(' 2, 1 executing, 3 finished, 4 failed')
    assert lines[1].endswith(' 2, 0 executing, 2 finished, 0 failed')  # 1 + the rate-limited job holding the slot
    assert lines[2:] == [
        '2 queues, 4 jobs total',
        'alpha: 2 ready to enqueue',
        'rate limit reports: concurrency 1, 1 holding a slot, 2 waiting',
    ]
    with_workers = invoke('info', '-u', url).stdout.splitlines()
    assert with_workers[2:5] == lines[2:] and with_workers[5] == ''
    assert 'rate limit' not in invoke('info', '-u', url, '-W').stdout


def test_raw_adds_ready_and_rate_limit_lines(url: str, with_rq3_state: redis.Redis) -> None:
    lines = invoke('info', '-u', url, '--raw', '-Q').stdout.splitlines()
    assert lines == [
        'queue alpha 2, 1 executing, 3 finished, 4 failed',
        'queue beta 2, 0 executing, 2 finished, 0 failed',
        'ready alpha 2',
        'rate_limit reports concurrency 1, 1 holding a slot, 2 waiting',
    ]


def test_json_and_tables_show_ready_jobs_and_rate_limits(url: str, with_rq3_state: redis.Redis) -> None:
    document = json.loads(invoke('info', '-u', url, '--json').stdout)
    assert [(q['name'], q['ready']) for q in document['queues']] == [('alpha', 2), ('beta', 0)]
    assert document['rate_limits'] == [{'key': 'reports', 'concurrency': 1, 'holding': 1, 'waiting': 2}]

    output = invoke('info', '-u', url, env={'COLUMNS': '160'}, tables=True).stdout
    header = next(line for line in output.splitlines() if 'Queue' in line and 'Queued' in line)
    assert header.split()[-2:] == ['Ready', 'Workers']
    assert row(output, 'alpha') == ['alpha', '2', '1', '3', '4', '5', '6', '2', '2']
    assert row(output, 'beta') == ['beta', '2', '0', '2', '0', '0', '0', '0', '1']
    assert 'Rate limits (1)' in output
    assert row(output, 'reports') == ['reports', '1', '1', '2']


def test_without_ready_jobs_or_rate_limits_nothing_is_added(url: str, populated: redis.Redis) -> None:
    plain = invoke('info', '-u', url, '-Q').stdout.splitlines()
    assert plain[-1] == '2 queues, 3 jobs total' and len(plain) == 3
    assert len(invoke('info', '-u', url, '--raw', '-Q').stdout.splitlines()) == 2
    tables = invoke('info', '-u', url, env={'COLUMNS': '160'}, tables=True).stdout
    assert 'Ready' not in tables and 'Rate limits' not in tables
