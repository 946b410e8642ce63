"""WorkerPool: starting, respawning and stopping its workers (the pool runs in its own process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import redis

import rq.worker.pool
import rq.worker_pool
from redis_server import RedisServer
from rq import Queue
from rq.job import JobStatus
from rq.worker import SimpleWorker
from signal_support import POOL_STARTED_KEY, launched, pool_command, registered_workers, wait_running, worker_hash
from worker_process import wait_until


def _parent_of(pid: int) -> int:
    with open(f'/proc/{pid}/stat', 'rb') as stat:
        return int(stat.read().rsplit(b')', 1)[1].split()[1])


def _idle_workers(connection: redis.Redis) -> set[str]:
    return {name for name in registered_workers(connection) if worker_hash(connection, name).get('state') == 'idle'}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_pool_starts_its_workers_and_stops_them(connection: redis.Redis, redis_server: RedisServer) -> None:
    with launched(pool_command(redis_server.port, '--num-workers', '3', 'default', 'low')) as pool:
        assert wait_until(lambda: len(_idle_workers(connection)) == 3, 30), pool.output()
        names = _idle_workers(connection)
        pids = {int(worker_hash(connection, name)['pid']) for name in names}
        assert len(pids) == 3
        assert all(_parent_of(pid) == pool.pid for pid in pids)
        assert all(worker_hash(connection, name)['queues'] == 'default,low' for name in names)

        pool.send(signal.SIGTERM)
        assert pool.wait(30) == 0, pool.output()
        assert wait_until(lambda: not pool.alive_in_session(), 30), 'a worker outlived its pool'
        output = pool.output()

    ghosts = {name: worker_hash(connection, name) for name in registered_workers(connection)}
    assert ghosts == {}, f'ours: {sorted(names)}\n{output}'
    assert all('death' in worker_hash(connection, name) for name in names), output


def test_pool_respawns_a_killed_worker(connection: redis.Redis, redis_server: RedisServer, queue: Queue) -> None:
    with launched(pool_command(redis_server.port, '--num-workers', '2', 'default')) as pool:
        assert wait_until(lambda: len(_idle_workers(connection)) == 2, 30), pool.output()
        first = _idle_workers(connection)
        victim = sorted(first)[0]
        victim_pid = int(worker_hash(connection, victim)['pid'])
        os.kill(victim_pid, signal.SIGKILL)

        def respawned() -> set[str]:
            return _idle_workers(connection) - first

        assert wait_until(lambda: len(respawned()) == 1, 30), pool.output()
        newcomer = respawned().pop()
        assert _parent_of(int(worker_hash(connection, newcomer)['pid'])) == pool.pid
        assert pool.wait(0) is None
        survivors = [name for name in first if name != victim]
        assert all(_alive(int(worker_hash(connection, name)['pid'])) for name in survivors)

        jobs = [queue.enqueue('rqtest_jobs.say_hello', str(n)) for n in range(4)]
        assert wait_until(lambda: all(job.get_status() == JobStatus.FINISHED for job in jobs), 30), pool.output()

        pool.send(signal.SIGINT)
        assert pool.wait(30) == 0, pool.output()
        assert 'death' in worker_hash(connection, newcomer)


@pytest.mark.parametrize('how', ['SIGINT', 'SIGTERM', 'ctrl-c'])
def test_stopping_the_pool_lets_running_jobs_finish(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, how: str
) -> None:
    """SIGINT or SIGTERM to the pool, or SIGINT to its whole process group as a terminal's Ctrl-C
    does (each worker then gets two SIGINTs: the second, within a second, is ignored)."""
    with launched(pool_command(redis_server.port, '--num-workers', '2', 'default')) as pool:
        assert wait_until(lambda: len(_idle_workers(connection)) == 2, 30), pool.output()
        jobs = [queue.enqueue('rqtest_jobs_signals.announce_and_sleep', 1.0) for _ in range(2)]
        for job in jobs:
            wait_running(connection, job.id)
        waiting = queue.enqueue('rqtest_jobs.say_hello')
        if how == 'ctrl-c':
            os.killpg(pool.pid, signal.SIGINT)
        else:
            pool.send(signal.Signals[how])
        assert pool.wait(30) == 0, pool.output()
        assert wait_until(lambda: not pool.alive_in_session(), 30), 'a worker outlived its pool'
        output = pool.output()

    assert [job.get_status() for job in jobs] == [JobStatus.FINISHED, JobStatus.FINISHED], output
    assert waiting.get_status() == JobStatus.QUEUED
    assert registered_workers(connection) == set()
    assert 'cold shut down' not in output  # the duplicate signal is absorbed, not a cold shutdown


def test_burst_pool_drains_the_queues_and_exits(connection: redis.Redis, redis_server: RedisServer) -> None:
    high, low = Queue('high', connection=connection), Queue('low', connection=connection)
    jobs = [high.enqueue('rqtest_jobs.add', n, 1) for n in range(5)] + [
        low.enqueue('rqtest_jobs.add', n, 100) for n in range(5)
    ]
    command = pool_command(redis_server.port, '--num-workers', '2', '--burst', 'high', 'low')
    with launched(command) as pool:
        assert pool.wait(60) == 0, pool.output()
    assert [job.get_status() for job in jobs] == [JobStatus.FINISHED] * 10
    assert [job.return_value() for job in jobs] == [1, 2, 3, 4, 5, 100, 101, 102, 103, 104]
    assert high.count == 0 and low.count == 0
    assert registered_workers(connection) == set()


def test_burst_pool_in_process_with_simple_workers(connection: redis.Redis, queue: Queue) -> None:
    jobs = [queue.enqueue('rqtest_jobs.getpid') for _ in range(4)]
    pool = rq.worker_pool.WorkerPool([queue], connection=connection, num_workers=2, worker_class=SimpleWorker)
    assert pool.status == pool.Status.IDLE
    started = time.monotonic()
    pool.start(burst=True, logging_level='WARNING')
    assert time.monotonic() - started < 60  # (only a guard against a pool that never stops)
    assert pool.status == pool.Status.STOPPED
    assert pool.worker_dict == {}
    pids = {job.return_value() for job in jobs}
    assert os.getpid() not in pids  # run by the pool's children
    assert all(job.get_status() == JobStatus.FINISHED for job in jobs)


def test_pool_api(connection: redis.Redis) -> None:
    assert rq.worker_pool.WorkerPool is rq.worker.pool.WorkerPool
    assert [int(s) for s in rq.worker_pool.WorkerPool.Status] == [1, 2, 3]
    with pytest.raises(ValueError):
        rq.worker_pool.WorkerPool(['default'], connection=connection, num_workers=0)
    pool = rq.worker_pool.WorkerPool(['default', Queue('low', connection=connection)], connection=connection)
    assert pool.num_workers == 1
    assert pool._queue_names == ['default', 'low']


def test_a_second_signal_to_the_pool_is_a_cold_shutdown(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue
) -> None:
    with launched(pool_command(redis_server.port, '--num-workers', '2', 'default')) as pool:
        assert wait_until(lambda: len(_idle_workers(connection)) == 2, 30), pool.output()
        jobs = [queue.enqueue('rqtest_jobs_signals.announce_and_sleep', 30) for _ in range(2)]
        for job in jobs:
            wait_running(connection, job.id)
        pool.send(signal.SIGTERM)
        time.sleep(1.2)
        assert pool.wait(0) is None
        pool.send(signal.SIGTERM)
        assert pool.wait(25) == 0, pool.output()  # before the 30 s jobs could end
        assert wait_until(lambda: not pool.alive_in_session(), 30), 'a horse outlived its pool'
        output = pool.output()

    assert [job.get_status() for job in jobs] == [JobStatus.FAILED, JobStatus.FAILED], output
    for job in jobs:
        result = job.latest_result()
        assert result is not None and result.exc_string is not None
        assert 'cold shutdown' in result.exc_string
    assert registered_workers(connection) == set()


def test_stopping_the_pool_while_its_workers_start(connection: redis.Redis, redis_server: RedisServer) -> None:
    """A stop request that reaches a worker before its handlers are installed is not lost, and
    does not kill it half-way through its registration."""
    for delay in (0, 0.02, 0.05, 0.1):
        with launched(pool_command(redis_server.port, '--num-workers', '3', 'default')) as pool:
            assert wait_until(lambda: connection.exists(POOL_STARTED_KEY), 30, interval=0.002), pool.output()
            time.sleep(delay)
            pool.send(signal.SIGTERM)
            assert pool.wait(30) == 0, pool.output()
            assert wait_until(lambda: not pool.alive_in_session(), 30)
            output = pool.output()
        assert registered_workers(connection) == set(), (delay, output)
        names = [key.decode().split(':', 2)[2] for key in connection.keys('rq:worker:*')]
        assert all('death' in worker_hash(connection, name) for name in names), (delay, output)
        assert 'Traceback' not in output, output
        connection.flushall()


def test_ctrl_c_on_an_idle_pool(connection: redis.Redis, redis_server: RedisServer) -> None:
    """Each worker gets the terminal's SIGINT and the pool's: the duplicate, arriving once the idle
    worker has already stopped, must not interrupt its last steps (nor print a traceback)."""
    with launched(pool_command(redis_server.port, '--num-workers', '3', 'default')) as pool:
        assert wait_until(lambda: len(_idle_workers(connection)) == 3, 30), pool.output()
        names = _idle_workers(connection)
        os.killpg(pool.pid, signal.SIGINT)
        assert pool.wait(30) == 0, pool.output()
        output = pool.output()
    assert 'Traceback' not in output and 'KeyboardInterrupt' not in output, output
    assert 'exited with code 0' in output
    assert 'exited with code 1' not in output, output
    assert all('death' in worker_hash(connection, name) for name in names)
    assert registered_workers(connection) == set()


def test_a_pool_child_ignores_a_stop_signal_that_comes_after_its_worker_stopped(redis_server: RedisServer) -> None:
    """The terminal's Ctrl-C and the pool's copy of it can arrive far apart on a busy machine: once
    the worker has stopped (and restored what it found), a late one must not raise
    KeyboardInterrupt in the exiting child."""
    script = f"""
import os, signal, redis
from rq.worker.pool import run_worker
from rq.queue import Queue
signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGINT, signal.SIGTERM}})  # as the pool starts its children
run_worker('late-signal', ['default'], redis.Redis, redis.ConnectionPool, {{'port': {redis_server.port}}}, burst=True)
os.kill(os.getpid(), signal.SIGINT)
os.kill(os.getpid(), signal.SIGTERM)
print('still here')
"""
    completed = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert 'still here' in completed.stdout
    assert 'KeyboardInterrupt' not in completed.stderr, completed.stderr
