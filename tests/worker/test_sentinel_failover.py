"""Redis Sentinel: a master failover in the middle of a run, with real processes (a master, a
replica, a sentinel in ``redis-server --sentinel`` mode, an ``rq worker`` started with a ``SENTINEL``
setting, a producer on ``Sentinel.master_for``), and the replica-acknowledged enqueue
(``Queue(replicas=N)``) that makes every enqueue that returned survive it.

- A failover mid-run, with ``replicas=1``: no acknowledged job is lost (while a job enqueued
  without the option in the same window is); producer and worker follow the new master by
  themselves.
- The option itself on a master and a real replica: the job is on the replica when the enqueue
  returns; too few replicas raise ``ReplicationTimeout`` at once, with the job written on the master.
- A success the old master recorded but never replicated: the new master shows the job started;
  the worker that ran it holds it no more, so it is failed as abandoned and retried: it runs again.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import rqtest_jobs_failover
from crash_support import ProcessGuard, census
from redis_server import RedisServer
from rq import Queue, Retry
from rq.exceptions import ReplicationTimeout
from rq.job import Job
from sentinel_cluster import MASTER_NAME, DataServer, SentinelCluster, running_sentinel_cluster
from worker_process import wait_until, worker_env

QUEUE = 'failover'
#: Jobs enqueued before the master is killed, and while (and after) the sentinel replaces it.
JOBS_BEFORE = 30
JOBS_DURING = 60
PATIENCE = 120.0


def _quietly(predicate: Any) -> Any:
    """``predicate`` for :func:`wait_until`, false while Redis is away (a failover under way)."""

    def checked() -> bool:
        try:
            return bool(predicate())
        except redis.RedisError:
            return False

    return checked


def start_worker(cluster: SentinelCluster, tmp_path: Path, guard: ProcessGuard) -> tuple[subprocess.Popen[bytes], Path]:
    """``rq worker`` with a config module whose ``SENTINEL`` setting names the sentinels; a job's
    heartbeat every second (its started entry lapses 1.5 s after its last one). Its log goes to a
    file (returned)."""
    (tmp_path / 'failover_settings.py').write_text(f'SENTINEL = {cluster.sentinel_settings()!r}\n')
    log = tmp_path / 'worker.log'
    env = worker_env()
    env['PYTHONPATH'] = os.pathsep.join([str(tmp_path), env['PYTHONPATH']])
    command = [sys.executable, '-m', 'rq.cli', 'worker', '--config', 'failover_settings']
    command += ['--job-monitoring-interval', '1', QUEUE]
    with log.open('wb') as output:
        worker = guard.add(subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT))
    return worker, log


def worker_registered(connection: redis.Redis) -> bool:
    return bool(connection.scard(f'rq:workers:{QUEUE}'))


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    worker.terminate()
    worker.wait(60)


class Producer:
    """Enqueues jobs the way an application that must not lose them does: each one until its
    enqueue returns, sending the same ``job_id`` again after a connection error (the master is
    gone, or the sentinel still names it) or a ReplicationTimeout (the new master has no replica
    in sync yet). Counts what it met on the way."""

    def __init__(self, queue: Queue, runs: Path) -> None:
        self.queue = queue
        self.runs = runs
        self.acknowledged: list[str] = []
        self.connection_errors = 0
        self.replication_timeouts = 0

    def enqueue(self, number: int) -> None:
        job_id = f'job-{number}'
        while True:
            try:
                self.queue.enqueue(
                    rqtest_jobs_failover.note_run, str(self.runs), 0.02, job_id=job_id, retry=Retry(max=2)
                )
            except (redis.ConnectionError, redis.TimeoutError):
                self.connection_errors += 1
            except ReplicationTimeout:
                self.replication_timeouts += 1
            else:
                self.acknowledged.append(job_id)
                return
            assert self.connection_errors + self.replication_timeouts < 2000, 'the producer never got through'
            time.sleep(0.05)


class Operator(threading.Thread):
    """Kills the master once the producer has met ``timeouts`` more ReplicationTimeouts (enqueues
    that wrote their job on the master only), then does what an operator (or systemd) does once the
    sentinel has promoted the replica: starts the dead master again, empty, as a replica of the
    new master. Errors are kept for the test to raise."""

    def __init__(self, cluster: SentinelCluster, producer: Producer, timeouts: int) -> None:
        super().__init__(name='operator', daemon=True)
        self.cluster = cluster
        self.producer = producer
        self.timeouts = producer.replication_timeouts + timeouts
        self.old_port: int | None = None
        self.new_port: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            assert wait_until(lambda: self.producer.replication_timeouts >= self.timeouts, PATIENCE)
            self.old_port = self.cluster.kill_master()
            self.new_port = self.cluster.wait_for_new_master(self.old_port)
            self.cluster.revive_as_replica(self.old_port, self.new_port)
        except BaseException as exc:
            self.error = exc

    def result(self) -> tuple[int, int]:
        self.join(PATIENCE * 2)
        assert not self.is_alive(), 'the failover and the revival did not end'
        if self.error is not None:
            raise self.error
        assert self.old_port is not None and self.new_port is not None
        return self.old_port, self.new_port


def settled(connection: redis.Redis, job_ids: list[str]) -> bool:
    """Every job finished or failed (a job whose claim or outcome the failover dropped may be
    queued or started again for a while)."""
    places = census(connection, [QUEUE], job_ids).places.values()
    return all(place in ('finished', 'failed') for place in places)


def test_a_failover_mid_run_loses_no_acknowledged_job(tmp_path: Path, guard: ProcessGuard) -> None:
    """Mid-run, the replica stops receiving the master's writes (as when replication lags), then the
    master is SIGKILLed and the sentinel promotes the replica. Without the option, an enqueue that
    returned meanwhile is lost (the control job); with ``replicas=1`` every enqueue that returned is
    on the new master and ends finished (or failed with a cause): the enqueues that were not
    acknowledged raised, and the producer sent them again. Producer and worker follow the new master
    by themselves; what the worker did on the old master after the cut (claims, outcomes) is gone
    too, and its jobs run again."""
    runs = tmp_path / 'runs'
    # (a long failover-timeout: the sentinel leaves the cut-off replica alone meanwhile)
    with running_sentinel_cluster(failover_timeout_ms=60_000) as cluster:
        worker, log = start_worker(cluster, tmp_path, guard)
        client = cluster.sentinel_client().master_for(MASTER_NAME)
        producer = Producer(Queue(QUEUE, connection=client, replicas=1, replica_timeout=1), runs)
        assert wait_until(lambda: worker_registered(client), PATIENCE), log.read_text()

        for number in range(JOBS_BEFORE):
            producer.enqueue(number)
        assert wait_until(lambda: len(rqtest_jobs_failover.runs(str(runs))) >= 5, PATIENCE), log.read_text()
        cluster.cut_replication()
        control = Queue(QUEUE, connection=client).enqueue(rqtest_jobs_failover.note_run, str(runs), job_id='control')
        operator = Operator(cluster, producer, timeouts=3)
        operator.start()
        for number in range(JOBS_BEFORE, JOBS_BEFORE + JOBS_DURING):
            producer.enqueue(number)
        old_port, new_port = operator.result()

        acknowledged = producer.acknowledged
        assert wait_until(_quietly(lambda: settled(client, acknowledged)), PATIENCE), log.read_text()
        outcome = census(client, [QUEUE], acknowledged)
        control_kept = Job.exists(control.id, connection=client)
        assert worker.poll() is None, log.read_text()  # the same worker followed the new master
        stop_worker(worker)

    assert new_port != old_port
    assert not control_kept  # the window without the option: its enqueue returned, and it is gone
    assert producer.replication_timeouts >= 3 and producer.connection_errors > 0
    assert len(acknowledged) == JOBS_BEFORE + JOBS_DURING
    lost = {job_id: place for job_id, place in outcome.places.items() if place not in ('finished', 'failed')}
    assert lost == {}, outcome.problems
    assert outcome.count('finished') + outcome.count('failed') == JOBS_BEFORE + JOBS_DURING
    assert all(outcome.exc[job_id] for job_id in outcome.ids('failed')), outcome.exc  # failed: with a cause
    assert set(outcome.ids('finished')) <= set(rqtest_jobs_failover.runs(str(runs)))
    assert 'Redis connection lost' in log.read_text()


# -- the option on a master and a real replica --------------------------------------------------


@pytest.fixture
def replicated() -> Iterator[tuple[DataServer, DataServer]]:
    """A master and its replica, in sync."""
    master = DataServer()
    replica = DataServer()
    try:
        master.start()
        replica.replica_of = master.port
        replica.start()
        assert wait_until(lambda: replica.client().info('replication')['master_link_status'] == 'up', PATIENCE)
        yield master, replica
    finally:
        for server in (replica, master):
            stop_and_remove(server)


def stop_and_remove(server: RedisServer) -> None:
    server.stop()
    shutil.rmtree(server.workdir, ignore_errors=True)


def test_an_acknowledged_enqueue_is_on_the_replica_when_it_returns(replicated: tuple[DataServer, DataServer]) -> None:
    master, replica = replicated
    queue = Queue(QUEUE, connection=master.client(), replicas=1, replica_timeout=30)
    on_replica = replica.client()

    job = queue.enqueue(rqtest_jobs_failover.note_run, '/dev/null')
    assert on_replica.hget(job.key, 'status') == b'queued'
    assert on_replica.lrange(queue.key, 0, -1) == [job.id.encode()]

    jobs = queue.enqueue_many([Queue.prepare_data(rqtest_jobs_failover.note_run, ('/dev/null',)) for _ in range(3)])
    assert [on_replica.hget(j.key, 'status') for j in jobs] == [b'queued'] * 3

    scheduled = queue.enqueue_in(datetime.timedelta(hours=1), rqtest_jobs_failover.note_run, '/dev/null')
    assert on_replica.zscore(f'rq:scheduled:{QUEUE}', scheduled.id) is not None


def test_too_few_replicas_raise_with_the_job_written_on_the_master(replicated: tuple[DataServer, DataServer]) -> None:
    master, replica = replicated
    connection = master.client()

    with pytest.raises(ReplicationTimeout) as raised:
        Queue(QUEUE, connection=connection, replicas=2, replica_timeout=0.5).enqueue(
            rqtest_jobs_failover.note_run, '/dev/null'
        )
    error = raised.value
    assert error.requested == 2 and error.acknowledged in (0, 1)  # (the one replica, unless it was slow)
    assert 'written on the master' in str(error) and error.job_id in str(error)
    assert Job.fetch(error.job_id, connection=connection).get_status() == 'queued'

    stop_and_remove(replica)
    with pytest.raises(ReplicationTimeout) as raised:
        Queue(QUEUE, connection=connection, replicas=1, replica_timeout=0.1).enqueue_many(
            [Queue.prepare_data(rqtest_jobs_failover.note_run, ('/dev/null',)) for _ in range(2)]
        )
    error = raised.value
    assert (error.acknowledged, error.requested, len(error.job_ids)) == (0, 1, 2)
    assert [Job.fetch(job_id, connection=connection).get_status() for job_id in error.job_ids] == ['queued'] * 2


# -- a success the failover dropped -----------------------------------------------------------


def test_a_success_the_failover_dropped_is_run_again(tmp_path: Path, guard: ProcessGuard) -> None:
    """The worker records a job's success on the master, which dies before its replica has it (here
    the replica is cut off first): the promoted replica shows the job started, by a worker that has
    moved on. Nobody renews that run, so once the worker's grace after the outage is over (two
    entry lifetimes, 3 s at a 1 s heartbeat) it is failed as abandoned and, having retries left,
    run again. (Without retries it would stay failed, with AbandonedJobError as its cause.)"""
    runs, release = tmp_path / 'runs', tmp_path / 'release'
    # (a long failover-timeout: the sentinel leaves the cut-off replica alone meanwhile)
    with running_sentinel_cluster(failover_timeout_ms=60_000) as cluster:
        worker, log = start_worker(cluster, tmp_path, guard)
        client = cluster.sentinel_client().master_for(MASTER_NAME)
        queue = Queue(QUEUE, connection=client, replicas=1, replica_timeout=30)
        assert cluster.master is not None and cluster.replica is not None
        master, replica = cluster.master.client(), cluster.replica.client()
        assert wait_until(lambda: worker_registered(client), PATIENCE), log.read_text()

        job = queue.enqueue(rqtest_jobs_failover.note_run, str(runs), 0, str(release), retry=Retry(max=1))
        assert wait_until(lambda: rqtest_jobs_failover.runs(str(runs)) == [job.id], PATIENCE), log.read_text()
        master.set('fence', 1)
        assert master.wait(1, 30_000) == 1  # everything so far (the claim) is on the replica
        cluster.cut_replication()
        release.touch()
        assert wait_until(lambda: master.hget(job.key, 'status') == b'finished', PATIENCE), log.read_text()
        old_port = cluster.kill_master()
        new_port = cluster.wait_for_new_master(old_port)
        assert new_port == cluster.replica.port
        assert replica.hget(job.key, 'status') == b'started'  # the success is gone with the old master

        def ran_again() -> bool:
            return (
                len(rqtest_jobs_failover.runs(str(runs))) == 2
                and Job.fetch(job.id, connection=client).get_status() == 'finished'
            )

        assert wait_until(_quietly(ran_again), PATIENCE), log.read_text()
        assert worker.poll() is None, log.read_text()
        stop_worker(worker)
        text = log.read_text()

    assert rqtest_jobs_failover.runs(str(runs)) == [job.id, job.id]
    assert f'Job abandoned ({job.id})' in text and 'retried' in text


@pytest.mark.parametrize('worker_class', ['SpawnWorker', 'Worker'])
def test_a_worker_whose_horse_connects_anew_runs_jobs_through_sentinel(tmp_path: Path, worker_class: str) -> None:
    # (a spawned horse builds its own connection: it asks the sentinels for the master again)
    with running_sentinel_cluster() as cluster:
        client = cluster.sentinel_client().master_for(MASTER_NAME)
        jobs = [Queue(QUEUE, connection=client).enqueue('rqtest_jobs.add', index, b=1) for index in range(3)]
        (tmp_path / 'spawn_settings.py').write_text(f'SENTINEL = {cluster.sentinel_settings()!r}\n')
        env = worker_env()
        env['PYTHONPATH'] = os.pathsep.join([str(tmp_path), env['PYTHONPATH']])
        command = [sys.executable, '-m', 'rq.cli', 'worker', '--config', 'spawn_settings', '--burst']
        command += ['--worker-class', worker_class, QUEUE]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert [job.get_status(refresh=True) for job in jobs] == ['finished'] * 3
        assert [job.return_value() for job in jobs] == [1, 2, 3]
