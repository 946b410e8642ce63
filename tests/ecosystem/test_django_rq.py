"""django-rq 4.2.0 (installed unmodified, with our packages in place of upstream rq) in a small Django
site of its own (tests/ecosystem/django_project/): its management commands (rqworker, rqworker-pool,
rqstats, rqsuspend/rqresume, rqenqueue, rqcron), its dashboard views and actions, and its Python API
(``@job``, ``get_queue``, ``enqueue``, ``get_worker``, ``get_scheduler``), against the suite's Redis.

The site's tests are Django tests (pytest-django) run by pytest inside the clients virtualenv
(tests/support/clients.py), one inner run per ``checks_*.py`` module; each outer test fails with the
list of the inner tests that failed and why. The site's settings read the Redis port from
``RQ_TEST_REDIS_PORT``."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from clients import clean_environment, clients_python
from redis_server import RedisServer

pytestmark = [pytest.mark.install, pytest.mark.timeout(900)]

SITE = Path(__file__).resolve().parent / 'django_project'
#: The inner runs' modules; each holds Django tests of one part of django-rq.
CHECKS = ['checks_api.py', 'checks_commands.py', 'checks_views.py', 'checks_cron.py']
#: Generous: an inner run waits on events (a job started, a worker exited) with limits of its own.
INNER_RUN_LIMIT = 600


def run_checks(module: str, server: RedisServer, report: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run one checks module in the clients virtualenv; return the run and its failures ("test: message")."""
    env = clean_environment() | {
        'RQ_TEST_REDIS_PORT': str(server.port),
        'PYTHONPATH': str(SITE),
        # Only the plugins named here (the clients virtualenv may hold others).
        'PYTEST_DISABLE_PLUGIN_AUTOLOAD': '1',
    }
    command = [str(clients_python()), '-m', 'pytest', '-c', str(SITE / 'checks_pytest.ini')]
    command += ['-p', 'pytest_django.plugin', '-p', 'checks_plugin', '-p', 'no:cacheprovider']
    command += ['-q', '-rfE', f'--junitxml={report}', str(SITE / module)]
    completed = subprocess.run(command, cwd=SITE, env=env, capture_output=True, text=True, timeout=INNER_RUN_LIMIT)
    return completed, _failures(report) if report.exists() else []


def _failures(report: Path) -> list[str]:
    failures = []
    for case in ElementTree.parse(report).iter('testcase'):
        for problem in (*case.iter('failure'), *case.iter('error')):
            message = (problem.get('message') or '').strip().splitlines()
            failures.append(f'{case.get("name")}: {message[0] if message else problem.tag}')
    return failures


def _counts(report: Path) -> dict[str, int]:
    suite = next(ElementTree.parse(report).iter('testsuite'))
    return {key: int(suite.get(key) or 0) for key in ('tests', 'failures', 'errors', 'skipped')}


@pytest.mark.parametrize('module', CHECKS)
def test_django_rq_site(module: str, redis_server: RedisServer, tmp_path: Path) -> None:
    report = tmp_path / 'report.xml'

    completed, failures = run_checks(module, redis_server, report)

    assert report.exists(), f'the inner pytest run wrote no report:\n{completed.stdout}\n{completed.stderr}'
    counts = _counts(report)
    assert counts['tests'] > 0, completed.stdout
    assert not failures and completed.returncode == 0, (
        f'{len(failures)} of {counts["tests"]} django-rq checks in {module} failed:\n  '
        + '\n  '.join(failures)
        + f'\n\n{completed.stdout[-20000:]}\n{completed.stderr[-5000:]}'
    )
    assert counts['skipped'] == 0, completed.stdout
