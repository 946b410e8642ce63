"""The replica-acknowledged enqueue (``Queue(replicas=N, replica_timeout=s)``), on the test server,
which has no replica: every WAIT returns 0 after its timeout, so an enqueue that asks for a replica
raises ReplicationTimeout with its jobs written. Off (the default), nothing changes on the wire.
(``tests/worker/test_sentinel_failover.py`` runs it against real replicas and a failover.)"""

from __future__ import annotations

import datetime
import threading
from typing import Any

import pytest
import redis

import rqtest_jobs
from rq import Queue
from rq._redis import ops, scripts
from rq._replicas import DEFAULT_REPLICA_TIMEOUT, REPLICA_TIMEOUT_ENV, REPLICAS_ENV
from rq.exceptions import DuplicateJobError, ReplicationTimeout
from rq.job import Job, JobStatus

TIMEOUT = 0.05


@pytest.fixture(autouse=True)
def no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REPLICAS_ENV, raising=False)
    monkeypatch.delenv(REPLICA_TIMEOUT_ENV, raising=False)


def command_counts(connection: redis.Redis) -> dict[str, int]:
    stats = connection.info('commandstats')
    return {name.removeprefix('cmdstat_'): int(value['calls']) for name, value in stats.items()}


def acknowledged_queue(connection: redis.Redis) -> Queue:
    return Queue('ack', connection=connection, replicas=1, replica_timeout=TIMEOUT)


# -- the settings -----------------------------------------------------------------------------


def test_off_unless_asked(connection: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    queue = Queue(connection=connection)
    assert (queue.replicas, queue.replica_timeout) == (0, DEFAULT_REPLICA_TIMEOUT)
    monkeypatch.setenv(REPLICAS_ENV, '2')
    monkeypatch.setenv(REPLICA_TIMEOUT_ENV, '0.25')
    queue = Queue(connection=connection)
    assert (queue.replicas, queue.replica_timeout) == (2, 0.25)
    queue = Queue(connection=connection, replicas=0, replica_timeout=3)
    assert (queue.replicas, queue.replica_timeout) == (0, 3.0)


@pytest.mark.parametrize('replicas', [-1, 1.5, 'two', True])
def test_a_bad_replica_count_is_refused(connection: redis.Redis, replicas: Any) -> None:
    with pytest.raises(ValueError, match='replicas must be a whole number'):
        Queue(connection=connection, replicas=replicas)


@pytest.mark.parametrize('timeout', [0, -1, 'soon', float('nan'), float('inf')])
def test_a_bad_replica_timeout_is_refused(connection: redis.Redis, timeout: Any) -> None:
    with pytest.raises(ValueError, match='replica_timeout must be a number of seconds > 0'):
        Queue(connection=connection, replica_timeout=timeout)


def test_a_bad_environment_is_named(connection: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REPLICAS_ENV, 'one')
    with pytest.raises(ValueError, match=REPLICAS_ENV):
        Queue(connection=connection)


# -- off: nothing changes ---------------------------------------------------------------------


def test_off_sends_no_wait(connection: redis.Redis) -> None:
    queue = Queue(connection=connection)
    queue.enqueue(rqtest_jobs.add, 1, 2)  # (loads the script)
    connection.script_load(scripts.source('enqueue_batch'))
    connection.config_resetstat()
    queue.enqueue(rqtest_jobs.add, 1, 2)
    queue.enqueue_in(datetime.timedelta(hours=1), rqtest_jobs.add, 1, 2)
    queue.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (1, 2))])
    counts = command_counts(connection)
    assert 'wait' not in counts
    assert counts['evalsha'] == 3


# -- on: WAIT after the write, on its connection ----------------------------------------------


def test_an_enqueue_without_its_replicas_raises_with_the_job_written(connection: redis.Redis) -> None:
    connection.script_load(scripts.source('enqueue'))
    connection.config_resetstat()
    with pytest.raises(ReplicationTimeout) as raised:
        acknowledged_queue(connection).enqueue(rqtest_jobs.add, 1, 2, job_id='written')
    error = raised.value
    assert (error.job_id, error.job_ids, error.acknowledged, error.requested) == ('written', ['written'], 0, 1)
    assert str(error).startswith('job written is written on the master, but only 0 of the 1 replicas')
    assert 'unique=True' in str(error)
    assert [job.get_status(refresh=False) for job in error.jobs] == [JobStatus.QUEUED]  # type: ignore[attr-defined]
    assert connection.lrange('rq:queue:ack', 0, -1) == [b'written']
    assert Job.fetch('written', connection=connection).get_status() == JobStatus.QUEUED
    assert command_counts(connection)['wait'] == 1


def test_every_way_in_waits(connection: redis.Redis) -> None:
    """Scheduled (``enqueue_at``/``enqueue_in``), deferred behind a dependency, with retries, in
    bulk: each raises after its write."""
    queue = acknowledged_queue(connection)
    parent = Queue('ack', connection=connection).enqueue(rqtest_jobs.add, 1, 2)  # (loads the script)
    connection.config_resetstat()
    with pytest.raises(ReplicationTimeout) as scheduled:
        queue.enqueue_in(datetime.timedelta(hours=1), rqtest_jobs.add, 1, 2)
    with pytest.raises(ReplicationTimeout) as deferred:
        queue.enqueue(rqtest_jobs.add, 1, 2, depends_on=parent)
    with pytest.raises(ReplicationTimeout) as many:
        queue.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (n, 1)) for n in range(3)])

    assert Job.fetch(scheduled.value.job_id, connection=connection).get_status() == JobStatus.SCHEDULED
    assert Job.fetch(deferred.value.job_id, connection=connection).get_status() == JobStatus.DEFERRED
    assert len(many.value.job_ids) == 3 and str(many.value).startswith('3 jobs (')
    assert connection.lrange('rq:queue:ack', 1, -1) == [job_id.encode() for job_id in many.value.job_ids]
    assert command_counts(connection)['wait'] == 3


def test_the_wait_goes_on_the_connection_that_wrote(connection: redis.Redis) -> None:
    """WAIT counts the writes of its own connection: the script call and the WAIT come from the
    same client (as MONITOR shows), in one pipeline."""
    queue = acknowledged_queue(connection)
    connection.script_load(scripts.source('enqueue'))
    seen: list[dict[str, Any]] = []
    with connection.monitor() as monitor:
        watching = threading.Thread(target=_collect, args=(monitor, seen), daemon=True)
        watching.start()
        for call in (
            lambda: queue.enqueue(rqtest_jobs.add, 1, 2),
            lambda: queue.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (n, 1)) for n in range(2)]),
        ):
            with pytest.raises(ReplicationTimeout):
                call()
        connection.echo('done')
        watching.join(30)
    commands = [(entry['command'].split(' ')[0].upper(), entry['client_port']) for entry in seen]
    single, batch = _split_at_waits(commands)
    assert [name for name, _ in single] == ['EVALSHA', 'WAIT']
    assert [name for name, _ in batch] == ['MULTI', 'EVALSHA', 'EVALSHA', 'EXEC', 'WAIT']
    assert len({port for _, port in single}) == 1 and len({port for _, port in batch}) == 1


#: What an acknowledged enqueue sends (not the handshake of a new connection: HELLO, CLIENT ...).
_SENT = ('MULTI', 'EVALSHA', 'EXEC', 'WAIT')


def _collect(monitor: Any, seen: list[dict[str, Any]]) -> None:
    for entry in monitor.listen():
        if entry['command'] == 'ECHO done':
            return
        if entry.get('client_type') != 'lua' and entry['command'].split(' ')[0].upper() in _SENT:
            seen.append(entry)


def _split_at_waits(commands: list[tuple[str, Any]]) -> list[list[tuple[str, Any]]]:
    groups: list[list[tuple[str, Any]]] = [[]]
    for command in commands:
        groups[-1].append(command)
        if command[0] == 'WAIT':
            groups.append([])
    return [group for group in groups if group]


def test_an_unknown_script_is_loaded_and_the_jobs_written_once(connection: redis.Redis) -> None:
    queue = acknowledged_queue(connection)
    connection.script_flush()
    with pytest.raises(ReplicationTimeout):
        queue.enqueue(rqtest_jobs.add, 1, 2, job_id='once')
    connection.script_flush()
    with pytest.raises(ReplicationTimeout):
        queue.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (1, 2), job_id=f'many-{n}') for n in range(2)])
    assert connection.lrange('rq:queue:ack', 0, -1) == [b'once', b'many-0', b'many-1']


def test_a_duplicate_is_a_duplicate(connection: redis.Redis) -> None:
    queue = acknowledged_queue(connection)
    Queue('ack', connection=connection).enqueue(rqtest_jobs.add, 1, 2, job_id='taken')
    with pytest.raises(DuplicateJobError):
        queue.enqueue(rqtest_jobs.add, 1, 2, job_id='taken', unique=True)


def test_a_callers_pipeline_is_the_callers_to_wait_on(connection: redis.Redis) -> None:
    """The writes happen when the caller executes its pipeline: nothing waits here."""
    queue = acknowledged_queue(connection)
    connection.config_resetstat()
    with connection.pipeline() as pipe:
        queue.enqueue(rqtest_jobs.add, 1, 2, pipeline=pipe)
        queue.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (1, 2))], pipeline=pipe)
        pipe.execute()
    assert connection.llen('rq:queue:ack') == 2
    assert 'wait' not in command_counts(connection)


def test_a_synchronous_queue_runs_the_job_without_waiting(connection: redis.Redis) -> None:
    queue = Queue('ack', connection=connection, is_async=False, replicas=1, replica_timeout=TIMEOUT)
    connection.config_resetstat()
    assert queue.enqueue(rqtest_jobs.add, 1, 2).return_value() == 3
    assert 'wait' not in command_counts(connection)


def test_a_copy_of_an_enqueue_call_writes_its_token_again(connection: redis.Redis) -> None:
    """redis-py sends a pipeline again after a connection error; the copy of an enqueue that had
    run writes nothing but its token, so that the WAIT after it, on the new connection, waits for a
    write that comes after the first copy's (WAIT counts its own connection's writes only)."""
    call_keys, args = ops.enqueue_call('copied', 'ack', {'status': 'queued'})
    token = call_keys[9]
    first = scripts.run('enqueue', connection, call_keys, args)
    connection.expire(token, 5)
    again = scripts.run('enqueue', connection, call_keys, args)
    assert again == first == ops.QUEUED
    assert connection.ttl(token) > 5
    assert connection.lrange('rq:queue:ack', 0, -1) == [b'copied']
