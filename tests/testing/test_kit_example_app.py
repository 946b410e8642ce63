"""The example application's own test suite (examples/testing_app) passes on the fake and on a real Redis,
and its README states exactly what it needs.

It is run as its users would run it: ``pytest`` in its directory, with its own ``pytest.ini``; once
here with every distribution installed, and once in a fresh virtualenv holding only what the README's
first ``pip install`` line installs (from this checkout), where exactly the tests its table says need
more are skipped, each naming the distribution it needs.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from rq.testing import RedisServerProcess

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / 'examples' / 'testing_app'
OUR_DISTRIBUTIONS = ('rq-core', 'rq-worker', 'rq-cron', 'rq-cli', 'rq-testing')


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


def readme_requirements() -> tuple[list[str], dict[str, str]]:
    """What the example's README says it needs: the arguments of its first ``pip install`` line
    (``$RQ`` being this checkout), and its table of tests that need more ({file or node id:
    distribution})."""
    text = (EXAMPLE / 'README.md').read_text()
    install = re.search(r'^\$ pip install (.+)$', text, re.MULTILINE)
    assert install is not None, 'the README has no "$ pip install ..." line'
    arguments = shlex.split(install.group(1).replace('$RQ', str(ROOT)))
    optional = dict(re.findall(r'^\| `(tests/[^`]+)` \| (rq-[a-z]+) \|', text, re.MULTILINE))
    return arguments, optional


def junit_outcomes(report: Path) -> dict[str, tuple[str, str]]:
    """{node id: (outcome, skip or failure message)} from a pytest JUnit XML report."""
    outcomes = {}
    for case in ElementTree.parse(report).iter('testcase'):
        node_id = f'{case.get("classname", "").replace(".", "/")}.py::{case.get("name")}'
        result = next((child for child in case if child.tag in ('skipped', 'failure', 'error')), None)
        outcome = 'passed' if result is None else result.tag
        outcomes[node_id] = (outcome, '' if result is None else result.get('message', ''))
    return outcomes


def matches(node_id: str, test: str) -> bool:
    """Whether ``node_id`` is ``test``, or one of its tests when ``test`` is a file."""
    return node_id == test or node_id.startswith(test + '::')


def run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run outside the workspace's environment (no PYTHONPATH, no virtualenv, no Redis URL)."""
    hidden = ('PYTHONPATH', 'VIRTUAL_ENV', 'RQ_TESTING_REDIS_URL')
    environment = {k: v for k, v in os.environ.items() if k not in hidden}
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=600)


@pytest.mark.install
def test_the_readme_states_exactly_what_the_suite_needs(tmp_path: Path) -> None:
    arguments, optional = readme_requirements()
    ours = sorted(name for name in OUR_DISTRIBUTIONS if str(ROOT / 'packages' / name) in arguments)
    assert ours == ['rq-core', 'rq-testing'], arguments
    assert not set(arguments) & set(OUR_DISTRIBUTIONS), arguments  # (ours from their directories, never by name)
    assert set(optional.values()) == {'rq-worker', 'rq-cron'}, optional

    venv = tmp_path / 'venv'
    python = str(venv / 'bin' / 'python')
    created = run([sys.executable, '-m', 'venv', str(venv)])
    assert created.returncode == 0, created.stderr
    installed = run([python, '-m', 'pip', 'install', '--quiet', *arguments])
    assert installed.returncode == 0, installed.stdout + installed.stderr
    listed = run([python, '-m', 'pip', 'list', '--format=json'])
    names = {entry['name'].lower() for entry in json.loads(listed.stdout)}
    assert names & set(OUR_DISTRIBUTIONS) == {'rq-core', 'rq-testing'}, listed.stdout

    report = tmp_path / 'report.xml'
    completed = run([python, '-m', 'pytest', '-q', '-rs', f'--junit-xml={report}'], cwd=EXAMPLE)

    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    outcomes = junit_outcomes(report)
    assert {outcome for outcome, _ in outcomes.values()} <= {'passed', 'skipped'}, output
    unknown = [test for test in optional if not any(matches(node_id, test) for node_id in outcomes)]
    assert not unknown, f'the README names tests that do not exist: {unknown}'
    needed = {
        node_id: distribution
        for node_id in outcomes
        for test, distribution in optional.items()
        if matches(node_id, test)
    }
    skipped = {node_id: message for node_id, (outcome, message) in outcomes.items() if outcome == 'skipped'}
    assert set(skipped) == set(needed), output
    for node_id, message in skipped.items():
        expected = f"the '{needed[node_id]}' distribution, which is not installed; install it with: "
        assert expected in message, (node_id, message)
