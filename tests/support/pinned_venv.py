"""Virtualenvs under ``.cache/`` built once from a constraints file that pins every package (upstream rq
for the interop tests, the peers of ``bench/io_concurrency.py``), never from our own environment.

``pinned_python(directory, constraints, requirements)`` returns the virtualenv's interpreter, building
it on first use: once, whatever the number of processes asking at the same time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import venv
from collections.abc import Sequence
from pathlib import Path

from file_lock import exclusive

#: Settings that would pin our own environment's versions into the virtualenv (hatch sets them).
FOREIGN_PIP_SETTINGS = ('PIP_CONSTRAINT', 'PIP_REQUIREMENT', 'PYTHONPATH', 'PYTHONHOME')


def file_digest(path: Path, missing: str) -> str:
    """A short hash of ``path`` (a constraints file), for the virtualenv's name: a changed pin gets a
    new virtualenv. ``missing`` says what the file pins, for the error raised when it is absent."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RuntimeError(f'{path} is missing: it pins {missing}') from None
    return hashlib.sha256(data).hexdigest()[:12]


def pinned_python(directory: Path, constraints: Path, requirements: Sequence[str]) -> Path:
    """The interpreter of the virtualenv at ``directory`` holding ``requirements`` installed under
    ``constraints``; built on first use, then marked by a ``.installed`` file (``marker``, by default the
    requirements and the constraints file's name and digest)."""
    python = directory / 'bin' / 'python'
    done = directory / '.installed'
    if python.exists() and done.exists():
        return python
    with exclusive(directory.parent / f'{directory.name}.lock'):  # (pytest-xdist workers build it once)
        if python.exists() and done.exists():  # built by another process while this one waited
            return python
        _build(directory, python, constraints, requirements)
        digest = file_digest(constraints, ', '.join(requirements))
        done.write_text(''.join(f'{r}\n' for r in requirements) + f'{constraints.name} {digest}\n')
    return python


def _build(directory: Path, python: Path, constraints: Path, requirements: Sequence[str]) -> None:
    if directory.exists():
        shutil.rmtree(directory)  # a build that was interrupted
    venv.EnvBuilder(with_pip=True, clear=True).create(directory)
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_PIP_SETTINGS}
    command = [str(python), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check']
    command += ['-c', str(constraints), *requirements]
    completed = subprocess.run(command, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(
            f'installing {" ".join(requirements)} into {directory} failed:\n{completed.stdout}{completed.stderr}'
        )
