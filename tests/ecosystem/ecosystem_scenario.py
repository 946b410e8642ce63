"""The scenario the ecosystem tests play twice, once with our packages and once with upstream rq 2.12.0, each
on its own database of the test's Redis: queues holding queued, started, finished, failed, deferred, scheduled
and canceled jobs, one idle worker (after two successes and a failure) and one busy worker (on a job that
waits until it is released). The clients then read both databases."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import redis

from clients import clean_environment, clients_python
from redis_server import RedisServer
from upstream import upstream_python

T = TypeVar('T')
HERE = Path(__file__).resolve().parent
OUR_DB, UPSTREAM_DB = 1, 2
RELEASE_KEY = 'eco:release'  # (ecosystem_jobs.block waits on it)
#: How long the workers may take to reach the scenario's state (a guard against hangs, not a speed limit).
WAIT_LIMIT = 90.0

#: The same code for both implementations: the rq API that both share.
SCENARIO = """
from datetime import timedelta
from rq import Queue
import ecosystem_jobs

eco = Queue('eco', connection=conn)
waiting = Queue('waiting', connection=conn)
slow = Queue('slow', connection=conn)
eco.enqueue(ecosystem_jobs.add, 1, 2)
eco.enqueue(ecosystem_jobs.add, 3, 4)
eco.enqueue(ecosystem_jobs.fail, 'boom')
parent = waiting.enqueue(ecosystem_jobs.add, 5, 6)
waiting.enqueue(ecosystem_jobs.add, 7, 8)
waiting.enqueue(ecosystem_jobs.add, 9, 10, depends_on=parent)
waiting.enqueue_in(timedelta(hours=1), ecosystem_jobs.add, 11, 12)
waiting.enqueue_in(timedelta(hours=2), ecosystem_jobs.add, 13, 14)
waiting.enqueue(ecosystem_jobs.add, 15, 16).cancel()
slow.enqueue(ecosystem_jobs.block, 'eco:release')
print('null')
"""

#: A worker that runs until it is stopped (SIGTERM: a warm shutdown).
WORKER = """
import rq
rq.{cls}([rq.Queue(name, connection=conn) for name in {queues!r}], connection=conn, name={name!r}).work(
    with_scheduler=False, logging_level='WARNING'
)
"""


def _script(code: str, port: int, db: int) -> str:
    return f'import json, redis\nconn = redis.Redis(port={port}, db={db})\n' + textwrap.dedent(code)


def _env() -> dict[str, str]:
    return clean_environment() | {'PYTHONPATH': str(HERE)}


def run(python: Path, code: str, port: int, db: int) -> Any:
    completed = subprocess.run(
        [str(python), '-c', _script(code, port, db)], capture_output=True, text=True, env=_env(), cwd=HERE, timeout=120
    )
    if completed.returncode != 0:
        raise AssertionError(f'{python} failed:\n{completed.stdout}\n{completed.stderr}')
    return json.loads(completed.stdout.splitlines()[-1])


class Side:
    """One implementation's half of the test: its interpreter, its database, its worker processes."""

    def __init__(self, python: Path, server: RedisServer, db: int, logs: Path) -> None:
        self.python, self.port, self.db, self.logs = python, server.port, db, logs
        self.workers: list[subprocess.Popen[str]] = []

    def run(self, code: str) -> Any:
        return run(self.python, code, self.port, self.db)

    def start_worker(self, cls: str, name: str, queues: list[str]) -> None:
        log = self.logs / f'{self.db}-{name}.log'
        code = WORKER.format(cls=cls, queues=queues, name=name)
        with open(log, 'w') as output:
            self.workers.append(
                subprocess.Popen(
                    [str(self.python), '-c', _script(code, self.port, self.db)],
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    text=True,
                    env=_env(),
                    cwd=HERE,
                )
            )

    def play(self) -> None:
        self.run(SCENARIO)
        self.start_worker('SimpleWorker', 'idle-worker', ['eco'])
        self.start_worker('Worker', 'busy-worker', ['slow'])

    def stop(self) -> None:
        redis.Redis(port=self.port, db=self.db).rpush(RELEASE_KEY, 'done')
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def worker_logs(self) -> str:
        return '\n'.join(f'--- {log.name}\n{log.read_text()}' for log in sorted(self.logs.glob(f'{self.db}-*.log')))


def wait_until(read: Callable[[], T], done: Callable[[T], bool]) -> T:
    """Reads until ``done(read())`` (the workers are still getting there) or the limit passes; returns the
    last reading, for the caller to assert on."""
    deadline = time.monotonic() + WAIT_LIMIT
    while True:
        seen = read()
        if done(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.2)


def wait_for(read: Callable[[], T], expected: T) -> T:
    """Reads until ``read()`` gives ``expected`` or the limit passes; returns the last reading."""
    return wait_until(read, lambda seen: seen == expected)


@contextlib.contextmanager
def both_sides(server: RedisServer, logs: Path) -> Iterator[tuple[Side, Side]]:
    """Our side (the clients virtualenv) and upstream's, their workers stopped at the end. The caller
    empties the server first (the ``connection`` fixture)."""
    ours = Side(clients_python(), server, OUR_DB, logs)
    theirs = Side(upstream_python(), server, UPSTREAM_DB, logs)
    try:
        yield ours, theirs
    finally:
        ours.stop()
        theirs.stop()
