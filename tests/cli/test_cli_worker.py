"""``rq worker`` and ``rq worker-pool`` as real processes."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
import redis
from cli_helpers import assert_one_line_error, invoke, process_env, run_rq, strip_styles
from cli_terminal import TerminalProcess

from rq import Queue
from rq.cli._cmd_worker import worker, worker_pool
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer
from rq.suspension import suspend
from rq.worker import SimpleWorker
from rq.worker.__main__ import build_parser


def test_config_module_gives_connection_queues_name_and_logging(
    url: str, connection: redis.Redis, tmp_path: Path
) -> None:
    log_file = tmp_path / 'worker.log'
    dict_config = {
        'version': 1,
        'disable_existing_loggers': False,
        'handlers': {'file': {'class': 'logging.FileHandler', 'filename': str(log_file)}},
        'loggers': {'rq': {'handlers': ['file'], 'level': 'INFO'}},
    }
    (tmp_path / 'cli_worker_settings.py').write_text(
        f"REDIS_URL = {url!r}\nQUEUES = ['high', 'low']\nNAME = 'configured-worker'\nDICT_CONFIG = {dict_config!r}\n"
    )
    jobs = [Queue(name, connection=connection).enqueue('rqtest_jobs_cli.say_hello', name) for name in ('low', 'high')]
    completed = run_rq('worker', '--burst', '-c', 'cli_worker_settings', '-P', str(tmp_path))
    assert completed.returncode == 0, completed.stderr
    for job in jobs:
        assert job.get_status() == JobStatus.FINISHED
        assert Job.fetch(job.id, connection).worker_name == 'configured-worker'
    assert '*** Listening on high, low' in log_file.read_text()


def test_worker_options_reach_the_worker(url: str, connection: redis.Redis, tmp_path: Path) -> None:
    queue = Queue('opts', connection=connection, serializer=JSONSerializer)
    ok = queue.enqueue('rqtest_jobs_cli.echo', 'x')
    bad = queue.enqueue('rqtest_jobs_cli.fail')
    pid_file = tmp_path / 'worker.pid'
    completed = run_rq(
        'worker', 'opts', '--burst', '-u', url, '-q',
        '-w', 'rqtest_jobs_cli.CliWorker',
        '--queue-class', 'rqtest_jobs_cli.CliQueue',
        '--job-class', 'rqtest_jobs_cli.CliJob',
        '-S', 'json',
        '--name', 'opts-worker',
        '--results-ttl', '77',
        '--exception-handler', 'rqtest_jobs_cli.record_failure',
        '--pid', str(pid_file),
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert 'Listening on' not in completed.stderr  # -q: warnings and errors only ...
    assert 'ValueError: boom' in completed.stderr  # ... such as the failed job's
    assert [i.decode() for i in connection.lrange('cli-worker-ran', 0, -1)] == [ok.id, bad.id]
    assert [i.decode() for i in connection.lrange('cli-handled', 0, -1)] == [bad.id]
    assert ok.get_status() == JobStatus.FINISHED and bad.get_status() == JobStatus.FAILED
    assert 60 < connection.ttl(ok.key) <= 77
    assert Job.fetch(ok.id, connection, serializer=JSONSerializer).worker_name == 'opts-worker'
    assert int(pid_file.read_text()) > 0


def test_max_jobs_and_deprecated_worker_class(url: str, connection: redis.Redis) -> None:
    queue = Queue(connection=connection)
    for number in range(2):
        queue.enqueue('rqtest_jobs_cli.echo', number)
    completed = run_rq('worker', '--burst', '--max-jobs', '1', '-w', 'RoundRobinWorker', '-u', url)
    assert completed.returncode == 0, completed.stderr
    assert 'RoundRobinWorker is deprecated; use --dequeue-strategy round_robin' in completed.stderr
    assert queue.count == 1


def test_worker_refuses_to_start_while_suspended(url: str, connection: redis.Redis) -> None:
    suspend(connection)
    Queue(connection=connection).enqueue('rqtest_jobs_cli.echo')
    completed = run_rq('worker', '--burst', '-u', url)
    assert completed.returncode == 1
    # piped: upstream's line on stdout (its test suite compares the whole output)
    assert (completed.stdout, completed.stderr) == (
        'RQ is currently suspended, to resume job execution run "rq resume"\n',
        '',
    )
    terminal = TerminalProcess('worker', '--burst', '-u', url)
    assert terminal.finish() == 1
    assert 'Error: RQ is currently suspended' in strip_styles(terminal.text())
    assert Queue(connection=connection).count == 1


def test_a_live_worker_name_is_refused(url: str, connection: redis.Redis) -> None:
    twin = SimpleWorker(['default'], connection=connection, name='twin')
    twin.register_birth()
    completed = run_rq('worker', '--burst', '--name', 'twin', '-u', url)
    assert completed.returncode == 1
    assert completed.stderr.splitlines()[-1].startswith('Error: ')
    assert "'twin'" in completed.stderr.splitlines()[-1]
    assert 'Traceback' not in completed.stderr


def test_worker_option_errors_are_one_line(url: str) -> None:
    cases = [
        (['-v', '-q'], '--verbose and --quiet'),
        (['--dequeue-strategy', 'fastest'], '--dequeue-strategy'),
        (['--exception-handler', 'nowhere.handler'], '--exception-handler'),
        (['--logging_level', 'LOUD'], 'unknown logging level'),
        (['-w', 'rqtest_jobs_cli.CliQueue'], 'is not a subclass of'),
    ]
    for arguments, fragment in cases:
        result = invoke('worker', '--burst', '-u', url, *arguments)
        assert result.exit_code == 1, (arguments, result.output)  # (upstream's)
        assert_one_line_error(result.stderr, fragment)


def test_worker_pool(url: str, connection: redis.Redis) -> None:
    queue = Queue('pooled', connection=connection)
    jobs = [queue.enqueue('rqtest_jobs_cli.echo', number) for number in range(4)]
    completed = run_rq('worker-pool', 'pooled', '--burst', '-n', '2', '-u', url, '-w', 'SimpleWorker')
    assert completed.returncode == 0, completed.stderr
    assert all(job.get_status() == JobStatus.FINISHED for job in jobs)
    assert len({Job.fetch(job.id, connection).worker_name for job in jobs} - {''}) >= 1
    bad = invoke('worker-pool', '-n', '0', '-u', url)
    assert bad.exit_code == 2
    assert_one_line_error(bad.stderr, '--num-workers')


def test_worker_pool_honours_the_log_format(url: str, connection: redis.Redis) -> None:
    job = Queue(connection=connection).enqueue('rqtest_jobs_cli.echo', 'formatted')
    completed = run_rq(
        'worker-pool', '--burst', '-u', url, '-w', 'SimpleWorker', '--log-format', 'POOL|%(levelname)s|%(message)s'
    )
    assert completed.returncode == 0, completed.stderr
    assert job.get_status() == JobStatus.FINISHED
    assert re.search(rf'^POOL\|INFO\|Worker \w+: default: Job OK \({job.id}\)', completed.stdout, re.MULTILINE)


# -- help -------------------------------------------------------------------------------------


def help_entries(help_text: str) -> dict[str, str]:
    """The options (and arguments) a ``--help`` lists, by their names as printed, with their help
    text: what follows the names on the entry's first line, after two spaces or more, and the
    entry's more deeply indented lines (click's and argparse's layout)."""
    entries: dict[str, str] = {}
    listing = False
    names = ''
    for line in help_text.splitlines():
        if line and not line[0].isspace():
            listing = line.rstrip().lower() in ('options:', 'positional arguments:', 'optional arguments:')
            continue
        if not listing or not line.strip():
            continue
        if re.match(r'  \S', line):
            names, *text = re.split(r'\s{2,}', line.strip(), maxsplit=1)
            entries[names] = ''.join(text)
        else:
            entries[names] = f'{entries[names]} {line.strip()}'.strip()
    return entries


def undescribed(entries: dict[str, str]) -> list[str]:
    """The entries whose help says nothing but the default (click shows ``[default: 500]`` alone)."""
    return [names for names, text in entries.items() if not re.sub(r'\[default: [^\]]*\]', '', text).strip()]


def entry_for(entries: dict[str, str], option: str) -> str:
    found = [text for names, text in entries.items() if option in re.split(r'[ ,/]+', names)]
    assert len(found) == 1, (option, entries)
    return found[0]


@pytest.mark.parametrize('command', [worker, worker_pool], ids=['worker', 'worker-pool'])
def test_every_option_of_the_worker_commands_has_help_and_shows_its_default(command: click.Command) -> None:
    assert command.name is not None
    result = invoke(command.name, '--help')
    assert result.exit_code == 0, result.output
    entries = help_entries(result.stdout)
    options = [param for param in command.params if isinstance(param, click.Option)]
    assert len(entries) == len(options) + 1  # and --help
    assert not undescribed(entries), entries
    context = click.Context(command)
    for option in options:
        text = entry_for(entries, option.opts[0])
        default = option.get_default(context, call=False)
        if not option.is_flag and (
            isinstance(default, (str, int, float)) or (isinstance(default, (list, tuple)) and default)
        ):
            assert '[default: ' in text, (option.opts, text)


def test_every_option_of_python_m_rq_worker_has_help_and_shows_its_default() -> None:
    done = subprocess.run(
        [sys.executable, '-m', 'rq.worker', '--help'], capture_output=True, text=True, env=process_env(), timeout=60
    )
    assert done.returncode == 0, done.stderr
    entries = help_entries(done.stdout)
    actions = build_parser()._actions
    assert len(entries) == len(actions)
    assert not undescribed(entries), entries
    for action in actions:
        if isinstance(action, (argparse._HelpAction, argparse._StoreTrueAction)):
            continue
        text = entry_for(entries, action.option_strings[0] if action.option_strings else action.dest)
        assert '(default: ' in text, (action.option_strings or action.dest, text)
