"""The command that installs another rq distribution into this environment, from where rq-core came.

None of the five distributions is on PyPI (and ``rq-cli``/``rq-cron`` there are unrelated projects that
bring upstream rq), so ``pip install rq-worker`` is never the advice. rq-core's PEP 610 record
(``direct_url.json``, written by pip) tells where it was installed from:

- a directory ``<checkout>/packages/rq-core``: that checkout's ``scripts/install.py``, run by this
  interpreter (with ``--editable`` when rq-core is an editable install);
- a wheel file: the wheels of the same version in that directory, given to pip by path (the one
  asked for and those of ours it needs that are not installed), so pip never looks ours up on an index.

When neither applies (no record, a directory that moved, wheels that were deleted), the advice is
the checkout's script, pointing at the README's install section.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shlex
import sys
import zipfile
from email.parser import Parser
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ['install_advice', 'install_command']

CORE = 'rq-core'
README_SECTION = 'the README of rq, section "Five distributions, one rq"'
_NAME = re.compile(r'^\s*([A-Za-z0-9][A-Za-z0-9._-]*)')


def install_command(distribution: str) -> str | None:
    """A shell command that installs ``distribution`` into the running interpreter's environment,
    or None when it cannot be known."""
    origin = _core_origin()
    if origin is None:
        return None
    path, editable = origin
    if path.is_dir():
        return _checkout_command(path, distribution, editable)
    if path.suffix == '.whl':
        return _wheel_command(path.parent, distribution)
    return None


def install_advice(distribution: str) -> str:
    """``install it with: <command>``, or how to install it from a checkout of rq."""
    command = install_command(distribution)
    if command is not None:
        return f'install it with: {command}'
    return (
        f'install it from a checkout of rq, at its top, with: python scripts/install.py --python '
        f'{shlex.quote(sys.executable)} {distribution} (see {README_SECTION}; the rq-* names on PyPI are not ours)'
    )


def _core_origin() -> tuple[Path, bool] | None:
    """The local path rq-core was installed from (directory or wheel file), and whether it is editable."""
    try:
        record = importlib.metadata.distribution(CORE).read_text('direct_url.json')
    except importlib.metadata.PackageNotFoundError:
        return None
    if not record:
        return None
    try:
        data = json.loads(record)
        url = urlsplit(str(data['url']))
    except (ValueError, KeyError, TypeError):
        return None
    if url.scheme != 'file':
        return None
    dir_info = data.get('dir_info')
    editable = isinstance(dir_info, dict) and dir_info.get('editable') is True
    return Path(unquote(url.path)), editable


def _checkout_command(package_dir: Path, distribution: str, editable: bool) -> str | None:
    packages = package_dir.parent
    script = packages.parent / 'scripts' / 'install.py'
    if package_dir.name != CORE or not script.is_file() or not (packages / distribution / 'pyproject.toml').is_file():
        return None
    options = ['--editable'] if editable else []
    return shlex.join([sys.executable, str(script), *options, distribution])


def _wheel_command(directory: Path, distribution: str) -> str | None:
    version = importlib.metadata.version(CORE)
    wheels = _our_wheels(directory, version)
    needed: list[Path] = []
    pending = [distribution]
    while pending:
        name = pending.pop()
        if name not in wheels:
            return None
        path, requirements = wheels[name]
        if path in needed or (name != distribution and _installed_version(name) == version):
            continue
        needed.append(path)
        pending.extend(requirements)
    return shlex.join([sys.executable, '-m', 'pip', 'install', *map(str, reversed(needed))])


def _our_wheels(directory: Path, version: str) -> dict[str, tuple[Path, list[str]]]:
    """Our wheels of ``version`` in ``directory``: name -> (file, the names of ours it requires)."""
    found: dict[str, tuple[Path, list[str]]] = {}
    for path in sorted(directory.glob('rq_*.whl')):
        try:
            with zipfile.ZipFile(path) as archive:
                metadata_name = next(n for n in archive.namelist() if n.endswith('.dist-info/METADATA'))
                metadata = Parser().parsestr(archive.read(metadata_name).decode('utf-8'))
        except (OSError, zipfile.BadZipFile, StopIteration, UnicodeDecodeError):
            continue
        if metadata.get('Version') != version:
            continue
        requirements = []
        for requirement in metadata.get_all('Requires-Dist') or []:
            match = _NAME.match(requirement)
            if match and _normalize(match[1]).startswith('rq-') and 'extra' not in requirement.partition(';')[2]:
                requirements.append(_normalize(match[1]))
        found[_normalize(metadata.get('Name', ''))] = (path, requirements)
    return found


def _installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _normalize(name: str) -> str:
    return re.sub(r'[-_.]+', '-', name).lower()
