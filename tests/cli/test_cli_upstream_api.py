"""What upstream RQ 2.12 ships besides the ``rq`` command itself: the ``rqinfo`` and ``rqworker``
scripts, the commands as attributes of ``rq.cli``, the module paths ``rq.cli.cli``, ``rq.cli.workers``
and ``rq.cli.cli_cron``, and ``rq.cli.helpers`` (which other packages use to add commands to ``rq``,
read settings or print ``rq info``'s text)."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
import redis
from cli_helpers import assert_one_line_error, invoke, process_env, run_rq

import rq.cli
from redis_server import RedisServer
from rq import Queue
from rq.cli import helpers
from rq.job import JobStatus
from rq.utils import now
from rq.worker import SimpleWorker, Worker

BIN = Path(sys.executable).parent
UPDATED = re.compile(r'^Updated: .*$', re.MULTILINE)


def script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / name), *args], capture_output=True, text=True, env=process_env(), timeout=60, check=False
    )


def test_console_scripts_are_upstreams() -> None:
    scripts = {
        entry.name: entry.value
        for entry in importlib.metadata.entry_points(group='console_scripts')
        if entry.dist is not None and entry.dist.name == 'rq-cli'
    }
    assert scripts == {'rq': 'rq.cli:main', 'rqinfo': 'rq.cli:info', 'rqworker': 'rq.cli:worker'}
    assert all((BIN / name).exists() for name in scripts)


def test_rqinfo_is_rq_info(url: str, connection: redis.Redis) -> None:
    Queue('alpha', connection=connection).enqueue('rqtest_jobs_cli.echo')
    ours = script('rqinfo', '-u', url, '-Q')
    assert ours.returncode == 0, ours.stderr
    assert (
        ours.stdout
        == run_rq('info', '-u', url, '-Q').stdout
        == 'alpha        |█ 1, 0 executing, 0 finished, 0 failed\n1 queues, 1 jobs total\n'
    )
    bad = script('rqinfo', '--no-such-option')
    assert bad.returncode == 2
    assert_one_line_error(
        bad.stderr, 'No such option', '--no-such-option', "(see 'rqinfo --help')"
    )  # (click's wording varies)
    down = script('rqinfo', '-u', 'redis://127.0.0.1:1/0')
    assert down.returncode == 1
    assert_one_line_error(down.stderr, 'cannot connect to Redis')


def test_rqworker_is_rq_worker(url: str, connection: redis.Redis) -> None:
    job = Queue('jobs', connection=connection).enqueue('rqtest_jobs_cli.echo', 'hi')
    completed = script('rqworker', '--burst', '-u', url, '-w', 'SimpleWorker', 'jobs')
    assert completed.returncode == 0, completed.stderr
    assert job.get_status() == JobStatus.FINISHED


def test_commands_are_attributes_of_rq_cli() -> None:
    assert isinstance(rq.cli.main, click.Group)
    for name in ('info', 'worker', 'worker_pool', 'cron', 'empty', 'requeue', 'suspend', 'resume', 'enqueue'):
        command = getattr(rq.cli, name)
        assert isinstance(command, click.Command) and command.name == name.replace('_', '-')
        assert rq.cli.main.get_command(click.Context(rq.cli.main), command.name) is command
    with pytest.raises(AttributeError):
        rq.cli.no_such_command  # noqa: B018


def test_upstreams_module_paths() -> None:
    from rq.cli.cli import enqueue, info, main
    from rq.cli.cli_cron import cron
    from rq.cli.workers import worker, worker_pool

    assert main is rq.cli.main and info is rq.cli.info and enqueue is rq.cli.enqueue
    assert (worker, worker_pool, cron) == (rq.cli.worker, rq.cli.worker_pool, rq.cli.cron)


def test_a_command_added_to_main_with_pass_cli_config(url: str) -> None:
    """What packages built on upstream's command do: ``@main.command()`` and ``@pass_cli_config``."""
    from rq.cli.cli import main

    seen: dict[str, Any] = {}

    @main.command('hello-extension')
    @click.option('--greeting', default='hello')
    @helpers.pass_cli_config
    def hello(cli_config: helpers.CliConfig, greeting: str, **options: Any) -> None:
        seen.update(options)
        click.echo(f'{greeting} {cli_config.connection.ping()} {cli_config.queue_class.__name__}')

    try:
        result = invoke('hello-extension', '-u', url, '--greeting', 'hi')
        assert (result.exit_code, result.stdout) == (0, 'hi True Queue\n')
        bad = invoke('hello-extension', '-u', url, '--queue-class', 'nowhere.Queue')
        assert bad.exit_code == 1  # (upstream's: its ValueError)
        assert_one_line_error(bad.stderr, "--queue-class: cannot import 'nowhere.Queue'")
        assert seen['url'] == url and seen['serializer'] == 'rq.serializers.DefaultSerializer'
        assert 'hello-extension' in invoke('--help').stdout
    finally:
        main.commands.pop('hello-extension')


def test_read_config_file_and_get_redis_from_config(
    tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / 'cli_upstream_api_settings.py').write_text(
        f"REDIS_URL = {redis_server.url!r}\nQUEUES = ['high']\nlower = 1\n_private = 2\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    settings = helpers.read_config_file('cli_upstream_api_settings')
    assert settings == {'REDIS_URL': redis_server.url, 'QUEUES': ['high']}
    assert helpers.get_redis_from_config(settings).ping()
    by_parts = helpers.get_redis_from_config({'REDIS_HOST': '127.0.0.1', 'REDIS_PORT': redis_server.port})
    assert by_parts.ping() and by_parts.connection_pool.connection_kwargs['port'] == redis_server.port
    with pytest.raises(ValueError, match='REDIS_SSL'):
        helpers.get_redis_from_config({'REDIS_SSL': 'maybe'})


def test_cli_config_has_upstreams_signature(redis_server: RedisServer, tmp_path: Path) -> None:
    config = helpers.CliConfig(
        redis_server.url, None, 'rq.worker.SimpleWorker', path=[str(tmp_path)], serializer='json'
    )
    assert config.connection.ping() and config.worker_class is SimpleWorker
    assert config.queue_class is Queue and config.death_penalty_class.__name__ == 'UnixSignalDeathPenalty'
    assert str(tmp_path) in sys.path
    sys.path.remove(str(tmp_path))
    # (a ValueError, as upstream's, whose import_attribute raises one)
    with pytest.raises(ValueError, match='--worker-class'):
        helpers.CliConfig(worker_class='nowhere.Worker')
    with pytest.raises(ValueError, match='--death-penalty-class'):
        helpers.CliConfig(death_penalty_class='rq.abcd')
    assert helpers.CliConfig(death_penalty_class='rq.job.Job').death_penalty_class.__name__ == 'Job'
    unreachable = helpers.CliConfig(url='redis://127.0.0.1:1/0')
    assert unreachable.connection.connection_pool.connection_kwargs['port'] == 1  # made without a round trip


def test_enqueue_argument_helpers() -> None:
    assert helpers.parse_function_args(['a', ':1', 'k%=[2]', 'name=x']) == (['a', 1], {'k': [2], 'name': 'x'})
    assert helpers.parse_function_arg('key:={"a": 1}', 1) == ('key', {'a': 1})
    for bad in ([':not-json'], ['k=1', 'k=2']):
        with pytest.raises(click.BadParameter):
            helpers.parse_function_args(bad)
    assert [mode.name for mode in helpers.ParsingMode] == ['PLAIN_TEXT', 'JSON', 'LITERAL_EVAL']
    soon = helpers.parse_schedule('10m', None)
    assert soon is not None and abs((soon - now()) - timedelta(minutes=10)) < timedelta(seconds=5)
    assert helpers.parse_schedule(None, '2030-01-02T03:04:05') == datetime(2030, 1, 2, 3, 4, 5)
    assert helpers.parse_schedule(None, None) is None
    with pytest.raises(click.BadArgumentUsage):
        helpers.parse_schedule('1m', '2030-01-02T03:04:05')


def test_show_functions_print_rq_infos_text(
    url: str, connection: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    queues = [Queue(name, connection=connection) for name in ('alpha', 'beta')]
    for number in range(3):
        queues[number % 2].enqueue('rqtest_jobs_cli.echo', number)
    worker = SimpleWorker(queues, connection=connection, name='w-1')
    worker.register_birth()
    worker.set_state('idle')
    for show, arguments in ((helpers.show_both, []), (helpers.show_queues, ['-Q']), (helpers.show_workers, ['-W'])):
        for raw, by_queue in ((False, False), (True, False), (False, True)):
            show(queues, raw, by_queue, Queue, Worker, connection)
            flags = [*arguments, *(['--raw'] if raw else []), *(['-R'] if by_queue else [])]
            expected = invoke('info', '-u', url, *flags).stdout
            assert UPDATED.sub('', capsys.readouterr().out) == UPDATED.sub('', expected), (show, flags)
    assert 'w-1 (' in expected


def test_small_helpers() -> None:
    assert [helpers.get_scale(n) for n in (0, 20, 21, 999, 5000)] == [20, 20, 50, 1000, 5000]
    assert helpers.pad('ab', 4) == 'ab  '
    assert click.unstyle(helpers.state_symbol('busy')) == 'busy' and helpers.state_symbol('?') == '?'
    assert helpers.red('x') == click.style('x', fg='red')
    calls: list[tuple[int, ...]] = []
    helpers.refresh(None, lambda *args: calls.append(args), 1, 2)
    assert calls == [(1, 2)]

    class Enough(Exception):
        pass

    def twice(*args: int) -> None:
        calls.append(args)
        if len(calls) == 3:
            raise Enough

    with pytest.raises(Enough):
        helpers.refresh(0.01, twice, 3)
    assert calls == [(1, 2), (3,), (3,)]
    with pytest.raises(RuntimeError, match='mutually exclusive'):
        helpers.setup_loghandlers_from_args(True, True, '%H:%M:%S', '%(message)s')
