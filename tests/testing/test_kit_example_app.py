"""The example application's own test suite (examples/testing_app) passes on the fake and on a real Redis.

It is run as its users would run it: ``pytest`` in its directory, with its own ``pytest.ini``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rq.testing import RedisServerProcess

EXAMPLE = Path(__file__).resolve().parents[2] / 'examples' / 'testing_app'


def run_example_suite(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != 'RQ_TESTING_REDIS_URL'}
    return subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', *args],
        cwd=EXAMPLE,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.mark.parametrize('mode', ['fake', 'real'])
def test_the_example_suite_passes(mode: str, request: pytest.FixtureRequest) -> None:
    args: list[str] = []
    if mode == 'real':
        server: RedisServerProcess = request.getfixturevalue('kit_redis_server')
        args.append(f'--rq-real-redis={server.url}')

    completed = run_example_suite(*args)

    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert ' passed' in output and 'failed' not in output and 'error' not in output
    assert 'skipped' not in output
