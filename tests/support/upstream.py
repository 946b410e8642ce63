"""Upstream rq in its own virtualenv (never ours: it installs into the same ``rq/`` directory): 2.12.0 by
default, 3.0.0 beside it for the rq 3.0 data tests (``version='3.0.0'``).

``run_upstream(code, port)`` runs Python code with upstream's interpreter against the test Redis and
returns what the code printed as JSON on its last line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from pinned_venv import file_digest, pinned_python

UPSTREAM_VERSION = '2.12.0'
#: The other upstream release the interop tests install (rq 3.0 data read by ours).
UPSTREAM_3_VERSION = '3.0.0'
ROOT = Path(__file__).resolve().parents[2]
SUPPORT_DIR = Path(__file__).resolve().parent
CACHE_DIR = ROOT / '.cache'


def constraints_file(version: str = UPSTREAM_VERSION) -> Path:
    """The constraints file of upstream ``version``: every package of its virtualenv pinned (rq,
    redis-py, click, ...), so the interop tests talk to the same upstream everywhere, whatever was
    released since."""
    return ROOT / 'constraints' / f'upstream-rq-{version}.txt'


#: The default version's constraints file.
CONSTRAINTS = constraints_file()


def constraints_digest(version: str = UPSTREAM_VERSION) -> str:
    """A short hash of the constraints file: part of the virtualenv's name, so a changed pin gets a
    new virtualenv."""
    return file_digest(constraints_file(version), f'upstream rq {version} and its dependencies')


def venv_dir(version: str = UPSTREAM_VERSION) -> Path:
    """Where upstream's virtualenv lives: ``.cache/upstream-rq-<version>-<pin hash>``, or
    ``$RQ_UPSTREAM_VENV`` for the default version (2.12.0)."""
    configured = os.environ.get('RQ_UPSTREAM_VENV')
    if configured and version == UPSTREAM_VERSION:
        return Path(configured)
    return CACHE_DIR / f'upstream-rq-{version}-{constraints_digest(version)}'


def upstream_python(version: str = UPSTREAM_VERSION) -> Path:
    """The interpreter of upstream ``version``'s virtualenv, creating the virtualenv on first use
    (once, whatever the number of processes asking at the same time)."""
    return pinned_python(venv_dir(version), constraints_file(version), [f'rq=={version}'])


def _command(code: str, port: int, db: int, version: str) -> tuple[list[str], dict[str, str]]:
    prelude = f'import json, redis\nconn = redis.Redis(port={port}, db={db})\n'
    script = prelude + textwrap.dedent(code)
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME')}
    env['PYTHONPATH'] = str(SUPPORT_DIR / 'shared_jobs')
    return [str(upstream_python(version)), '-c', script], env


def _last_json_line(stdout: str) -> Any:
    lines = [line for line in stdout.splitlines() if line.strip()]
    return json.loads(lines[-1]) if lines else None


#: The release that ``run_upstream``/``start_upstream`` use when not told (the interop tests that run
#: against both releases set it for each test: see tests/interop/conftest.py).
_release_under_test = [UPSTREAM_VERSION]


def set_release_under_test(version: str) -> None:
    _release_under_test[0] = version


def release_under_test() -> str:
    return _release_under_test[0]


def run_upstream(code: str, port: int, db: int = 0, timeout: float = 120, version: str | None = None) -> Any:
    """Run ``code`` under upstream rq ``version`` (the release under test by default); ``conn`` is a
    ``redis.Redis`` on the test server. The code must print one JSON document as its last line; that
    document is returned."""
    command, env = _command(code, port, db, version or release_under_test())
    completed = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=timeout, cwd=str(SUPPORT_DIR / 'shared_jobs')
    )
    if completed.returncode != 0:
        raise AssertionError(f'upstream code failed:\n{completed.stdout}\n{completed.stderr}')
    return _last_json_line(completed.stdout)


def start_upstream(code: str, port: int, db: int = 0, version: str | None = None) -> subprocess.Popen[str]:
    """Start ``code`` under upstream rq like :func:`run_upstream`, without waiting for it (for code the
    test must watch while it runs, such as a worker busy with a job). Finish with :func:`finish_upstream`."""
    command, env = _command(code, port, db, version or release_under_test())
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(SUPPORT_DIR / 'shared_jobs'),
    )


def finish_upstream(process: subprocess.Popen[str], timeout: float = 60) -> Any:
    """Wait for a process from :func:`start_upstream` (killing it after ``timeout`` s) and return the JSON
    document it printed last."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        raise AssertionError(f'upstream code did not finish within {timeout} s:\n{stdout}\n{stderr}') from None
    if process.returncode != 0:
        raise AssertionError(f'upstream code failed:\n{stdout}\n{stderr}')
    return _last_json_line(stdout)


def burst_worker_code(
    name: str = 'upstream-worker',
    queues: tuple[str, ...] = ('default',),
    serializer: str | None = None,
    with_scheduler: bool = True,
) -> str:
    """Code for :func:`run_upstream` that runs upstream's ``SimpleWorker`` named ``name`` in burst mode on
    ``queues`` (``serializer`` ``'json'`` for JSON queues). Upstream's burst scheduler moves only jobs
    that are already due, once, before the worker starts dequeueing."""
    serializer_expr = 'JSONSerializer' if serializer == 'json' else 'None'
    return (
        'from rq import Queue as _Queue, SimpleWorker as _SimpleWorker\n'
        'from rq.serializers import JSONSerializer\n'
        f'_queues = [_Queue(_n, connection=conn, serializer={serializer_expr}) for _n in {list(queues)!r}]\n'
        f'_SimpleWorker(_queues, connection=conn, name={name!r}, serializer={serializer_expr})'
        f'.work(burst=True, with_scheduler={with_scheduler!r})\n'
    )


def worker_code(
    name: str,
    queues: tuple[str, ...] = ('default',),
    worker_class: str = 'Worker',
    burst: bool = False,
    logging_level: str = 'WARNING',
    with_scheduler: bool = False,
    **work_kwargs: Any,
) -> str:
    """Code for :func:`start_upstream` that runs upstream's ``worker_class`` (``'Worker'``, the forking
    one, or ``'SimpleWorker'``) named ``name`` on ``queues`` until it is stopped (a shutdown command or a
    signal; ``burst`` to stop when the queues are empty), then prints ``null``; ``with_scheduler`` runs
    upstream's scheduler too. ``work_kwargs`` go to ``work()`` (for example ``max_jobs``). Logs below
    ``logging_level`` are dropped, so that a long run cannot fill the output pipe nobody reads until the
    end."""
    extra = ''.join(f', {key}={value!r}' for key, value in sorted(work_kwargs.items()))
    return (
        f'from rq import Queue as _Queue, {worker_class} as _WorkerClass\n'
        f'_queues = [_Queue(_n, connection=conn) for _n in {list(queues)!r}]\n'
        f'_WorkerClass(_queues, connection=conn, name={name!r})'
        f'.work(burst={burst!r}, logging_level={logging_level!r}, with_scheduler={with_scheduler!r}{extra})\n'
        'print("null")\n'
    )


if __name__ == '__main__':
    print(upstream_python(sys.argv[1] if len(sys.argv) > 1 else UPSTREAM_VERSION), file=sys.stderr)
