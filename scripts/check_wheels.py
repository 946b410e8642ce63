"""Build the wheels of the five rq distributions and check that they fit together.

Usage: ``python scripts/check_wheels.py [--dist DIR]`` (default ``dist/`` at the repository root).

Each package under ``packages/`` is built with ``hatch build -t wheel DIR`` (old wheels in DIR are
removed first); then the wheels are checked:

- exactly one wheel per distribution, five in all;
- every file path (outside each wheel's ``.dist-info``) has exactly one owner;
- only rq-core ships ``rq/__init__.py`` (a second copy breaks the shared ``rq`` package);
- each wheel ships its own ``py.typed`` (``rq/py.typed``, ``rq/worker/py.typed``, ...);
- all five versions are equal, and every dependency on an ``rq-*`` distribution is pinned
  ``==<version>``; none depends on upstream ``rq`` (it installs into the same ``rq/`` directory).

Problems are listed and the exit status is 1; on success one summary line is printed.
Install from the wheels with ``python scripts/install.py --wheels DIR NAME...`` (never by name from
an index: see that script).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from wheel_metadata import REQUIREMENT, normalize, read_metadata, specifier

ROOT = Path(__file__).resolve().parents[1]
CORE = 'rq-core'
#: Distribution name -> the ``py.typed`` marker its wheel must ship.
DISTRIBUTIONS = {
    'rq-core': 'rq/py.typed',
    'rq-worker': 'rq/worker/py.typed',
    'rq-cron': 'rq/cron/py.typed',
    'rq-cli': 'rq/cli/py.typed',
    'rq-testing': 'rq/testing/py.typed',
}
SHARED_INIT = 'rq/__init__.py'


@dataclass
class Wheel:
    path: Path
    name: str
    version: str
    files: list[str] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)


class BuildError(Exception):
    """Raised when ``hatch build`` fails for a package."""


def remove_old_wheels(dist: Path) -> None:
    """Empty ``dist`` of wheels (creating it if needed): only this build's wheels get checked."""
    dist.mkdir(parents=True, exist_ok=True)
    for old in dist.glob('*.whl'):
        old.unlink()


def build_wheels(dist: Path) -> None:
    """Remove the wheels already in ``dist`` and build one per package into it."""
    hatch = shutil.which('hatch')
    if hatch is None:
        raise BuildError('the `hatch` command is not on PATH (install it: pipx install hatch)')
    remove_old_wheels(dist)
    for distribution in DISTRIBUTIONS:
        package_dir = ROOT / 'packages' / distribution
        completed = subprocess.run(
            [hatch, 'build', '-t', 'wheel', str(dist)],
            cwd=package_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise BuildError(
                f'`hatch build -t wheel` failed in {package_dir}:\n{completed.stdout}\n{completed.stderr}'.rstrip()
            )


def read_wheel(path: Path) -> Wheel:
    """Name, version, Requires-Dist and file list (without ``.dist-info``) of a wheel."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        try:
            metadata = read_metadata(archive)
        except ValueError as exc:
            raise ValueError(f'{path.name}: {exc}') from None
    files = sorted(n for n in names if not n.endswith('/') and not n.split('/', 1)[0].endswith('.dist-info'))
    return Wheel(
        path=path,
        name=normalize(metadata.get('Name', '')),
        version=metadata.get('Version', ''),
        files=files,
        requires=list(metadata.get_all('Requires-Dist') or []),
    )


def check_wheels(wheels: list[Wheel]) -> list[str]:
    """Every problem found in the set of wheels (empty when they fit together)."""
    problems: list[str] = []
    by_name: dict[str, list[Wheel]] = defaultdict(list)
    for wheel in wheels:
        by_name[wheel.name].append(wheel)
    for name, found in sorted(by_name.items()):
        if name not in DISTRIBUTIONS:
            problems.append(f'unexpected wheel {found[0].path.name} (distribution {name!r})')
        if len(found) > 1:
            problems.append(f'{len(found)} wheels for {name}: {", ".join(w.path.name for w in found)}')
    for name in DISTRIBUTIONS:
        if name not in by_name:
            problems.append(f'no wheel for {name}')
    if len(wheels) != len(DISTRIBUTIONS):
        problems.append(f'expected {len(DISTRIBUTIONS)} wheels, found {len(wheels)}')

    owners: dict[str, list[str]] = defaultdict(list)
    for wheel in wheels:
        for path in wheel.files:
            owners[path].append(wheel.name)
    for path, names in sorted(owners.items()):
        if len(names) > 1:
            problems.append(f'{path} is shipped by {len(names)} wheels: {", ".join(sorted(names))}')

    for wheel in wheels:
        has_init = SHARED_INIT in wheel.files
        if wheel.name == CORE and not has_init:
            problems.append(f'{wheel.path.name} does not ship {SHARED_INIT} (only {CORE} must, and it must)')
        if wheel.name != CORE and has_init:
            problems.append(f'{wheel.path.name} ships {SHARED_INIT}: only {CORE} may (it would shadow the shared rq)')
        marker = DISTRIBUTIONS.get(wheel.name)
        if marker is not None and marker not in wheel.files:
            problems.append(f'{wheel.path.name} does not ship its own {marker}')

    versions = {wheel.version for wheel in wheels}
    if len(versions) > 1:
        listed = ', '.join(f'{w.name} {w.version}' for w in sorted(wheels, key=lambda w: w.name))
        problems.append(f'versions differ: {listed}')
    for wheel in wheels:
        problems.extend(check_requirements(wheel))
    return problems


def check_requirements(wheel: Wheel) -> list[str]:
    """Dependencies on our distributions must be pinned ``==<version>``; upstream ``rq`` is refused."""
    problems = []
    for requirement in wheel.requires:
        match = REQUIREMENT.match(requirement)
        if match is None:
            problems.append(f'{wheel.name}: cannot parse Requires-Dist {requirement!r}')
            continue
        name, spec = normalize(match['name']), specifier(match)
        if name == 'rq':
            problems.append(f'{wheel.name} depends on upstream rq ({requirement!r}): it overwrites our rq/ files')
        elif name.startswith('rq-'):
            if name not in DISTRIBUTIONS:
                problems.append(f'{wheel.name} depends on {name}, which is not one of the five rq distributions')
            elif spec != f'=={wheel.version}':
                problems.append(
                    f'{wheel.name} requires {requirement!r}: internal dependencies must be pinned =={wheel.version}'
                )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0] if __doc__ else None)
    parser.add_argument('--dist', type=Path, default=ROOT / 'dist', help='where to build the wheels (default: dist/)')
    args = parser.parse_args(argv)
    dist: Path = args.dist.resolve()
    try:
        build_wheels(dist)
        wheels = [read_wheel(path) for path in sorted(dist.glob('*.whl'))]
    except (BuildError, ValueError, zipfile.BadZipFile) as exc:
        print(f'check_wheels: {exc}', file=sys.stderr)
        return 1
    problems = check_wheels(wheels)
    if problems:
        print(f'check_wheels: {len(problems)} problem(s) in {dist}:', file=sys.stderr)
        for problem in problems:
            print(f'  - {problem}', file=sys.stderr)
        return 1
    file_count = sum(len(w.files) for w in wheels)
    print(
        f'check_wheels: OK: {len(wheels)} wheels, version {wheels[0].version}, {file_count} files each with one owner, '
        f'{SHARED_INIT} only in {CORE}, py.typed in each, internal dependencies pinned ({dist})'
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
