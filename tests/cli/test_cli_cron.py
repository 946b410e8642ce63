"""``rq cron CONFIG_PATH``: argument handling, and the hand-over to rq-cron's runner."""

from __future__ import annotations

import signal
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import redis
from cli_helpers import assert_one_line_error, invoke, process_env, run_rq

from rq import Queue
from worker_process import wait_until


def test_config_path_is_required(url: str) -> None:
    result = invoke('cron', '-u', url)
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "Missing argument 'CONFIG_PATH'")


def test_logging_level_is_checked(url: str) -> None:
    result = invoke('cron', '-u', url, '-l', 'LOUD', 'cron_config.py')
    assert result.exit_code == 2
    assert_one_line_error(result.stderr, "'--logging-level'")


def test_unavailable_runner_is_one_line(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, 'rq.cron.command', None)  # importing it now fails
    result = invoke('cron', '-u', url, 'cron_config.py')
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, "rq-cron's cron runner is unavailable")


def test_arguments_reach_the_runner_and_its_exit_code_is_returned(
    url: str, connection: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []

    def run_cron(conn: redis.Redis, config: str, **options: Any) -> int:
        calls.append((conn.ping(), conn.connection_pool.connection_kwargs['port'], config, options))
        return 3

    fake = types.ModuleType('rq.cron.command')
    fake.run_cron = run_cron  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, 'rq.cron.command', fake)
    arguments = ['cron', '-u', url, '-l', 'debug', '--timezone', 'Europe/Paris', '--name', 'cron-1', 'app/cron.py']
    result = invoke(*arguments)
    assert result.exit_code == 3
    port = connection.connection_pool.connection_kwargs['port']
    assert calls == [
        (True, port, 'app/cron.py', {'logging_level': 'DEBUG', 'timezone': 'Europe/Paris', 'name': 'cron-1'})
    ]
    assert invoke('cron', '-u', url, 'app/cron.py').exit_code == 3
    assert calls[-1][3] == {'logging_level': 'INFO', 'timezone': None, 'name': None}


def test_rq_cron_runs_rq_crons_scheduler(url: str, connection: redis.Redis, tmp_path: Path) -> None:
    """The real thing (rq-cron installed): an interval job is enqueued at start; Ctrl-C stops it cleanly."""
    config = tmp_path / 'cli_cron_config.py'
    config.write_text(
        "from rq.cron import register\nregister('rqtest_jobs_cli.echo', 'cron-q', args=['tick'], interval=600)\n"
    )
    process = subprocess.Popen(
        [sys.executable, '-m', 'rq.cli', 'cron', '-u', url, '--name', 'cli-cron', str(config)],
        env=process_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        queue = Queue('cron-q', connection=connection)
        assert wait_until(lambda: queue.count == 1, timeout=20)
        assert list(queue.jobs[0].args) == ['tick']
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr


def test_rq_cron_reports_a_bad_config_and_fails(url: str, tmp_path: Path) -> None:
    completed = run_rq('cron', '-u', url, str(tmp_path / 'missing_config.py'))
    assert completed.returncode == 1
    assert completed.stderr.splitlines()[-1].startswith('Error: ')
    assert 'Traceback' not in completed.stderr
