"""Run a worker in a separate process (for signals, crashes and commands), from the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

SUPPORT = Path(__file__).resolve().parent


def worker_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(SUPPORT), str(SUPPORT / 'shared_jobs'), env.get('PYTHONPATH', '')]
    env['PYTHONPATH'] = os.pathsep.join(p for p in paths if p)
    env.update(extra)
    return env


def start_worker(port: int, *args: str, db: int = 0) -> subprocess.Popen[bytes]:
    """``python -m rq.worker --url redis://127.0.0.1:<port>/<db> <args>`` in a new process."""
    command = [sys.executable, '-m', 'rq.worker', '--url', f'redis://127.0.0.1:{port}/{db}', *args]
    return subprocess.Popen(command, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.02) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it is true (returns True) or ``timeout`` passes (returns False). The
    timeout only guards against a hang: make it generous, a loaded machine is slow."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> str:
    """Make sure the process is gone; return what it printed."""
    if process.poll() is None:
        process.kill()
    output, _ = process.communicate(timeout=timeout)
    return output.decode('utf-8', 'replace')
