"""Running workers and pools in their own session, for the signal, command and pool tests.

Every process is started with ``start_new_session=True``; :func:`kill_session` then kills the whole
session (the worker, its horse factory and horses, a pool's workers), whatever became of them, so
a failing test leaves nothing behind. Output goes to a temporary file (a pipe nobody reads could
fill up and block the worker).

``python -m signal_support pool --url URL [--num-workers N] [--burst] [--worker-class PATH] QUEUE...``
runs a :class:`rq.worker_pool.WorkerPool` (the pool tests start it that way).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

import redis

from rq.worker import HerokuWorker
from rqtest_jobs_signals import RUNNING_KEY
from worker_process import wait_until, worker_env


class QuickHerokuWorker(HerokuWorker):
    imminent_shutdown_delay = 1


class InstantHerokuWorker(HerokuWorker):
    imminent_shutdown_delay = 0


class Launched:
    """A process started in its own session, with its output in a temporary file."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self._output: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.process = subprocess.Popen(
            command,
            env=worker_env(**(env or {})),
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.process.pid

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if the process is still running after ``timeout`` seconds."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def output(self) -> str:
        self._output.seek(0)
        return self._output.read().decode('utf-8', 'replace')

    def alive_in_session(self) -> list[int]:
        return session_pids(self.pid)

    def kill(self) -> None:
        kill_session(self.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)

    def close(self) -> None:
        self.kill()
        self._output.close()


def session_pids(session: int) -> list[int]:
    """Live processes (not zombies) of a session, from /proc."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat', 'rb') as stat:
                fields = stat.read().rsplit(b')', 1)[1].split()
        except OSError:
            continue
        state, sid = fields[0], int(fields[3])
        if sid == session and state != b'Z':
            found.append(int(entry))
    return found


def kill_session(session: int) -> None:
    """SIGKILL every process of a session (again, until none is left, for up to 5 s)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pids = session_pids(session)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


@contextlib.contextmanager
def launched(command: list[str], env: dict[str, str] | None = None) -> Iterator[Launched]:
    """``command`` in its own session (with ``env`` added to the test environment), killed at the end."""
    process = Launched(command, env)
    try:
        yield process
    finally:
        process.close()


def worker_command(port: int, *args: str) -> list[str]:
    return [sys.executable, '-m', 'rq.worker', '--url', f'redis://127.0.0.1:{port}/0', *args]


def pool_command(port: int, *args: str) -> list[str]:
    return [sys.executable, '-m', 'signal_support', 'pool', '--url', f'redis://127.0.0.1:{port}/0', *args]


@contextlib.contextmanager
def running_worker(connection: redis.Redis, port: int, name: str, *args: str) -> Iterator[Launched]:
    """A ``python -m rq.worker --name NAME ARGS`` process, yielded once it waits for work."""
    with launched(worker_command(port, '--name', name, *args)) as process:
        if not wait_until(lambda: worker_field(connection, name, 'state') == 'idle' or process.wait(0) is not None):
            raise AssertionError(f'worker {name} did not start:\n{process.output()}')
        if process.wait(0) is not None:
            raise AssertionError(f'worker {name} exited at start:\n{process.output()}')
        yield process


def worker_field(connection: redis.Redis, name: str, field: str) -> str | None:
    value = connection.hget(f'rq:worker:{name}', field)
    return value.decode() if isinstance(value, bytes) else None


def worker_hash(connection: redis.Redis, name: str) -> dict[str, str]:
    raw: dict[bytes, bytes] = connection.hgetall(f'rq:worker:{name}')  # type: ignore[assignment]
    return {k.decode(): v.decode() for k, v in raw.items()}


def registered_workers(connection: redis.Redis) -> set[str]:
    return {member.decode().split(':', 2)[2] for member in connection.smembers('rq:workers')}  # type: ignore[union-attr]


def running_ids(connection: redis.Redis) -> list[str]:
    return [item.decode() for item in connection.lrange(RUNNING_KEY, 0, -1)]  # type: ignore[union-attr]


def wait_running(connection: redis.Redis, job_id: str, timeout: float = 30.0) -> None:
    """Wait until the job's function has really started (see ``rqtest_jobs_signals``)."""
    if not wait_until(lambda: job_id in running_ids(connection), timeout):
        raise AssertionError(f'job {job_id} did not start running within {timeout} s')


def timed(step: Callable[[], Any]) -> float:
    started = time.monotonic()
    step()
    return time.monotonic() - started


# -- the pool runner -------------------------------------------------------------------------


POOL_STARTED_KEY = 'rqtest:pool-started'


def _run_pool(argv: list[str]) -> int:
    from rq.utils import import_attribute
    from rq.worker_pool import WorkerPool

    class MarkingPool(WorkerPool):
        """Says (in Redis) when it starts its workers: its signal handlers are installed by then."""

        def start_workers(self, *args: Any, **kwargs: Any) -> None:
            self.connection.set(POOL_STARTED_KEY, os.getpid())
            super().start_workers(*args, **kwargs)

    parser = argparse.ArgumentParser(prog='signal_support pool')
    parser.add_argument('queues', nargs='+')
    parser.add_argument('--url', required=True)
    parser.add_argument('--num-workers', type=int, default=2)
    parser.add_argument('--burst', action='store_true')
    parser.add_argument('--worker-class', default='rq.worker.Worker')
    args = parser.parse_args(argv)
    connection = redis.Redis.from_url(args.url)
    pool = MarkingPool(
        args.queues,
        connection=connection,
        num_workers=args.num_workers,
        worker_class=import_attribute(args.worker_class),
    )
    pool.start(burst=args.burst, logging_level='INFO')
    return 0


if __name__ == '__main__':
    if sys.argv[1:2] != ['pool']:
        raise SystemExit('usage: python -m signal_support pool ...')
    sys.exit(_run_pool(sys.argv[2:]))
