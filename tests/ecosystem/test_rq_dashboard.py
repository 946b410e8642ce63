"""rq-dashboard 0.9.0's own test suite (the tests/ of its PyPI sdist, unmodified) passes on our packages,
as it does on upstream rq 2.12.0: 18 of 18. Its ``rq-dashboard`` command serves our queues."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import redis
from served import read_page

from clients import clean_environment, clients_python, pytest_summary, sdist
from redis_server import RedisServer, free_port
from rq import Queue

pytestmark = [pytest.mark.install, pytest.mark.timeout(600)]

DASHBOARD_VERSION = '0.9.0'
#: Its tests/test_basic.py: every one passes on upstream rq 2.12.0.
EXPECTED_TESTS = 18
HERE = Path(__file__).resolve().parent


def test_summary_counts_reads_pytest_summaries() -> None:
    assert pytest_summary('x\n18 passed in 9.10s\n') == {'passed': 18}
    assert pytest_summary('== 2 failed, 16 passed, 1 warning in 9.10s ==') == {
        'failed': 2,
        'passed': 16,
        'warning': 1,
    }
    assert pytest_summary('== 1 error in 0.20s ==') == {'error': 1}


def test_rq_dashboard_own_suite_passes(redis_server: RedisServer, connection: redis.Redis, tmp_path: Path) -> None:
    python = clients_python()
    source = sdist('rq-dashboard', DASHBOARD_VERSION)
    shutil.copytree(source / 'tests', tmp_path / 'tests')
    shutil.copyfile(HERE / 'dashboard_conftest.py', tmp_path / 'conftest.py')
    (tmp_path / 'pytest.ini').write_text('[pytest]\n')  # (the root: our conftest.py above its tests)
    commands_before = _commands_processed(connection)
    env = clean_environment() | {'RQ_CLIENT_REDIS_PORT': str(redis_server.port)}
    command = [str(python), '-m', 'pytest', 'tests', '-p', 'no:cacheprovider', '-p', 'no:django', '-q']
    completed = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=500)
    output = completed.stdout + completed.stderr
    assert pytest_summary(completed.stdout) == {'passed': EXPECTED_TESTS}, output
    assert completed.returncode == 0, output
    # It talked to the test's server (not to a Redis that happened to listen on 6379).
    assert _commands_processed(connection) > commands_before + 100, output


def _commands_processed(connection: redis.Redis) -> int:
    return int(connection.info('stats')['total_commands_processed'])


def test_rq_dashboard_command_serves_our_queues(
    redis_server: RedisServer, connection: redis.Redis, tmp_path: Path
) -> None:
    Queue('eco', connection=connection).enqueue('ecosystem_jobs.add', 1, 2)
    Queue('eco', connection=connection).enqueue('ecosystem_jobs.add', 3, 4)
    port = free_port()
    command = [str(clients_python().parent / 'rq-dashboard'), '--bind', '127.0.0.1', '--port', str(port)]
    command += ['--redis-url', redis_server.url]
    page = read_page(command, f'http://127.0.0.1:{port}/0/data/queues.json', clean_environment(), tmp_path / 'log')
    queues = {queue['name']: queue for queue in json.loads(page)['queues']}
    assert queues['eco']['count'] == 2
    assert queues['eco']['failed_job_registry_count'] == 0
