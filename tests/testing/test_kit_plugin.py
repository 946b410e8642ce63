"""The pytest plugin, run in separate pytest processes: fake by default, real by option, environment
or marker; inert unless its fixtures are used; clear about a missing rq-worker."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from rq._install_hint import install_advice
from rq.testing import RedisServerProcess

SUITE = """
import sys

from rq.testing import assert_job_result, is_fake


def test_fixtures(rq_connection, rq_queue, rq_runner, rq_clock, rq_worker):
    print('MODE', 'fake' if is_fake(rq_connection) else 'real')
    job = rq_queue.enqueue('operator.add', 1, 2)
    rq_runner.run()
    assert_job_result(job, 3)
    assert rq_worker.queues == [rq_queue]
    rq_connection.set('left-over', 1)


def test_each_test_starts_empty(rq_connection):
    assert rq_connection.get('left-over') is None
"""


def run_pytest(
    directory: Path, source: str, *args: str, env: dict[str, str] | None = None, prelude: str = ''
) -> subprocess.CompletedProcess[str]:
    """Run ``source`` as a test file with pytest, in ``directory`` (its own rootdir and ini)."""
    (directory / 'pytest.ini').write_text('[pytest]\naddopts = -p no:cacheprovider\n')
    (directory / 'test_suite.py').write_text(textwrap.dedent(source))
    environment = {k: v for k, v in os.environ.items() if k != 'RQ_TESTING_REDIS_URL'}
    environment.update(env or {})
    code = f'{prelude}\nimport sys, pytest\nsys.exit(pytest.main({["-q", "-s", *args]!r}))'
    return subprocess.run(
        [sys.executable, '-c', code], cwd=directory, env=environment, capture_output=True, text=True, timeout=120
    )


def test_fake_by_default(tmp_path: Path) -> None:
    completed = run_pytest(tmp_path, SUITE)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert 'MODE fake' in completed.stdout and 'rq-testing:' not in completed.stdout


def test_real_by_option_url(tmp_path: Path, kit_redis_server: RedisServerProcess) -> None:
    completed = run_pytest(tmp_path, SUITE, f'--rq-real-redis={kit_redis_server.url}', '-v')  # (-v: the header)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert 'MODE real' in completed.stdout
    assert f'rq-testing: rq_connection is a real Redis ({kit_redis_server.url})' in completed.stdout


def test_real_by_environment(tmp_path: Path, kit_redis_server: RedisServerProcess) -> None:
    completed = run_pytest(tmp_path, SUITE, env={'RQ_TESTING_REDIS_URL': kit_redis_server.url})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert 'MODE real' in completed.stdout


MARKED = """
import pytest

from rq.testing import is_fake


@pytest.mark.rq_real_redis
def test_marked(rq_connection):
    assert not is_fake(rq_connection)
    rq_connection.set('key', 'value')
    assert rq_connection.object('encoding', 'key')  # fakeredis has no OBJECT


def test_not_marked(rq_connection):
    assert is_fake(rq_connection)
"""


def test_a_marked_test_gets_a_throwaway_real_redis(tmp_path: Path) -> None:
    completed = run_pytest(tmp_path, MARKED, '--strict-markers')
    assert completed.returncode == 0, completed.stdout + completed.stderr


INERT = """
import sys


def test_nothing_is_loaded_or_used(request):
    assert not [name for name in request.fixturenames if name.startswith('rq_')]
    loaded = [m for m in ('rq.worker', 'fakeredis', 'rq.testing.fake', 'rq.testing.eager') if m in sys.modules]
    assert loaded == []
"""


def test_the_plugin_is_inert_unless_its_fixtures_are_used(tmp_path: Path) -> None:
    completed = run_pytest(tmp_path, INERT)
    assert completed.returncode == 0, completed.stdout + completed.stderr


BLOCK_RQ_WORKER = '''
import sys

class BlockRqWorker:
    """Makes rq.worker look uninstalled, as with rq-core and rq-testing alone."""

    def find_spec(self, name, path=None, target=None):
        if name == 'rq.worker' or name.startswith('rq.worker.'):
            raise ModuleNotFoundError(f'No module named {name!r}', name=name)
        return None

sys.meta_path.insert(0, BlockRqWorker())
'''

WITHOUT_WORKER = """
from rq.testing import assert_job_result


def test_the_runner_needs_no_worker(rq_queue, rq_runner, rq_clock):
    job = rq_queue.enqueue('operator.mul', 6, 7)
    rq_runner.run()
    assert_job_result(job, 42)


def test_the_worker_fixture_names_the_fix(rq_worker):
    pass
"""


def test_without_rq_worker_the_worker_fixture_says_what_to_install(tmp_path: Path) -> None:
    completed = run_pytest(tmp_path, WITHOUT_WORKER, '-rE', prelude=BLOCK_RQ_WORKER)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert '1 passed, 1 error' in output
    assert 'MissingDistributionError: A worker (the rq_worker fixture, rq.testing.make_worker)' in output
    assert "is provided by the 'rq-worker' distribution, which is not installed" in output
    assert install_advice('rq-worker') in output
