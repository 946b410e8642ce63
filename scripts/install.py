"""Install any of the five rq distributions from this checkout, or from wheels built from it.

    python scripts/install.py rq-worker rq-cli              # from packages/ (adds rq-core and rq-cron)
    python scripts/install.py --editable rq-core             # editable, to work on rq itself
    python scripts/install.py --wheels dist rq-core          # from wheels (`hatch run wheels` builds dist/)
    python scripts/install.py --python .venv/bin/python rq-testing   # into another environment

None of the five is on PyPI, and two of the names there (rq-cli, rq-cron) belong to unrelated projects
that depend on upstream rq. So pip is never left to find one of ours on an index: each distribution
pins the others it needs exactly (``rq-core==0.1.0``), this script follows those pins through the
checkout (or the wheel directory) and hands pip every directory or wheel file it needs. Only the
third-party dependencies (redis, click, croniter, ...) come from the index. From wheels that is two
pip runs: the third-party dependencies first, then our wheels with ``--no-index``.

It installs into the environment of the Python running it, or of ``--python``, and refuses one where
upstream ``rq`` is installed: both write the same ``rq/`` directory. Standard library only, since it
runs before anything is installed.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from wheel_metadata import REQUIREMENT, normalize, read_metadata, specifier

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ROOT / 'packages'
#: The five distributions, each listed after the ones it may depend on.
DISTRIBUTIONS = ('rq-core', 'rq-worker', 'rq-cron', 'rq-cli', 'rq-testing')
UPSTREAM = 'rq'
MINIMUM_PYTHON = (3, 10)

_EXTRA_MARKER = re.compile(r'\bextra\s*==')

#: Run by the target interpreter: what this script needs to know about its environment.
PROBE = """
import importlib.metadata, importlib.util, json, sys
def version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None
print(json.dumps({
    'executable': sys.executable,
    'prefix': sys.prefix,
    'python': list(sys.version_info[:3]),
    'pip': importlib.util.find_spec('pip') is not None,
    'installed': {name: version(name) for name in sys.argv[1:]},
}))
"""


class InstallError(Exception):
    """A reason not to install, meant for the person running the script."""


@dataclass
class Distribution:
    """One of ours, as found in the checkout or in a wheel directory."""

    name: str
    version: str
    source: Path  #: the package directory, or the wheel file
    #: Our distributions it depends on -> the version specifier it gives them (``==0.1.0``).
    internal: dict[str, str] = field(default_factory=dict)
    #: Its other requirement strings (only read from wheels; pip reads them itself from directories).
    third_party: list[str] = field(default_factory=list)


def sort_requirements(distribution: Distribution, requirements: Iterable[str]) -> Distribution:
    """Split ``requirements`` into ours and third-party ones (requirements of extras are left out)."""
    for requirement in requirements:
        match = REQUIREMENT.match(requirement)
        if match is None:
            raise InstallError(f'{distribution.source}: cannot read the requirement {requirement!r}')
        if match['marker'] and _EXTRA_MARKER.search(match['marker']):
            continue
        name = normalize(match['name'])
        if name == UPSTREAM:
            raise InstallError(f'{distribution.source} depends on upstream rq ({requirement!r}); refusing it')
        if name in DISTRIBUTIONS:
            distribution.internal[name] = specifier(match)
        else:
            distribution.third_party.append(requirement.strip())
    return distribution


# --- Where our distributions are: the checkout's packages/, or a directory of wheels ---------------


def read_pyproject(path: Path) -> tuple[str, str, list[str]]:
    """``[project]``'s name, version and dependencies."""
    text = path.read_text(encoding='utf-8')
    if sys.version_info >= (3, 11):
        import tomllib  # Python 3.11+; 3.10 has no TOML reader, hence the fallback

        project = tomllib.loads(text)['project']
        return str(project['name']), str(project['version']), [str(d) for d in project.get('dependencies', [])]
    return read_pyproject_without_tomllib(text)


def read_pyproject_without_tomllib(text: str) -> tuple[str, str, list[str]]:
    """The same for Python 3.10, for the simple ``[project]`` tables of packages/*/pyproject.toml:
    ``key = "value"`` lines and a ``dependencies = [...]`` array of one double-quoted string a line."""
    section = re.search(r'^\[project\][ \t]*$(?P<body>.*?)(?=^\[|\Z)', text, re.MULTILINE | re.DOTALL)
    if section is None:
        raise InstallError('no [project] table')
    body = section['body']
    values = dict(re.findall(r'^(name|version)\s*=\s*"([^"]*)"', body, re.MULTILINE))
    dependencies: list[str] = []
    array = re.search(r'^dependencies\s*=\s*\[(?P<items>.*?)^\]', body, re.MULTILINE | re.DOTALL)
    if array is not None:
        for line in array['items'].splitlines():
            if not line.strip().startswith('#'):
                dependencies.extend(re.findall(r'"([^"]*)"', line))
    if 'name' not in values or 'version' not in values:
        raise InstallError('[project] has no name or version')
    return values['name'], values['version'], dependencies


def from_checkout(packages: Path = PACKAGES) -> dict[str, Distribution]:
    """Our distributions in ``packages/<name>/pyproject.toml``."""
    found: dict[str, Distribution] = {}
    for name in DISTRIBUTIONS:
        pyproject = packages / name / 'pyproject.toml'
        if not pyproject.is_file():
            continue
        try:
            project_name, version, dependencies = read_pyproject(pyproject)
        except (InstallError, KeyError, ValueError) as exc:
            raise InstallError(f'cannot read {pyproject}: {exc}') from exc
        if normalize(project_name) != name:
            raise InstallError(f'{pyproject} names the distribution {project_name!r}, expected {name!r}')
        distribution = Distribution(name=name, version=version, source=pyproject.parent)
        found[name] = sort_requirements(distribution, dependencies)
    return found


def read_wheel(path: Path) -> Distribution:
    """Name, version and requirements from a wheel's ``.dist-info/METADATA``."""
    try:
        with zipfile.ZipFile(path) as archive:
            metadata = read_metadata(archive)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InstallError(f'cannot read the wheel {path}: {exc}') from exc
    distribution = Distribution(
        name=normalize(metadata.get('Name', '')), version=metadata.get('Version', ''), source=path
    )
    return sort_requirements(distribution, metadata.get_all('Requires-Dist') or [])


def from_wheels(directory: Path) -> dict[str, Distribution]:
    """Our distributions among the wheels in ``directory`` (one wheel each)."""
    if not directory.is_dir():
        raise InstallError(f'{directory} is not a directory (build the wheels with: hatch run wheels)')
    found: dict[str, list[Distribution]] = {}
    for path in sorted(directory.glob('*.whl')):
        distribution = read_wheel(path)
        if distribution.name in DISTRIBUTIONS:
            found.setdefault(distribution.name, []).append(distribution)
    for name, wheels in found.items():
        if len(wheels) > 1:
            listed = ', '.join(w.source.name for w in wheels)
            raise InstallError(f'{directory} holds {len(wheels)} wheels of {name} ({listed}); keep one version')
    return {name: wheels[0] for name, wheels in found.items()}


# --- What to install ---------------------------------------------------------------------------------


def requested_names(names: Iterable[str]) -> list[str]:
    """The names given on the command line, normalized; unknown ones are refused."""
    wanted = []
    for given in names:
        name = normalize(given)
        if name not in DISTRIBUTIONS:
            raise InstallError(f'unknown distribution {given!r}: choose among {", ".join(DISTRIBUTIONS)}')
        wanted.append(name)
    return wanted


def with_dependencies(wanted: Iterable[str], available: dict[str, Distribution], where: str) -> list[Distribution]:
    """``wanted`` and every distribution of ours they need, in install order, each pin checked."""
    needed: set[str] = set()
    pending = list(wanted)
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        if name not in available:
            raise InstallError(f'{name} is not in {where}')
        needed.add(name)
        pending.extend(available[name].internal)
    chosen = [available[name] for name in DISTRIBUTIONS if name in needed]
    for distribution in chosen:
        for name, spec in distribution.internal.items():
            pinned = available[name].version
            if spec != f'=={pinned}':
                raise InstallError(
                    f'{distribution.name} {distribution.version} requires {name}{spec}, but {where} has {name} '
                    f'{pinned}: the five distributions must share one version and pin it exactly'
                )
    return chosen


# --- The target environment -------------------------------------------------------------------------


@dataclass
class Target:
    python: str
    prefix: str
    version: tuple[int, ...]
    has_pip: bool
    installed: dict[str, str | None]


def interpreter(given: str | None) -> str:
    """``--python``: an interpreter, or a virtualenv directory; by default the one running this script."""
    if given is None:
        return sys.executable
    path = Path(given)
    if path.is_dir():
        for candidate in (path / 'bin' / 'python', path / 'Scripts' / 'python.exe'):
            if candidate.exists():
                return str(candidate)
        raise InstallError(f'{given} is a directory without bin/python: give an interpreter or a virtualenv')
    return given


def probe(python: str) -> Target:
    """Ask ``python`` about its environment and which of ours (and upstream rq) it has."""
    try:
        completed = subprocess.run(
            [python, '-c', PROBE, UPSTREAM, *DISTRIBUTIONS], capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise InstallError(f'cannot run {python}: {exc}') from exc
    if completed.returncode != 0:
        raise InstallError(f'{python} could not describe its environment:\n{completed.stderr.strip()}')
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    return Target(
        python=str(report['executable']) or python,
        prefix=str(report['prefix']),
        version=tuple(report['python']),
        has_pip=bool(report['pip']),
        installed=dict(report['installed']),
    )


def check_target(target: Target) -> None:
    if target.version < MINIMUM_PYTHON:
        found = '.'.join(map(str, target.version))
        raise InstallError(f'{target.python} is Python {found}; rq needs Python 3.10 or newer')
    upstream = target.installed.get(UPSTREAM)
    if upstream is not None:
        raise InstallError(
            f'upstream rq {upstream} is installed in {target.prefix}. It writes the same rq/ directory as '
            'rq-core, so the two cannot share an environment: use another virtualenv, or remove it first with\n'
            f'    {shlex.quote(target.python)} -m pip uninstall rq\n'
            'and then run this command again (uninstalling removes the rq/ files the two share).'
        )
    if not target.has_pip:
        raise InstallError(
            f'{target.python} has no pip: add it with `{shlex.quote(target.python)} -m ensurepip`, or give '
            'another interpreter with --python'
        )


# --- pip ---------------------------------------------------------------------------------------------


def pip_commands(
    python: str, chosen: list[Distribution], *, wheels: bool, editable: bool, quiet: bool
) -> list[list[str]]:
    """The pip runs that install ``chosen``; none of them lets pip look up one of ours on an index."""
    pip = [python, '-m', 'pip', 'install', *(['--quiet'] if quiet else [])]
    if not wheels:
        sources: list[str] = []
        for distribution in chosen:
            sources.extend(['--editable', str(distribution.source)] if editable else [str(distribution.source)])
        return [pip + sources]
    third_party = list(dict.fromkeys(r for d in chosen for r in d.third_party))
    commands = [pip + third_party] if third_party else []
    # Our wheels by path, with no index at all; their dependencies were installed by the run before
    # (third-party) or are in this same run (ours, pins checked above). --force-reinstall so that the
    # environment ends up with exactly these files, even over an installed copy of the same version.
    ours = [str(d.source) for d in chosen]
    commands.append([*pip, '--no-index', '--no-deps', '--force-reinstall', *ours])
    return commands


def run(command: list[str]) -> None:
    print('+ ' + shlex.join(command), flush=True)
    completed = subprocess.run(command, check=False)
    if completed.returncode != 0:
        raise InstallError(f'pip failed (exit code {completed.returncode}); nothing else was run')


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='install.py',
        description='Install rq distributions from this checkout (or from its built wheels), with the ones they need.',
    )
    parser.add_argument('names', nargs='+', metavar='DISTRIBUTION', help=f'any of {", ".join(DISTRIBUTIONS)}')
    parser.add_argument('--python', help='interpreter or virtualenv to install into (default: the one running this)')
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        '--wheels', type=Path, metavar='DIR', help='install the wheels in DIR (hatch run wheels: dist/)'
    )
    source.add_argument('-e', '--editable', action='store_true', help='editable installs of packages/<name>')
    parser.add_argument('-q', '--quiet', action='store_true', help='pass --quiet to pip')
    parser.add_argument('--dry-run', action='store_true', help='print the pip commands without running them')
    return parser.parse_args(argv)


def install(args: argparse.Namespace) -> None:
    wanted = requested_names(args.names)
    if args.wheels is not None:
        where = str(args.wheels.resolve())
        chosen = with_dependencies(wanted, from_wheels(args.wheels.resolve()), where)
    else:
        where = str(PACKAGES)
        chosen = with_dependencies(wanted, from_checkout(), where)
    target = probe(interpreter(args.python))
    check_target(target)
    commands = pip_commands(
        target.python, chosen, wheels=args.wheels is not None, editable=args.editable, quiet=args.quiet
    )
    listed = ', '.join(f'{d.name} {d.version}' for d in chosen)
    print(f'Installing {listed} from {where} into {target.prefix}', flush=True)
    if args.dry_run:
        for command in commands:
            print(shlex.join(command))
        return
    for command in commands:
        run(command)
    after = probe(target.python).installed
    missing = [f'{d.name} {d.version}' for d in chosen if after.get(d.name) != d.version]
    if missing:
        raise InstallError(f'pip finished, but {", ".join(missing)} is not installed in {target.prefix}')
    print(f'Installed {listed} into {target.prefix}')


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    try:
        install(args)
    except InstallError as exc:
        print(f'install.py: error: {exc}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
