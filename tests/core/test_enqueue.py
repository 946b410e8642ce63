"""Enqueueing: every reserved keyword of ``enqueue``, the other entry points (``enqueue_call``,
``create_job``, ``enqueue_job``, ``enqueue_many``, ``enqueue_at``/``enqueue_in``/``schedule_job``),
callable kinds and the stored description, checked against the Redis data."""

from __future__ import annotations

import calendar
import datetime
import json
import os
import pickle
import time
import warnings
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import rqtest_jobs
import rqtest_jobs_queue
from redis_dump import snapshot
from rq import Callback, Queue, Repeat, Retry, Webhook
from rq.exceptions import DuplicateJobError
from rq.job import Dependency, Job, JobStatus
from rq.queue import EnqueueArgs, EnqueueData
from ttl_checks import assert_expires_at, assert_ttl

TIMESTAMP = r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$'


def fields(connection: redis.Redis, key: str) -> dict[str, bytes]:
    return {k.decode(): v for k, v in connection.hgetall(key).items()}  # type: ignore[union-attr]


def payload(connection: redis.Redis, key: str) -> Any:
    return pickle.loads(zlib.decompress(connection.hget(key, 'data')))  # type: ignore[arg-type]


def queue_ids(connection: redis.Redis, name: str = 'default') -> list[str]:
    return [i.decode() for i in connection.lrange(f'rq:queue:{name}', 0, -1)]  # type: ignore[union-attr]


def utc_epoch(dt: datetime.datetime) -> int:
    return calendar.timegm(dt.astimezone(datetime.timezone.utc).utctimetuple())


@pytest.fixture
def q(connection: redis.Redis) -> Queue:
    return Queue(connection=connection)


@pytest.fixture
def tz_kolkata() -> Iterator[None]:
    """Run with a local time zone far from UTC (+05:30), so naive-means-local is visible."""
    old = os.environ.get('TZ')
    os.environ['TZ'] = 'Asia/Kolkata'
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ['TZ']
        else:
            os.environ['TZ'] = old
        time.tzset()


# -- the plain enqueue ---------------------------------------------------------------------


class TestPlainEnqueue:
    def test_fresh_job_hash(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.add, 1, b=2)
        stored = fields(connection, f'rq:job:{job.id}')
        assert set(stored) == {
            'data',
            'created_at',
            'status',
            'success_callback_name',
            'failure_callback_name',
            'stopped_callback_name',
            'started_at',
            'ended_at',
            'last_heartbeat',
            'worker_name',
            'group_id',
            'origin',
            'description',
            'enqueued_at',
            'timeout',
        }
        assert stored['status'] == b'queued'
        assert stored['origin'] == b'default'
        assert stored['timeout'] == b'180'
        assert stored['description'] == b'rqtest_jobs.add(1, b=2)'
        for empty in ('success_callback_name', 'started_at', 'ended_at', 'last_heartbeat', 'worker_name', 'group_id'):
            assert stored[empty] == b''
        import re

        assert re.match(TIMESTAMP, stored['created_at'].decode())
        assert re.match(TIMESTAMP, stored['enqueued_at'].decode())
        assert payload(connection, job.key) == ('rqtest_jobs.add', None, (1,), {'b': 2})
        assert connection.ttl(job.key) == -1

    def test_queue_list_and_queues_set(self, connection: redis.Redis, q: Queue) -> None:
        a = q.enqueue(rqtest_jobs.say_hello)
        b = q.enqueue(rqtest_jobs.say_hello)
        assert queue_ids(connection) == [a.id, b.id]
        assert connection.smembers('rq:queues') == {b'rq:queue:default'}

    def test_returned_job(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.add, 1, b=2)
        assert isinstance(job, Job)
        assert len(job.id) == 36
        assert job.get_status(refresh=False) == JobStatus.QUEUED
        assert job.origin == 'default'
        assert job.enqueued_at is not None
        assert job.func_name == 'rqtest_jobs.add'
        assert job.args == (1,)
        assert job.kwargs == {'b': 2}
        assert job.is_queued

    def test_no_args(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.return_none)
        assert payload(connection, job.key) == ('rqtest_jobs.return_none', None, (), {})
        assert job.description == 'rqtest_jobs.return_none()'


# -- reserved keywords ----------------------------------------------------------------------


class TestReservedKeywords:
    @pytest.mark.parametrize(
        ('given', 'stored'),
        [(5, b'5'), ('5', b'5'), ('1h', b'3600'), ('2D', b'172800'), ('3m', b'180'), ('7s', b'7'), (-1, b'-1')],
    )
    def test_job_timeout(self, connection: redis.Redis, q: Queue, given: Any, stored: bytes) -> None:
        job = q.enqueue(rqtest_jobs.say_hello, job_timeout=given)
        assert connection.hget(job.key, 'timeout') == stored
        assert job.timeout == int(stored)
        assert 'job_timeout' not in job.kwargs

    def test_timeout_kwarg_goes_to_the_function(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs_queue.takes_timeout, timeout=5)
        assert job.kwargs == {'timeout': 5}
        assert job.timeout == 180
        assert connection.hget(job.key, 'timeout') == b'180'
        assert payload(connection, job.key)[3] == {'timeout': 5}

    def test_timeout_kwarg_reaches_the_function_when_run(self, connection: redis.Redis) -> None:
        sync = Queue(connection=connection, is_async=False)
        job = sync.enqueue(rqtest_jobs_queue.takes_timeout, timeout=5, job_timeout=20)
        assert job.return_value() == {'timeout': 5, 'description': None, 'ttl': None}
        assert connection.hget(job.key, 'timeout') == b'20'

    def test_description(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.add, 1, description='adding one')
        assert connection.hget(job.key, 'description') == b'adding one'
        assert job.description == 'adding one'
        assert job.kwargs == {}

    def test_empty_description_means_the_call_string(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.add, 1, description='')
        assert connection.hget(job.key, 'description') == b'rqtest_jobs.add(1)'

    @pytest.mark.parametrize(('given', 'stored'), [(0, b'0'), (-1, b'-1'), (100, b'100'), ('5m', b'300')])
    def test_result_ttl(self, connection: redis.Redis, q: Queue, given: Any, stored: bytes) -> None:
        job = q.enqueue(rqtest_jobs.say_hello, result_ttl=given)
        assert connection.hget(job.key, 'result_ttl') == stored
        assert job.result_ttl == int(stored)
        assert connection.ttl(job.key) == -1  # result_ttl only applies after the run

    @pytest.mark.parametrize(('given', 'stored'), [(-1, b'-1'), (100, b'100'), ('1d', b'86400')])
    def test_failure_ttl(self, connection: redis.Redis, q: Queue, given: Any, stored: bytes) -> None:
        job = q.enqueue(rqtest_jobs.say_hello, failure_ttl=given)
        assert connection.hget(job.key, 'failure_ttl') == stored
        assert connection.ttl(job.key) == -1

    def test_ttls_absent_by_default(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.say_hello)
        stored = fields(connection, job.key)
        assert 'ttl' not in stored and 'result_ttl' not in stored and 'failure_ttl' not in stored

    @pytest.mark.parametrize(('given', 'seconds'), [(100, 100), ('2h', 7200), ('2D', 172800)])
    def test_ttl_expires_the_hash(self, connection: redis.Redis, q: Queue, given: Any, seconds: int) -> None:
        since = time.time()
        job = q.enqueue(rqtest_jobs.say_hello, ttl=given)
        assert connection.hget(job.key, 'ttl') == str(seconds).encode()
        assert_ttl(connection, job.key, seconds, since)
        assert job.ttl == seconds
        # The queue list itself never expires.
        assert connection.ttl('rq:queue:default') == -1

    def test_ttl_on_a_deferred_job_expires_its_sets(self, connection: redis.Redis, q: Queue) -> None:
        parent = q.enqueue(rqtest_jobs.say_hello)
        since = time.time()
        child = q.enqueue(rqtest_jobs.say_hello, depends_on=parent, ttl=50)
        assert_ttl(connection, child.key, 50, since)
        assert_ttl(connection, child.dependencies_key, 50, since)
        assert connection.ttl(parent.key) == -1

    def test_depends_on_unfinished_job_defers(self, connection: redis.Redis, q: Queue) -> None:
        parent = q.enqueue(rqtest_jobs.say_hello, job_id='parent')
        since = time.time()
        child = q.enqueue(rqtest_jobs.say_hello, job_id='child', depends_on=parent)
        assert child.get_status(refresh=False) == JobStatus.DEFERRED
        stored = fields(connection, 'rq:job:child')
        assert stored['status'] == b'deferred'
        assert 'enqueued_at' not in stored
        assert stored['dependency_ids'] == b'["parent"]'
        assert stored['dependency_id'] == b'parent'
        assert queue_ids(connection) == ['parent']
        assert connection.smembers('rq:job:parent:dependents') == {b'child'}
        assert connection.smembers('rq:job::child:dependencies') == {b'parent'}
        score = connection.zscore('rq:deferred:default', 'child')
        assert_expires_at(score, 0, since)

    def test_depends_on_list_of_ids_and_jobs(self, connection: redis.Redis, q: Queue) -> None:
        a = q.enqueue(rqtest_jobs.say_hello, job_id='a')
        q.enqueue(rqtest_jobs.say_hello, job_id='b')
        child = q.enqueue(rqtest_jobs.say_hello, job_id='child', depends_on=[a, 'b'])
        assert json.loads(connection.hget('rq:job:child', 'dependency_ids')) == ['a', 'b']  # type: ignore[arg-type]
        assert connection.smembers('rq:job::child:dependencies') == {b'a', b'b'}
        assert child.get_status() == JobStatus.DEFERRED

    def test_depends_on_finished_job_queues(self, connection: redis.Redis, q: Queue) -> None:
        parent = q.enqueue(rqtest_jobs.say_hello)
        connection.hset(parent.key, 'status', 'finished')
        child = q.enqueue(rqtest_jobs.say_hello, depends_on=parent)
        assert child.get_status() == JobStatus.QUEUED
        assert queue_ids(connection) == [parent.id, child.id]
        assert connection.zcard('rq:deferred:default') == 0

    def test_depends_on_missing_job_queues(self, connection: redis.Redis, q: Queue) -> None:
        child = q.enqueue(rqtest_jobs.say_hello, depends_on='nobody')
        assert child.get_status() == JobStatus.QUEUED
        assert queue_ids(connection) == [child.id]

    def test_dependency_object_flags(self, connection: redis.Redis, q: Queue) -> None:
        parent = q.enqueue(rqtest_jobs.say_hello)
        child = q.enqueue(
            rqtest_jobs.say_hello, depends_on=Dependency(jobs=[parent], allow_failure=True, enqueue_at_front=True)
        )
        stored = fields(connection, child.key)
        assert stored['allow_dependency_failures'] == b'1'
        assert stored['enqueue_at_front'] == b'1'

    def test_job_id(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.say_hello, job_id='my-id_1')
        assert job.id == 'my-id_1'
        assert connection.exists('rq:job:my-id_1')
        assert queue_ids(connection) == ['my-id_1']
        assert job.kwargs == {}

    def test_at_front(self, connection: redis.Redis, q: Queue) -> None:
        q.enqueue(rqtest_jobs.say_hello, job_id='a')
        q.enqueue(rqtest_jobs.say_hello, job_id='b', at_front=True)
        q.enqueue(rqtest_jobs.say_hello, job_id='c')
        q.enqueue(rqtest_jobs.say_hello, job_id='d', at_front=True)
        assert queue_ids(connection) == ['d', 'b', 'a', 'c']
        # Not persisted on a plain enqueue (RQ does not write it either).
        assert 'enqueue_at_front' not in fields(connection, 'rq:job:b')

    def test_meta(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.say_hello, meta={'owner': 'me', 'n': 3})
        raw = connection.hget(job.key, 'meta')
        assert pickle.loads(raw) == {'owner': 'me', 'n': 3}  # type: ignore[arg-type]  # not zlib'd
        assert job.meta == {'owner': 'me', 'n': 3}
        assert Job.fetch(job.id, connection=connection).meta == {'owner': 'me', 'n': 3}

    def test_meta_is_the_callers_dict(self, connection: redis.Redis, q: Queue) -> None:
        """As in RQ: the job keeps the dict it was given (an empty one is replaced by a new dict)."""
        meta = {'a': 1}
        job = q.enqueue(rqtest_jobs.say_hello, meta=meta)
        assert job.meta is meta
        job.meta['b'] = 2
        assert meta == {'a': 1, 'b': 2}
        assert q.enqueue_call(rqtest_jobs.say_hello, meta=meta).meta is meta
        assert q.create_job(rqtest_jobs.say_hello, meta=meta).meta is meta
        assert Job.create(rqtest_jobs.say_hello, connection=connection, meta=meta).meta is meta
        empty: dict[str, int] = {}
        assert q.enqueue(rqtest_jobs.say_hello, meta=empty).meta == {}

    def test_retry(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.say_hello, retry=Retry(max=3, interval=[1, 2]))
        stored = fields(connection, job.key)
        assert stored['retries_left'] == b'3'
        assert json.loads(stored['retry_intervals']) == [1, 2]
        assert 'enqueue_at_front_on_retry' not in stored
        job2 = q.enqueue(rqtest_jobs.say_hello, retry=Retry(max=1, enqueue_at_front=True))
        stored2 = fields(connection, job2.key)
        assert stored2['retries_left'] == b'1'
        assert json.loads(stored2['retry_intervals']) == [0]
        assert stored2['enqueue_at_front_on_retry'] == b'1'

    def test_repeat(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.say_hello, repeat=Repeat(times=3, interval=30))
        stored = fields(connection, job.key)
        assert stored['repeats_left'] == b'3'
        assert json.loads(stored['repeat_intervals']) == [30]
        assert job.repeats_left == 3

    def test_callbacks(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(
            rqtest_jobs.say_hello,
            on_success=Callback(rqtest_jobs.record_success),
            on_failure=Callback(rqtest_jobs.record_failure, timeout=10),
            on_stopped=Callback('rqtest_jobs.record_stopped', timeout='2m'),
        )
        stored = fields(connection, job.key)
        assert stored['success_callback_name'] == b'rqtest_jobs.record_success'
        assert stored['failure_callback_name'] == b'rqtest_jobs.record_failure'
        assert stored['stopped_callback_name'] == b'rqtest_jobs.record_stopped'
        assert stored['success_callback_timeout'] == b'60'
        assert stored['failure_callback_timeout'] == b'10'
        assert stored['stopped_callback_timeout'] == b'120'
        assert job.kwargs == {}

    def test_bare_callback_is_deprecated_but_works(self, connection: redis.Redis, q: Queue) -> None:
        with pytest.warns(DeprecationWarning):
            job = q.enqueue(rqtest_jobs.say_hello, on_success=rqtest_jobs.record_success)
        assert connection.hget(job.key, 'success_callback_name') == b'rqtest_jobs.record_success'

    def test_callbacks_run_in_sync_mode(self, connection: redis.Redis) -> None:
        sync = Queue(connection=connection, is_async=False)
        ok = sync.enqueue(rqtest_jobs.add, 1, 2, on_success=Callback(rqtest_jobs.record_success))
        bad = sync.enqueue(rqtest_jobs.fail, 'nope', on_failure=Callback(rqtest_jobs.record_failure))
        assert connection.get(f'callback:success:{ok.id}') == b'3'
        assert connection.get(f'callback:failure:{bad.id}') == b'ValueError: nope'

    def test_webhooks(self, connection: redis.Redis, q: Queue) -> None:
        hooks = [
            Webhook('https://example.test/done', 'finished'),
            Webhook('http://example.test/fail', 'failed', method='POST', headers={'X-A': 'b'}, timeout=3),
        ]
        job = q.enqueue(rqtest_jobs.say_hello, webhooks=hooks)
        stored = json.loads(connection.hget(job.key, 'webhooks'))  # type: ignore[arg-type]
        assert stored == [
            {
                'url': 'https://example.test/done',
                'job_status': 'finished',
                'method': 'GET',
                'headers': None,
                'timeout': 10,
            },
            {
                'url': 'http://example.test/fail',
                'job_status': 'failed',
                'method': 'POST',
                'headers': {'X-A': 'b'},
                'timeout': 3,
            },
        ]
        assert Job.fetch(job.id, connection=connection).webhooks == hooks

    def test_pipeline(self, connection: redis.Redis, q: Queue) -> None:
        with connection.pipeline() as pipe:
            job = q.enqueue(rqtest_jobs.say_hello, job_id='piped', pipeline=pipe)
            assert connection.dbsize() == 0
            assert job.get_status(refresh=False) == JobStatus.QUEUED
            pipe.execute()
        assert queue_ids(connection) == ['piped']
        assert connection.hget('rq:job:piped', 'status') == b'queued'
        assert job.kwargs == {}

    def test_pipeline_several_jobs_in_one_transaction(self, connection: redis.Redis, q: Queue) -> None:
        with connection.pipeline() as pipe:
            q.enqueue(rqtest_jobs.say_hello, job_id='p1', pipeline=pipe)
            Queue('low', connection=connection).enqueue(rqtest_jobs.say_hello, job_id='p2', pipeline=pipe)
            q.enqueue(rqtest_jobs.say_hello, job_id='p0', pipeline=pipe, at_front=True)
            assert connection.dbsize() == 0
            pipe.execute()
        assert queue_ids(connection) == ['p0', 'p1']
        assert queue_ids(connection, 'low') == ['p2']

    def test_pipeline_status_with_dependencies(self, connection: redis.Redis, q: Queue) -> None:
        done = q.enqueue(rqtest_jobs.say_hello, job_id='done')
        connection.hset(done.key, 'status', 'finished')
        waiting = q.enqueue(rqtest_jobs.say_hello, job_id='waiting')
        with connection.pipeline() as pipe:
            met = q.enqueue(rqtest_jobs.say_hello, job_id='met', depends_on=done, pipeline=pipe)
            unmet = q.enqueue(rqtest_jobs.say_hello, job_id='unmet', depends_on=waiting, pipeline=pipe)
            pipe.execute()
        assert met.get_status(refresh=False) == met.get_status() == JobStatus.QUEUED
        assert met.enqueued_at is not None
        assert unmet.get_status(refresh=False) == unmet.get_status() == JobStatus.DEFERRED
        assert unmet.enqueued_at is None
        assert queue_ids(connection) == ['done', 'waiting', 'met']

    def test_pipeline_status_with_dependency_in_the_same_pipeline(self, connection: redis.Redis, q: Queue) -> None:
        with connection.pipeline() as pipe:
            parent = q.enqueue(rqtest_jobs.say_hello, job_id='parent', pipeline=pipe)
            child = q.enqueue(rqtest_jobs.say_hello, job_id='child', depends_on=parent, pipeline=pipe)
            pipe.execute()
        assert child.get_status(refresh=False) == child.get_status() == JobStatus.DEFERRED
        assert queue_ids(connection) == ['parent']

    def test_unique(self, connection: redis.Redis, q: Queue) -> None:
        first = q.enqueue(rqtest_jobs.add, 1, job_id='u1', unique=True)
        assert first.get_status() == JobStatus.QUEUED
        before = snapshot(connection)
        with pytest.raises(DuplicateJobError, match='u1'):
            q.enqueue(rqtest_jobs.add, 2, job_id='u1', unique=True, description='second')
        assert snapshot(connection) == before
        assert payload(connection, 'rq:job:u1')[2] == (1,)
        assert queue_ids(connection) == ['u1']

    def test_unique_blocks_whatever_the_status(self, connection: redis.Redis, q: Queue) -> None:
        q.enqueue(rqtest_jobs.add, 1, job_id='u1')
        connection.hset('rq:job:u1', 'status', 'finished')
        with pytest.raises(DuplicateJobError):
            Queue('other', connection=connection).enqueue(rqtest_jobs.add, 1, job_id='u1', unique=True)
        assert not connection.exists('rq:queue:other')

    def test_unique_after_the_hash_is_gone(self, connection: redis.Redis, q: Queue) -> None:
        q.enqueue(rqtest_jobs.add, 1, job_id='u1', unique=True)
        connection.delete('rq:job:u1')
        q.enqueue(rqtest_jobs.add, 2, job_id='u1', unique=True)
        assert payload(connection, 'rq:job:u1')[2] == (2,)

    def test_unique_with_pipeline_checks_existing_job(self, connection: redis.Redis, q: Queue) -> None:
        q.enqueue(rqtest_jobs.add, 1, job_id='u1')
        with connection.pipeline() as pipe:
            with pytest.raises(DuplicateJobError):
                q.enqueue(rqtest_jobs.add, 2, job_id='u1', unique=True, pipeline=pipe)
            assert len(pipe) == 0
        assert payload(connection, 'rq:job:u1')[2] == (1,)

    def test_unique_with_ttl(self, connection: redis.Redis, q: Queue) -> None:
        since = time.time()
        q.enqueue(rqtest_jobs.add, 1, job_id='u1', unique=True, ttl=60)
        assert_ttl(connection, 'rq:job:u1', 60, since)

    def test_not_unique_overwrites(self, connection: redis.Redis, q: Queue) -> None:
        q.enqueue(rqtest_jobs.add, 1, job_id='dup')
        q.enqueue(rqtest_jobs.add, 2, job_id='dup')
        assert payload(connection, 'rq:job:dup')[2] == (2,)
        assert queue_ids(connection) == ['dup', 'dup']

    def test_unique_sync_mode(self, connection: redis.Redis) -> None:
        sync = Queue(connection=connection, is_async=False)
        job = sync.enqueue(rqtest_jobs.add, 1, 1, job_id='s1', unique=True)
        assert job.return_value() == 2
        with pytest.raises(DuplicateJobError):
            sync.enqueue(rqtest_jobs.add, 5, 5, job_id='s1', unique=True)
        assert Job.fetch('s1', connection=connection).return_value() == 2


# -- args=/kwargs= --------------------------------------------------------------------------


class TestExplicitArgs:
    def test_args_and_kwargs(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(
            rqtest_jobs_queue.takes_timeout,
            ttl=30,
            description='rq description',
            args=(1,),
            kwargs={'description': 'function description', 'ttl': 15},
        )
        assert job.args == (1,)
        assert job.kwargs == {'description': 'function description', 'ttl': 15}
        assert job.ttl == 30
        assert job.description == 'rq description'
        assert connection.hget(job.key, 'ttl') == b'30'
        assert payload(connection, job.key)[2:] == ((1,), {'description': 'function description', 'ttl': 15})

    def test_args_only(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.add, args=[1, 2])
        assert tuple(job.args) == (1, 2)
        assert job.kwargs == {}

    def test_kwargs_only(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.add, kwargs={'a': 1, 'b': 2})
        assert tuple(job.args) == ()
        assert job.kwargs == {'a': 1, 'b': 2}

    def test_args_none(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.return_none, args=None, kwargs=None)
        assert tuple(job.args) == ()
        assert job.kwargs == {}

    def test_mixed_with_positional_is_a_type_error(self, connection: redis.Redis, q: Queue) -> None:
        with pytest.raises(TypeError, match='positional'):
            q.enqueue(rqtest_jobs.add, 1, args=(2,))
        with pytest.raises(TypeError):
            q.enqueue(rqtest_jobs.add, 1, kwargs={'b': 2})
        assert connection.dbsize() == 0

    def test_mixed_with_extra_kwargs_is_a_type_error(self, connection: redis.Redis, q: Queue) -> None:
        with pytest.raises(TypeError, match='b'):
            q.enqueue(rqtest_jobs.add, args=(1,), b=2)
        assert connection.dbsize() == 0

    def test_reserved_keywords_may_accompany_args(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.add, args=(1,), job_timeout=9, job_id='x', at_front=True)
        assert job.id == 'x'
        assert job.timeout == 9


# -- callable kinds -------------------------------------------------------------------------


class TestCallables:
    def test_dotted_string(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue('rqtest_jobs.add', 8, b=1)
        assert payload(connection, job.key) == ('rqtest_jobs.add', None, (8,), {'b': 1})
        assert job.description == 'rqtest_jobs.add(8, b=1)'
        assert Queue(connection=connection, is_async=False).enqueue('rqtest_jobs.add', 8, b=1).return_value() == 9

    def test_dotted_string_to_a_staticmethod(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue('rqtest_jobs_queue.Greeter.shout', 'x')
        assert payload(connection, job.key)[:2] == ('rqtest_jobs_queue.Greeter.shout', None)
        sync = Queue(connection=connection, is_async=False)
        assert sync.enqueue('rqtest_jobs_queue.Greeter.shout', 'x').return_value() == 'X'

    def test_dotted_string_bare_builtin(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue('len', [1, 2])
        assert payload(connection, job.key)[:2] == ('len', None)
        assert Queue(connection=connection, is_async=False).enqueue('len', [1, 2]).return_value() == 2

    def test_bound_method(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs_queue.Greeter('Hi').greet, 'Bob')
        func_name, instance, args, kwargs = payload(connection, job.key)
        assert kwargs == {}
        assert func_name == 'greet'
        assert isinstance(instance, rqtest_jobs_queue.Greeter)
        assert instance.greeting == 'Hi'
        assert args == ('Bob',)
        assert job.description == "greet('Bob')"
        fetched = Job.fetch(job.id, connection=connection)
        assert fetched.instance.greeting == 'Hi'
        assert fetched.func('Ann') == 'Hi, Ann'
        sync = Queue(connection=connection, is_async=False)
        assert sync.enqueue(rqtest_jobs_queue.Greeter('Yo').greet, 'Bob').return_value() == 'Yo, Bob'

    def test_callable_instance(self, connection: redis.Redis, q: Queue) -> None:
        greeter = rqtest_jobs_queue.Greeter('hey')
        job = q.enqueue(greeter, 'bob')
        func_name, instance, args, _ = payload(connection, job.key)
        assert func_name == '__call__'
        assert job.func_name == '__call__'
        assert isinstance(instance, rqtest_jobs_queue.Greeter)
        assert args == ('bob',)
        assert job.description == "__call__('bob')"
        sync = Queue(connection=connection, is_async=False)
        assert sync.enqueue(greeter, 'bob').return_value() == 'HEY BOB'

    def test_builtin(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(len, [1, 2, 3])
        assert payload(connection, job.key)[:2] == ('builtins.len', None)
        assert job.description == 'builtins.len([1, 2, 3])'
        assert Queue(connection=connection, is_async=False).enqueue(len, [1, 2, 3]).return_value() == 3

    def test_staticmethod(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs_queue.Greeter.shout, 'quiet')
        assert payload(connection, job.key)[:2] == ('rqtest_jobs_queue.Greeter.shout', None)
        sync = Queue(connection=connection, is_async=False)
        assert sync.enqueue(rqtest_jobs_queue.Greeter.shout, 'quiet').return_value() == 'QUIET'

    def test_classmethod(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs_queue.Greeter.make, 'x')
        func_name, instance, _, _ = payload(connection, job.key)
        assert func_name == 'make'
        assert instance is rqtest_jobs_queue.Greeter
        sync = Queue(connection=connection, is_async=False)
        assert sync.enqueue(rqtest_jobs_queue.Greeter.make, 'x').return_value() == 'Greeter:x'

    def test_async_function(self, connection: redis.Redis) -> None:
        sync = Queue(connection=connection, is_async=False)
        assert sync.enqueue(rqtest_jobs.async_add, 2, 3).return_value() == 5


# -- description ----------------------------------------------------------------------------


class TestDescription:
    def test_kwargs_sorted(self, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.echo, 1, 'two', zeta=1, alpha='a', mid=None)
        assert job.description == "rqtest_jobs.echo(1, 'two', alpha='a', mid=None, zeta=1)"

    def test_kwargs_sorted_as_rendered_strings(self, q: Queue) -> None:
        # RQ sorts the 'key=value' strings, so 'a1=' (digit) sorts before 'a=' ('=' is 0x3d).
        job = q.enqueue(rqtest_jobs.echo, a=1, a1=2, b_=3, b=4)
        assert job.description == 'rqtest_jobs.echo(a1=2, a=1, b=4, b_=3)'

    def test_long_reprs_are_cut_to_75_characters(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.echo, 'x' * 100, key='y' * 90, short='s' * 73)
        cut_x = repr('x' * 100)[:75] + '...'
        cut_y = repr('y' * 90)[:75] + '...'
        short = repr('s' * 73)  # exactly 75 characters: not cut
        assert len(short) == 75
        expected = f'rqtest_jobs.echo({cut_x}, key={cut_y}, short={short})'
        assert job.description == expected
        assert connection.hget(job.key, 'description') == expected.encode()

    def test_get_call_string_is_not_cut(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.echo, 'x' * 100)
        assert job.get_call_string() == f'rqtest_jobs.echo({repr("x" * 100)[:75]}...)'


# -- enqueue_call / create_job / enqueue_job -----------------------------------------------


class TestOtherEntryPoints:
    def test_enqueue_call_timeout_is_the_job_timeout(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue_call(rqtest_jobs.add, args=(1,), kwargs={'b': 2}, timeout='1h', job_id='c1')
        assert job.timeout == 3600
        assert job.kwargs == {'b': 2}
        assert connection.hget('rq:job:c1', 'timeout') == b'3600'
        assert queue_ids(connection) == ['c1']

    def test_enqueue_call_all_options(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue_call(
            rqtest_jobs.add,
            args=(1,),
            result_ttl=10,
            ttl=20,
            failure_ttl=30,
            description='d',
            job_id='c1',
            at_front=True,
            meta={'m': 1},
            retry=Retry(max=2),
            repeat=Repeat(times=1),
            on_success=Callback(rqtest_jobs.record_success),
            webhooks=[Webhook('https://example.test/', 'failed')],
        )
        stored = fields(connection, job.key)
        assert stored['result_ttl'] == b'10'
        assert stored['ttl'] == b'20'
        assert stored['failure_ttl'] == b'30'
        assert stored['description'] == b'd'
        assert stored['retries_left'] == b'2'
        assert stored['repeats_left'] == b'1'
        assert stored['success_callback_name'] == b'rqtest_jobs.record_success'
        assert 'webhooks' in stored
        assert pickle.loads(stored['meta']) == {'m': 1}

    def test_enqueue_call_at_front(self, connection: redis.Redis, q: Queue) -> None:
        q.enqueue_call(rqtest_jobs.add, args=(1,), job_id='a')
        q.enqueue_call(rqtest_jobs.add, args=(1,), job_id='b', at_front=True)
        assert queue_ids(connection) == ['b', 'a']

    def test_create_job_writes_nothing(self, connection: redis.Redis, q: Queue) -> None:
        job = q.create_job(
            rqtest_jobs.add,
            args=(1,),
            kwargs={'b': 2},
            ttl=5,
            job_id='made',
            meta={'x': 1},
            depends_on='other',
            retry=Retry(max=1),
        )
        assert connection.dbsize() == 0
        assert job.id == 'made'
        assert job.origin == 'default'
        assert job.timeout == 180
        assert job.ttl == 5
        assert job.get_status(refresh=False) == JobStatus.QUEUED
        assert job.description == 'rqtest_jobs.add(1, b=2)'
        assert job.meta == {'x': 1}
        assert job.retries_left == 1

    def test_create_job_timeout_units_and_status(self, connection: redis.Redis, q: Queue) -> None:
        job = q.create_job(rqtest_jobs.add, args=(1,), timeout='2m', status=JobStatus.DEFERRED)
        assert job.timeout == 120
        assert job.get_status(refresh=False) == JobStatus.DEFERRED
        assert connection.dbsize() == 0

    def test_create_job_uses_queue_default_timeout(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection, default_timeout='10m')
        assert q.create_job(rqtest_jobs.add, args=(1,)).timeout == 600

    def test_enqueue_job(self, connection: redis.Redis, q: Queue) -> None:
        first = q.enqueue(rqtest_jobs.say_hello, job_id='first')
        job = q.create_job(rqtest_jobs.add, args=(1,), job_id='made')
        assert connection.exists('rq:job:made') == 0
        returned = q.enqueue_job(job, at_front=True)
        assert returned is job
        assert queue_ids(connection) == ['made', first.id]
        stored = fields(connection, 'rq:job:made')
        assert stored['status'] == b'queued'
        assert 'enqueued_at' in stored
        assert job.enqueued_at is not None

    def test_enqueue_job_checks_dependencies(self, connection: redis.Redis, q: Queue) -> None:
        parent = q.enqueue(rqtest_jobs.say_hello)
        job = q.create_job(rqtest_jobs.add, args=(1,), depends_on=parent)
        q.enqueue_job(job)
        assert job.get_status() == JobStatus.DEFERRED
        assert queue_ids(connection) == [parent.id]

    def test_enqueue_job_with_pipeline(self, connection: redis.Redis, q: Queue) -> None:
        job = q.create_job(rqtest_jobs.add, args=(1,), job_id='made')
        with connection.pipeline() as pipe:
            q.enqueue_job(job, pipeline=pipe)
            assert connection.dbsize() == 0
            pipe.execute()
        assert queue_ids(connection) == ['made']

    def test_enqueue_job_unique(self, connection: redis.Redis, q: Queue) -> None:
        q.enqueue(rqtest_jobs.add, 1, job_id='made')
        job = q.create_job(rqtest_jobs.add, args=(2,), job_id='made')
        with pytest.raises(DuplicateJobError):
            q.enqueue_job(job, unique=True)
        assert payload(connection, 'rq:job:made')[2] == (1,)

    def test_enqueue_job_into_another_queue_sets_origin(self, connection: redis.Redis, q: Queue) -> None:
        job = q.create_job(rqtest_jobs.add, args=(1,))
        low = Queue('low', connection=connection)
        low.enqueue_job(job)
        assert connection.hget(job.key, 'origin') == b'low'
        assert queue_ids(connection, 'low') == [job.id]


# -- parse_args / prepare_data --------------------------------------------------------------


class TestParseArgs:
    def test_enqueue_args_field_order(self) -> None:
        assert EnqueueArgs._fields == (
            'func',
            'timeout',
            'description',
            'result_ttl',
            'ttl',
            'failure_ttl',
            'depends_on',
            'job_id',
            'at_front',
            'meta',
            'retry',
            'repeat',
            'on_success',
            'on_failure',
            'on_stopped',
            'rate_limit',  # RQ 3.0 inserted it before pipeline
            'pipeline',
            'unique',
            'args',
            'kwargs',
            'webhooks',
        )

    def test_parse_args(self) -> None:
        retry = Retry(max=2)
        parsed = Queue.parse_args(
            rqtest_jobs.echo, 1, 2, job_timeout='1h', timeout=3, ttl=5, job_id='x', retry=retry, extra='e'
        )
        assert isinstance(parsed, EnqueueArgs)
        assert parsed.func is rqtest_jobs.echo
        assert parsed.timeout == '1h'
        assert parsed.ttl == 5
        assert parsed.job_id == 'x'
        assert parsed.retry is retry
        assert parsed.args == (1, 2)
        assert parsed.kwargs == {'timeout': 3, 'extra': 'e'}
        assert parsed.at_front is False
        assert parsed.unique is False
        assert parsed.pipeline is None
        assert parsed[0] is rqtest_jobs.echo
        assert parsed[1] == '1h'

    def test_parse_args_explicit(self) -> None:
        parsed = Queue.parse_args(rqtest_jobs.echo, args=[1], kwargs={'ttl': 2}, ttl=9)
        assert tuple(parsed.args) == (1,)
        assert parsed.kwargs == {'ttl': 2}
        assert parsed.ttl == 9

    def test_parse_args_rejects_non_callable(self) -> None:
        with pytest.raises(TypeError):
            Queue.parse_args(42)

    def test_enqueue_data_field_order(self) -> None:
        assert EnqueueData._fields == (
            'func',
            'args',
            'kwargs',
            'timeout',
            'result_ttl',
            'ttl',
            'failure_ttl',
            'description',
            'depends_on',
            'job_id',
            'at_front',
            'meta',
            'retry',
            'on_success',
            'on_failure',
            'on_stopped',
            'repeat',
            'webhooks',
        )

    def test_prepare_data(self) -> None:
        data = Queue.prepare_data(rqtest_jobs.add, (1,), {'b': 2}, timeout=5, job_id='p', at_front=True)
        assert isinstance(data, EnqueueData)
        assert data == (rqtest_jobs.add, (1,), {'b': 2}, 5, None, None, None, None, None, 'p', True) + (None,) * 7
        assert data.func is rqtest_jobs.add
        assert data.timeout == 5
        assert data.job_id == 'p'
        assert data.at_front is True

    def test_prepare_data_positional_order(self) -> None:
        values = [f'v{i}' for i in range(18)]
        data = Queue.prepare_data(*values)
        assert tuple(data) == tuple(values)


# -- enqueue_many ---------------------------------------------------------------------------


class TestEnqueueMany:
    def test_without_pipeline(self, connection: redis.Redis, q: Queue) -> None:
        since = time.time()
        jobs = q.enqueue_many(
            [
                Queue.prepare_data(rqtest_jobs.add, (1,), job_id='m1'),
                Queue.prepare_data(rqtest_jobs.add, (2,), {'b': 3}, job_id='m2', timeout='1h', result_ttl=10),
                Queue.prepare_data(rqtest_jobs.say_hello, job_id='m3', meta={'k': 'v'}, ttl=40),
            ]
        )
        assert [j.id for j in jobs] == ['m1', 'm2', 'm3']
        assert queue_ids(connection) == ['m1', 'm2', 'm3']
        assert all(j.get_status(refresh=False) == JobStatus.QUEUED for j in jobs)
        assert all(j.enqueued_at is not None for j in jobs)
        assert fields(connection, 'rq:job:m2')['timeout'] == b'3600'
        assert fields(connection, 'rq:job:m2')['result_ttl'] == b'10'
        assert pickle.loads(fields(connection, 'rq:job:m3')['meta']) == {'k': 'v'}
        assert_ttl(connection, 'rq:job:m3', 40, since)
        assert payload(connection, 'rq:job:m2')[2:] == ((2,), {'b': 3})
        assert connection.smembers('rq:queues') == {b'rq:queue:default'}

    def test_with_user_pipeline(self, connection: redis.Redis, q: Queue) -> None:
        with connection.pipeline() as pipe:
            jobs = q.enqueue_many(
                [
                    Queue.prepare_data(rqtest_jobs.add, (1,), job_id='m1'),
                    Queue.prepare_data(rqtest_jobs.add, (2,), job_id='m2'),
                ],
                pipeline=pipe,
            )
            assert [j.id for j in jobs] == ['m1', 'm2']
            assert connection.dbsize() == 0
            pipe.execute()
        assert queue_ids(connection) == ['m1', 'm2']
        assert connection.hget('rq:job:m1', 'status') == b'queued'

    def test_input_order_with_dependencies(self, connection: redis.Redis, q: Queue) -> None:
        unfinished = q.enqueue(rqtest_jobs.say_hello, job_id='unfinished')
        finished = q.enqueue(rqtest_jobs.say_hello, job_id='finished')
        connection.hset(finished.key, 'status', 'finished')
        jobs = q.enqueue_many(
            [
                Queue.prepare_data(rqtest_jobs.add, (1,), job_id='met', depends_on=finished),
                Queue.prepare_data(rqtest_jobs.add, (2,), job_id='unmet', depends_on=unfinished),
                Queue.prepare_data(rqtest_jobs.add, (3,), job_id='free'),
            ]
        )
        assert [j.id for j in jobs] == ['met', 'unmet', 'free']
        assert [j.get_status(refresh=False) for j in jobs] == [JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.QUEUED]
        assert queue_ids(connection) == ['unfinished', 'finished', 'met', 'free']
        assert connection.zscore('rq:deferred:default', 'unmet') is not None
        assert connection.smembers('rq:job:unfinished:dependents') == {b'unmet'}

    @pytest.mark.parametrize('user_pipeline', [False, True])
    def test_dependency_inside_the_batch(self, connection: redis.Redis, q: Queue, user_pipeline: bool) -> None:
        datas = [
            Queue.prepare_data(rqtest_jobs.add, (1,), job_id='first'),
            Queue.prepare_data(rqtest_jobs.add, (2,), job_id='second', depends_on='first'),
        ]
        if user_pipeline:
            with connection.pipeline() as pipe:
                jobs = q.enqueue_many(datas, pipeline=pipe)
                pipe.execute()
        else:
            jobs = q.enqueue_many(datas)
        assert [j.get_status(refresh=False) for j in jobs] == [JobStatus.QUEUED, JobStatus.DEFERRED]
        assert [j.get_status() for j in jobs] == [JobStatus.QUEUED, JobStatus.DEFERRED]
        assert queue_ids(connection) == ['first']
        assert connection.smembers('rq:job:first:dependents') == {b'second'}

    def test_at_front_per_item(self, connection: redis.Redis, q: Queue) -> None:
        q.enqueue(rqtest_jobs.say_hello, job_id='old')
        q.enqueue_many(
            [
                Queue.prepare_data(rqtest_jobs.add, (1,), job_id='a'),
                Queue.prepare_data(rqtest_jobs.add, (2,), job_id='b', at_front=True),
                Queue.prepare_data(rqtest_jobs.add, (3,), job_id='c'),
                Queue.prepare_data(rqtest_jobs.add, (4,), job_id='d', at_front=True),
            ]
        )
        assert queue_ids(connection) == ['d', 'b', 'old', 'a', 'c']

    def test_at_front_per_item_with_pipeline(self, connection: redis.Redis, q: Queue) -> None:
        with connection.pipeline() as pipe:
            q.enqueue_many(
                [
                    Queue.prepare_data(rqtest_jobs.add, (1,), job_id='a'),
                    Queue.prepare_data(rqtest_jobs.add, (2,), job_id='b', at_front=True),
                ],
                pipeline=pipe,
            )
            pipe.execute()
        assert queue_ids(connection) == ['b', 'a']

    def test_group_id(self, connection: redis.Redis, q: Queue) -> None:
        jobs = q.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (1,), job_id='g1')], group_id='grp')
        assert jobs[0].group_id == 'grp'
        assert connection.hget('rq:job:g1', 'group_id') == b'grp'
        assert connection.smembers('rq:group:grp') == {b'g1'}
        assert connection.sismember('rq:groups', 'grp')

    def test_empty_list(self, connection: redis.Redis, q: Queue) -> None:
        assert q.enqueue_many([]) == []
        assert connection.dbsize() == 0

    def test_a_bad_item_writes_nothing(self, connection: redis.Redis, q: Queue) -> None:
        with pytest.raises(ValueError):
            q.enqueue_many(
                [
                    Queue.prepare_data(rqtest_jobs.add, (1,), job_id='good'),
                    Queue.prepare_data(rqtest_jobs.add, (2,), job_id='bad:id'),
                ]
            )
        assert connection.dbsize() == 0

    def test_sync_mode_defers_jobs_with_unmet_dependencies(self, connection: redis.Redis) -> None:
        parent = Queue('other', connection=connection).enqueue(rqtest_jobs.say_hello)
        sync = Queue(connection=connection, is_async=False)
        jobs = sync.enqueue_many(
            [
                Queue.prepare_data(rqtest_jobs.add, (1, 2), job_id='free'),
                Queue.prepare_data(rqtest_jobs.add, (3, 4), job_id='waits', depends_on=parent),
            ]
        )
        assert [j.id for j in jobs] == ['free', 'waits']
        assert jobs[0].get_status() == JobStatus.FINISHED
        assert jobs[1].get_status() == JobStatus.DEFERRED
        assert jobs[1].return_value() is None
        assert connection.smembers(parent.dependents_key) == {b'waits'}
        # Same as a single enqueue on a sync queue.
        single = sync.enqueue(rqtest_jobs.add, 5, 6, depends_on=parent)
        assert single.get_status() == JobStatus.DEFERRED

    def test_sync_mode_dependency_inside_the_batch(self, connection: redis.Redis) -> None:
        sync = Queue(connection=connection, is_async=False)
        jobs = sync.enqueue_many(
            [
                Queue.prepare_data(rqtest_jobs.add, (1, 1), job_id='ok'),
                Queue.prepare_data(rqtest_jobs.add, (2, 2), job_id='after_ok', depends_on='ok'),
                Queue.prepare_data(rqtest_jobs.fail, job_id='bad'),
                Queue.prepare_data(rqtest_jobs.add, (3, 3), job_id='after_bad', depends_on='bad'),
            ]
        )
        statuses = {j.id: j.get_status() for j in jobs}
        assert statuses == {
            'ok': JobStatus.FINISHED,
            'after_ok': JobStatus.FINISHED,
            'bad': JobStatus.FAILED,
            'after_bad': JobStatus.DEFERRED,
        }
        assert jobs[1].return_value() == 4

    def test_sync_mode_runs_each_job(self, connection: redis.Redis) -> None:
        sync = Queue(connection=connection, is_async=False)
        jobs = sync.enqueue_many(
            [Queue.prepare_data(rqtest_jobs.add, (1, 2)), Queue.prepare_data(rqtest_jobs.add, (3, 4))]
        )
        assert [j.return_value() for j in jobs] == [3, 7]
        assert all(j.get_status() == JobStatus.FINISHED for j in jobs)
        assert connection.llen(sync.key) == 0


# -- scheduling -----------------------------------------------------------------------------


class TestScheduling:
    def test_enqueue_at_aware(self, connection: redis.Redis, q: Queue) -> None:
        when = datetime.datetime(2030, 1, 1, 12, 0, 30, 900000, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
        job = q.enqueue_at(when, rqtest_jobs.add, 1, b=2, job_id='s1')
        assert job.get_status(refresh=False) == JobStatus.SCHEDULED
        stored = fields(connection, 'rq:job:s1')
        assert stored['status'] == b'scheduled'
        assert 'enqueued_at' not in stored
        assert stored['origin'] == b'default'
        assert payload(connection, 'rq:job:s1')[2:] == ((1,), {'b': 2})
        score = connection.zscore('rq:scheduled:default', 's1')
        assert score == calendar.timegm((2030, 1, 1, 10, 0, 30))  # floored to the second
        assert isinstance(score, float) and score.is_integer()
        assert queue_ids(connection) == []
        assert connection.smembers('rq:queues') == {b'rq:queue:default'}

    def test_enqueue_at_naive_is_local_time(self, connection: redis.Redis, q: Queue, tz_kolkata: None) -> None:
        naive = datetime.datetime(2030, 6, 1, 12, 0, 0)
        q.enqueue_at(naive, rqtest_jobs.add, 1, job_id='s1')
        # 12:00 in Kolkata (+05:30) is 06:30 UTC.
        assert connection.zscore('rq:scheduled:default', 's1') == calendar.timegm((2030, 6, 1, 6, 30, 0))

    def test_enqueue_in(self, connection: redis.Redis, q: Queue) -> None:
        before = int(time.time())
        job = q.enqueue_in(datetime.timedelta(minutes=10), rqtest_jobs.add, 1, job_id='s1')
        after = int(time.time())
        assert job.get_status() == JobStatus.SCHEDULED
        score = connection.zscore('rq:scheduled:default', 's1')
        assert score is not None
        assert before + 600 <= score <= after + 600
        assert q.scheduled_job_registry.get_scheduled_time('s1') is not None

    def test_enqueue_in_tz_independent(self, connection: redis.Redis, q: Queue, tz_kolkata: None) -> None:
        since = time.time()
        q.enqueue_in(datetime.timedelta(seconds=60), rqtest_jobs.add, 1, job_id='s1')
        score = connection.zscore('rq:scheduled:default', 's1')
        assert_expires_at(score, 60, since)

    def test_enqueue_at_reserved_keywords(self, connection: redis.Redis, q: Queue) -> None:
        when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        job = q.enqueue_at(
            when,
            rqtest_jobs_queue.takes_timeout,
            timeout=4,
            job_timeout='1h',
            description='later',
            result_ttl=7,
            failure_ttl=8,
            meta={'a': 1},
            retry=Retry(max=2),
            on_failure=Callback(rqtest_jobs.record_failure),
        )
        stored = fields(connection, job.key)
        assert job.kwargs == {'timeout': 4}
        assert stored['timeout'] == b'3600'
        assert stored['description'] == b'later'
        assert stored['result_ttl'] == b'7'
        assert stored['failure_ttl'] == b'8'
        assert stored['retries_left'] == b'2'
        assert stored['failure_callback_name'] == b'rqtest_jobs.record_failure'
        assert pickle.loads(stored['meta']) == {'a': 1}

    def test_enqueue_at_front_is_stored(self, connection: redis.Redis, q: Queue) -> None:
        when = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
        job = q.enqueue_at(when, rqtest_jobs.add, 1, at_front=True)
        assert connection.hget(job.key, 'enqueue_at_front') == b'1'
        assert job.enqueue_at_front is True
        plain = q.enqueue_at(when, rqtest_jobs.add, 1)
        assert 'enqueue_at_front' not in fields(connection, plain.key)

    def test_enqueue_at_ttl(self, connection: redis.Redis, q: Queue) -> None:
        when = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
        since = time.time()
        job = q.enqueue_at(when, rqtest_jobs.add, 1, ttl=90)
        assert_ttl(connection, job.key, 90, since)

    def test_enqueue_at_pipeline(self, connection: redis.Redis, q: Queue) -> None:
        when = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
        with connection.pipeline() as pipe:
            job = q.enqueue_at(when, rqtest_jobs.add, 1, job_id='s1', pipeline=pipe)
            assert connection.dbsize() == 0
            assert job.get_status(refresh=False) == JobStatus.SCHEDULED
            pipe.execute()
        assert connection.zscore('rq:scheduled:default', 's1') == utc_epoch(when)

    def test_enqueue_at_unique_is_honoured(self, connection: redis.Redis, q: Queue) -> None:
        # Our documented choice: RQ's docs say unique works for scheduling (RQ 2.12 ignores it).
        first_when = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
        q.enqueue_at(first_when, rqtest_jobs.add, 1, job_id='s1', unique=True)
        before = snapshot(connection)
        with pytest.raises(DuplicateJobError):
            q.enqueue_at(first_when + datetime.timedelta(days=1), rqtest_jobs.add, 2, job_id='s1', unique=True)
        with pytest.raises(DuplicateJobError):
            q.enqueue_in(datetime.timedelta(seconds=5), rqtest_jobs.add, 3, job_id='s1', unique=True)
        assert snapshot(connection) == before
        assert connection.zscore('rq:scheduled:default', 's1') == utc_epoch(first_when)

    def test_enqueue_at_unique_blocks_on_queued_job(self, connection: redis.Redis, q: Queue) -> None:
        q.enqueue(rqtest_jobs.add, 1, job_id='u1')
        with pytest.raises(DuplicateJobError):
            q.enqueue_in(datetime.timedelta(seconds=5), rqtest_jobs.add, 3, job_id='u1', unique=True)
        assert connection.zcard('rq:scheduled:default') == 0
        assert connection.hget('rq:job:u1', 'status') == b'queued'

    def test_enqueue_at_unique_without_job_id_is_accepted(self, connection: redis.Redis, q: Queue) -> None:
        """RQ 2.12 ignores ``unique`` in enqueue_at/enqueue_in, so it refuses nothing there; without a
        job_id the fresh id cannot be a duplicate."""
        job = q.enqueue_in(datetime.timedelta(seconds=5), rqtest_jobs.add, 3, unique=True)
        assert job.get_status() == JobStatus.SCHEDULED
        other = q.enqueue_at(datetime.datetime(2031, 1, 1), rqtest_jobs.add, 3, unique=True, depends_on='zz')
        assert other.get_status() == JobStatus.SCHEDULED
        assert sorted(q.scheduled_job_registry.get_job_ids()) == sorted([job.id, other.id])

    def test_schedule_job(self, connection: redis.Redis, q: Queue) -> None:
        job = q.create_job(rqtest_jobs.add, args=(1,), job_id='s1')
        when = datetime.datetime(2031, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc)
        returned = q.schedule_job(job, when)
        assert returned is job
        assert job.get_status() == JobStatus.SCHEDULED
        assert connection.zscore('rq:scheduled:default', 's1') == utc_epoch(when)
        assert connection.sismember('rq:queues', 'rq:queue:default')
        assert queue_ids(connection) == []

    def test_schedule_job_unique(self, connection: redis.Redis, q: Queue) -> None:
        when = datetime.datetime(2031, 2, 3, tzinfo=datetime.timezone.utc)
        q.schedule_job(q.create_job(rqtest_jobs.add, args=(1,), job_id='s1'), when, unique=True)
        before = snapshot(connection)
        with pytest.raises(DuplicateJobError):
            q.schedule_job(q.create_job(rqtest_jobs.add, args=(2,), job_id='s1'), when, unique=True)
        assert snapshot(connection) == before

    def test_schedule_job_with_pipeline(self, connection: redis.Redis, q: Queue) -> None:
        when = datetime.datetime(2031, 2, 3, tzinfo=datetime.timezone.utc)
        job = q.create_job(rqtest_jobs.add, args=(1,), job_id='s1')
        with connection.pipeline() as pipe:
            q.schedule_job(job, when, pipeline=pipe)
            assert connection.dbsize() == 0
            pipe.execute()
        assert connection.zscore('rq:scheduled:default', 's1') == utc_epoch(when)

    def test_scheduled_job_is_not_run_in_sync_mode(self, connection: redis.Redis) -> None:
        sync = Queue(connection=connection, is_async=False)
        job = sync.enqueue_in(datetime.timedelta(seconds=30), rqtest_jobs.add, 1, 1)
        assert job.get_status() == JobStatus.SCHEDULED
        assert connection.zscore('rq:scheduled:default', job.id) is not None


def test_no_unexpected_warnings(connection: redis.Redis) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        q = Queue(connection=connection)
        q.enqueue(rqtest_jobs.add, 1, on_success=Callback(rqtest_jobs.record_success))
