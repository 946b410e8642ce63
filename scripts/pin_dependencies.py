"""Regenerate the pinned dependency sets in ``constraints/`` that the Hatch environments install.

Usage: ``python scripts/pin_dependencies.py [--only pinned|oldest|tools]``

- ``constraints/pinned.txt``: every third-party package of the ``default`` and ``core`` environments
  (runtime and development), at the newest release today. It is the ``newest`` environment,
  created afresh, frozen.
- ``constraints/oldest.txt``: the ``oldest`` environment: each runtime dependency at the lower bound
  its ``pyproject.toml`` declares (``redis>=5.0`` -> ``redis==5.0``), the rest as the resolver chose,
  frozen.
- ``constraints/tools.txt``: Hatch and what it needs, as ``.ci/run`` installs them; and
  ``constraints/build.txt``: the build backend (hatchling) pip builds our packages with.

Hatch passes the files to pip through ``PIP_CONSTRAINT`` and ``PIP_BUILD_CONSTRAINT`` (see
``hatch.toml``). After changing a file,
``hatch env prune`` makes local environments follow it (CI always starts fresh).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / 'constraints'
OURS = ('rq-core', 'rq-worker', 'rq-cron', 'rq-cli', 'rq-testing')
HATCH_REQUIREMENT = 'hatch==1.18.2'

#: Run inside the ``newest`` environment, whose installed metadata declares our dependencies.
LOWER_BOUNDS = """
import importlib.metadata, json
from packaging.requirements import Requirement
from packaging.version import Version
bounds = dict()  # (no braces: hatch formats the command line)
for dist in %r:
    for line in importlib.metadata.requires(dist) or []:
        requirement = Requirement(line)
        if requirement.name.startswith('rq-') or requirement.marker is not None:
            continue
        floors = [s.version for s in requirement.specifier if s.operator in ('>=', '~=', '==')]
        if floors:
            bounds[requirement.name] = max(floors, key=Version)
print(json.dumps(bounds))
"""


def hatch(*args: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k not in ('PIP_CONSTRAINT', 'PIP_BUILD_CONSTRAINT')}
    completed = subprocess.run(['hatch', *args], cwd=ROOT, env=environment, check=True, capture_output=True, text=True)
    return completed.stdout


def fresh_environment(name: str) -> None:
    hatch('env', 'remove', name)
    hatch('env', 'create', name)


def frozen(name: str) -> list[str]:
    lines = hatch('run', f'{name}:python', '-m', 'pip', 'freeze', '--exclude-editable').splitlines()
    return sorted((line for line in lines if line and not line.startswith('#')), key=str.lower)


def write(path: Path, header: str, lines: list[str]) -> None:
    comment = ''.join(f'# {line}\n' if line else '#\n' for line in header.strip().splitlines())
    path.write_text(comment + ''.join(f'{line}\n' for line in lines))
    print(f'wrote {path.relative_to(ROOT)} ({len(lines)} packages)')


def pin_newest() -> None:
    fresh_environment('newest')
    write(
        CONSTRAINTS / 'pinned.txt',
        "The test environments' third-party packages (hatch.toml: default, core), frozen from a fresh\n"
        '`newest` environment by scripts/pin_dependencies.py. Regenerate with that script.',
        frozen('newest'),
    )


def pin_oldest() -> None:
    fresh_environment('newest')
    bounds: dict[str, str] = json.loads(hatch('run', 'newest:python', '-c', LOWER_BOUNDS % (OURS,)))
    floors = [f'{name}=={version}' for name, version in sorted(bounds.items())]
    oldest = CONSTRAINTS / 'oldest.txt'
    write(oldest, 'Lower bounds only (being resolved).', floors)
    fresh_environment('oldest')
    write(
        oldest,
        'The `oldest` environment (hatch.toml): every runtime dependency at the lower bound the packages\n'
        f'declare ({", ".join(floors)}), the rest as resolved then,\n'
        'frozen by scripts/pin_dependencies.py. Regenerate with that script.',
        frozen('oldest'),
    )


def fresh_venv_freeze(requirement: str) -> list[str]:
    """What ``pip install requirement`` brings into an empty virtualenv, as ``name==version`` lines."""
    with tempfile.TemporaryDirectory() as directory:
        venv.EnvBuilder(with_pip=True).create(directory)
        python = str(Path(directory) / 'bin' / 'python')
        environment = {k: v for k, v in os.environ.items() if k not in ('PIP_CONSTRAINT', 'PIP_BUILD_CONSTRAINT')}
        subprocess.run(
            [python, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', requirement],
            env=environment,
            check=True,
        )
        lines = subprocess.run(
            [python, '-m', 'pip', 'freeze'], env=environment, check=True, capture_output=True, text=True
        ).stdout.splitlines()
    return sorted((line for line in lines if line and not line.startswith('#')), key=str.lower)


def pin_tools() -> None:
    tools = fresh_venv_freeze(HATCH_REQUIREMENT)
    write(
        CONSTRAINTS / 'tools.txt',
        'Hatch and its dependencies as .ci/run installs them (scripts/pin_dependencies.py).',
        tools,
    )
    hatchling = next(line for line in tools if line.lower().startswith('hatchling=='))
    write(
        CONSTRAINTS / 'build.txt',
        'The build backend of our five packages (PIP_BUILD_CONSTRAINT in hatch.toml), the version\n'
        'Hatch itself comes with (scripts/pin_dependencies.py).',
        fresh_venv_freeze(hatchling),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument('--only', choices=('pinned', 'oldest', 'tools'), help='regenerate one file only')
    options = parser.parse_args(argv)
    steps = {'pinned': pin_newest, 'oldest': pin_oldest, 'tools': pin_tools}
    for name, step in steps.items():
        if options.only in (None, name):
            step()
    return 0


if __name__ == '__main__':
    sys.exit(main())
