"""rq 3.0's worker execution index: ``rq:worker:<name>:executions`` holds ``<job_id>:<execution_id>`` of
each run a worker is busy with, so that rq 3.0's dashboards and ``rq info`` see our busy workers.

The set gets EXPIRE ttl+60 at the claim and is renewed by every heartbeat; each way a run ends
(success, failure, stop, abandonment, a claim handed back) takes its member out, and the worker's
death deletes the set. The execution hash gains ``job_id``. rq 2.x's ``current_job`` stays in the
worker hash, so that 2.x tools see the busy worker too. Workers run in their own processes.
"""

from __future__ import annotations

import time

import pytest
import redis

from redis_server import RedisServer
from rq import Queue
from rq._redis import worker_ops
from rq.command import send_command, send_shutdown_command, send_stop_execution_command
from rq.exceptions import InvalidJobOperation
from rq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE, Execution
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from rq.utils import current_timestamp
from rq.worker import SimpleWorker, Worker
from signal_support import running_worker, wait_running, worker_hash
from upstream import UPSTREAM_3_VERSION, run_upstream
from worker_process import wait_until

CLASSES = ['Worker', 'SimpleWorker']
LONG_JOB = 'rqtest_jobs_signals.announce_and_sleep_in_steps'


def index_key(name: str) -> str:
    return f'rq:worker:{name}:executions'


def members(connection: redis.Redis, name: str) -> set[str]:
    return {m.decode() for m in connection.smembers(index_key(name))}  # type: ignore[union-attr]


def started_member(connection: redis.Redis, job: Job) -> str:
    """The job's ``<job_id>:<execution_id>`` in the started registry (it has exactly one)."""
    [member] = [m.decode() for m in connection.zrange('rq:wip:default', 0, -1) if m.decode().startswith(f'{job.id}:')]  # type: ignore[union-attr]
    return member


def settled(job: Job) -> bool:
    return job.get_status() not in (JobStatus.QUEUED, JobStatus.STARTED)


# -- while busy, and after each way a run ends ----------------------------------------------------


@pytest.mark.parametrize('worker_class', CLASSES)
def test_a_busy_worker_is_seen_through_its_execution_index_and_success_empties_it(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str
) -> None:
    name = f'busy-{worker_class.lower()}'
    with running_worker(connection, redis_server.port, name, '--worker-class', worker_class) as process:
        job = queue.enqueue(LONG_JOB, 1.5)
        wait_running(connection, job.id)
        member = started_member(connection, job)
        execution_id = member.split(':', 1)[1]
        assert members(connection, name) == {member}
        assert 60 < connection.ttl(index_key(name)) <= 45 + 60  # (a run's entry lives 1.5 intervals of 30 s)
        execution_hash = connection.hgetall(f'rq:execution:{member}')
        assert execution_hash[b'job_id'] == job.id.encode()
        assert execution_hash[b'worker_name'] == name.encode()
        assert worker_hash(connection, name)['current_job'] == job.id  # (what rq 2.x tools read)

        [found] = Worker.all(connection=connection)
        assert found.name == name
        assert found.executions_key == index_key(name) == WORKER_EXECUTIONS_KEY_TEMPLATE.format(name)
        assert found.current_execution_count == 1
        [execution] = found.get_current_executions()
        assert (execution.job_id, execution.id, execution.worker_name) == (job.id, execution_id, name)
        assert execution.worker_executions_key == index_key(name)

        assert wait_until(lambda: settled(job), 30), process.output()
        assert job.get_status() == JobStatus.FINISHED
        assert not connection.exists(index_key(name))
        assert found.get_current_executions(refresh=True) == []
        assert found.current_execution_count == 0


@pytest.mark.parametrize('worker_class', CLASSES)
def test_a_failure_takes_the_run_out_of_the_index(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str
) -> None:
    name = f'fails-{worker_class.lower()}'
    with running_worker(connection, redis_server.port, name, '--worker-class', worker_class) as process:
        busy = queue.enqueue(LONG_JOB, 0.3)
        failing = queue.enqueue('rqtest_jobs.fail', 'on purpose')
        wait_running(connection, busy.id)
        assert members(connection, name) == {started_member(connection, busy)}
        assert wait_until(lambda: settled(failing), 30), process.output()
        assert failing.get_status() == JobStatus.FAILED
        assert not connection.exists(index_key(name))
        assert SimpleWorker.all(connection=connection)[0].get_current_executions() == []


def test_a_killed_horse_takes_the_run_out_of_the_index(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue
) -> None:
    with running_worker(connection, redis_server.port, 'horse-killed') as process:
        job = queue.enqueue(LONG_JOB, 30)
        wait_running(connection, job.id)
        assert members(connection, 'horse-killed') == {started_member(connection, job)}
        send_command(connection, 'horse-killed', 'kill-horse')
        assert wait_until(lambda: settled(job), 25), process.output()  # (the job: 30 s)
        assert job.get_status() == JobStatus.FAILED
        assert not connection.exists(index_key('horse-killed'))


@pytest.mark.parametrize('worker_class', CLASSES)
def test_stop_execution_command_stops_the_job_and_empties_the_index(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str
) -> None:
    name = f'stop-exec-{worker_class.lower()}'
    with running_worker(connection, redis_server.port, name, '--worker-class', worker_class) as process:
        job = queue.enqueue(LONG_JOB, 30)
        wait_running(connection, job.id)
        [execution] = Worker.all(connection=connection)[0].get_current_executions()
        assert send_stop_execution_command(connection, job.id, execution.id) == 1
        assert wait_until(lambda: settled(job), 25), process.output()  # (the job: 30 s)
        assert job.get_status() == JobStatus.STOPPED
        assert not connection.exists(index_key(name))

        after = queue.enqueue('rqtest_jobs.say_hello', 'next')
        assert wait_until(lambda: after.get_status() == JobStatus.FINISHED, 30), process.output()
        assert process.wait(0) is None


@pytest.mark.parametrize('worker_class', CLASSES)
def test_stop_execution_naming_another_execution_is_ignored(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str
) -> None:
    name = f'other-exec-{worker_class.lower()}'
    with running_worker(connection, redis_server.port, name, '--worker-class', worker_class) as process:
        job = queue.enqueue(LONG_JOB, 0.8)
        wait_running(connection, job.id)
        send_command(connection, name, 'stop-execution', job_id=job.id, execution_id='not-this-one')
        assert wait_until(lambda: settled(job), 30), process.output()
        assert job.get_status() == JobStatus.FINISHED
        assert wait_until(lambda: 'Not running execution not-this-one' in process.output(), 30), process.output()


def test_stop_execution_command_needs_a_running_execution(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue('rqtest_jobs.say_hello')
    with pytest.raises(InvalidJobOperation):
        send_stop_execution_command(connection, job.id, 'no-such-execution')


# -- TTL, heartbeats, death ---------------------------------------------------------------------


def test_heartbeats_renew_the_index(connection: redis.Redis, redis_server: RedisServer, queue: Queue) -> None:
    """With a 2 s monitoring interval a run's entry lives 3 s, so the index gets 3 + 60 s at each
    heartbeat (one a second): a TTL set far longer by hand comes back down to that."""
    args = ('--worker-class', 'SimpleWorker', '--job-monitoring-interval', '2')
    with running_worker(connection, redis_server.port, 'beating', *args) as process:
        job = queue.enqueue(LONG_JOB, 30)
        wait_running(connection, job.id)
        assert 0 < connection.ttl(index_key('beating')) <= 63
        connection.expire(index_key('beating'), 10_000)
        assert wait_until(lambda: 0 < connection.ttl(index_key('beating')) <= 63, 25), process.output()
        assert members(connection, 'beating') == {started_member(connection, job)}


@pytest.mark.parametrize('worker_class', CLASSES)
def test_the_index_is_deleted_when_the_worker_dies(
    connection: redis.Redis, redis_server: RedisServer, worker_class: str
) -> None:
    name = f'dies-{worker_class.lower()}'
    with running_worker(connection, redis_server.port, name, '--worker-class', worker_class) as process:
        connection.sadd(index_key(name), 'left-over:execution')  # (a member no run took out)
        send_shutdown_command(connection, name)
        assert process.wait(30) == 0, process.output()
    assert not connection.exists(index_key(name))
    assert 'death' in worker_hash(connection, name)


def test_an_abandoned_run_leaves_the_index_when_it_is_cleaned_up(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue
) -> None:
    with running_worker(connection, redis_server.port, 'killed') as process:
        job = queue.enqueue(LONG_JOB, 60)
        wait_running(connection, job.id)
        member = started_member(connection, job)
        assert members(connection, 'killed') == {member}
        process.kill()  # (SIGKILL: no death is registered, nothing is cleaned up)
    assert members(connection, 'killed') == {member}
    StartedJobRegistry(queue=queue).cleanup(timestamp=current_timestamp() + 3600)
    assert job.get_status() == JobStatus.FAILED
    assert members(connection, 'killed') == set()


# -- what the worker API reads ------------------------------------------------------------------


def test_stale_members_are_left_out_and_dropped(connection: redis.Redis, queue: Queue) -> None:
    """A member whose execution hash expired is not a running execution: rq 3.0 drops it as it reads."""
    job = queue.enqueue('rqtest_jobs.say_hello')
    with connection.pipeline() as pipe:
        live = Execution.create(job, 100, pipe, worker_name='reader')
        pipe.execute()
    connection.sadd(index_key('reader'), f'{job.id}:expired')
    worker = SimpleWorker([queue], name='reader', connection=connection, prepare_for_work=False)
    assert worker.current_execution_count == 2
    assert [(e.job_id, e.id) for e in worker.get_current_executions()] == [(job.id, live.id)]
    assert members(connection, 'reader') == {live.composite_key}
    assert worker.current_execution_count == 1


def test_execution_create_and_delete_keep_the_index(connection: redis.Redis, queue: Queue) -> None:
    """The hook path's executions (``Execution.create``, as rq 3.0 writes them) are indexed too."""
    job = queue.enqueue('rqtest_jobs.say_hello')
    with connection.pipeline() as pipe:
        execution = Execution.create(job, 30, pipe, worker_name='hooked')
        pipe.execute()
    assert members(connection, 'hooked') == {execution.composite_key}
    assert 60 < connection.ttl(index_key('hooked')) <= 90
    assert connection.hget(execution.key, 'job_id') == job.id.encode()
    fetched = Execution.fetch(execution.id, job.id, connection)
    assert fetched.worker_name == 'hooked'
    with connection.pipeline() as pipe:
        fetched.delete(job, pipeline=pipe)
        pipe.execute()
    assert not connection.exists(index_key('hooked'))


def test_a_claim_handed_back_leaves_the_index(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue('rqtest_jobs.say_hello')
    moment = time.time()
    reply = worker_ops.claim_job(
        connection, ['default'], 'giver', 'exec-1', '2026-01-01T00:00:00.000000Z', repr(moment), int(moment), 10.0
    )
    assert worker_ops.decode_claim(['default'], reply) is not None
    assert members(connection, 'giver') == {f'{job.id}:exec-1'}
    assert 60 < connection.ttl(index_key('giver')) <= 70
    assert worker_ops.hand_back_claim(connection, 'default', job.id, 'exec-1', 'giver')
    assert not connection.exists(index_key('giver'))
    assert queue.get_job_ids() == [job.id]


def test_a_claim_sent_again_indexes_its_execution_again(connection: redis.Redis, queue: Queue) -> None:
    """A claim whose reply was lost, sent again after an outage that let the index expire, puts the
    execution back in it (with the same TTL rule)."""
    job = queue.enqueue('rqtest_jobs.say_hello')
    for resend in (False, True):
        moment = time.time()
        reply = worker_ops.claim_job(
            connection,
            ['default'],
            'again',
            'exec-1',
            '2026-01-01T00:00:00.000000Z',
            repr(moment),
            int(moment),
            10.0,
            resend=resend,
        )
        decoded = worker_ops.decode_claim(['default'], reply)
        assert isinstance(decoded, tuple) and decoded[1] == job.id
        assert members(connection, 'again') == {f'{job.id}:exec-1'}
        assert 60 < connection.ttl(index_key('again')) <= 70
        connection.delete(index_key('again'))


# -- rq 3.0.0 itself reads it ---------------------------------------------------------------------

READ_WITH_RQ3 = """
import json
from rq import Worker
[worker] = Worker.all(connection=conn)
executions = worker.get_current_executions()
print(json.dumps({
    'name': worker.name,
    'state': worker.state,
    'count': worker.current_execution_count,
    'executions': [[e.job_id, e.id, e.worker_name] for e in executions],
    'current_job_id': worker.get_current_job_id(),
}))
"""


@pytest.mark.upstream
@pytest.mark.parametrize('worker_class', CLASSES)
def test_rq3_sees_what_our_busy_worker_runs(
    connection: redis.Redis, redis_server: RedisServer, queue: Queue, worker_class: str
) -> None:
    name = f'seen-by-rq3-{worker_class.lower()}'
    with running_worker(connection, redis_server.port, name, '--worker-class', worker_class):
        job = queue.enqueue(LONG_JOB, 30)
        wait_running(connection, job.id)
        execution_id = started_member(connection, job).split(':', 1)[1]
        seen = run_upstream(READ_WITH_RQ3, redis_server.port, version=UPSTREAM_3_VERSION)
        send_stop_execution_command(connection, job.id, execution_id)
    assert seen == {
        'name': name,
        'state': 'busy',
        'count': 1,
        'executions': [[job.id, execution_id, name]],
        'current_job_id': job.id,
    }
