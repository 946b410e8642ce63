"""The RQ ecosystem's clients (rq-dashboard, django-rq, rq-scheduler, rq-exporter) on our packages, in a
virtualenv of their own under ``.cache/`` (never the dev environment), and their sdists' test suites.

``clients_python()`` is that virtualenv's interpreter: our five distributions installed editable from
``packages/`` (so a change to them needs no rebuild), the four clients installed without their declared
dependencies (they require upstream ``rq``, which would overwrite our ``rq/`` directory), and what the
clients need beyond ours at the versions ``constraints/clients.txt`` pins. ``sdist(name, version)``
downloads a client's source distribution and unpacks it (for the tests it ships).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import textwrap
import venv
from pathlib import Path
from typing import Any

from file_lock import exclusive

ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = ROOT / '.cache'
#: The clients and what they need beyond our packages, every package pinned.
CONSTRAINTS = ROOT / 'constraints' / 'clients.txt'
#: Our runtime dependencies (redis-py, click, croniter, ...) and pytest, as the dev environment pins them.
PINNED = ROOT / 'constraints' / 'pinned.txt'
BUILD_CONSTRAINTS = ROOT / 'constraints' / 'build.txt'
INSTALL_SCRIPT = ROOT / 'scripts' / 'install.py'
OURS = ('rq-core', 'rq-worker', 'rq-cron', 'rq-cli', 'rq-testing')
#: Installed with ``--no-deps``: each declares a requirement on upstream ``rq``.
CLIENTS = ('rq-dashboard', 'django-rq', 'rq-scheduler', 'rq-exporter')
#: What the clients need (their declared requirements other than rq), plus the test runners of their
#: suites; pip adds the transitive ones, which the constraints pin as well.
CLIENT_DEPENDENCIES = (
    'flask',
    'arrow',
    'redis-sentinel-url',
    'six',  # (rq-dashboard imports it without declaring it)
    'django',
    'prometheus-client',
    'crontab',
    'freezegun',
    'python-dateutil',
    'redis',
    'pytest',
    'pytest-django',
)
#: Installed by the virtualenv itself rather than from the constraints.
_BOOTSTRAP = frozenset({'pip', 'setuptools', 'wheel'})
#: Settings that would leak the dev environment into the clients' virtualenv (hatch sets PIP_CONSTRAINT).
_FOREIGN_SETTINGS = ('PIP_CONSTRAINT', 'PIP_BUILD_CONSTRAINT', 'PIP_REQUIREMENT', 'PYTHONPATH', 'PYTHONHOME')


def constraints_digest() -> str:
    """A short hash of the pins (the clients' and ours): part of the virtualenv's name, so that a changed
    pin gets a new virtualenv."""
    digest = hashlib.sha256()
    for path in (CONSTRAINTS, PINNED):
        try:
            digest.update(path.read_bytes())
        except FileNotFoundError:
            raise RuntimeError(f'{path} is missing: it pins the packages of the clients virtualenv') from None
    return digest.hexdigest()[:12]


def venv_dir() -> Path:
    """``$RQ_CLIENTS_VENV`` (an existing virtualenv, used as it is: for example one with upstream rq in
    place of ours, to try the ecosystem tests themselves), or ``.cache/rq-clients-<pin hash>``."""
    configured = os.environ.get('RQ_CLIENTS_VENV')
    if configured:
        return Path(configured)
    return CACHE_DIR / f'rq-clients-{constraints_digest()}'


def clean_environment() -> dict[str, str]:
    """This process's environment without the settings that belong to the dev environment: for pip and
    for the programs run with :func:`clients_python`."""
    return {key: value for key, value in os.environ.items() if key not in _FOREIGN_SETTINGS}


def clients_python() -> Path:
    """The clients virtualenv's interpreter, creating the virtualenv on first use (once, whatever the number
    of pytest-xdist processes asking at the same time)."""
    directory = venv_dir()
    python = directory / 'bin' / 'python'
    marker = directory / '.installed'
    if os.environ.get('RQ_CLIENTS_VENV'):
        if not python.exists():
            raise RuntimeError(f'$RQ_CLIENTS_VENV: {python} does not exist')
        return python
    if python.exists() and marker.exists():
        return python
    with exclusive(directory.parent / f'{directory.name}.lock'):
        if python.exists() and marker.exists():  # built by another process while this one waited
            return python
        _build(directory, python)
        marker.write_text(f'{CONSTRAINTS.name} + {PINNED.name} {constraints_digest()}\n')
    return python


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> str:
    completed = subprocess.run(command, env=env or clean_environment(), capture_output=True, text=True, cwd=ROOT)
    if completed.returncode != 0:
        raise RuntimeError(f'{what} failed:\n$ {" ".join(command)}\n{completed.stdout}{completed.stderr}')
    return completed.stdout


def _build(directory: Path, python: Path) -> None:
    if directory.exists():
        shutil.rmtree(directory)  # a build that was interrupted
    venv.EnvBuilder(with_pip=True, clear=True).create(directory)
    pip = [str(python), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check']
    pins = ['-c', str(CONSTRAINTS), '-c', str(PINNED)]
    # Ours first, editable, through the script that never lets pip look one of them up on an index.
    ours_env = clean_environment() | {'PIP_CONSTRAINT': str(PINNED), 'PIP_BUILD_CONSTRAINT': str(BUILD_CONSTRAINTS)}
    _run(
        [sys.executable, str(INSTALL_SCRIPT), '--quiet', '--editable', '--python', str(python), *OURS],
        'installing our packages',
        ours_env,
    )
    _run([*pip, *pins, *CLIENT_DEPENDENCIES], "installing the clients' dependencies")
    _run([*pip, '--no-deps', *pins, *CLIENTS], 'installing the clients')
    _check(python)


def installed(python: Path) -> dict[str, str]:
    """The distributions installed in ``python``'s environment: normalised name -> version."""
    listing = _run([str(python), '-m', 'pip', 'list', '--format=json', '--disable-pip-version-check'], 'pip list')
    return {_normalise(entry['name']): entry['version'] for entry in json.loads(listing)}


def _normalise(name: str) -> str:
    return name.lower().replace('_', '-').replace('.', '-')


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for path in (CONSTRAINTS, PINNED):
        for line in path.read_text().splitlines():
            line = line.split('#', 1)[0].strip()
            if '==' in line:
                name, version = line.split('==', 1)
                pins[_normalise(name)] = version.strip()
    return pins


def _check(python: Path) -> None:
    """Upstream ``rq`` is absent, and every other package is at the version a constraints file pins."""
    present = installed(python)
    if 'rq' in present:
        raise RuntimeError(f'upstream rq {present["rq"]} got installed into {python.parents[1]}: it overwrites ours')
    missing = [name for name in (*OURS, *CLIENTS) if name not in present]
    if missing:
        raise RuntimeError(f'{", ".join(missing)} not installed into {python.parents[1]}')
    pins = _pins()
    unpinned = sorted(
        f'{name}=={version}'
        for name, version in present.items()
        if name not in OURS and name not in _BOOTSTRAP and pins.get(name) != version
    )
    if unpinned:
        raise RuntimeError(
            f'packages in {python.parents[1]} at a version neither {CONSTRAINTS.name} nor {PINNED.name} pins: '
            + ', '.join(unpinned)
        )


def run_client(code: str, port: int, db: int = 0, path: Path | None = None, timeout: float = 120) -> Any:
    """Run Python ``code`` with the clients virtualenv's interpreter; ``conn`` is a ``redis.Redis`` on the
    test server (``port``, ``db``), ``path`` (a directory of job modules) is on ``sys.path`` and is the
    working directory. The code must print one JSON document as its last line; that document is returned."""
    prelude = f'import json, redis\nconn = redis.Redis(port={port}, db={db})\n'
    env = clean_environment()
    if path is not None:
        env['PYTHONPATH'] = str(path)
    completed = subprocess.run(
        [str(clients_python()), '-c', prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=str(path or ROOT),
    )
    if completed.returncode != 0:
        raise AssertionError(f'client code failed:\n{completed.stdout}\n{completed.stderr}')
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


def pytest_summary(output: str) -> dict[str, int]:
    """The counts of the summary line that ends pytest's ``output`` (``18 passed, 1 warning in 9.1s`` ->
    ``{'passed': 18, 'warning': 1}``): for the clients' own test suites, run by their pytest."""
    lines = [line for line in output.splitlines() if line.strip()]
    last = lines[-1] if lines else ''
    return {word.rstrip('s'): int(count) for count, word in re.findall(r'(\d+) (\w+)', last.split(' in ')[0])}


def sdist(name: str, version: str) -> Path:
    """The unpacked source distribution ``name==version`` from the package index (its tests directory is
    what the sdists of rq-dashboard and rq-exporter are wanted for): ``.cache/sdists/<name>-<version>/``
    holds the archive and, in a subdirectory, its contents. Returns the unpacked top directory."""
    directory = CACHE_DIR / 'sdists' / f'{name}-{version}'
    marker = directory / '.unpacked'
    unpacked = directory / 'src'
    if marker.exists():
        return _top_directory(unpacked)
    with exclusive(directory.parent / f'{directory.name}.lock'):
        if marker.exists():
            return _top_directory(unpacked)
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        command = [str(clients_python()), '-m', 'pip', 'download', '--quiet', '--disable-pip-version-check']
        command += ['--no-deps', '--no-binary', ':all:', '-d', str(directory), f'{name}=={version}']
        _run(command, f'downloading the sdist of {name} {version}')
        archives = sorted(directory.glob('*.tar.gz'))
        if len(archives) != 1:
            raise RuntimeError(f'expected one sdist in {directory}, found {[a.name for a in archives]}')
        with tarfile.open(archives[0]) as archive:
            if hasattr(tarfile, 'data_filter'):
                archive.extractall(unpacked, filter='data')
            else:  # (a Python 3.10 or 3.11 from before the extraction filters: an archive from the index)
                archive.extractall(unpacked)
        marker.write_text(f'{archives[0].name}\n')
    return _top_directory(unpacked)


def _top_directory(unpacked: Path) -> Path:
    entries = [entry for entry in unpacked.iterdir() if entry.is_dir()]
    if len(entries) != 1:
        raise RuntimeError(f'expected one top directory in {unpacked}, found {[e.name for e in entries]}')
    return entries[0]


if __name__ == '__main__':
    print(clients_python(), file=sys.stderr)
