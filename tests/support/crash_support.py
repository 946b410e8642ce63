"""Support for the crash, bad-input and resilience tests of the workers.

- :class:`PersistentRedisServer`: a private redis-server whose data survives a restart (AOF,
  fsync on every write).
- A *victim* worker process (``python crash_support.py ...``, see :func:`start_victim`) that can be
  made to SIGKILL itself at chosen points of a job's lifecycle: right after the claim, after the
  run but before the outcome is written, or in the middle of writing the outcome (a Redis
  connection class that sends half of the script call recording a success, or all of it, then dies).
- :class:`ProcessGuard`: remembers every process a test started, with their descendants (horse
  factories, horses), and kills whatever is left at the end.
- :func:`census`: where each job ended up, checked against the registries, so a test can assert
  that none is lost or stuck ``started``.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from redis_server import RedisServer
from worker_process import wait_until, worker_env

HERE = Path(__file__).resolve().parent

DIE_POINTS = ('claimed', 'recording', 'result-partial', 'result-sent')
ABANDONED_TEXT = 'Moved to FailedJobRegistry, due to AbandonedJobError'


# -- a Redis that keeps its data across restarts -----------------------------------------------


class PersistentRedisServer(RedisServer):
    """A private redis-server with an append-only file fsynced on every write."""

    def persistence_options(self) -> list[str]:
        return ['--save', '', '--appendonly', 'yes', '--appendfsync', 'always']

    def kill(self) -> None:
        """SIGKILL the server (no shutdown save: only what was fsynced survives)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


# -- processes ---------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time) of a live process, None when it is gone (or a zombie)."""
    try:
        text = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return None
    fields = text[text.rindex(')') + 2 :].split()
    if fields[0] in ('Z', 'X'):
        return None
    return int(fields[1]), int(fields[19])


def alive(pid: int) -> bool:
    return _stat(pid) is not None


def descendants(pid: int) -> list[int]:
    """The live descendants of ``pid`` (children first)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                children.setdefault(stat[0], []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class ProcessGuard:
    """Processes a test started; :meth:`cleanup` kills any that are still alive."""

    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    known: dict[int, int] = field(default_factory=dict)  # pid -> start time

    def add(self, process: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        self.processes.append(process)
        return process

    def remember_tree(self, process: subprocess.Popen[bytes]) -> list[int]:
        """Note the process's current descendants (so they can be found after it dies)."""
        tree = descendants(process.pid)
        for pid in tree:
            stat = _stat(pid)
            if stat is not None:
                self.known[pid] = stat[1]
        return tree

    def track(self, pid: int) -> None:
        stat = _stat(pid)
        if stat is not None:
            self.known[pid] = stat[1]

    def leftovers(self) -> list[int]:
        """Remembered descendants still alive (the same process: same start time)."""
        left = []
        for pid, started in self.known.items():
            stat = _stat(pid)
            if stat is not None and stat[1] == started:
                left.append(pid)
        return left

    def cleanup(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                self.remember_tree(process)
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            try:
                process.communicate(timeout=10)
            except Exception:
                pass
        for pid in self.leftovers():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(lambda: not self.leftovers(), 30.0)


def victim_processes(port: int) -> list[int]:
    """Live processes started as victims on ``port``: victim workers and what they forked (a horse
    factory and its horses share the victim's command line)."""
    found = []
    script = str(HERE / 'crash_support.py')
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or not alive(int(entry)):
            continue
        try:
            args = Path(f'/proc/{entry}/cmdline').read_bytes().split(b'\0')
        except OSError:
            continue
        if script.encode() in args and str(port).encode() in args:
            found.append(int(entry))
    return found


def output_of(process: subprocess.Popen[bytes], timeout: float = 10.0) -> str:
    """Kill ``process`` if it still runs; what it printed."""
    if process.poll() is None:
        process.kill()
    out, _ = process.communicate(timeout=timeout)
    return out.decode('utf-8', 'replace') if out else ''


def start_victim(
    port: int,
    queues: Sequence[str],
    worker_class: str = 'Worker',
    interval: int = 1,
    die_at: str | None = None,
    marker: str | None = None,
    name: str | None = None,
    burst: bool = False,
    claim_ahead: bool = False,
) -> subprocess.Popen[bytes]:
    """A worker process (``worker_class`` of rq.worker) on ``queues`` that SIGKILLs itself at
    ``die_at`` (one of :data:`DIE_POINTS`) on its first job, if given. It claims the next job with
    each recording only with ``claim_ahead``."""
    command = [sys.executable, str(HERE / 'crash_support.py'), '--port', str(port), '--worker-class', worker_class]
    command += ['--interval', str(interval)]
    if die_at:
        command += ['--die-at', die_at]
    if marker:
        command += ['--marker', marker]
    if name:
        command += ['--name', name]
    if burst:
        command.append('--burst')
    if claim_ahead:
        command.append('--claim-ahead')
    command += list(queues)
    return subprocess.Popen(command, env=worker_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def victims_die(
    connection: redis.Redis,
    guard: ProcessGuard,
    victims: list[subprocess.Popen[bytes]],
    started_keys: Sequence[str],
    kill_mid_job: bool,
    patience: float,
) -> None:
    """Wait until every victim has died of SIGKILL: by its own hand at its die point, or, with
    ``kill_mid_job``, killed by this once each of ``started_keys`` exists (its job has started)."""
    if kill_mid_job:
        assert wait_until(lambda: connection.exists(*started_keys) == len(started_keys), patience)
        for victim in victims:
            guard.remember_tree(victim)
            victim.kill()
    for victim in victims:
        victim.wait(patience)
        assert victim.returncode == -signal.SIGKILL


def wait_for_worker(connection: redis.Redis, name: str, timeout: float = 30.0) -> bool:
    """Wait until worker ``name`` is registered and idle (waiting for jobs)."""
    return wait_until(lambda: connection.hget(f'rq:worker:{name}', 'state') in (b'idle', b'busy'), timeout)


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- where did the jobs go --------------------------------------------------------------------


@dataclass
class Census:
    places: dict[str, str]  # job id -> finished, failed, queued, started, scheduled, missing, or a problem
    exc: dict[str, str]  # job id -> failure text (failed jobs)
    problems: list[str]

    def ids(self, place: str) -> list[str]:
        return [job_id for job_id, where in self.places.items() if where == place]

    def count(self, place: str) -> int:
        return len(self.ids(place))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def census(connection: redis.Redis, queue_names: Iterable[str], job_ids: Iterable[str]) -> Census:
    """Where each job is. A job is *finished*, *failed*, *queued*, *started* or *scheduled* when its
    status and the registries (or queue list) agree; anything else is listed as a problem (a lost
    job, an id queued twice, a status without its registry entry ...)."""
    from rq.job import Job

    names = list(queue_names)
    queued: dict[str, int] = {}
    for name in names:
        for raw in connection.lrange(f'rq:queue:{name}', 0, -1):
            queued[_text(raw)] = queued.get(_text(raw), 0) + 1
    started: set[str] = set()
    for name in names:
        for member in connection.zrange(f'rq:wip:{name}', 0, -1):
            started.add(_text(member).rsplit(':', 1)[0])

    def in_registry(kind: str, job_id: str) -> bool:
        return any(connection.zscore(f'rq:{kind}:{name}', job_id) is not None for name in names)

    places: dict[str, str] = {}
    exc: dict[str, str] = {}
    problems: list[str] = []
    for job_id in job_ids:
        status = connection.hget(f'rq:job:{job_id}', 'status')
        status_text = _text(status) if status is not None else None
        where: str
        if status_text is None:
            where = 'missing'
        elif status_text == 'finished' and in_registry('finished', job_id):
            where = 'finished'
        elif status_text == 'failed' and in_registry('failed', job_id):
            where = 'failed'
            result = Job(job_id, connection=connection).latest_result()  # (its data may be undecodable)
            exc[job_id] = (result.exc_string if result is not None else None) or ''
        elif status_text == 'queued' and queued.get(job_id) == 1:
            where = 'queued'
        elif status_text == 'started' and job_id in started:
            where = 'started'
        elif status_text == 'scheduled' and in_registry('scheduled', job_id):
            where = 'scheduled'
        else:
            where = f'inconsistent (status {status_text}, queued {queued.get(job_id, 0)} times)'
        if queued.get(job_id, 0) > (1 if where == 'queued' else 0):
            where = f'{where}, but also queued {queued[job_id]} times'
        places[job_id] = where
        if where not in ('finished', 'failed', 'queued', 'started', 'scheduled'):
            problems.append(f'{job_id}: {where}')
    return Census(places, exc, problems)


def max_started_score(connection: redis.Redis, queue_names: Iterable[str]) -> float:
    scores = [score for name in queue_names for _, score in connection.zrange(f'rq:wip:{name}', 0, -1, withscores=True)]
    return max(scores, default=0.0)


def wait_started_expired(connection: redis.Redis, queue_names: Sequence[str], timeout: float = 15.0) -> None:
    """Wait until every started entry of ``queue_names`` has expired (its heartbeat stopped)."""
    deadline = max_started_score(connection, queue_names)
    assert deadline - time.time() < timeout, 'a started entry lives too long'
    while time.time() < deadline + 0.02:
        time.sleep(0.02)


def expire_started_entries(connection: redis.Redis, queue_names: Iterable[str]) -> None:
    """Let every started entry of ``queue_names`` expire now, as time does once their workers have
    stopped heartbeating: for victims with a heartbeat interval long enough that no entry of theirs
    can expire while the test still needs it (however slowly the machine runs)."""
    moment = time.time()
    for name in queue_names:
        key = f'rq:wip:{name}'
        members = connection.zrange(key, 0, -1)
        if members:
            connection.zadd(key, dict.fromkeys(members, moment), xx=True)


def drain(connection: redis.Redis, queue_names: Sequence[str], worker_class: str = 'Worker', interval: int = 1) -> Any:
    """Run a fresh worker of ``worker_class`` in this process, in burst mode, after every started
    entry has expired: it fails (or retries) the abandoned jobs and runs what is queued."""
    import rq.worker

    wait_started_expired(connection, queue_names)
    cls = getattr(rq.worker, worker_class)
    worker = cls(list(queue_names), connection=connection, job_monitoring_interval=interval)
    worker.work(burst=True)
    return worker


# -- the victim worker (run as a script) ------------------------------------------------------


def _die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(10)


def _dying_connection_class(mode: str, marker: bytes) -> type[redis.connection.Connection]:
    from rq._redis import scripts

    finish_job = scripts.sha('finish_job').encode()

    class DyingConnection(redis.connection.Connection):
        """Dies while sending the first successful outcome (the script call that records it, with
        ``marker`` in it): after half of it, or after all of it."""

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            chunks = [command] if isinstance(command, (bytes, str, memoryview)) else list(command)
            data = b''.join(c.encode() if isinstance(c, str) else bytes(c) for c in chunks)
            if finish_job not in data or marker not in data:
                super().send_packed_command(command, check_health)
                return
            if self._sock is None:
                self.connect()
            assert self._sock is not None
            if mode == 'result-partial':
                self._sock.sendall(data[: len(data) // 2])
            else:
                self._sock.sendall(data)
            time.sleep(0.2)  # let the bytes reach Redis before the socket is torn down
            _die()

    return DyingConnection


def victim_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('queues', nargs='+')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--worker-class', default='Worker')
    parser.add_argument('--interval', type=int, default=1)
    parser.add_argument('--die-at', choices=DIE_POINTS)
    parser.add_argument('--marker')
    parser.add_argument('--name')
    parser.add_argument('--burst', action='store_true')
    parser.add_argument('--claim-ahead', action='store_true')
    args = parser.parse_args(argv)

    import rq.worker

    base = getattr(rq.worker, args.worker_class)
    die_at = args.die_at

    class Victim(base):  # type: ignore[misc, valid-type]
        def execute_job(self, job: Any, queue: Any, execution: Any = None) -> None:
            if die_at == 'claimed':
                _die()
            super().execute_job(job, queue, execution)

        def record(self, *a: Any, **kw: Any) -> None:
            if die_at == 'recording':
                _die()
            super().record(*a, **kw)

        def claim_ahead(self) -> Any:
            # Off unless asked: each victim then holds exactly the job it dies on (the claim-ahead
            # window is tested on its own).
            return super().claim_ahead() if args.claim_ahead else None

    connection_class: type[redis.connection.Connection] = redis.connection.Connection
    if die_at in ('result-partial', 'result-sent'):
        connection_class = _dying_connection_class(die_at, (args.marker or '').encode())
    pool = redis.ConnectionPool(host='127.0.0.1', port=args.port, connection_class=connection_class)
    connection = redis.Redis(connection_pool=pool)
    worker = Victim(args.queues, name=args.name, connection=connection, job_monitoring_interval=args.interval)
    worker.work(burst=args.burst, logging_level='INFO')


if __name__ == '__main__':
    victim_main()
