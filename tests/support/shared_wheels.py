"""The five wheels as ``hatch run wheels`` builds them (``scripts/check_wheels.py``, which also
checks that every file has one owner), built once for all the test processes that need them.

Building takes seconds of CPU per wheel; with pytest-xdist each worker would build its own set.
Here the first process builds them into ``.cache/test-wheels-<hash>`` under a file lock and the
others copy them. The hash covers what goes into the wheels (the files under ``packages/``), the
build pins and the script: any change means a new build.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from file_lock import exclusive

ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = ROOT / '.cache'
PREFIX = 'test-wheels-'
_IGNORED_PARTS = {'__pycache__', 'dist', 'build', '.mypy_cache', '.ruff_cache', '.pytest_cache'}


def _inputs() -> list[Path]:
    files = [
        path
        for path in (ROOT / 'packages').rglob('*')
        if path.is_file()
        and not _IGNORED_PARTS.intersection(path.relative_to(ROOT).parts)
        and not path.name.endswith('.pyc')
        and not any(part.endswith('.egg-info') for part in path.parts)
    ]
    extra = [
        ROOT / 'scripts' / 'check_wheels.py',
        ROOT / 'scripts' / 'wheel_metadata.py',
        ROOT / 'constraints' / 'build.txt',
    ]
    return sorted(files) + [path for path in extra if path.exists()]


def inputs_digest() -> str:
    digest = hashlib.sha256()
    for path in _inputs():
        digest.update(str(path.relative_to(ROOT)).encode() + b'\0')
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def built_wheels(destination: Path) -> list[Path]:
    """Copy the five checked wheels into ``destination`` (building them first if no process has
    built them from the current sources yet); return the copies."""
    cached = _checked_build()
    destination.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(wheel, destination)) for wheel in sorted(cached.glob('*.whl'))]


def check_summary() -> str:
    """What the wheel check printed when it built and checked the shared wheels (it fails the
    calling test with the script's output if the check failed)."""
    return (_checked_build() / '.checked').read_text()


def _checked_build() -> Path:
    cached = CACHE_DIR / f'{PREFIX}{inputs_digest()}'
    marker = cached / '.checked'
    with exclusive(CACHE_DIR / f'{PREFIX}lock'):
        if not marker.exists():
            for stale in CACHE_DIR.glob(f'{PREFIX}*'):
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
            completed = subprocess.run(
                [sys.executable, str(ROOT / 'scripts' / 'check_wheels.py'), '--dist', str(cached)],
                capture_output=True,
                text=True,
                check=False,
            )
            assert completed.returncode == 0, completed.stdout + completed.stderr
            marker.write_text(completed.stdout)
    return cached
