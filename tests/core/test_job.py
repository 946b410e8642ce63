"""The Job model against a real Redis: identity, creation, persistence, status, meta, results."""

from __future__ import annotations

import json
import pickle
import re
import threading
import time
import uuid
import warnings
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import redis

import rqtest_jobs
import rqtest_jobs_model
from redis_events import wait_blocked
from rq import Callback, Repeat, Retry, Webhook, get_current_job
from rq.dependency import Dependency
from rq.exceptions import DeserializationError, InvalidJobOperation, NoSuchJobError, TimeoutFormatError
from rq.job import Job, JobStatus, parse_job_id, validate_job_id
from rq.results import Result
from rq.serializers import JSONSerializer
from rqtest_jobs_model import Counter
from ttl_checks import assert_ttl

TIMESTAMP_RE = re.compile(rb'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$')


def make_job(connection: redis.Redis, func: Any = rqtest_jobs.add, *args: Any, **options: Any) -> Job:
    """Create and save a job (status 'created' unless given)."""
    kwargs = options.pop('kwargs', None)
    job = Job.create(func, args=args, kwargs=kwargs, connection=connection, **options)
    job.save()
    return job


def raw_field(connection: redis.Redis, job: Job, field: str) -> Any:
    return connection.hget(job.key, field)


# -- construction and ids ----------------------------------------------------------------------


def test_job_requires_a_connection() -> None:
    with pytest.raises(TypeError):
        Job()
    with pytest.raises(TypeError):
        Job('abc', connection=None)
    with pytest.raises(TypeError):
        Job.create(rqtest_jobs.add, args=(1,))


@pytest.mark.parametrize('job_id', ['abc', 'ABC-def_123', '-', '_', 'a' * 200, '0'])
def test_valid_job_ids_are_accepted(connection: redis.Redis, job_id: str) -> None:
    job = Job(job_id, connection=connection)
    assert job.id == job_id
    assert job.get_id() == job_id
    validate_job_id(job_id)


@pytest.mark.parametrize('job_id', ['', 'a:b', 'a.b', 'a b', 'abc\n', 'caf\u00e9', 'a/b', 'a*', 'rq:job:x', ' a'])
def test_invalid_job_ids_raise_value_error(connection: redis.Redis, job_id: str) -> None:
    with pytest.raises(ValueError):
        Job(job_id, connection=connection)
    with pytest.raises(ValueError):
        Job.create(rqtest_jobs.add, args=(1,), id=job_id, connection=connection)
    job = Job(connection=connection)
    with pytest.raises(ValueError):
        job.id = job_id
    with pytest.raises(ValueError):
        job.set_id(job_id)
    with pytest.raises(ValueError):
        validate_job_id(job_id)


@pytest.mark.parametrize('job_id', [123, b'abc', 1.5, ['a'], object()])
def test_non_string_job_ids_raise_type_error(connection: redis.Redis, job_id: Any) -> None:
    with pytest.raises(TypeError):
        Job(job_id, connection=connection)
    with pytest.raises(TypeError):
        validate_job_id(job_id)


def test_generated_ids_are_uuid4_strings(connection: redis.Redis) -> None:
    ids = {Job(connection=connection).id for _ in range(20)}
    assert len(ids) == 20
    for job_id in ids:
        assert len(job_id) == 36
        parsed = uuid.UUID(job_id)
        assert parsed.version == 4
        assert str(parsed) == job_id


def test_generated_id_is_stable_per_job(connection: redis.Redis) -> None:
    job = Job(connection=connection)
    assert job.id == job.id
    assert job.key == f'rq:job:{job.id}'


def test_parse_job_id_keeps_part_before_first_colon() -> None:
    assert parse_job_id('abc') == 'abc'
    assert parse_job_id('abc:def') == 'abc'
    assert parse_job_id('abc:def:ghi') == 'abc'


# -- Job.create -------------------------------------------------------------------------------


def test_create_with_function(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), kwargs={'b': 5}, connection=connection)
    assert job.func_name == 'rqtest_jobs.add'
    assert job.instance is None
    assert job.args == (1,)
    assert job.kwargs == {'b': 5}
    assert job.func is rqtest_jobs.add
    assert job.get_status(refresh=False) == JobStatus.CREATED
    assert job.description == 'rqtest_jobs.add(1, b=5)'
    assert job.origin == ''
    assert job.meta == {}
    assert job.perform() == 6
    # create() writes nothing
    assert connection.keys('*') == []


def test_create_with_bound_method_stores_instance_and_method_name(connection: redis.Redis) -> None:
    counter = Counter(10)
    job = Job.create(counter.increment, args=(5,), connection=connection)
    assert job.func_name == 'increment'
    assert job.instance is counter
    assert job.perform() == 15
    job.save()

    fetched = Job.fetch(job.id, connection=connection)
    assert fetched.func_name == 'increment'
    assert isinstance(fetched.instance, Counter)
    assert fetched.instance.start == 10
    assert fetched.func == fetched.instance.increment
    assert fetched.perform() == 15
    func_name, instance, args, kwargs = pickle.loads(zlib.decompress(raw_field(connection, job, 'data')))
    assert (func_name, instance, args, kwargs) == ('increment', Counter(10), (5,), {})


def test_create_with_callable_instance(connection: redis.Redis) -> None:
    counter = Counter(10)
    job = Job.create(counter, args=(3,), connection=connection)
    assert job.func_name == '__call__'
    assert job.instance is counter
    assert job.perform() == 7
    job.save()
    fetched = Job.fetch(job.id, connection=connection)
    assert fetched.func_name == '__call__'
    assert fetched.instance == Counter(10)
    assert fetched.perform() == 7


def test_create_with_builtin(connection: redis.Redis) -> None:
    job = Job.create(len, args=('abcd',), connection=connection)
    assert job.func_name == 'builtins.len'
    assert job.instance is None
    assert job.func is len
    assert job.perform() == 4


def test_create_with_dotted_string(connection: redis.Redis) -> None:
    job = Job.create('rqtest_jobs.add', args=(2, 3), connection=connection)
    assert job.func_name == 'rqtest_jobs.add'
    assert job.instance is None
    assert job.func is rqtest_jobs.add
    assert job.perform() == 5
    assert job.description == 'rqtest_jobs.add(2, 3)'


def test_create_with_dotted_string_to_module_only_on_workers(connection: redis.Redis) -> None:
    job = Job.create('module_that_is_not_installed_here.func', args=(1,), connection=connection)
    assert job.func_name == 'module_that_is_not_installed_here.func'
    job.save()
    assert Job.fetch(job.id, connection=connection).func_name == 'module_that_is_not_installed_here.func'


def test_create_with_staticmethod_uses_qualified_name(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.Calculator.static_double, args=(21,), connection=connection)
    assert job.func_name == 'rqtest_jobs.Calculator.static_double'
    assert job.perform() == 42


def test_create_takes_any_name_as_rq_does(connection: redis.Redis) -> None:
    """A name is stored as given; whether a worker can import it is found out when it runs."""
    assert Job.create(lambda: None, connection=connection).func_name == (
        'test_job.test_create_takes_any_name_as_rq_does.<locals>.<lambda>'
    )
    assert Job.create('rqtest_jobs.no_such_function', connection=connection).func_name == 'rqtest_jobs.no_such_function'
    assert (
        Job.create('rqtest_jobs_model.NOT_CALLABLE', connection=connection).func_name
        == 'rqtest_jobs_model.NOT_CALLABLE'
    )
    assert Job.create(func='myfunc', connection=connection).func_name == 'myfunc'
    with pytest.raises(TypeError):
        Job.create(42, connection=connection)


def test_create_rejects_bad_args_and_kwargs(connection: redis.Redis) -> None:
    with pytest.raises(TypeError):
        Job.create(rqtest_jobs.add, args='ab', connection=connection)
    with pytest.raises(TypeError):
        Job.create(rqtest_jobs.add, args=(1,), kwargs=[('b', 2)], connection=connection)


def test_create_parses_timeouts_and_rejects_zero(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), timeout='1h', result_ttl='5m', failure_ttl='2d', ttl='30s',
                     connection=connection)  # fmt: skip
    assert (job.timeout, job.result_ttl, job.failure_ttl, job.ttl) == (3600, 300, 172800, 30)
    with pytest.raises(ValueError):
        Job.create(rqtest_jobs.add, args=(1,), timeout=0, connection=connection)
    with pytest.raises(ValueError):
        Job.create(rqtest_jobs.add, args=(1,), ttl=0, connection=connection)
    with pytest.raises(TimeoutFormatError):
        Job.create(rqtest_jobs.add, args=(1,), timeout='1.5h', connection=connection)
    assert Job.create(rqtest_jobs.add, args=(1,), timeout=-1, connection=connection).timeout == -1


def test_create_with_status_and_description(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), status=JobStatus.QUEUED, description='mine', connection=connection)
    assert job.get_status(refresh=False) == JobStatus.QUEUED
    assert job.description == 'mine'


def test_default_description_truncates_long_reprs(connection: redis.Redis) -> None:
    long_text = 'x' * 200
    job = Job.create(rqtest_jobs.echo, args=(long_text,), kwargs={'k': long_text}, connection=connection)
    cut = repr(long_text)[:75] + '...'
    assert job.description == f'rqtest_jobs.echo({cut}, k={cut})'
    assert job.get_call_string() == job.description


def test_get_call_string_sorts_kwargs_and_uses_repr(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.echo, args=('a', 1, None), kwargs={'z': 1, 'a': 'b'}, connection=connection)
    assert job.get_call_string() == "rqtest_jobs.echo('a', 1, None, a='b', z=1)"
    no_args = Job.create(rqtest_jobs.return_none, connection=connection)
    assert no_args.get_call_string() == 'rqtest_jobs.return_none()'
    method = Job.create(Counter(1).increment, args=(2,), connection=connection)
    assert method.get_call_string() == 'increment(2)'


def test_description_round_trips(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1, description='custom text \u2603')
    assert Job.fetch(job.id, connection=connection).description == 'custom text \u2603'
    assert raw_field(connection, job, 'description') == 'custom text \u2603'.encode()


def test_unencodable_call_fails_at_create(connection: redis.Redis) -> None:
    with pytest.raises(TypeError):
        Job.create(rqtest_jobs.echo, args=(threading.Lock(),), connection=connection)


# -- fetch, exists, keys --------------------------------------------------------------------


def test_fetch_missing_job_raises(connection: redis.Redis) -> None:
    with pytest.raises(NoSuchJobError):
        Job.fetch('nope', connection=connection)


def test_fetch_of_hash_without_data_raises_no_such_job(connection: redis.Redis) -> None:
    connection.hset('rq:job:partial', 'status', 'queued')
    with pytest.raises(NoSuchJobError):
        Job.fetch('partial', connection=connection)


def test_fetch_accepts_composite_execution_key(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    fetched = Job.fetch(f'{job.id}:0123456789abcdef', connection=connection)
    assert fetched.id == job.id
    assert fetched.args == (1,)


def test_fetch_many_returns_none_for_missing(connection: redis.Redis) -> None:
    a = make_job(connection, rqtest_jobs.add, 1)
    b = make_job(connection, rqtest_jobs.add, 2)
    jobs = Job.fetch_many([a.id, 'missing', b.id], connection=connection)
    assert len(jobs) == 3
    assert jobs[1] is None
    assert jobs[0] is not None and jobs[0].id == a.id and jobs[0].args == (1,)
    assert jobs[2] is not None and jobs[2].id == b.id and jobs[2].args == (2,)
    assert Job.fetch_many([], connection=connection) == []


def test_fetch_many_with_serializer(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1, serializer=JSONSerializer)
    [fetched] = Job.fetch_many([job.id], connection=connection, serializer='json')
    assert fetched is not None
    assert fetched.args == [1]


def test_exists(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), connection=connection)
    assert Job.exists(job.id, connection) is False
    job.save()
    assert Job.exists(job.id, connection) is True
    connection.delete(job.key)
    assert Job.exists(job.id, connection) is False


def test_keys(connection: redis.Redis) -> None:
    job = Job('abc', connection=connection)
    assert Job.key_for('abc') == 'rq:job:abc'
    assert Job.dependents_key_for('abc') == 'rq:job:abc:dependents'
    assert job.key == 'rq:job:abc'
    assert job.dependents_key == 'rq:job:abc:dependents'
    assert job.dependencies_key == 'rq:job::abc:dependencies'
    assert Job.redis_job_namespace_prefix == 'rq:job:'


# -- status --------------------------------------------------------------------------------


def test_get_status_reads_redis_unless_told_not_to(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    assert job.get_status() == JobStatus.CREATED
    connection.hset(job.key, 'status', 'failed')
    assert job.get_status(refresh=False) == JobStatus.CREATED
    assert job.get_status() == JobStatus.FAILED
    assert job.get_status(refresh=False) == JobStatus.FAILED


def test_get_status_raises_when_hash_is_gone(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    connection.delete(job.key)
    with pytest.raises(InvalidJobOperation):
        job.get_status()
    with pytest.raises(InvalidJobOperation):
        _ = job.is_queued


def test_set_status_writes_only_status(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    connection.hset(job.key, 'description', 'changed elsewhere')
    job.set_status(JobStatus.STARTED)
    assert raw_field(connection, job, 'status') == b'started'
    assert raw_field(connection, job, 'description') == b'changed elsewhere'
    assert job.get_status(refresh=False) == JobStatus.STARTED
    job.set_status('finished')
    assert raw_field(connection, job, 'status') == b'finished'


def test_set_status_in_pipeline(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    with connection.pipeline() as pipe:
        job.set_status(JobStatus.QUEUED, pipeline=pipe)
        assert raw_field(connection, job, 'status') == b'created'
        pipe.execute()
    assert raw_field(connection, job, 'status') == b'queued'


def test_set_status_rejects_unknown_value(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    with pytest.raises(ValueError):
        job.set_status('bogus')
    assert raw_field(connection, job, 'status') == b'created'


STATUS_PROPERTIES = {
    JobStatus.FINISHED: 'is_finished',
    JobStatus.QUEUED: 'is_queued',
    JobStatus.FAILED: 'is_failed',
    JobStatus.STARTED: 'is_started',
    JobStatus.DEFERRED: 'is_deferred',
    JobStatus.CANCELED: 'is_canceled',
    JobStatus.SCHEDULED: 'is_scheduled',
    JobStatus.STOPPED: 'is_stopped',
    JobStatus.READY_TO_ENQUEUE: 'is_ready_to_enqueue',  # RQ 3.0's
}


@pytest.mark.parametrize('status', list(STATUS_PROPERTIES))
def test_is_properties_read_redis(connection: redis.Redis, status: JobStatus) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    # written behind the job's back: each property must HGET
    connection.hset(job.key, 'status', status.value)
    for other, prop in STATUS_PROPERTIES.items():
        assert getattr(job, prop) is (other == status), prop


def test_job_status_values() -> None:
    assert [s.value for s in JobStatus] == [
        'created',
        'queued',
        'finished',
        'failed',
        'started',
        'deferred',
        'scheduled',
        'stopped',
        'canceled',
        'rate_limited',  # RQ 3.0's two, read and kept (tests/interop/test_rq3_data.py)
        'ready_to_enqueue',
    ]
    assert JobStatus('queued') is JobStatus.QUEUED
    assert JobStatus.QUEUED == 'queued'
    assert str(JobStatus.FAILED) == 'failed'


# -- meta --------------------------------------------------------------------------------------


def test_meta_round_trip(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1, meta={'a': 1, 'nested': {'b': [1, 2]}})
    assert raw_field(connection, job, 'meta') == pickle.dumps(job.meta, protocol=pickle.HIGHEST_PROTOCOL)
    assert Job.fetch(job.id, connection=connection).meta == {'a': 1, 'nested': {'b': [1, 2]}}


def test_meta_must_be_a_dict(connection: redis.Redis) -> None:
    with pytest.raises(TypeError):
        Job.create(rqtest_jobs.add, args=(1,), meta=['a'], connection=connection)


def test_empty_meta_is_not_written(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    assert raw_field(connection, job, 'meta') is None
    assert Job.fetch(job.id, connection=connection).meta == {}


def test_save_meta_writes_only_meta(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    before = connection.hgetall(job.key)
    connection.hset(job.key, mapping={'status': 'started', 'description': 'elsewhere'})
    job.description = 'local change'
    job.meta['progress'] = 50
    job.save_meta()
    after = connection.hgetall(job.key)
    assert after[b'meta'] == pickle.dumps({'progress': 50}, protocol=pickle.HIGHEST_PROTOCOL)
    assert after[b'status'] == b'started'
    assert after[b'description'] == b'elsewhere'
    assert set(after) == set(before) | {b'meta'}
    assert Job.fetch(job.id, connection=connection).meta == {'progress': 50}


def test_save_meta_uses_the_job_serializer(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1, serializer='json')
    job.meta['k'] = [1, 2]
    job.save_meta()
    assert raw_field(connection, job, 'meta') == b'{"k": [1, 2]}'
    assert Job.fetch(job.id, connection=connection, serializer='json').meta == {'k': [1, 2]}


def test_save_meta_on_deleted_job_raises_and_writes_nothing(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    connection.delete(job.key)
    job.meta['x'] = 1
    with pytest.raises(NoSuchJobError):
        job.save_meta()
    assert connection.exists(job.key) == 0


def test_get_meta_refresh(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1, meta={'v': 1})
    other = Job.fetch(job.id, connection=connection)
    other.meta['v'] = 2
    other.save_meta()
    assert job.get_meta(refresh=False) == {'v': 1}
    assert job.get_meta() == {'v': 2}
    assert job.meta == {'v': 2}
    connection.hdel(job.key, 'meta')
    assert job.get_meta(refresh=True) == {}


def test_undecodable_meta_is_kept_raw(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    connection.hset(job.key, 'meta', b'\x80\x05not pickle')
    fetched = Job.fetch(job.id, connection=connection)
    assert fetched.meta == {'unserialized': b'\x80\x05not pickle'}
    assert job.get_meta() == {'unserialized': b'\x80\x05not pickle'}


def test_meta_that_is_not_a_dict_is_kept_raw(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    raw = pickle.dumps([1, 2])
    connection.hset(job.key, 'meta', raw)
    assert Job.fetch(job.id, connection=connection).meta == {'unserialized': raw}


# -- persistence: save / refresh / to_dict / restore -------------------------------------------


def full_job(connection: redis.Redis, **overrides: Any) -> Job:
    parent = make_job(connection, rqtest_jobs.add, 0, id='parent1')
    options: dict[str, Any] = dict(
        id='full',
        status=JobStatus.FINISHED,
        timeout=90,
        result_ttl=-1,
        failure_ttl=3600,
        ttl=600,
        meta={'owner': 'me'},
        origin='high',
        description='desc',
        group_id='g1',
        retry=Retry(max=3, interval=[1, 2], enqueue_at_front=True),
        repeat=Repeat(times=2, interval=[5, 7]),
        on_success=Callback(rqtest_jobs.record_success, timeout=5),
        on_failure=Callback('rqtest_jobs.record_failure', timeout='2m'),
        on_stopped=Callback(rqtest_jobs.record_stopped),
        webhooks=[Webhook('http://example.invalid/hook', 'finished', method='POST', headers={'X': 'y'}, timeout=3)],
        depends_on=[Dependency([parent, 'other-id'], allow_failure=True, enqueue_at_front=True)],
        kwargs={'b': 2},
    )
    options.update(overrides)
    job = Job.create(rqtest_jobs.add, args=(1,), connection=connection, **options)
    job.enqueued_at = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc)
    job.started_at = datetime(2026, 1, 2, 3, 4, 6, 1, tzinfo=timezone.utc)
    job.ended_at = datetime(2026, 1, 2, 3, 4, 7, 999999, tzinfo=timezone.utc)
    job.last_heartbeat = datetime(2026, 1, 2, 3, 4, 8, tzinfo=timezone.utc)
    job.worker_name = 'worker-1'
    job.number_of_retries = 2
    return job


def test_save_and_fetch_round_trip_every_field(connection: redis.Redis) -> None:
    job = full_job(connection)
    job.save()
    fetched = Job.fetch('full', connection=connection)

    assert fetched.func_name == 'rqtest_jobs.add'
    assert fetched.args == (1,)
    assert fetched.kwargs == {'b': 2}
    assert fetched.get_status(refresh=False) == JobStatus.FINISHED
    assert fetched.timeout == 90
    assert fetched.result_ttl == -1
    assert fetched.failure_ttl == 3600
    assert fetched.ttl == 600
    assert fetched.meta == {'owner': 'me'}
    assert fetched.origin == 'high'
    assert fetched.description == 'desc'
    assert fetched.group_id == 'g1'
    assert fetched.worker_name == 'worker-1'
    assert fetched.retries_left == 3
    assert fetched.retry_intervals == [1, 2]
    assert fetched.enqueue_at_front_on_retry is True
    assert fetched.number_of_retries == 2
    assert fetched.repeats_left == 2
    assert fetched.repeat_intervals == job.repeat_intervals
    assert fetched._success_callback_name == 'rqtest_jobs.record_success'
    assert fetched._failure_callback_name == 'rqtest_jobs.record_failure'
    assert fetched._stopped_callback_name == 'rqtest_jobs.record_stopped'
    assert fetched.success_callback is rqtest_jobs.record_success
    assert fetched.failure_callback is rqtest_jobs.record_failure
    assert fetched.stopped_callback is rqtest_jobs.record_stopped
    assert fetched.success_callback_timeout == 5
    assert fetched.failure_callback_timeout == 120
    assert fetched.stopped_callback_timeout == 60
    assert fetched.webhooks == job.webhooks
    assert fetched.webhooks is not None and fetched.webhooks[0].headers == {'X': 'y'}
    assert fetched._dependency_ids == ['parent1', 'other-id']
    assert fetched.allow_dependency_failures is True
    assert fetched.enqueue_at_front is True
    assert fetched.created_at == job.created_at
    assert fetched.enqueued_at == job.enqueued_at
    assert fetched.started_at == job.started_at
    assert fetched.ended_at == job.ended_at
    assert fetched.last_heartbeat == job.last_heartbeat
    assert fetched.created_at.tzinfo is not None and fetched.created_at.utcoffset() == timedelta(0)
    assert fetched.to_dict() == job.to_dict()


def test_saved_hash_encodings(connection: redis.Redis) -> None:
    job = full_job(connection)
    job.save()
    raw = connection.hgetall(job.key)
    assert raw[b'status'] == b'finished'
    assert raw[b'timeout'] == b'90'
    assert raw[b'result_ttl'] == b'-1'
    assert raw[b'failure_ttl'] == b'3600'
    assert raw[b'ttl'] == b'600'
    assert raw[b'origin'] == b'high'
    assert raw[b'retries_left'] == b'3'
    assert json.loads(raw[b'retry_intervals']) == [1, 2]
    assert raw[b'enqueue_at_front_on_retry'] == b'1'
    assert raw[b'number_of_retries'] == b'2'
    assert raw[b'repeats_left'] == b'2'
    assert json.loads(raw[b'dependency_ids']) == ['parent1', 'other-id']
    assert raw[b'dependency_id'] == b'parent1'
    assert raw[b'allow_dependency_failures'] == b'1'
    assert raw[b'enqueue_at_front'] == b'1'
    assert raw[b'success_callback_name'] == b'rqtest_jobs.record_success'
    assert raw[b'success_callback_timeout'] == b'5'
    assert raw[b'failure_callback_timeout'] == b'120'
    assert raw[b'stopped_callback_timeout'] == b'60'
    assert json.loads(raw[b'webhooks']) == [
        {'url': 'http://example.invalid/hook', 'job_status': 'finished', 'method': 'POST', 'headers': {'X': 'y'},
         'timeout': 3}
    ]  # fmt: skip
    assert raw[b'group_id'] == b'g1'
    assert raw[b'worker_name'] == b'worker-1'
    assert raw[b'enqueued_at'] == b'2026-01-02T03:04:05.123456Z'
    assert raw[b'started_at'] == b'2026-01-02T03:04:06.000001Z'
    assert raw[b'ended_at'] == b'2026-01-02T03:04:07.999999Z'
    assert raw[b'last_heartbeat'] == b'2026-01-02T03:04:08.000000Z'
    assert TIMESTAMP_RE.match(raw[b'created_at'])
    assert raw[b'meta'] == pickle.dumps({'owner': 'me'}, protocol=pickle.HIGHEST_PROTOCOL)
    assert b'result' not in raw and b'exc_info' not in raw


def test_minimal_job_writes_always_fields_empty(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    raw = connection.hgetall(job.key)
    for field in (
        b'success_callback_name',
        b'failure_callback_name',
        b'stopped_callback_name',
        b'started_at',
        b'ended_at',
        b'last_heartbeat',
        b'worker_name',
        b'group_id',
    ):
        assert raw[field] == b'', field
    for field in (
        b'origin',
        b'enqueued_at',
        b'timeout',
        b'result_ttl',
        b'failure_ttl',
        b'ttl',
        b'meta',
        b'retries_left',
        b'retry_intervals',
        b'enqueue_at_front_on_retry',
        b'number_of_retries',
        b'repeats_left',
        b'repeat_intervals',
        b'dependency_ids',
        b'dependency_id',
        b'allow_dependency_failures',
        b'enqueue_at_front',
        b'success_callback_timeout',
        b'webhooks',
    ):
        assert field not in raw, field
    assert raw[b'status'] == b'created'
    assert raw[b'description'] == b'rqtest_jobs.add(1)'
    fetched = Job.fetch(job.id, connection=connection)
    assert fetched.timeout is None and fetched.ttl is None and fetched.retries_left is None
    assert fetched.allow_dependency_failures is None and fetched.enqueue_at_front is None
    assert fetched.enqueue_at_front_on_retry is False
    assert fetched.webhooks == [] and fetched._dependency_ids == []  # (RQ reads no webhooks as [])
    assert fetched.started_at is None and fetched.worker_name is None and fetched.group_id is None
    assert fetched.success_callback is None
    assert fetched.success_callback_timeout == 60


def test_dependency_without_dependency_object_writes_no_flags(connection: redis.Redis) -> None:
    parent = make_job(connection, rqtest_jobs.add, 1)
    child = make_job(connection, rqtest_jobs.add, 2, depends_on=parent)
    raw = connection.hgetall(child.key)
    assert json.loads(raw[b'dependency_ids']) == [parent.id]
    assert b'allow_dependency_failures' not in raw
    assert b'enqueue_at_front' not in raw
    assert child.dependency == parent
    assert Job.fetch(child.id, connection=connection).dependency == parent


def test_dependency_object_false_flags_are_written_as_zero(connection: redis.Redis) -> None:
    child = make_job(connection, rqtest_jobs.add, 2, depends_on=Dependency('p1'))
    raw = connection.hgetall(child.key)
    assert raw[b'allow_dependency_failures'] == b'0'
    assert raw[b'enqueue_at_front'] == b'0'
    fetched = Job.fetch(child.id, connection=connection)
    assert fetched.allow_dependency_failures is False
    assert fetched.enqueue_at_front is False


def test_legacy_single_dependency_id_is_read(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    connection.hset(job.key, 'dependency_id', 'legacy-parent')
    assert Job.fetch(job.id, connection=connection)._dependency_ids == ['legacy-parent']


def test_register_dependency_and_dependency_sets(connection: redis.Redis) -> None:
    a = make_job(connection, rqtest_jobs.add, 1, id='a')
    b = make_job(connection, rqtest_jobs.add, 2, id='b')
    child = make_job(connection, rqtest_jobs.add, 3, id='child', depends_on=[b, a], ttl=100)
    child.register_dependency()
    assert connection.smembers('rq:job::child:dependencies') == {b'a', b'b'}
    assert child.dependency_ids == ['a', 'b']
    assert a.dependent_ids == ['child']
    assert connection.smembers('rq:job:b:dependents') == {b'child'}
    assert 0 < connection.ttl('rq:job::child:dependencies') <= 100
    assert [j.id for j in child.fetch_dependencies()] == ['b', 'a']
    connection.delete(a.key)
    assert [j.id for j in child.fetch_dependencies()] == ['b']


def test_fetch_dependencies_with_watch_in_pipeline(connection: redis.Redis) -> None:
    a = make_job(connection, rqtest_jobs.add, 1, id='a')
    child = make_job(connection, rqtest_jobs.add, 3, id='child', depends_on=[a, 'gone'])
    with connection.pipeline() as pipe:
        deps = child.fetch_dependencies(watch=True, pipeline=pipe)
        assert [j.id for j in deps] == ['a']
        assert deps[0].connection is connection
        # a change to a watched dependency makes the transaction fail
        connection.hset(a.key, 'status', 'finished')
        pipe.multi()
        pipe.set('marker', '1')
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert connection.get('marker') is None
    with connection.pipeline() as pipe:
        assert [j.id for j in child.fetch_dependencies(pipeline=pipe)] == ['a']


def test_dependencies_are_met_respects_refresh_flag(connection: redis.Redis) -> None:
    parent = make_job(connection, rqtest_jobs.add, 1, id='parent')
    child = make_job(connection, rqtest_jobs.add, 2, id='kid', depends_on=parent)
    assert not child.dependencies_are_met()
    stale = Job.fetch('parent', connection=connection)
    parent.set_status(JobStatus.FINISHED)
    assert child.dependencies_are_met()
    assert child.dependencies_are_met(parent_job=stale)
    assert not child.dependencies_are_met(parent_job=stale, refresh_job_status=False)
    assert child.dependencies_are_met(exclude_job_id='parent')


def test_register_dependency_in_pipeline(connection: redis.Redis) -> None:
    child = make_job(connection, rqtest_jobs.add, 3, id='child', depends_on='p')
    with connection.pipeline() as pipe:
        child.register_dependency(pipeline=pipe)
        assert connection.exists('rq:job::child:dependencies') == 0
        pipe.execute()
    assert connection.smembers('rq:job::child:dependencies') == {b'p'}
    assert connection.smembers('rq:job:p:dependents') == {b'child'}


def test_refresh_reloads_changed_fields(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    other = Job.fetch(job.id, connection=connection)
    other.description = 'new'
    other.timeout = 33
    other.meta = {'m': 1}
    other.save()
    job.refresh()
    assert job.description == 'new'
    assert job.timeout == 33
    assert job.meta == {'m': 1}
    connection.delete(job.key)
    with pytest.raises(NoSuchJobError):
        job.refresh()


def test_save_in_pipeline(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), connection=connection)
    with connection.pipeline() as pipe:
        job.save(pipeline=pipe)
        assert not Job.exists(job.id, connection)
        pipe.execute()
    assert Job.exists(job.id, connection)


def test_save_include_meta_false_keeps_stored_meta(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1, meta={'stored': True})
    job.meta = {'local': True}
    job.save(include_meta=False)
    assert Job.fetch(job.id, connection=connection).meta == {'stored': True}
    assert 'meta' not in job.to_dict(include_meta=False)
    assert job.to_dict()['meta'] == pickle.dumps({'local': True}, protocol=pickle.HIGHEST_PROTOCOL)


def test_restore_from_raw_mapping(connection: redis.Redis) -> None:
    source = full_job(connection)
    raw = {k.encode(): (v if isinstance(v, bytes) else str(v).encode()) for k, v in source.to_dict().items()}
    job = Job('full', connection=connection)
    job.restore(raw)
    assert job.to_dict() == source.to_dict()
    assert job.args == (1,)


def test_timestamps_without_fraction_are_read(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    connection.hset(job.key, mapping={'created_at': '2025-05-06T07:08:09Z', 'enqueued_at': '2025-05-06T07:08:10Z'})
    fetched = Job.fetch(job.id, connection=connection)
    assert fetched.created_at == datetime(2025, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    assert fetched.enqueued_at == datetime(2025, 5, 6, 7, 8, 10, tzinfo=timezone.utc)


def test_naive_timestamps_are_written_as_utc(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), connection=connection)
    job.ended_at = datetime(2026, 3, 4, 5, 6, 7, 89)
    job.save()
    assert raw_field(connection, job, 'ended_at') == b'2026-03-04T05:06:07.000089Z'


def test_corrupt_field_raises_deserialization_error(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    connection.hset(job.key, 'timeout', 'not-a-number')
    with pytest.raises(DeserializationError, match='timeout'):
        Job.fetch(job.id, connection=connection)


def test_corrupt_data_raises_deserialization_error_on_access(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    connection.hset(job.key, 'data', b'\x00garbage')
    fetched = Job.fetch(job.id, connection=connection)  # (as RQ: the payload is decoded when read)
    with pytest.raises(DeserializationError, match=job.id):
        fetched.func_name  # noqa: B018


def test_missing_status_reads_as_created(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    connection.hdel(job.key, 'status')
    assert Job.fetch(job.id, connection=connection).get_status(refresh=False) == JobStatus.CREATED


# -- data payload ----------------------------------------------------------------------------


def test_data_is_zlib_over_pickle_of_four_tuple(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1, kwargs={'b': 2})
    raw = raw_field(connection, job, 'data')
    assert raw == job.data
    assert pickle.loads(zlib.decompress(raw)) == ('rqtest_jobs.add', None, (1,), {'b': 2})
    assert zlib.decompress(raw) == pickle.dumps(('rqtest_jobs.add', None, (1,), {'b': 2}), pickle.HIGHEST_PROTOCOL)


def test_json_data_layout(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1, kwargs={'b': 2}, serializer='json')
    payload = zlib.decompress(raw_field(connection, job, 'data'))
    assert json.loads(payload) == ['rqtest_jobs.add', None, [1], {'b': 2}]


def test_uncompressed_data_is_read(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    connection.hset(job.key, 'data', pickle.dumps(('rqtest_jobs.add', None, (7,), {'b': 3})))
    fetched = Job.fetch(job.id, connection=connection)
    assert fetched.args == (7,)
    assert fetched.kwargs == {'b': 3}
    assert fetched.perform() == 10


def test_setting_call_parts_reencodes_data(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    job.args = (10,)
    job.kwargs = {'b': 5}
    job.save()
    fetched = Job.fetch(job.id, connection=connection)
    assert fetched.args == (10,)
    assert fetched.perform() == 15
    job.func_name = 'rqtest_jobs_model.multiply'
    job.save()
    assert Job.fetch(job.id, connection=connection).perform() == 50


def test_payload_naming_unimportable_class_fails_only_on_access(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    # a pickled instance of a class from a module that does not exist here
    payload = pickle.dumps(('method', Counter(1), (), {}), protocol=pickle.HIGHEST_PROTOCOL)
    payload = payload.replace(b'rqtest_jobs_model', b'rqtest_missingmod')
    connection.hset(job.key, 'data', zlib.compress(payload))
    fetched = Job.fetch(job.id, connection=connection)
    assert fetched.id == job.id
    with pytest.raises(DeserializationError):
        _ = fetched.func_name
    # the stored data is kept untouched by a re-save
    fetched.save()
    assert raw_field(connection, job, 'data') == zlib.compress(payload)


# -- legacy result / exc_info fields ----------------------------------------------------------


def test_legacy_result_and_exc_info_fields_are_read(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    connection.hset(job.key, mapping={'result': pickle.dumps(42), 'exc_info': zlib.compress(b'Traceback: old')})
    fetched = Job.fetch(job.id, connection=connection)
    with pytest.warns(DeprecationWarning):
        assert fetched.result == 42
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        assert fetched.exc_info == 'Traceback: old'
    assert fetched.return_value() is None


def test_legacy_uncompressed_exc_info_is_read(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    connection.hset(job.key, 'exc_info', b'plain traceback')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        assert Job.fetch(job.id, connection=connection).exc_info == 'plain traceback'


def test_result_property_reads_legacy_field_written_after_load(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    connection.hset(job.key, 'result', pickle.dumps('late'))
    with pytest.warns(DeprecationWarning):
        assert job.result == 'late'


def test_legacy_fields_are_written_only_with_include_result(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), connection=connection)
    job._result = {'v': 1}
    job._exc_info = ''
    mapping = job.to_dict()
    assert mapping['result'] == pickle.dumps({'v': 1}, protocol=pickle.HIGHEST_PROTOCOL)
    assert mapping['exc_info'] == zlib.compress(b'')
    assert 'result' not in job.to_dict(include_result=False)
    assert 'exc_info' not in job.to_dict(include_result=False)
    job._result = threading.Lock()
    assert job.to_dict()['result'] == pickle.dumps('Unserializable return value', protocol=pickle.HIGHEST_PROTOCOL)


# -- results access -------------------------------------------------------------------------


def test_return_value_none_without_results(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    assert job.return_value() is None
    assert job.latest_result() is None
    assert job.results() == []


def test_return_value_is_cached_until_refresh(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value={'x': 1})
    assert job.return_value() == {'x': 1}
    Result.create_failure(job, ttl=100, exc_string='Traceback...')
    assert job.return_value() == {'x': 1}
    assert job.return_value(refresh=True) is None
    Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=[3])
    assert job.return_value(refresh=True) == [3]


def test_result_property_is_deprecated(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=99)
    with pytest.warns(DeprecationWarning):
        assert job.result == 99


def test_results_newest_first(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    for value in (1, 2, 3):
        Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=value)
    results = job.results()
    assert [r.return_value for r in results] == [3, 2, 1]
    assert job.latest_result() == results[0]
    assert all(r.job_id == job.id for r in results)


def test_exc_info_from_latest_failed_result(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        assert job.exc_info is None
        Result.create_failure(job, ttl=100, exc_string='Traceback: boom\n')
        assert job.exc_info == 'Traceback: boom\n'
        Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=1)
        assert Job.fetch(job.id, connection=connection).exc_info is None


def test_exc_info_is_deprecated(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    with pytest.warns(DeprecationWarning):
        _ = job.exc_info


def test_latest_result_blocks_until_a_result_arrives(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    writer_connection = redis.Redis(port=connection.connection_pool.connection_kwargs['port'])

    def write_once_it_waits() -> None:
        wait_blocked(writer_connection, 'xread')  # the reader is waiting: only this write can wake it
        writer_job = Job.fetch(job.id, connection=writer_connection)
        Result.create(writer_job, Result.Type.SUCCESSFUL, ttl=100, return_value='late')

    thread = threading.Thread(target=write_once_it_waits)
    thread.start()
    try:
        result = job.latest_result(timeout=60)
    finally:
        thread.join()
        writer_connection.close()
    assert result is not None
    assert result.return_value == 'late'
    assert result.type == Result.Type.SUCCESSFUL


def test_latest_result_with_timeout_returns_none_when_nothing_arrives(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    start = time.monotonic()
    assert job.latest_result(timeout=1) is None
    assert 0.9 <= time.monotonic() - start < 30  # (the upper bound only catches a wait without end)


def test_latest_result_with_timeout_returns_newest_existing_entry(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=1)
    Result.create(job, Result.Type.SUCCESSFUL, ttl=100, return_value=2)
    start = time.monotonic()
    result = job.latest_result(timeout=60)
    assert time.monotonic() - start < 30  # not the timeout: what exists is returned at once
    assert result is not None and result.return_value == 2


# -- perform and the current job -------------------------------------------------------------


def test_get_current_job_inside_perform(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs_model.current_job_info, connection=connection)
    assert get_current_job() is None
    assert job.perform() == {'id': job.id, 'args': []}
    assert get_current_job() is None


def test_current_job_is_restored_after_nested_perform(connection: redis.Redis) -> None:
    inner = make_job(connection, rqtest_jobs.current_job_id, id='inner')
    outer = Job.create(rqtest_jobs_model.nested_current_job_ids, args=('inner',), connection=connection, id='outer')
    assert outer.perform() == ['outer', 'inner', 'outer']
    assert inner.id == 'inner'
    assert get_current_job() is None


def test_current_job_is_cleared_after_exception(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs_model.raise_value_error, connection=connection)
    with pytest.raises(ValueError, match='model boom'):
        job.perform()
    assert get_current_job() is None


def test_current_job_is_per_thread(connection: redis.Redis) -> None:
    seen: list[Any] = []
    job = Job.create(rqtest_jobs.sleep, args=(0.3,), connection=connection)
    thread = threading.Thread(target=job.perform)
    thread.start()
    time.sleep(0.1)
    seen.append(get_current_job())
    thread.join()
    assert seen == [None]


def test_perform_runs_coroutines(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.async_add, args=(2, 3), connection=connection)
    assert job.perform() == 5
    job2 = Job.create(rqtest_jobs_model.async_current_job_id, connection=connection)
    assert job2.perform() == job2.id


def test_perform_persists_the_job_hash(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1, ttl=100)
    job.cleanup(100)
    assert connection.ttl(job.key) > 0
    assert job.perform() == 2
    assert connection.ttl(job.key) == -1


def test_perform_stores_result_in_memory(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(2,), kwargs={'b': 3}, connection=connection)
    assert job.perform() == 5
    assert job._result == 5


# -- TTLs, retry, heartbeat, cleanup ------------------------------------------------------------


def test_get_ttl_and_result_ttl(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), connection=connection)
    assert job.get_ttl() is None
    assert job.get_ttl(77) == 77
    assert job.get_result_ttl(500) == 500
    job = Job.create(rqtest_jobs.add, args=(1,), ttl=10, result_ttl=0, connection=connection)
    assert job.get_ttl(77) == 10
    assert job.get_result_ttl(500) == 0
    job.result_ttl = -1
    assert job.get_result_ttl(500) == -1


@pytest.mark.parametrize(
    ('retry', 'expected'),
    [
        (Retry(max=5, interval=[10, 20, 30]), [10, 10, 10, 20, 30]),
        (Retry(max=2, interval=[10, 20, 30]), [20, 30]),
        (Retry(max=3, interval=[10, 20, 30]), [10, 20, 30]),
        (Retry(max=3, interval=7), [7, 7, 7]),
        (Retry(max=2), [0, 0]),
    ],
)
def test_get_retry_interval_is_right_aligned(connection: redis.Redis, retry: Retry, expected: list[int]) -> None:
    job = make_job(connection, rqtest_jobs.add, 1, retry=retry)
    job = Job.fetch(job.id, connection=connection)
    seen = []
    while job.should_retry:
        seen.append(job.get_retry_interval())
        assert job.retries_left is not None
        job.retries_left -= 1
    assert seen == expected
    assert job.retries_left == 0


def test_get_retry_interval_without_intervals(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), connection=connection)
    assert job.get_retry_interval() == 0


def test_get_retry_interval_with_no_budget_left_does_not_raise(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), retry=Retry(max=2, interval=[10, 20]), connection=connection)
    job.retries_left = 0
    assert job.get_retry_interval() == 20


def test_should_retry(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), connection=connection)
    assert job.should_retry is False
    job.retries_left = 0
    assert job.should_retry is False
    job.retries_left = 1
    assert job.should_retry is True


def test_should_enqueue_at_front(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), connection=connection)
    assert job.should_enqueue_at_front() is False
    job.enqueue_at_front = True
    assert job.should_enqueue_at_front() is True
    job = Job.create(rqtest_jobs.add, args=(1,), retry=Retry(max=1, enqueue_at_front=True), connection=connection)
    assert job.should_enqueue_at_front() is False  # never ran: not a retry yet
    job.started_at = datetime.now(timezone.utc)
    assert job.should_enqueue_at_front() is True
    job = Job.create(rqtest_jobs.add, args=(1,), retry=Retry(max=1), connection=connection)
    job.started_at = datetime.now(timezone.utc)
    assert job.should_enqueue_at_front() is False


def test_heartbeat_writes_last_heartbeat(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    moment = datetime(2026, 2, 3, 4, 5, 6, 700000, tzinfo=timezone.utc)
    job.heartbeat(moment, ttl=30)
    assert job.last_heartbeat == moment
    assert raw_field(connection, job, 'last_heartbeat') == b'2026-02-03T04:05:06.700000Z'
    later = moment + timedelta(seconds=5)
    with connection.pipeline() as pipe:
        job.heartbeat(later, ttl=30, pipeline=pipe)
        assert raw_field(connection, job, 'last_heartbeat') == b'2026-02-03T04:05:06.700000Z'
        pipe.execute()
    assert Job.fetch(job.id, connection=connection).last_heartbeat == later


def test_cleanup_zero_deletes(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1, origin='q')
    connection.rpush('rq:queue:q', job.id)
    connection.sadd(job.dependents_key, 'x')
    connection.sadd(job.dependencies_key, 'y')
    job.cleanup(0)
    assert connection.exists(job.key, job.dependents_key, job.dependencies_key) == 0
    assert connection.lrange('rq:queue:q', 0, -1) == []


def test_cleanup_zero_can_keep_queue_entry(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1, origin='q')
    connection.rpush('rq:queue:q', job.id)
    job.cleanup(0, remove_from_queue=False)
    assert connection.exists(job.key) == 0
    assert connection.lrange('rq:queue:q', 0, -1) == [job.id.encode()]


def test_cleanup_positive_expires_job_and_sets(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    connection.sadd(job.dependents_key, 'x')
    connection.sadd(job.dependencies_key, 'y')
    since = time.time()
    job.cleanup(100)
    for key in (job.key, job.dependents_key, job.dependencies_key):
        assert_ttl(connection, key, 100, since)
    with connection.pipeline() as pipe:
        job.cleanup(1000, pipeline=pipe)
        assert connection.ttl(job.key) <= 100
        pipe.execute()
    assert connection.ttl(job.key) > 900


@pytest.mark.parametrize('ttl', [None, -1])
def test_cleanup_none_or_negative_does_nothing(connection: redis.Redis, ttl: int | None) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    connection.sadd(job.dependents_key, 'x')
    job.cleanup(ttl)
    assert connection.exists(job.key) == 1
    assert connection.ttl(job.key) == -1
    assert connection.ttl(job.dependents_key) == -1
    connection.expire(job.key, 50)
    job.cleanup(ttl)
    assert 0 < connection.ttl(job.key) <= 50


# -- equality ----------------------------------------------------------------------------------


def test_eq_and_hash(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1)
    same = Job.fetch(job.id, connection=connection)
    other = make_job(connection, rqtest_jobs.add, 1)
    assert job == same
    assert hash(job) == hash(same)
    assert job != other
    assert job != job.id
    assert len({job, same, other}) == 2
    assert job in [other, same]


def test_repr_and_str(connection: redis.Redis) -> None:
    job = make_job(connection, rqtest_jobs.add, 1, id='shown')
    assert 'shown' in repr(job)
    assert 'shown' in str(job) and 'rqtest_jobs.add(1)' in str(job)
