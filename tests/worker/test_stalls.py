"""A worker rides out a Redis that is slow or away.

- Slow: ``CLIENT PAUSE 10000`` (ALL, or WRITE), or a Lua script that runs 5.5 s, in the middle of
  a stream of jobs holds every command of the worker for longer than its socket timeout
  (redis-py's 5 s, as ``python -m rq.worker`` connects), or has them refused with BUSY. The
  worker's calls time out, are sent again (the claim with the same execution id, the recording
  checked first), and every job runs and is recorded exactly once; the worker stays up, logs the
  outage once (lost, then back), and exits with 0 when asked to stop.
- Away: redis-server stopped, then started again on its port. One "lost" line, one "back" line,
  no line per failed read of the command channel meanwhile; a job enqueued afterwards runs, and
  the command channel is subscribed again (a shutdown command stops the worker).
- The backoff between attempts grows up to its cap, starts again from the shortest delay once
  Redis answers, and is cut short when a probe finds Redis back (in-process, on a fake clock).

Each scenario runs a forking ``Worker``, a ``SimpleWorker`` and a ``ConcurrentWorker`` side by side, as
processes.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from crash_support import ProcessGuard, census
from redis_server import RedisServer, running
from rq import Queue
from rq.command import send_shutdown_command
from rq.exceptions import StopRequested
from rq.worker import SimpleWorker, loop
from worker_process import start_worker, wait_until

pytestmark = pytest.mark.timeout(120)  # (a guard against hangs only)

JOBS = 150
#: The workers each scenario runs side by side: name -> the options that make it.
WORKERS = {
    'Worker': ('--worker-class', 'Worker'),
    'SimpleWorker': ('--worker-class', 'SimpleWorker'),
    # (its slots read on blocking sockets: the monitor keeps their socket timeout, see slot_link.py)
    'ConcurrentWorker': ('--concurrency', '4'),
}
LOST = 'Redis connection lost'
BACK = 'Redis connection back'


class Output:
    """What a process prints, read by a thread as it comes (a test waits for a line)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.append(raw.decode('utf-8', 'replace').rstrip('\n'))

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))

    def text(self) -> str:
        self._thread.join(10 if self.process.poll() is not None else 0)
        return '\n'.join(self.lines)


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """Its own redis-server: a pause or a restart concerns only this test."""
    with running(RedisServer()) as started:
        yield started


def start_workers(server: RedisServer, guard: ProcessGuard) -> dict[str, tuple[subprocess.Popen[bytes], Output]]:
    """One worker process per class, as ``python -m rq.worker`` starts it (redis-py's default socket
    timeout), on the queue ``default``."""
    workers = {}
    for name, options in WORKERS.items():
        process = guard.add(start_worker(server.port, *options, '--name', name))
        workers[name] = (process, Output(process))
    return workers


def runs_of(path: Path) -> list[int]:
    """The indexes of the jobs that ran, one per run (rqtest_jobs_crash.note_run)."""
    try:
        return [int(line) for line in path.read_text().split()]
    except FileNotFoundError:
        return []


def stop_with_sigterm(process: subprocess.Popen[bytes], output: Output) -> int:
    process.send_signal(signal.SIGTERM)
    code = process.wait(60)
    output.text()
    return code


#: A Lua script that keeps Redis busy for 5.5 s: past its busy-reply threshold (5 s: other clients
#: then get BUSY error replies) and the workers' socket timeout.
BUSY_SCRIPT = """
local function clock() local t = redis.call('TIME') return tonumber(t[1]) + tonumber(t[2]) / 1e6 end
local start = clock()
while clock() - start < 5.5 do end
return 1
"""


def stall(server: RedisServer, mode: str) -> None:
    """Stall Redis: ``CLIENT PAUSE 10000 <mode>`` (returns at once), or run :data:`BUSY_SCRIPT`."""
    client = redis.Redis(port=server.port, socket_timeout=60)
    try:
        if mode == 'SCRIPT':
            client.eval(BUSY_SCRIPT, 0)
        else:
            client.execute_command('CLIENT', 'PAUSE', 10000, mode)
    finally:
        client.close()


@pytest.mark.parametrize('mode', ['ALL', 'WRITE', 'SCRIPT'])
def test_a_stall_longer_than_the_socket_timeout_loses_nothing(
    server: RedisServer, guard: ProcessGuard, tmp_path: Path, mode: str
) -> None:
    connection = redis.Redis(port=server.port)
    runs = tmp_path / 'runs'
    queue = Queue(connection=connection)
    jobs = [queue.enqueue('rqtest_jobs_crash.note_run', str(runs), i, 0.02) for i in range(JOBS)]
    workers = start_workers(server, guard)
    # (both workers registered, so past their start, before the stall: on a loaded machine one may
    # still be starting, and meet the stall as a slow first answer instead of a lost connection)
    names = [f'rq:worker:{worker_class}' for worker_class in workers]
    assert wait_until(lambda: len(runs_of(runs)) >= 20 and connection.exists(*names) == len(names), 60)
    stall(server, mode)
    ran_before_the_stall = len(runs_of(runs))

    # (the test's own reads wait out the pause too: redis-py sends them again after its timeout)
    def all_finished_or_a_worker_exited() -> bool:
        exited = any(process.poll() is not None for process, _ in workers.values())
        return exited or connection.zcard('rq:finished:default') == JOBS

    assert wait_until(all_finished_or_a_worker_exited, 90, interval=0.2)
    for worker_class, (process, output) in workers.items():
        assert process.poll() is None, f'{worker_class} exited:\n{output.text()}'
    assert ran_before_the_stall < JOBS  # (the stall came mid-run)
    found = census(connection, ['default'], [job.id for job in jobs])
    assert found.problems == [] and found.count('finished') == JOBS, found.places
    assert sorted(runs_of(runs)) == list(range(JOBS)), 'a job ran twice, or never'
    for index, job in enumerate(jobs):
        assert connection.xlen(f'rq:results:{job.id}') == 1, f'job {index} recorded twice'
        job.refresh()
        assert job.return_value() == index
    assert connection.zcard('rq:wip:default') == 0
    for process, output in workers.values():
        assert stop_with_sigterm(process, output) == 0, output.text()
        text = output.text()
        # every worker had a call in flight when the pause began (the stream never ran dry)
        assert output.count(LOST) == 1 and output.count(BACK) == 1, text
        assert 'Traceback' not in text and 'quitting because of Redis' not in text, text
        assert 'warm shutdown complete' in text, text


def test_redis_away_then_back(persistent: RedisServer, guard: ProcessGuard, tmp_path: Path) -> None:
    connection = redis.Redis(port=persistent.port)
    workers = start_workers(persistent, guard)
    for name in WORKERS:
        assert wait_until(lambda name=name: connection.hget(f'rq:worker:{name}', 'state') == b'idle', 60)
    connection.close()
    persistent.stop()
    for worker_class, (_, output) in workers.items():
        assert wait_until(lambda output=output: output.count(LOST) == 1, 60), f'{worker_class}:\n{output.text()}'
    persistent.start()  # (the same port)
    for worker_class, (_, output) in workers.items():
        assert wait_until(lambda output=output: output.count(BACK) == 1, 60), f'{worker_class}:\n{output.text()}'

    runs = tmp_path / 'runs'
    queue = Queue(connection=connection)
    jobs = [queue.enqueue('rqtest_jobs_crash.note_run', str(runs), i) for i in range(4)]
    assert wait_until(lambda: connection.zcard('rq:finished:default') == len(jobs), 60)
    assert sorted(runs_of(runs)) == list(range(len(jobs)))
    for name in WORKERS:  # (the command channel is subscribed again)
        send_shutdown_command(connection, name)
    for worker_class, (process, output) in workers.items():
        assert process.wait(60) == 0, f'{worker_class}:\n{output.text()}'
        text = output.text()
        assert output.count(LOST) == 1 and output.count(BACK) == 1, text
        assert 'command channel error' not in text and 'Traceback' not in text, text


def test_a_cold_shutdown_while_redis_is_away_exits_with_an_error(
    server: RedisServer, guard: ProcessGuard, tmp_path: Path
) -> None:
    """A worker holding a result Redis cannot take waits for Redis, through a warm shutdown; a
    cold one ends the wait: the worker says why and exits non-zero (a supervisor restarts it)."""
    connection = redis.Redis(port=server.port)
    runs = tmp_path / 'runs'
    Queue(connection=connection).enqueue('rqtest_jobs_crash.note_run', str(runs), 0, 1.0)
    process = guard.add(start_worker(server.port, '--name', 'cold'))
    output = Output(process)
    assert wait_until(lambda: runs_of(runs) == [0], 60), output.text()
    server.stop()
    assert wait_until(lambda: output.count(LOST) == 1, 60), output.text()
    process.send_signal(signal.SIGTERM)
    assert wait_until(lambda: output.count('warm shut down requested') == 1, 30), output.text()
    assert process.poll() is None, output.text()  # (it holds the result: it waits for Redis)

    # A second signal within a second of the first is ignored (the first was handled: its line is
    # out): one more, past that second, is the cold shutdown. (Only one: once the worker's own
    # handlers are gone, a further signal would kill the exiting process with its own exit code.)
    time.sleep(1.5)
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 1, output.text()
    text = output.text()
    assert 'quitting because of Redis: GaveUpOnRedis: cold shutdown while Redis did not answer' in text, text
    assert 'the worker stopped because of Redis' in text, text


# -- the backoff (in-process, on a fake clock) --------------------------------------------------


class FakeClock:
    """Stands for the ``time`` module in rq.worker.loop: sleeping moves the clock on at once."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(loop, 'time', fake)
    return fake


def failing(clock: FakeClock, errors: list[Exception], attempts: list[float]) -> Callable[[], str]:
    """A step that raises ``errors`` one by one, then succeeds; notes the moment of each attempt."""
    pending = list(errors)

    def step() -> str:
        attempts.append(clock.now)
        if pending:
            raise pending.pop(0)
        return 'done'

    return step


def gaps(attempts: list[float]) -> list[float]:
    return [round(later - earlier, 3) for earlier, later in itertools.pairwise(attempts)]


def test_the_backoff_grows_to_its_cap_then_starts_again_once_redis_answers(
    connection: redis.Redis, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis answers PINGs but not the step (paused for writes, say): the worker waits its whole
    delay, 1, 2, 4, then the cap; after a success the next outage starts again from 1 s."""
    worker = SimpleWorker(['default'], connection=connection)
    worker.first_reconnect_delay = 1.0
    worker.exponential_backoff_factor = 2.0
    worker.max_connection_wait_time = 5.0
    slow = redis.exceptions.TimeoutError('Timeout reading from socket')
    attempts: list[float] = []
    caplog.set_level('INFO', logger='rq.worker')
    assert worker._with_reconnect(failing(clock, [slow] * 5, attempts)) == 'done'
    assert gaps(attempts) == [1, 2, 4, 5, 5]
    attempts.clear()
    assert worker._with_reconnect(failing(clock, [slow] * 2, attempts)) == 'done'
    assert gaps(attempts) == [1, 2]
    messages = [record.getMessage() for record in caplog.records]
    assert sum(LOST in m for m in messages) == 2 and sum(BACK in m for m in messages) == 2, messages
    assert 'TimeoutError: Timeout reading from socket' in next(m for m in messages if LOST in m)


def test_a_probe_that_finds_redis_back_cuts_the_wait_short(
    connection: redis.Redis, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The step found Redis away (connection refused); the first PING that answers (about a second
    later) ends the wait, whatever the delay had grown to."""
    worker = SimpleWorker(['default'], connection=connection)
    worker.first_reconnect_delay = 30.0
    away = redis.exceptions.ConnectionError('Error 111 connecting to 127.0.0.1. Connection refused.')
    attempts: list[float] = []
    caplog.set_level('INFO', logger='rq.worker')
    assert worker._with_reconnect(failing(clock, [away, away], attempts)) == 'done'
    assert gaps(attempts) == [loop.PROBE_INTERVAL, loop.PROBE_INTERVAL]
    messages = [record.getMessage() for record in caplog.records]
    assert sum(LOST in m for m in messages) == 1 and sum(BACK in m for m in messages) == 1, messages


def test_a_stop_request_ends_the_wait_when_the_worker_holds_nothing(connection: redis.Redis, clock: FakeClock) -> None:
    worker = SimpleWorker(['default'], connection=connection)

    def step() -> Any:
        worker._stop_requested = True
        raise redis.exceptions.TimeoutError('Timeout reading from socket')

    with pytest.raises(StopRequested):
        worker._with_reconnect(step)
