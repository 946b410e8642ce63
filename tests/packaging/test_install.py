"""``scripts/install.py`` and the install commands rq prints, tried in fresh virtualenvs.

Each virtualenv is made with ``python -m venv`` under the test's temporary directory; pip takes the
third-party dependencies (redis, click, ...) from the index. A directory of impostor wheels, one per
name of ours (at our version and at 99.0), is added to pip's find-links for every pip run here: a
command that lets pip look one of our names up anywhere but our checkout or our wheels installs an
impostor, and the tests see it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from redis_server import RedisServer
from repo_scripts import load_script
from rq.version import VERSION
from shared_wheels import built_wheels

pytestmark = pytest.mark.install
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'scripts' / 'install.py'
DISTRIBUTIONS = ('rq-core', 'rq-worker', 'rq-cron', 'rq-cli', 'rq-testing')
IMPOSTOR_MODULE = 'rq_impostor'

#: What a virtualenv has: our distributions' versions, where rq-core came from, any impostor.
REPORT = f"""
import importlib.metadata, importlib.util, json
def version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
core = importlib.metadata.distribution('rq-core').read_text('direct_url.json') if version('rq-core') else None
print(json.dumps({{
    'versions': {{name: version(name) for name in {DISTRIBUTIONS!r}}},
    'core_origin': json.loads(core) if core else None,
    'impostor': importlib.util.find_spec({IMPOSTOR_MODULE!r}) is not None,
}}))
"""


def write_impostor_wheel(directory: Path, name: str, version: str) -> None:
    """A wheel named like one of ours that installs only ``rq_impostor.py``."""
    stem = f'{name.replace("-", "_")}-{version}'
    info = f'{stem}.dist-info'
    files = {
        f'{IMPOSTOR_MODULE}.py': f'IMPERSONATES = {name!r}\n',
        f'{info}/METADATA': f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n',
        f'{info}/WHEEL': 'Wheel-Version: 1.0\nGenerator: rq-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
    }
    files[f'{info}/RECORD'] = ''.join(f'{path},,\n' for path in [*files, f'{info}/RECORD'])
    with zipfile.ZipFile(directory / f'{stem}-py3-none-any.whl', 'w') as archive:
        for path, text in files.items():
            archive.writestr(path, text)


@pytest.fixture(scope='module')
def pip_environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment for every command here: pip also finds impostors of our five names."""
    impostors = tmp_path_factory.mktemp('impostors')
    for name in DISTRIBUTIONS:
        for version in (VERSION, '99.0'):
            write_impostor_wheel(impostors, name, version)
    environment = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    environment['PIP_FIND_LINKS'] = ' '.join(filter(None, [environment.get('PIP_FIND_LINKS'), str(impostors)]))
    return environment


@pytest.fixture(scope='module')
def wheel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five wheels, built as ``hatch run wheels`` builds them (once for all test processes)."""
    dist = tmp_path_factory.mktemp('dist')
    built_wheels(dist)
    return dist


def run(command: list[str] | str, environment: dict[str, str], expect: int | None = 0) -> str:
    """Run ``command`` (a string goes through the shell, as typed); stdout and stderr together."""
    completed = subprocess.run(
        command,
        shell=isinstance(command, str),
        env=environment,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        check=False,
    )
    output = completed.stdout + completed.stderr
    if expect is not None:
        assert completed.returncode == expect, f'{command}\nexit code {completed.returncode}\n{output}'
    return output


def make_venv(path: Path, environment: dict[str, str], with_pip: bool = True) -> str:
    run([sys.executable, '-m', 'venv', *([] if with_pip else ['--without-pip']), str(path)], environment)
    return str(path / 'bin' / 'python')


def report(python: str, environment: dict[str, str]) -> dict[str, object]:
    return dict(json.loads(run([python, '-c', REPORT], environment).strip().splitlines()[-1]))


def printed_hint(python: str, environment: dict[str, str]) -> str:
    """The command that ``from rq import Worker`` prints when rq-worker is missing."""
    output = run([python, '-c', 'from rq import Worker'], environment, expect=1)
    last_line = output.strip().splitlines()[-1]
    assert last_line.startswith('rq.exceptions.MissingDistributionError: Worker is provided by'), output
    match = re.search(r'; install it (?:from a checkout of rq, at its top, )?with: (.+?)(?: \(see .*)?$', last_line)
    assert match is not None, last_line
    return match[1]


def test_a_subset_from_the_checkout_and_the_printed_commands(tmp_path: Path, pip_environment: dict[str, str]) -> None:
    python = make_venv(tmp_path / 'venv', pip_environment)
    output = run([python, str(SCRIPT), 'rq-worker', 'rq-cli'], pip_environment)  # run by the venv's Python
    assert f'Installed rq-core {VERSION}, rq-worker {VERSION}, rq-cron {VERSION}, rq-cli {VERSION}' in output

    assert run([str(tmp_path / 'venv' / 'bin' / 'rq'), '--version'], pip_environment).strip().endswith(VERSION)
    run([python, '-c', 'import rq.worker, rq.cron, rq.cli; from rq import Worker'], pip_environment)
    state = report(python, pip_environment)
    assert state['versions'] == {**{name: VERSION for name in DISTRIBUTIONS}, 'rq-testing': None}
    assert state['core_origin'] == {'url': (ROOT / 'packages' / 'rq-core').as_uri(), 'dir_info': {}}
    assert state['impostor'] is False

    run([python, '-m', 'pip', 'uninstall', '--yes', 'rq-worker'], pip_environment)
    command = printed_hint(python, pip_environment)
    assert command.endswith(f'{shlex.quote(str(SCRIPT))} rq-worker'), command
    run(command, pip_environment)  # verbatim, as a person would paste it
    run([python, '-c', 'from rq import Worker; print(Worker)'], pip_environment)
    assert report(python, pip_environment)['impostor'] is False

    # Where rq-core came from is not recorded: the command to run at the top of a checkout.
    next((tmp_path / 'venv').glob('lib/python*/site-packages/rq_core-*.dist-info/direct_url.json')).unlink()
    run([python, '-m', 'pip', 'uninstall', '--yes', 'rq-worker'], pip_environment)
    command = printed_hint(python, pip_environment)
    assert command == shlex.join(['python', 'scripts/install.py', '--python', python, 'rq-worker'])
    run(command, pip_environment)  # (run() works at the top of the checkout)
    run([python, '-c', 'from rq import Worker; print(Worker)'], pip_environment)
    assert report(python, pip_environment)['impostor'] is False


def test_rq_core_alone_from_wheels_and_the_printed_commands(
    tmp_path: Path, pip_environment: dict[str, str], wheel_dir: Path, redis_server: RedisServer
) -> None:
    python = make_venv(tmp_path / 'venv', pip_environment)
    output = run(
        [sys.executable, str(SCRIPT), '--python', python, '--wheels', str(wheel_dir), 'rq-core'], pip_environment
    )
    ours = [line for line in output.splitlines() if line.startswith('+ ') and '.whl' in line]
    assert len(ours) == 1 and '--no-index' in ours[0], output
    state = report(python, pip_environment)
    assert state['versions'] == {
        'rq-core': VERSION,
        'rq-worker': None,
        'rq-cron': None,
        'rq-cli': None,
        'rq-testing': None,
    }
    assert state['impostor'] is False
    run([python, '-c', 'from rq import Queue, Retry, Repeat, Callback'], pip_environment)

    command = printed_hint(python, pip_environment)
    wheel = next(wheel_dir.glob('rq_worker-*.whl'))
    assert command == shlex.join([python, '-m', 'pip', 'install', str(wheel)]), command
    run(command, pip_environment)
    run([python, '-c', 'from rq import Worker; print(Worker)'], pip_environment)
    state = report(python, pip_environment)
    assert state['versions']['rq-worker'] == VERSION  # type: ignore[index]
    assert state['impostor'] is False

    # A worker asked for the scheduler names the command for rq-cron, which brings croniter too.
    worker = [python, '-m', 'rq.worker', '--url', redis_server.url, '--burst', '--with-scheduler']
    output = run(worker, pip_environment)
    lines = [line for line in output.splitlines() if 'rq-cron, which is not installed' in line]
    assert len(lines) == 1 and 'install it with: ' in lines[0], output
    command = lines[0].split('install it with: ', 1)[1]
    assert command == shlex.join([python, '-m', 'pip', 'install', str(next(wheel_dir.glob('rq_cron-*.whl')))])
    run(command, pip_environment)
    assert 'rq-cron' not in run(worker, pip_environment)
    state = report(python, pip_environment)
    assert state['versions']['rq-cron'] == VERSION  # type: ignore[index]
    assert state['impostor'] is False


def test_upstream_rq_in_the_environment_is_refused(tmp_path: Path, pip_environment: dict[str, str]) -> None:
    python = make_venv(tmp_path / 'venv', pip_environment, with_pip=False)
    upstream = ['install', '--quiet', '--no-deps', 'rq==2.12.0']
    run([sys.executable, '-m', 'pip', '--python', python, *upstream], pip_environment)

    output = run([sys.executable, str(SCRIPT), '--python', python, 'rq-core'], pip_environment, expect=1)
    assert 'upstream rq 2.12.0 is installed in' in output
    assert 'writes the same rq/ directory as rq-core' in output
    assert f'{python} -m pip uninstall rq' in output
    assert report(python, pip_environment)['versions'] == {name: None for name in DISTRIBUTIONS}


def test_the_pins_are_followed_and_names_checked(pip_environment: dict[str, str], wheel_dir: Path) -> None:
    output = run([sys.executable, str(SCRIPT), '--dry-run', '--editable', 'rq_CLI'], pip_environment)
    packages = ROOT / 'packages'
    expected = [f'--editable {packages / name}' for name in ('rq-core', 'rq-worker', 'rq-cron', 'rq-cli')]
    assert output.strip().splitlines()[-1].endswith(' '.join(expected)), output

    output = run([sys.executable, str(SCRIPT), '--dry-run', '--wheels', str(wheel_dir), 'rq-testing'], pip_environment)
    third_party, ours = output.strip().splitlines()[-2:]
    assert 'fakeredis[lua]' in third_party and 'redis>=' in third_party
    assert [word for word in shlex.split(third_party) if word.startswith('rq')] == []
    assert '--no-index' in ours
    assert [Path(word).name.split('-')[0] for word in shlex.split(ours) if word.endswith('.whl')] == [
        'rq_core',
        'rq_testing',
    ]

    output = run([sys.executable, str(SCRIPT), 'rq-worker', 'rq'], pip_environment, expect=1)
    assert "unknown distribution 'rq': choose among rq-core, rq-worker, rq-cron, rq-cli, rq-testing" in output


def test_the_python_3_10_reader_reads_our_pyprojects_as_tomllib_does() -> None:
    script = load_script('install')
    for name in DISTRIBUTIONS:
        path = ROOT / 'packages' / name / 'pyproject.toml'
        assert script.read_pyproject_without_tomllib(path.read_text()) == script.read_pyproject(path), name
