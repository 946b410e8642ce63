"""Every install command the READMEs show runs, verbatim, in a fresh virtualenv.

The commands are read from the ``console`` blocks of README.md, packages/*/README.md and
examples/testing_app/README.md: each line that runs ``scripts/install.py`` or ``pip install``.
Each runs through the shell, as typed (comments included), in a directory that looks like the top of
a checkout (``scripts``, ``packages``, ``constraints`` and ``examples`` of this one, ``dist`` holding
the wheels ``hatch run wheels`` builds), with a fresh virtualenv's ``python`` and ``pip`` first on
``PATH`` (and in ``.venv`` for ``--python .venv``); ``$RQ`` names the checkout, as the example app's
README asks. Afterwards every distribution of ours that the command names is importable there.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shared_wheels import built_wheels

pytestmark = pytest.mark.install
ROOT = Path(__file__).resolve().parents[2]
READMES = [ROOT / 'README.md', *sorted(ROOT.glob('packages/*/README.md')), ROOT / 'examples/testing_app/README.md']
#: A line of a console block that installs something: ``python scripts/install.py ...`` or ``pip install ...``.
INSTALL_LINE = re.compile(r'^(?:\$ )?((?:python \S*scripts/install\.py|pip install) .*)$')
FENCE = re.compile(r'^```(\w*)\s*$')
#: What each distribution of ours lets you import.
MODULES = {
    'rq-core': 'rq.queue',
    'rq-worker': 'rq.worker',
    'rq-cron': 'rq.cron',
    'rq-cli': 'rq.cli',
    'rq-testing': 'rq.testing',
}


def console_lines(path: Path) -> list[str]:
    lines: list[str] = []
    language = None
    for line in path.read_text().splitlines():
        fence = FENCE.match(line)
        if fence:
            language = None if language is not None else fence[1]
        elif language in ('console', ''):
            lines.append(line)
    return lines


def install_commands() -> list[str]:
    """Each command once (the same command with another comment is the same command)."""
    commands: dict[str, str] = {}
    for readme in READMES:
        for line in console_lines(readme):
            match = INSTALL_LINE.match(line.strip())
            if match:
                commands.setdefault(' '.join(match[1].split('#', 1)[0].split()), match[1])
    return list(commands.values())


def test_the_readmes_show_install_commands() -> None:
    commands = install_commands()
    assert any(command.startswith('python scripts/install.py rq-core') for command in commands), commands
    assert any('--wheels dist' in command for command in commands), commands
    assert any(command.startswith('pip install') for command in commands), commands


@pytest.fixture(scope='module')
def checkout_top(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory that looks like the top of this checkout, with the five wheels in ``dist``."""
    top = tmp_path_factory.mktemp('checkout')
    for name in ('scripts', 'packages', 'constraints', 'examples'):
        (top / name).symlink_to(ROOT / name)
    built_wheels(top / 'dist')  # (built once for all test processes)
    return top


@pytest.mark.parametrize('command', install_commands())
def test_an_install_command_from_a_readme_works_verbatim(command: str, checkout_top: Path, tmp_path: Path) -> None:
    workdir = tmp_path / 'top'
    workdir.mkdir()
    for entry in checkout_top.iterdir():
        (workdir / entry.name).symlink_to(entry.resolve() if entry.is_symlink() else entry)
    venv = workdir / '.venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True)
    environment = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV', 'PYTHONHOME')}
    environment['PATH'] = f'{venv / "bin"}{os.pathsep}{environment.get("PATH", "")}'
    environment['VIRTUAL_ENV'] = str(venv)
    environment['RQ'] = str(ROOT)

    completed = subprocess.run(
        command, shell=True, cwd=workdir, env=environment, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, f'{command}\n{completed.stdout}\n{completed.stderr}'

    named = [name for name in MODULES if re.search(rf'(?<![\w-]){name}(?![\w-])', command)]
    for name in named:
        imported = subprocess.run(
            [str(venv / 'bin' / 'python'), '-c', f'import {MODULES[name]}'],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        assert imported.returncode == 0, f'{command}: {name}\n{imported.stderr}'
