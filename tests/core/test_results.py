"""Result entries in ``rq:results:<job_id>`` and job executions, against a real Redis."""

from __future__ import annotations

import base64
import json
import pickle
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import redis

import rqtest_jobs
from redis_events import wait_blocked
from rq import Retry
from rq.executions import Execution, ExecutionRegistry
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.results import Result, get_key
from ttl_checks import assert_expires_at, assert_ttl


@pytest.fixture
def job(connection: redis.Redis) -> Job:
    job = Job.create(rqtest_jobs.add, args=(1,), id='rjob', origin='default', connection=connection)
    job.save()
    return job


def stream(connection: redis.Redis, job_id: str = 'rjob') -> list[tuple[bytes, dict[bytes, bytes]]]:
    return connection.xrange(f'rq:results:{job_id}')  # type: ignore[return-value]


def b64pickle(value: Any) -> bytes:
    return base64.b64encode(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


# -- writing -----------------------------------------------------------------------------------


def test_result_types() -> None:
    assert {t.name: t.value for t in Result.Type} == {
        'SUCCESSFUL': 1,
        'FAILED': 2,
        'STOPPED': 3,
        'RETRIED': 4,
        'MAX_RETRIES_EXCEEDED': 5,
    }


def test_keys() -> None:
    assert Result.get_key('abc') == 'rq:results:abc'
    assert get_key('abc') == 'rq:results:abc'


def test_create_successful(connection: redis.Redis, job: Job) -> None:
    result = Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value={'a': (1, 2)}, worker_name='w1')
    assert result
    assert result.id is not None
    [(entry_id, fields)] = stream(connection)
    assert entry_id.decode() == result.id
    assert fields == {b'type': b'1', b'worker_name': b'w1', b'return_value': b64pickle({'a': (1, 2)})}
    assert result.type == Result.Type.SUCCESSFUL
    assert result.job_id == 'rjob'
    assert result.return_value == {'a': (1, 2)}


def test_create_failure(connection: redis.Redis, job: Job) -> None:
    text = 'Traceback (most recent call last):\n  ValueError: caf\u00e9\n'
    result = Result.create_failure(job, ttl=100, exc_string=text, worker_name='w2')
    [(_, fields)] = stream(connection)
    assert fields == {
        b'type': b'2',
        b'worker_name': b'w2',
        b'exc_string': base64.b64encode(zlib.compress(text.encode('utf-8'))),
    }
    latest = Result.fetch_latest(job)
    assert latest is not None
    assert latest == result
    assert latest.type == Result.Type.FAILED
    assert latest.exc_string == text
    assert latest.return_value is None


def test_create_retried_and_max_retries_exceeded(connection: redis.Redis, job: Job) -> None:
    retry = Retry(max=2, interval=[1, 5])
    Result.create_retried(job, ttl=None, return_value=retry, worker_name='w')
    Result.create_max_retries_exceeded(job, ttl=None, return_value=retry, worker_name='w')
    entries = stream(connection)
    assert [fields[b'type'] for _, fields in entries] == [b'4', b'5']
    for _, fields in entries:
        restored = pickle.loads(base64.b64decode(fields[b'return_value']))
        assert isinstance(restored, Retry)
        assert (restored.max, restored.intervals) == (2, [1, 5])
    newest, older = Result.all(job)
    assert newest.type == Result.Type.MAX_RETRIES_EXCEEDED
    assert older.type == Result.Type.RETRIED
    assert newest.return_value == retry


def test_create_with_execution_fields(connection: redis.Redis, job: Job) -> None:
    started = datetime(2026, 1, 1, 0, 0, 1, 250000, tzinfo=timezone.utc)
    ended = started + timedelta(seconds=2, microseconds=500)
    Result.create(
        job,
        Result.Type.SUCCESSFUL,
        ttl=10,
        return_value=1,
        execution_id='abc123',
        execution_started_at=started,
        execution_ended_at=ended,
    )
    [(_, fields)] = stream(connection)
    assert fields[b'execution_id'] == b'abc123'
    assert float(fields[b'execution_started_at']) == started.timestamp()
    assert float(fields[b'execution_ended_at']) == ended.timestamp()
    latest = Result.fetch_latest(job)
    assert latest is not None
    assert latest.execution_id == 'abc123'
    assert latest.execution_started_at == started
    assert latest.execution_ended_at == ended


def test_create_from_an_execution(connection: redis.Redis, job: Job) -> None:
    with connection.pipeline() as pipe:
        execution = Execution.create(job, ttl=60, pipeline=pipe)
        pipe.execute()
    job.ended_at = datetime.now(timezone.utc)
    Result.create_failure(job, ttl=10, exc_string='tb', execution=execution)
    latest = Result.fetch_latest(job)
    assert latest is not None
    assert latest.execution_id == execution.id
    assert latest.execution_started_at == execution.created_at
    assert latest.execution_ended_at == job.ended_at


def test_create_in_pipeline(connection: redis.Redis, job: Job) -> None:
    with connection.pipeline() as pipe:
        result = Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=5, pipeline=pipe)
        assert result.id is None
        assert not result
        assert stream(connection) == []
        pipe.execute()
    assert Result.count(job) == 1


def test_save_returns_the_entry_id(connection: redis.Redis, job: Job) -> None:
    result = Result('rjob', Result.Type.SUCCESSFUL, connection, return_value=3)
    entry_id = result.save(ttl=None)
    assert entry_id is not None and entry_id == result.id
    assert stream(connection)[0][0].decode() == entry_id


def test_none_return_value_is_not_written(connection: redis.Redis, job: Job) -> None:
    Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=None)
    [(_, fields)] = stream(connection)
    assert fields == {b'type': b'1', b'worker_name': b''}
    latest = Result.fetch_latest(job)
    assert latest is not None and latest.return_value is None


def test_falsy_return_values_are_written(connection: redis.Redis, job: Job) -> None:
    for value in (0, '', [], False):
        Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=value)
    assert [r.return_value for r in Result.all(job)] == [False, [], '', 0]


def test_unserializable_return_value(connection: redis.Redis, job: Job) -> None:
    Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=threading.Lock())
    [(_, fields)] = stream(connection)
    assert fields[b'return_value'] == b64pickle('Unserializable return value')
    assert job.return_value() == 'Unserializable return value'


def test_json_serializer_results(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), id='jjob', serializer='json', connection=connection)
    job.save()
    Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value={'t': (1, 2)})
    [(_, fields)] = stream(connection, 'jjob')
    assert fields[b'return_value'] == base64.b64encode(json.dumps({'t': [1, 2]}).encode())
    assert Job.fetch('jjob', connection=connection, serializer='json').return_value() == {'t': [1, 2]}
    # reading with an explicit serializer
    latest = Result.fetch_latest(job, serializer='json')
    assert latest is not None and latest.return_value == {'t': [1, 2]}
    unserializable = Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value={1, 2})
    assert unserializable.id is not None
    assert Result.fetch_latest(job) is not None
    assert job.return_value(refresh=True) == 'Unserializable return value'


def test_entries_are_trimmed_to_about_ten(connection: redis.Redis, job: Job) -> None:
    # Redis trims "~" streams by whole macro nodes (100 entries by default); smaller nodes make
    # the MAXLEN ~ 10 visible with few entries.
    old = connection.config_get('stream-node-max-entries')['stream-node-max-entries']
    connection.config_set('stream-node-max-entries', 5)
    try:
        for value in range(50):
            Result.create(job, Result.Type.SUCCESSFUL, ttl=None, return_value=value)
    finally:
        connection.config_set('stream-node-max-entries', old)
    assert 10 <= Result.count(job) <= 15
    assert Result.fetch_latest(job).return_value == 49  # type: ignore[union-attr]
    assert [r.return_value for r in Result.all(job)][:10] == list(range(49, 39, -1))


def test_entries_are_trimmed_with_default_node_size(connection: redis.Redis, job: Job) -> None:
    for value in range(250):
        Result.create(job, Result.Type.SUCCESSFUL, ttl=None, return_value=value)
    assert Result.count(job) <= 110


# -- stream TTL ----------------------------------------------------------------------------------


def test_positive_ttl_expires_the_stream(connection: redis.Redis, job: Job) -> None:
    since = time.time()
    Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=1)
    assert_ttl(connection, 'rq:results:rjob', 100, since)
    Result.create(job, Result.Type.SUCCESSFUL, ttl=1000, return_value=1)
    assert connection.ttl('rq:results:rjob') > 900


def test_minus_one_ttl_persists_the_stream(connection: redis.Redis, job: Job) -> None:
    Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=1)
    Result.create(job, Result.Type.SUCCESSFUL, ttl=-1, return_value=2)
    assert connection.ttl('rq:results:rjob') == -1
    assert Result.count(job) == 2


def test_zero_ttl_deletes_the_stream(connection: redis.Redis, job: Job) -> None:
    Result.create(job, Result.Type.SUCCESSFUL, ttl=None, return_value=1)
    Result.create(job, Result.Type.SUCCESSFUL, ttl=0, return_value=2)
    assert connection.exists('rq:results:rjob') == 0


def test_none_ttl_leaves_the_stream_ttl_alone(connection: redis.Redis, job: Job) -> None:
    Result.create(job, Result.Type.SUCCESSFUL, ttl=None, return_value=1)
    assert connection.ttl('rq:results:rjob') == -1
    since = time.time()
    connection.expire('rq:results:rjob', 50)
    Result.create_failure(job, ttl=None, exc_string='tb')
    assert_ttl(connection, 'rq:results:rjob', 50, since)


# -- reading -------------------------------------------------------------------------------------


def test_all_count_delete_all(connection: redis.Redis, job: Job) -> None:
    assert Result.all(job) == []
    assert Result.count(job) == 0
    for value in range(3):
        Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=value)
    results = Result.all(job)
    assert [r.return_value for r in results] == [2, 1, 0]
    ids = [r.id for r in results]
    assert ids == sorted(ids, key=lambda i: tuple(int(p) for p in i.split('-')), reverse=True)  # type: ignore[union-attr]
    assert Result.count(job) == 3
    Result.delete_all(job)
    assert Result.count(job) == 0
    assert connection.exists('rq:results:rjob') == 0
    assert Result.fetch_latest(job) is None


def test_fetch_latest(connection: redis.Redis, job: Job) -> None:
    assert Result.fetch_latest(job) is None
    Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value='first')
    Result.create_failure(job, ttl=100, exc_string='second')
    latest = Result.fetch_latest(job)
    assert latest is not None
    assert latest.type == Result.Type.FAILED
    assert latest.exc_string == 'second'


def test_fetch_latest_blocking(connection: redis.Redis, job: Job) -> None:
    port = connection.connection_pool.connection_kwargs['port']

    def write_once_it_waits() -> None:
        with redis.Redis(port=port) as other:
            wait_blocked(other, 'xread')  # the reader is waiting: only this write can wake it
            Result.create(Job.fetch('rjob', connection=other), Result.Type.SUCCESSFUL, ttl=100, return_value=7)

    thread = threading.Thread(target=write_once_it_waits)
    thread.start()
    latest = Result.fetch_latest(job, timeout=60)
    thread.join()
    assert latest is not None and latest.return_value == 7


def test_fetch_latest_blocking_times_out(connection: redis.Redis, job: Job) -> None:
    start = time.monotonic()
    assert Result.fetch_latest(job, timeout=1) is None
    assert 0.9 < time.monotonic() - start < 30  # (the upper bound only catches a wait without end)


def test_fetch_latest_with_tiny_timeout_does_not_block_forever(connection: redis.Redis, job: Job) -> None:
    start = time.monotonic()
    assert Result.fetch_latest(job, timeout=0.0001) is None  # type: ignore[arg-type]
    assert time.monotonic() - start < 30  # BLOCK 0 would wait for ever


def test_fetch_is_a_stub(job: Job) -> None:
    Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=1)
    assert Result.fetch(job) is None


def test_restore_from_raw_entry(connection: redis.Redis) -> None:
    entry_id = connection.xadd(
        'rq:results:raw',
        {
            'type': '1',
            'worker_name': 'upstream-worker',
            'return_value': 'gAVLAy4=',  # pickle of 3, as written by RQ 2.x
            'execution_id': 'e' * 32,
            'execution_started_at': '1795482255.342038',
            'execution_ended_at': '1795482255.343273',
        },
        id='1795482255343-0',
    )
    [(raw_id, payload)] = connection.xrange('rq:results:raw')
    result = Result.restore('raw', raw_id, payload, connection)
    assert result.id == '1795482255343-0' == entry_id.decode()
    assert result.job_id == 'raw'
    assert result.type == Result.Type.SUCCESSFUL
    assert result.return_value == 3
    assert result.worker_name == 'upstream-worker'
    assert result.execution_id == 'e' * 32
    assert result.execution_started_at == datetime.fromtimestamp(1795482255.342038, tz=timezone.utc)
    assert result.execution_ended_at == datetime.fromtimestamp(1795482255.343273, tz=timezone.utc)
    assert result.created_at == datetime(2026, 11, 24, 1, 4, 15, 343000, tzinfo=timezone.utc)
    assert result.exc_string is None


def test_restore_minimal_failed_entry(connection: redis.Redis) -> None:
    exc = base64.b64encode(zlib.compress(b'Traceback: x')).decode()
    result = Result.restore('j', '1000-5', {b'type': b'2', b'exc_string': exc.encode()}, connection)
    assert result.type == Result.Type.FAILED
    assert result.exc_string == 'Traceback: x'
    assert result.worker_name == ''
    assert result.execution_id is None
    assert result.execution_started_at is None
    assert result.created_at == datetime(1970, 1, 1, 0, 0, 1, tzinfo=timezone.utc)
    assert result.id == '1000-5'


def test_created_at_comes_from_entry_id(connection: redis.Redis, job: Job) -> None:
    before = datetime.now(timezone.utc)
    Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=1)
    latest = Result.fetch_latest(job)
    assert latest is not None and latest.id is not None
    millis = int(latest.id.split('-')[0])
    assert latest.created_at == datetime.fromtimestamp(millis / 1000, tz=timezone.utc)
    assert before - timedelta(seconds=1) < latest.created_at < datetime.now(timezone.utc) + timedelta(seconds=1)


def test_bool_and_eq(connection: redis.Redis) -> None:
    unsaved = Result('j', Result.Type.SUCCESSFUL, connection)
    assert not unsaved
    assert bool(Result('j', Result.Type.SUCCESSFUL, connection, id='1-0'))
    assert Result('j', Result.Type.SUCCESSFUL, connection, id='1-0') == Result(
        'j', Result.Type.FAILED, connection, id='1-0'
    )
    assert Result('j', Result.Type.SUCCESSFUL, connection, id='1-0') != Result(
        'j', Result.Type.SUCCESSFUL, connection, id='2-0'
    )
    assert unsaved.created_at.tzinfo is not None
    assert 'SUCCESSFUL' in repr(unsaved)


# -- executions ------------------------------------------------------------------------------


@pytest.fixture
def execution(connection: redis.Redis, job: Job) -> Iterator[Execution]:
    job.worker_name = 'w-exec'
    with connection.pipeline() as pipe:
        execution = Execution.create(job, ttl=100, pipeline=pipe)
        assert connection.exists(execution.key) == 0
        pipe.execute()
    yield execution


def test_execution_create(connection: redis.Redis, job: Job, execution: Execution) -> None:
    assert len(execution.id) == 32
    assert execution.job_id == 'rjob'
    assert execution.key == f'rq:execution:rjob:{execution.id}'
    assert execution.composite_key == f'rjob:{execution.id}'
    raw = connection.hgetall(execution.key)
    assert set(raw) == {b'id', b'job_id', b'created_at', b'last_heartbeat', b'worker_name'}  # (job_id: rq 3.0's field)
    assert raw[b'id'] == execution.id.encode()
    assert raw[b'worker_name'] == b'w-exec'
    created = float(raw[b'created_at'])
    assert job.created_at is not None and job.created_at.timestamp() <= created <= time.time()
    assert_ttl(connection, execution.key, 100, created)
    assert_expires_at(connection.zscore('rq:executions:rjob', execution.id), 160, created)
    assert_ttl(connection, 'rq:executions:rjob', 160, created)
    assert_expires_at(connection.zscore('rq:wip:default', execution.composite_key), 100, created)


def test_execution_fetch(connection: redis.Redis, job: Job, execution: Execution) -> None:
    fetched = Execution.fetch(execution.id, 'rjob', connection)
    assert fetched == execution
    assert fetched.worker_name == 'w-exec'
    assert abs((fetched.created_at - execution.created_at).total_seconds()) < 1e-5
    assert fetched.last_heartbeat == fetched.created_at
    assert fetched.job == job
    by_key = Execution.from_composite_key(execution.composite_key, connection)
    assert by_key == execution
    with pytest.raises(ValueError):
        Execution.fetch('missing', 'rjob', connection)


def test_execution_heartbeat(connection: redis.Redis, job: Job, execution: Execution) -> None:
    connection.expire(execution.key, 10)
    time.sleep(0.01)
    registry = StartedJobRegistry('default', connection=connection)
    since = time.time()
    with connection.pipeline() as pipe:
        execution.heartbeat(registry, ttl=500, pipeline=pipe)
        pipe.execute()
    assert execution.last_heartbeat > execution.created_at
    assert_ttl(connection, execution.key, 500, since)
    raw = connection.hgetall(execution.key)
    assert float(raw[b'last_heartbeat']) == pytest.approx(execution.last_heartbeat.timestamp(), abs=1e-5)
    assert float(raw[b'created_at']) == pytest.approx(execution.created_at.timestamp(), abs=1e-5)
    score = connection.zscore('rq:wip:default', execution.composite_key)
    assert score is not None and score > time.time() + 400
    assert connection.ttl('rq:executions:rjob') > 500
    fetched = Execution.fetch(execution.id, 'rjob', connection)
    assert fetched.last_heartbeat > fetched.created_at


def test_execution_delete(connection: redis.Redis, job: Job, execution: Execution) -> None:
    execution.delete(job)
    assert connection.exists(execution.key) == 0
    assert connection.zscore('rq:executions:rjob', execution.id) is None
    assert connection.zscore('rq:wip:default', execution.composite_key) is None


def test_execution_registry(connection: redis.Redis, job: Job, execution: Execution) -> None:
    with connection.pipeline() as pipe:
        second = Execution.create(job, ttl=100, pipeline=pipe)
        pipe.execute()
    registry = ExecutionRegistry('rjob', connection=connection)
    assert registry.key == 'rq:executions:rjob'
    assert sorted(registry.get_execution_ids()) == sorted([execution.id, second.id])
    assert sorted(e.id for e in registry.get_executions()) == sorted([execution.id, second.id])
    assert job.execution_registry.key == registry.key
    assert sorted(e.id for e in job.get_executions()) == sorted([execution.id, second.id])
    # an execution whose hash expired is skipped
    connection.delete(second.key)
    assert [e.id for e in registry.get_executions()] == [execution.id]
    with connection.pipeline() as pipe:
        registry.delete(job, pipeline=pipe)
        pipe.execute()
    assert connection.exists('rq:executions:rjob', execution.key) == 0
    assert connection.zcard('rq:wip:default') == 0


def test_job_delete_removes_executions_and_results(connection: redis.Redis, job: Job, execution: Execution) -> None:
    Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=1)
    job.delete()
    assert connection.exists(job.key, execution.key, 'rq:executions:rjob') == 0
    assert connection.zscore('rq:wip:default', execution.composite_key) is None
    assert connection.exists('rq:results:rjob') == 0  # RQ 3.0 deletes the results stream with the job


def test_execution_create_with_worker_name_and_refresh(connection: redis.Redis, job: Job) -> None:
    with connection.pipeline() as pipe:
        execution = Execution.create(job, ttl=100, pipeline=pipe, worker_name='explicit')
        pipe.execute()
    assert connection.hget(execution.key, 'worker_name') == b'explicit'
    copy = Execution(execution.id, 'rjob', connection)
    assert copy.worker_name == ''
    copy.refresh()
    assert copy.worker_name == 'explicit'
    assert abs((copy.created_at - execution.created_at).total_seconds()) < 1e-5
    connection.delete(execution.key)
    with pytest.raises(ValueError):
        copy.refresh()


def test_execution_registry_forgets_expired_executions(connection: redis.Redis, job: Job) -> None:
    registry = ExecutionRegistry('rjob', connection=connection)
    with connection.pipeline() as pipe:
        alive = Execution.create(job, ttl=100, pipeline=pipe)
        pipe.execute()
    connection.zadd(registry.key, {'expired': time.time() - 10})
    assert registry.get_execution_ids() == [alive.id]
    assert connection.zscore(registry.key, 'expired') is None
    with connection.pipeline() as pipe:
        registry.remove(alive, pipeline=pipe)
        pipe.execute()
    assert registry.get_execution_ids() == []
