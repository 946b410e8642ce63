"""Running the ``rq`` command from the tests: in-process (click's runner) or as a real process."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from click.testing import CliRunner, Result

from rq.cli import main

SUPPORT = Path(__file__).resolve().parents[1] / 'support'
SHARED_JOBS = SUPPORT / 'shared_jobs'
#: Variables that would change which Redis or which colours the command uses.
CLEARED = (
    'RQ_REDIS_URL',
    'RQ_CONFIG',
    'RQ_WORKER_CLASS',
    'RQ_JOB_CLASS',
    'RQ_QUEUE_CLASS',
    'RQ_CONNECTION_CLASS',
    'REDIS_URL',
    'REDIS_HOST',
    'REDIS_PORT',
    'REDIS_DB',
    'REDIS_PASSWORD',
    'REDIS_SSL',
    'NO_COLOR',
    'FORCE_COLOR',
    'TTY_COMPATIBLE',
    'COLUMNS',
    'LINES',
)
#: The environment under which the command draws its tables although its output is no terminal (it
#: would print upstream's text): rich's ``TTY_COMPATIBLE``, without colours (bold and dim remain:
#: :func:`strip_styles`; a dumb terminal would have none, but also a fixed width of 80).
TABLES = {'TTY_COMPATIBLE': '1', 'NO_COLOR': '1'}
SGR = re.compile(r'\x1b\[[0-9;]*m')
JOB_ID = re.compile(r"with job-id '([^']+)'")


def runner() -> CliRunner:
    """A runner that keeps stderr apart from stdout (click 8.2 always does; 8.1 needs asking)."""
    if 'mix_stderr' in inspect.signature(CliRunner).parameters:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg,unused-ignore]
    return CliRunner()


def strip_styles(text: str) -> str:
    return SGR.sub('', text)


def invoke(*args: str, env: Mapping[str, str] | None = None, tables: bool = False) -> Result:
    """``rq ARGS`` in this process; the result has ``exit_code``, ``stdout`` and ``stderr``. With
    ``tables``, the command writes as to a terminal (rich tables, no styles) instead of upstream's text."""
    environment: dict[str, str | None] = {name: None for name in CLEARED}
    environment.update(TABLES if tables else {})
    environment.update(env or {})
    saved_path = list(sys.path)  # the command appends its -P paths to sys.path
    try:
        result = runner().invoke(main, list(args), env=environment, catch_exceptions=False)
    finally:
        sys.path[:] = saved_path
    if tables:
        for name in ('stdout_bytes', 'output_bytes'):
            if isinstance(getattr(result, name, None), bytes):
                setattr(result, name, SGR.sub('', getattr(result, name).decode()).encode())
    return result


def process_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    paths = [str(SHARED_JOBS), str(SUPPORT), env.get('PYTHONPATH', '')]
    env['PYTHONPATH'] = os.pathsep.join(p for p in paths if p)
    env.update(extra)
    return env


def run_rq(
    *args: str, env: Mapping[str, str] | None = None, cwd: str | Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m rq.cli ARGS`` as a real process."""
    return subprocess.run(
        [sys.executable, '-m', 'rq.cli', *args],
        capture_output=True,
        text=True,
        env=process_env(**(env or {})),
        cwd=str(cwd) if cwd else None,
        timeout=timeout,
    )


def job_id_in(output: str) -> str:
    match = JOB_ID.search(output)
    assert match, f'no job id in {output!r}'
    return match.group(1)


def assert_one_line_error(stderr: str, *fragments: str) -> None:
    """Exactly one line, starting with ``Error:``, containing each fragment; no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith('Error: '), stderr
    assert 'Traceback' not in stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
