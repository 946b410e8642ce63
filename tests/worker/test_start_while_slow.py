"""A worker started while Redis is there but slow to answer waits for it; one started while Redis
is absent exits with a clear error, as upstream's does (a supervisor restarts it)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import redis

from redis_server import RedisServer, free_port
from rq import Queue, SimpleWorker, Worker
from worker_process import wait_until, worker_env

COMMANDS = {
    'python -m rq.worker': [sys.executable, '-m', 'rq.worker'],
    'rq worker': [sys.executable, '-m', 'rq.cli', 'worker'],
}
PAUSE_MS = 7000  # past redis-py's socket timeout where it has one (5 s)


@pytest.mark.parametrize('command', COMMANDS)
def test_a_worker_started_during_a_pause_waits_then_works(redis_server: RedisServer, command: str) -> None:
    connection = redis.Redis(port=redis_server.port)
    job = Queue(connection=connection).enqueue('rqtest_jobs_crash.short', 7)
    worker = subprocess.Popen(
        [*COMMANDS[command], '--url', redis_server.url, '--burst', 'default'],
        env=worker_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    # (paused right away: the worker's first PING comes during the pause, or the pause is over)
    connection.execute_command('CLIENT', 'PAUSE', PAUSE_MS, 'ALL')
    output, _ = worker.communicate(timeout=120)
    text = output.decode(errors='replace')
    assert worker.returncode == 0, text
    assert 'cannot connect' not in text, text
    assert text.count('is slow to answer') <= 1, text
    assert job.get_status(refresh=True) == 'finished'


@pytest.mark.parametrize('command', COMMANDS)
def test_a_worker_started_without_redis_exits_with_an_error(command: str) -> None:
    url = f'redis://127.0.0.1:{free_port()}/0'
    completed = subprocess.run(
        [*COMMANDS[command], '--url', url, '--burst', 'default'],
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert f'cannot connect to Redis at {url}' in completed.stderr
    assert 'Traceback' not in completed.stderr


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker])
def test_work_without_redis_raises_the_connection_error(worker_class: type[Worker]) -> None:
    """As upstream's: ``work()`` lets the ``ConnectionError`` out (django-rq's ``rqworker`` prints it
    and exits 1) instead of waiting for a Redis that was never there."""
    connection = redis.Redis(port=free_port())
    worker = worker_class(['default'], connection=connection)
    with pytest.raises(redis.exceptions.ConnectionError):
        worker.work(burst=True)


@pytest.mark.parametrize('command', COMMANDS)
def test_a_worker_asked_to_stop_while_its_first_writes_wait_stops_cleanly(
    redis_server: RedisServer, command: str
) -> None:
    """Redis answers reads but holds writes (``CLIENT PAUSE WRITE``, as during a failover) while the
    worker registers itself: a SIGTERM then is a warm shutdown like any other (exit 0, no worker left
    registered), not the default action of the signal."""
    connection = redis.Redis(port=redis_server.port)
    connection.execute_command('CLIENT', 'PAUSE', 60_000, 'WRITE')
    worker = subprocess.Popen(
        [*COMMANDS[command], '--url', redis_server.url, '--name', 'starting', 'default'],
        env=worker_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        held = wait_until(
            lambda: any('b' in client.get('flags', '') for client in connection.client_list()), 60.0, 0.01
        )
        assert held, 'the worker never wrote'
        worker.send_signal(signal.SIGTERM)
    finally:
        connection.execute_command('CLIENT', 'UNPAUSE')
    output, _ = worker.communicate(timeout=120)
    text = output.decode(errors='replace')
    assert worker.returncode == 0, text
    assert 'warm shut down requested' in text, text
    assert not connection.sismember('rq:workers', 'rq:worker:starting')
