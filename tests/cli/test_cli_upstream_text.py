"""Piped (not a terminal), the ``rq`` command prints what upstream RQ 2.12's prints, byte for byte,
and exits with the same codes: both commands run as real processes on the same Redis data (errors
differ deliberately: ours are one ``Error:`` line on stderr).

Upstream lists queues and workers in Redis's (or a Python set's) order, which is arbitrary; ours are
sorted by name. So the lines of each run of queue lines, worker lines or by-queue lines are compared
as sets, and everything else (summaries, empty lines, their places) line by line; the time of the
``Updated:`` line is compared by its format.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import redis
from cli_helpers import process_env, run_rq

from redis_server import RedisServer
from rq import Queue
from rq.suspension import is_suspended
from rq.utils import current_timestamp
from rq.worker import SimpleWorker
from upstream import upstream_python

pytestmark = pytest.mark.upstream

FUTURE = current_timestamp() + 3600
UPDATED = re.compile(r'^Updated: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$')
SUMMARY = re.compile(r'^(\d+ queues, \d+ jobs total|\d+ workers, \d+ queues)$')


def upstream_rq(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Upstream's ``rq ARGS`` as a real process, its output a pipe."""
    command = [str(Path(upstream_python()).parent / 'rq'), *args]
    environment = {k: v for k, v in process_env(**(env or {})).items() if k not in ('PYTHONPATH', 'PYTHONHOME')}
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)


def populate(connection: redis.Redis) -> None:
    """Three queues (25, 3 and 0 jobs; registries with live entries) and two workers."""
    connection.flushdb()
    for name, queued, registries in (
        ('alpha', 25, {'started': 1, 'finished': 3, 'failed': 4}),
        ('beta', 3, {'finished': 2}),
        ('gamma', 0, {}),
    ):
        queue = Queue(name, connection=connection)
        for number in range(queued):
            queue.enqueue('rqtest_jobs_cli.echo', number, job_id=f'{name}-{number}')
        if not queued:
            queue.enqueue('rqtest_jobs_cli.echo', job_id=f'{name}-gone')
            queue.empty()  # (an empty queue that is known)
        keys = {'started': queue.started_job_registry.key, 'finished': queue.finished_job_registry.key}
        for kind, count in registries.items():
            if kind == 'failed':  # real failed jobs, which requeue can requeue
                for i in range(count):
                    job = queue.enqueue('rqtest_jobs_cli.echo', job_id=f'{name}-failed-{i}')
                    queue.remove(job)
                    job.set_status('failed')
                    connection.zadd(queue.failed_job_registry.key, {job.id: FUTURE})
                continue
            suffix = ':exec' if kind == 'started' else ''
            connection.zadd(keys[kind], {f'{name}-{kind}-{i}{suffix}': FUTURE for i in range(count)})
    for name, queues, state in (('w-idle', ['beta', 'alpha'], 'idle'), ('w-busy', ['alpha'], 'busy')):
        worker = SimpleWorker(queues, connection=connection, name=name)
        worker.register_birth()
        worker.set_state(state)
        connection.hset(worker.key, mapping={'successful_job_count': 3, 'failed_job_count': 1})


def normalized(output: str) -> list[object]:
    """The output's lines, each run of item lines (not a summary, empty or ``Updated:`` line) as a
    sorted tuple; the ``Updated:`` line checked for upstream's format and replaced."""
    result: list[object] = []
    run: list[str] = []
    for line in output.split('\n'):
        if line == '' or SUMMARY.match(line) or line.startswith('Updated: '):
            if run:
                result.append(tuple(sorted(run)))
                run = []
            if line.startswith('Updated: '):
                assert UPDATED.match(line), line
                line = 'Updated: <time>'
            result.append(line)
        else:
            run.append(line)
    if run:
        result.append(tuple(sorted(run)))
    return result


def both(
    connection: redis.Redis, url: str, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """Upstream's run, then ours, each on freshly populated data."""
    populate(connection)
    theirs = upstream_rq(*args, '-u', url, env=env)
    populate(connection)
    ours = run_rq(*args, '-u', url, env=env)
    return theirs, ours


INFO_ARGUMENTS = [
    [],
    ['-Q'],
    ['-W'],
    ['-R'],
    ['-W', '-R'],
    ['-Q', '-W'],
    ['alpha'],
    ['-R', 'alpha', 'beta'],
    ['-W', 'beta'],
    ['-Q', 'no-such-queue'],
    ['-r'],
    ['-r', '-R'],
    ['-r', '-W', 'beta'],
    ['--interval', '0', '-Q'],
]


@pytest.mark.parametrize('arguments', INFO_ARGUMENTS, ids=lambda a: ' '.join(a) or 'all')
def test_piped_info_is_upstreams_text(connection: redis.Redis, redis_server: RedisServer, arguments: list[str]) -> None:
    theirs, ours = both(connection, redis_server.url, 'info', *arguments)
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr) == (0, '')
    assert normalized(ours.stdout) == normalized(theirs.stdout), f'ours:\n{ours.stdout}\nupstream:\n{theirs.stdout}'
    assert '\x1b' not in ours.stdout


def test_piped_info_bars_follow_the_terminal_width(connection: redis.Redis, redis_server: RedisServer) -> None:
    for columns in ('30', '200'):
        theirs, ours = both(connection, redis_server.url, 'info', '-Q', env={'COLUMNS': columns})
        assert normalized(ours.stdout) == normalized(theirs.stdout)
    bars = {line.split()[0]: line.split()[1] for line in ours.stdout.splitlines()[:3]}
    assert bars == {'alpha': '|' + '█' * 10, 'beta': '|█', 'gamma': '|'}  # 25 of a scale of 50 over 20 columns


def test_queue_without_workers_and_an_unknown_queue(connection: redis.Redis, redis_server: RedisServer) -> None:
    theirs, ours = both(connection, redis_server.url, 'info', '-R', 'gamma', 'no-such-queue')
    dash = '\u2013'  # (upstream's en dash for a queue without workers)
    assert ours.stdout.splitlines()[4:7] == [f'gamma:         {dash}', f'no-such-queue: {dash}', '0 workers, 2 queues']
    assert normalized(ours.stdout) == normalized(theirs.stdout)


@pytest.mark.parametrize(
    'arguments',
    [
        ['empty', 'alpha', 'gamma'],
        ['empty', '--all'],
        ['empty'],
        ['requeue', '--queue', 'alpha', 'alpha-failed-0'],
        ['requeue', '--queue', 'alpha', '--all'],
        ['requeue', '--queue', 'beta', '--all'],
        ['suspend'],
        ['suspend', '--duration', '10'],
        ['resume'],
        ['enqueue', 'rqtest_jobs_cli.echo', '--job-id', 'given-id', 'a', ':1', 'k%=[2]'],
        ['enqueue', 'rqtest_jobs_cli.echo', '--quiet'],
        ['enqueue', 'rqtest_jobs_cli.echo', '--job-id', 'later', '--schedule-in', '1h'],
    ],
    ids=lambda a: ' '.join(a),
)
def test_piped_admin_commands_are_upstreams_text(
    connection: redis.Redis, redis_server: RedisServer, arguments: list[str]
) -> None:
    theirs, ours = both(connection, redis_server.url, *arguments)
    assert ours.returncode == theirs.returncode == 0, (ours.stderr, theirs.stderr)
    assert normalized(ours.stdout) == normalized(theirs.stdout), f'ours:\n{ours.stdout}\nupstream:\n{theirs.stdout}'
    assert ours.stderr == ''


@pytest.mark.parametrize(
    ('arguments', 'words'),
    [
        (['info', '-u', 'redis://127.0.0.1:1/0'], 'Connection refused'),  # Redis down
        (['empty', 'alpha', '-u', 'redis://127.0.0.1:1/0'], 'Connection refused'),
        (['info', '-u', 'not-a-url'], 'Redis URL must specify one of the following schemes'),
        (['suspend', '--duration', '0'], 'Duration must be an integer greater than 1'),
        (['worker', '--burst', '--dequeue-strategy', 'fastest'], None),
        (['info', '--queue-class', 'nowhere.Queue'], None),
        (['info', '--worker-class', 'NoSuchWorker'], None),
        (['enqueue', 'rqtest_jobs_cli.echo', '--timeout', 'soon'], None),
        (['enqueue', 'rqtest_jobs_cli.echo', ':not-json'], 'Unable to parse 1. non keyword argument as JSON.'),
        (['enqueue', 'rqtest_jobs_cli.echo', '%(1,'], 'Unable to eval 1. non keyword argument as Python object.'),
        (['enqueue', 'rqtest_jobs_cli.echo', 'k=1', 'k=2'], "You can't specify multiple values for the same keyword."),
        (['enqueue', 'rqtest_jobs_cli.echo', '@no-such-file'], "Could not open file 'no-such-file': Not found"),
        (
            ['enqueue', 'rqtest_jobs_cli.echo', '--schedule-in', '1m', '--schedule-at', '2030-01-01T00:00:00'],
            "You can't specify both --schedule-in and --schedule-at",
        ),
        (['enqueue'], "Missing argument 'FUNCTION'."),
        (['info', '--no-such-option'], "No such option '--no-such-option'."),
        (['no-such-command'], "No such command 'no-such-command'."),
        (['requeue', '--all'], "Missing option '--queue'"),
        (['suspend', '--duration', 'long'], "Invalid value for '--duration': 'long' is not a valid integer."),
    ],
    ids=lambda a: ' '.join(a) if isinstance(a, list) else '',
)
def test_exit_codes_are_upstreams(
    connection: redis.Redis, redis_server: RedisServer, arguments: list[str], words: str | None
) -> None:
    """The same exit code; ours says it in one ``Error:`` line on stderr, with upstream's words when
    upstream has some for it (not a traceback)."""
    if '-u' not in arguments and arguments[0] != 'no-such-command':
        arguments = [*arguments, '-u', redis_server.url]
    populate(connection)
    theirs = upstream_rq(*arguments)
    populate(connection)
    ours = run_rq(*arguments)
    assert ours.returncode == theirs.returncode != 0, (ours.stderr, theirs.stdout, theirs.stderr[-300:])
    errors = [line for line in ours.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith('Error: '), ours.stderr
    if words is not None:
        assert words in theirs.stdout + theirs.stderr
        assert words in errors[0]


def test_a_suspended_worker_says_so_on_stdout_and_leaves(connection: redis.Redis, redis_server: RedisServer) -> None:
    populate(connection)
    connection.set('rq:suspended', 1)
    theirs = upstream_rq('worker', '--burst', '-u', redis_server.url)
    ours = run_rq('worker', '--burst', '-u', redis_server.url)
    assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr)
    assert ours.stdout == 'RQ is currently suspended, to resume job execution run "rq resume"\n'
    assert is_suspended(connection)
