"""Which Redis the ``rq`` command uses: --url, RQ_REDIS_URL, config module settings (REDIS_URL,
REDIS_HOST..., SENTINEL), the same names in the environment, --connection-class; and failures."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from cli_helpers import assert_one_line_error, invoke, run_rq

from redis_server import RedisServer, find_redis_server, free_port
from rq import Queue

DB = 3


@pytest.fixture
def marked(redis_server: RedisServer, connection: redis.Redis) -> redis.Redis:
    """Database 3 of the test server holds a queue named 'marker'."""
    client = redis.Redis(port=redis_server.port, db=DB)
    client.flushdb()
    Queue('marker', connection=client).enqueue('rqtest_jobs_cli.echo')
    return client


def queue_names(*arguments: str, env: dict[str, str] | None = None) -> list[str]:
    result = invoke('info', '--json', '-Q', *arguments, env=env)
    assert result.exit_code == 0, result.output
    return [queue['name'] for queue in json.loads(result.stdout)['queues']]


def settings_module(tmp_path: Path, name: str, text: str) -> list[str]:
    (tmp_path / f'{name}.py').write_text(text)
    return ['-c', name, '-P', str(tmp_path)]


def test_url_option_and_variable(redis_server: RedisServer, marked: redis.Redis) -> None:
    url = f'redis://127.0.0.1:{redis_server.port}/{DB}'
    assert queue_names('-u', url) == ['marker']
    assert queue_names(env={'RQ_REDIS_URL': url}) == ['marker']


def test_environment_settings(redis_server: RedisServer, marked: redis.Redis) -> None:
    url = f'redis://127.0.0.1:{redis_server.port}/{DB}'
    assert queue_names(env={'REDIS_URL': url}) == ['marker']
    host_port_db = {'REDIS_HOST': '127.0.0.1', 'REDIS_PORT': str(redis_server.port), 'REDIS_DB': str(DB)}
    assert queue_names(env=host_port_db) == ['marker']


def test_config_module_settings(redis_server: RedisServer, marked: redis.Redis, tmp_path: Path) -> None:
    by_url = settings_module(
        tmp_path, 'cli_settings_url', f"REDIS_URL = 'redis://127.0.0.1:{redis_server.port}/{DB}'\n"
    )
    assert queue_names(*by_url) == ['marker']
    by_host = settings_module(
        tmp_path, 'cli_settings_host', f"REDIS_HOST = '127.0.0.1'\nREDIS_PORT = {redis_server.port}\nREDIS_DB = {DB}\n"
    )
    assert queue_names(*by_host) == ['marker']
    as_file = tmp_path / 'cli_settings_url.py'
    assert queue_names('-c', str(as_file)) == ['marker']
    # --url wins over the config module; the config module wins over the environment.
    other = f'redis://127.0.0.1:{redis_server.port}/0'
    assert queue_names('-u', other, *by_url) == []
    assert queue_names(*by_url, env={'REDIS_URL': other}) == ['marker']


@pytest.fixture
def sentinel(redis_server: RedisServer, tmp_path: Path) -> Iterator[int]:
    """A Redis Sentinel watching the test server as master 'cli-master'."""
    port = free_port()
    config = tmp_path / 'sentinel.conf'
    config.write_text(f'port {port}\nbind 127.0.0.1\nsentinel monitor cli-master 127.0.0.1 {redis_server.port} 1\n')
    process = subprocess.Popen(
        [find_redis_server(), str(config), '--sentinel', '--dir', str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.sentinel_get_master_addr_by_name('cli-master'):
                    break
            except redis.ConnectionError:
                pass
            assert time.monotonic() < deadline, 'sentinel did not start'
            time.sleep(0.05)
        client.close()
        yield port
    finally:
        process.terminate()
        process.wait(10)


def test_sentinel_setting(sentinel: int, marked: redis.Redis, tmp_path: Path) -> None:
    options = settings_module(
        tmp_path,
        'cli_settings_sentinel',
        f"SENTINEL = {{'INSTANCES': [('127.0.0.1', {sentinel})], 'MASTER_NAME': 'cli-master', 'DB': {DB}}}\n",
    )
    assert queue_names(*options) == ['marker']


def test_connection_class(url: str) -> None:
    import rqtest_jobs_cli

    before = rqtest_jobs_cli.CountingRedis.CREATED
    assert queue_names('-u', url, '--connection-class', 'rqtest_jobs_cli.CountingRedis') == []
    assert before < rqtest_jobs_cli.CountingRedis.CREATED
    result = invoke('info', '-u', url, '--connection-class', 'rqtest_jobs_cli.CliQueue')
    assert result.exit_code == 1  # (upstream's, which fails on it when it first uses the class)
    assert_one_line_error(result.stderr, '--connection-class', 'is not a subclass of redis.client.Redis')


def test_unreachable_redis_is_one_line_in_a_real_process() -> None:
    url = f'redis://127.0.0.1:{free_port()}/0'
    for command in (['info'], ['enqueue', 'rqtest_jobs_cli.echo'], ['worker', '--burst'], ['suspend']):
        completed = run_rq(*command, '-u', url)
        assert completed.returncode == 1, completed
        assert_one_line_error(completed.stderr, f'cannot connect to Redis at {url}')


@pytest.mark.parametrize(
    ('arguments', 'env', 'fragments'),
    [
        (['-u', 'http://example.com'], {}, ['--url: not a Redis URL']),
        ([], {'REDIS_PORT': 'six'}, ['REDIS_PORT: expected an integer']),
        ([], {'REDIS_SSL': 'maybe'}, ['REDIS_SSL: expected true or false']),
        (['-c', 'no_such_settings_module'], {}, ['--config', 'no_such_settings_module']),
        (['-c', '/no/such/file.py'], {}, ['--config', 'no such file']),
    ],
)
def test_bad_connection_settings(arguments: list[str], env: dict[str, str], fragments: list[str]) -> None:
    result = invoke('info', *arguments, env=env)
    assert result.exit_code == 1  # (upstream's)
    assert_one_line_error(result.stderr, *fragments)


def test_a_broken_settings_module_shows_its_traceback_with_v(tmp_path: Path) -> None:
    options = settings_module(tmp_path, 'cli_settings_broken', 'REDIS_URL = 1 / 0\n')
    quiet = invoke('info', *options)
    assert quiet.exit_code == 1
    assert_one_line_error(quiet.stderr, 'ZeroDivisionError')
    verbose = invoke('info', '-v', *options)
    assert verbose.exit_code == 1
    assert 'Traceback' in verbose.stderr and 'REDIS_URL = 1 / 0' in verbose.stderr
    assert verbose.stderr.splitlines()[-1].startswith('Error: --config')
