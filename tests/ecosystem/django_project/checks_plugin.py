"""Fixtures of the inner test run (loaded with ``-p checks_plugin``): a clean Redis per test and a
helper that runs the site's manage.py commands in their own process."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

SITE_DIR = Path(__file__).resolve().parent
#: How long to wait for an event (a worker's exit, a job's start) before calling it a failure.
WAIT_LIMIT = 60.0


@pytest.fixture(autouse=True)
def rq_connection() -> Iterator[redis.Redis]:
    """The site's Redis (the suite's server, as the settings read it), emptied before each test."""
    connection = redis.Redis(host='127.0.0.1', port=int(os.environ['RQ_TEST_REDIS_PORT']))
    connection.flushall()
    yield connection
    connection.close()


def manage(
    *args: str, timeout: float = WAIT_LIMIT, env: 'dict[str, str] | None' = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python manage.py <args>`` to its end and return what it did (``env``: more variables)."""
    command = [sys.executable, str(SITE_DIR / 'manage.py'), *args]
    environment = {**os.environ, **(env or {})}
    return subprocess.run(command, cwd=SITE_DIR, capture_output=True, text=True, timeout=timeout, env=environment)


def start_manage(*args: str) -> subprocess.Popen[str]:
    """Start ``python manage.py <args>`` in the background (the caller stops it)."""
    command = [sys.executable, str(SITE_DIR / 'manage.py'), *args]
    return subprocess.Popen(command, cwd=SITE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def interrupt(process: subprocess.Popen[str]) -> tuple[int, str]:
    """Stop a background command as Ctrl+C would, and return its exit code and output."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=WAIT_LIMIT)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return process.returncode, output


def wait_for(condition: Callable[[], object], what: str, process: 'subprocess.Popen[str] | None' = None) -> None:
    """Wait until ``condition()`` is true; fail (with the process's output) if it never gets there."""
    deadline = time.monotonic() + WAIT_LIMIT
    while not condition():
        if process is not None and process.poll() is not None:
            output = process.stdout.read() if process.stdout else ''
            raise AssertionError(f'{what}: the command exited with {process.returncode} first:\n{output}')
        if time.monotonic() > deadline:
            raise AssertionError(f'{what}: still not the case after {WAIT_LIMIT}s')
        time.sleep(0.05)
