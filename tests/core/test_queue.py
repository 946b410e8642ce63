"""``Queue``: construction, inspection, maintenance and dequeueing, checked against the Redis data."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

import rqtest_jobs
import rqtest_jobs_queue
from redis_dump import snapshot
from rq import Queue
from rq.exceptions import DequeueTimeout, DeserializationError
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job, JobStatus
from rq.registry import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.serializers import DefaultSerializer, JSONSerializer
from rq.timeouts import BaseDeathPenalty, UnixSignalDeathPenalty


def ids(connection: redis.Redis, key: str) -> list[bytes]:
    return connection.lrange(key, 0, -1)  # type: ignore[return-value]


class MyJob(Job):
    pass


class MyDeathPenalty(UnixSignalDeathPenalty):
    pass


# -- construction ---------------------------------------------------------------------------


class TestConstructor:
    def test_connection_is_required(self) -> None:
        with pytest.raises(TypeError, match='connection'):
            Queue()
        with pytest.raises(TypeError):
            Queue('low', connection=None)

    def test_defaults(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        assert q.name == 'default'
        assert q.key == 'rq:queue:default'
        assert q.is_async is True
        assert q.job_class is Job
        assert q.serializer is DefaultSerializer
        assert q.death_penalty_class is UnixSignalDeathPenalty
        assert Queue.DEFAULT_TIMEOUT == 180
        assert Queue.redis_queue_namespace_prefix == 'rq:queue:'
        assert Queue.redis_queues_keys == 'rq:queues'
        assert q.connection is connection

    def test_constructor_writes_nothing(self, connection: redis.Redis) -> None:
        Queue('low', connection=connection)
        assert connection.dbsize() == 0

    def test_default_timeout_is_180_on_the_job_hash(self, connection: redis.Redis) -> None:
        job = Queue(connection=connection).enqueue(rqtest_jobs.say_hello)
        assert job.timeout == 180
        assert connection.hget(job.key, 'timeout') == b'180'

    @pytest.mark.parametrize(
        ('given', 'expected'),
        [(30, 30), ('45', 45), ('1h', 3600), ('3m', 180 + 0), ('2D', 172800), ('10s', 10), (-1, -1), (12.9, 12)],
    )
    def test_default_timeout_accepts_units(self, connection: redis.Redis, given: Any, expected: int) -> None:
        q = Queue(connection=connection, default_timeout=given)
        job = q.enqueue(rqtest_jobs.say_hello)
        assert connection.hget(job.key, 'timeout') == str(expected).encode()

    def test_bad_default_timeout(self, connection: redis.Redis) -> None:
        from rq.exceptions import TimeoutFormatError

        with pytest.raises(TimeoutFormatError):
            Queue(connection=connection, default_timeout='1.5h')

    def test_job_timeout_overrides_default_timeout(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection, default_timeout='1h')
        job = q.enqueue(rqtest_jobs.say_hello, job_timeout=7)
        assert connection.hget(job.key, 'timeout') == b'7'

    def test_is_async_false(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection, is_async=False)
        assert q.is_async is False
        job = q.enqueue(rqtest_jobs.add, 2, 3)
        assert job.get_status() == JobStatus.FINISHED
        assert job.return_value() == 5
        assert connection.llen(q.key) == 0
        assert connection.hget(job.key, 'worker_name') == b'sync'

    def test_deprecated_async_kwarg(self, connection: redis.Redis) -> None:
        with pytest.warns(DeprecationWarning, match='async'):
            q = Queue(connection=connection, **{'async': False})
        assert q.is_async is False
        with pytest.warns(DeprecationWarning):
            q2 = Queue(connection=connection, **{'async': True})
        assert q2.is_async is True

    def test_unknown_kwarg_is_ignored_as_rq_does(self, connection: redis.Redis) -> None:
        assert Queue(connection=connection, bogus=1).name == 'default'

    def test_job_class_as_class(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection, job_class=MyJob)
        assert q.job_class is MyJob
        job = q.enqueue(rqtest_jobs.say_hello)
        assert type(job) is MyJob
        assert type(q.fetch_job(job.id)) is MyJob
        assert all(type(j) is MyJob for j in q.jobs)

    def test_job_class_as_dotted_string(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection, job_class=f'{__name__}.MyJob')
        assert q.job_class is MyJob
        q2 = Queue(connection=connection, job_class='rq.job.Job')
        assert q2.job_class is Job

    def test_job_class_does_not_leak_to_other_queues(self, connection: redis.Redis) -> None:
        Queue(connection=connection, job_class=MyJob)
        assert Queue(connection=connection).job_class is Job
        assert Queue.job_class is Job

    def test_death_penalty_class(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection, death_penalty_class=MyDeathPenalty)
        assert q.death_penalty_class is MyDeathPenalty
        assert issubclass(q.death_penalty_class, BaseDeathPenalty)
        assert Queue(connection=connection, death_penalty_class=None).death_penalty_class is UnixSignalDeathPenalty

    @pytest.mark.parametrize(
        ('given', 'expected'),
        [
            (None, DefaultSerializer),
            ('pickle', DefaultSerializer),
            ('json', JSONSerializer),
            ('JSON', JSONSerializer),
            (JSONSerializer, JSONSerializer),
            ('rq.serializers.JSONSerializer', JSONSerializer),
            ('rqtest_jobs_queue.CustomSerializer', rqtest_jobs_queue.CustomSerializer),
        ],
    )
    def test_serializer_forms(self, connection: redis.Redis, given: Any, expected: Any) -> None:
        q = Queue(connection=connection, serializer=given)
        assert q.serializer is expected

    def test_serializer_object_is_used_for_data(self, connection: redis.Redis) -> None:
        import json
        import zlib

        q = Queue(connection=connection, serializer='json')
        job = q.enqueue(rqtest_jobs.add, 1, b=2)
        payload = json.loads(zlib.decompress(connection.hget(job.key, 'data')))  # type: ignore[arg-type]
        assert payload == ['rqtest_jobs.add', None, [1], {'b': 2}]
        fetched = q.fetch_job(job.id)
        assert fetched is not None
        assert fetched.args == [1]
        assert fetched.kwargs == {'b': 2}

    def test_serializer_without_dumps_loads(self, connection: redis.Redis) -> None:
        with pytest.raises(NotImplementedError):
            Queue(connection=connection, serializer=object())

    def test_decode_responses_connection_is_rejected(self, redis_server: Any) -> None:
        decoding = redis.Redis(port=redis_server.port, decode_responses=True)
        try:
            with pytest.raises(ValueError, match='decode_responses'):
                Queue(connection=decoding)
        finally:
            decoding.close()

    @pytest.mark.parametrize('name', ['', None, 3])
    def test_bad_name(self, connection: redis.Redis, name: Any) -> None:
        with pytest.raises(ValueError):
            Queue(name, connection=connection)


# -- identity -------------------------------------------------------------------------------


class TestIdentity:
    def test_eq_by_name(self, connection: redis.Redis) -> None:
        assert Queue('a', connection=connection) == Queue('a', connection=connection)
        assert Queue('a', connection=connection) != Queue('b', connection=connection)
        assert Queue('a', connection=connection) != 'a'

    def test_lt_by_name(self, connection: redis.Redis) -> None:
        qs = [Queue(n, connection=connection) for n in ('low', 'high', 'default')]
        assert [q.name for q in sorted(qs)] == ['default', 'high', 'low']
        assert Queue('a', connection=connection) < Queue('b', connection=connection)
        assert not Queue('b', connection=connection) < Queue('a', connection=connection)

    def test_bool_is_always_true(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        assert len(q) == 0
        assert bool(q) is True

    def test_hash(self, connection: redis.Redis) -> None:
        a1, a2, b = (Queue(n, connection=connection) for n in ('a', 'a', 'b'))
        assert hash(a1) == hash(a2)
        assert len({a1, a2, b}) == 2
        assert {a1: 1}[a2] == 1

    def test_repr_and_str(self, connection: redis.Redis) -> None:
        q = Queue('low', connection=connection)
        assert repr(q) == "Queue('low')"
        assert str(q) == '<Queue low>'


# -- inspection -----------------------------------------------------------------------------


class TestInspection:
    def test_count_len_is_empty(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        assert q.count == 0
        assert len(q) == 0
        assert q.is_empty()
        q.enqueue(rqtest_jobs.say_hello)
        q.enqueue(rqtest_jobs.say_hello)
        assert q.count == 2
        assert len(q) == 2
        assert not q.is_empty()

    def test_count_is_llen_of_the_list(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        connection.rpush(q.key, 'x', 'y', 'z')
        assert q.count == 3

    def test_deferred_and_scheduled_are_not_counted(self, connection: redis.Redis) -> None:
        from datetime import timedelta

        q = Queue(connection=connection)
        parent = q.enqueue(rqtest_jobs.say_hello)
        q.enqueue(rqtest_jobs.say_hello, depends_on=parent)
        q.enqueue_in(timedelta(hours=1), rqtest_jobs.say_hello)
        assert q.count == 1
        assert q.job_ids == [parent.id]

    def test_job_ids_and_jobs_in_order(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        jobs = [q.enqueue(rqtest_jobs.add, i, job_id=f'j{i}') for i in range(4)]
        assert q.job_ids == ['j0', 'j1', 'j2', 'j3']
        assert [j.id for j in q.jobs] == ['j0', 'j1', 'j2', 'j3']
        assert [j.args for j in q.jobs] == [(0,), (1,), (2,), (3,)]
        assert q.jobs == jobs

    def test_get_job_ids_offset_length(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        for i in range(6):
            q.enqueue(rqtest_jobs.add, i, job_id=f'j{i}')
        assert q.get_job_ids() == [f'j{i}' for i in range(6)]
        assert q.get_job_ids(2) == ['j2', 'j3', 'j4', 'j5']
        assert q.get_job_ids(1, 2) == ['j1', 'j2']
        assert q.get_job_ids(0, 1) == ['j0']
        assert q.get_job_ids(4, 10) == ['j4', 'j5']
        assert q.get_job_ids(0, 0) == []
        assert q.get_job_ids(10) == []

    def test_get_jobs_offset_length(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        for i in range(5):
            q.enqueue(rqtest_jobs.add, i, job_id=f'j{i}')
        assert [j.id for j in q.get_jobs(1, 3)] == ['j1', 'j2', 'j3']
        assert [j.id for j in q.get_jobs(3)] == ['j3', 'j4']
        assert q.get_jobs(0, 0) == []

    def test_get_jobs_drops_and_removes_dangling_ids(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        a = q.enqueue(rqtest_jobs.say_hello, job_id='a')
        connection.rpush(q.key, 'ghost')
        c = q.enqueue(rqtest_jobs.say_hello, job_id='c')
        assert [j.id for j in q.get_jobs()] == [a.id, c.id]
        assert ids(connection, q.key) == [b'a', b'c']

    def test_fetch_job(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        job = q.enqueue(rqtest_jobs.add, 1, b=5, job_id='mine')
        fetched = q.fetch_job('mine')
        assert fetched is not None
        assert fetched.id == 'mine'
        assert fetched.func_name == 'rqtest_jobs.add'
        assert fetched.args == (1,)
        assert fetched.kwargs == {'b': 5}
        assert fetched.origin == 'default'
        assert fetched == job

    def test_fetch_job_missing_hash_returns_none_and_lrems(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        q.enqueue(rqtest_jobs.say_hello, job_id='keep')
        connection.rpush(q.key, 'gone', 'gone')
        assert q.fetch_job('gone') is None
        # LREM count 1: one occurrence removed per call, like RQ.
        assert ids(connection, q.key) == [b'keep', b'gone']
        assert q.fetch_job('gone') is None
        assert ids(connection, q.key) == [b'keep']
        assert q.fetch_job('never-existed') is None
        assert ids(connection, q.key) == [b'keep']

    def test_fetch_job_of_another_queue_returns_none(self, connection: redis.Redis) -> None:
        low = Queue('low', connection=connection)
        high = Queue('high', connection=connection)
        job = low.enqueue(rqtest_jobs.say_hello)
        assert high.fetch_job(job.id) is None
        # It is not removed from anywhere.
        assert ids(connection, low.key) == [job.id.encode()]
        assert connection.exists(job.key)
        assert low.fetch_job(job.id) is not None

    def test_get_job_position(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        a = q.enqueue(rqtest_jobs.say_hello)
        b = q.enqueue(rqtest_jobs.say_hello)
        c = q.enqueue(rqtest_jobs.say_hello, at_front=True)
        assert q.get_job_position(c) == 0
        assert q.get_job_position(a) == 1
        assert q.get_job_position(b.id) == 2
        assert q.get_job_position('nope') is None
        assert b.get_position() == 2

    def test_registry_properties(self, connection: redis.Redis) -> None:
        q = Queue('low', connection=connection, job_class=MyJob, serializer='json')
        expected = {
            'started_job_registry': (StartedJobRegistry, 'rq:wip:low'),
            'finished_job_registry': (FinishedJobRegistry, 'rq:finished:low'),
            'failed_job_registry': (FailedJobRegistry, 'rq:failed:low'),
            'deferred_job_registry': (DeferredJobRegistry, 'rq:deferred:low'),
            'scheduled_job_registry': (ScheduledJobRegistry, 'rq:scheduled:low'),
            'canceled_job_registry': (CanceledJobRegistry, 'rq:canceled:low'),
        }
        for attribute, (cls, key) in expected.items():
            registry = getattr(q, attribute)
            assert type(registry) is cls, attribute
            assert registry.key == key
            assert registry.name == 'low'
            assert registry.connection is connection
            assert registry.job_class is MyJob
            assert registry.serializer is JSONSerializer

    def test_registries_see_enqueued_jobs(self, connection: redis.Redis) -> None:
        from datetime import timedelta

        q = Queue(connection=connection)
        parent = q.enqueue(rqtest_jobs.say_hello)
        child = q.enqueue(rqtest_jobs.say_hello, depends_on=parent)
        later = q.enqueue_in(timedelta(minutes=5), rqtest_jobs.say_hello)
        assert q.deferred_job_registry.get_job_ids() == [child.id]
        assert q.scheduled_job_registry.get_job_ids() == [later.id]

    def test_intermediate_queue(self, connection: redis.Redis) -> None:
        q = Queue('low', connection=connection)
        assert q.intermediate_queue_key == 'rq:queue:low:intermediate'
        iq = q.intermediate_queue
        assert isinstance(iq, IntermediateQueue)
        assert iq.key == 'rq:queue:low:intermediate'
        connection.rpush('rq:queue:low:intermediate', 'x')
        assert iq.get_job_ids() == ['x']

    def test_scheduler_pid(self, connection: redis.Redis) -> None:
        q = Queue('low', connection=connection)
        assert q.scheduler_pid is None
        connection.set('rq:scheduler-lock:low', 'sched1')
        assert q.scheduler_pid is None
        connection.hset('rq:scheduler:sched1', mapping={'pid': '4321', 'name': 'sched1'})
        assert q.scheduler_pid == 4321


# -- maintenance ----------------------------------------------------------------------------


class TestMaintenance:
    def test_remove(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        a = q.enqueue(rqtest_jobs.say_hello)
        b = q.enqueue(rqtest_jobs.say_hello)
        assert q.remove(a) == 1
        assert q.job_ids == [b.id]
        assert q.remove(b.id) == 1
        assert q.remove(b.id) == 0
        assert q.is_empty()
        # The hashes are untouched.
        assert connection.exists(a.key) and connection.exists(b.key)

    def test_remove_count_one(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        connection.rpush(q.key, 'x', 'y', 'x')
        q.remove('x')
        assert ids(connection, q.key) == [b'y', b'x']

    def test_remove_with_pipeline(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        a = q.enqueue(rqtest_jobs.say_hello)
        with connection.pipeline() as pipe:
            q.remove(a, pipeline=pipe)
            assert q.count == 1
            assert pipe.execute() == [1]
        assert q.count == 0

    def test_compact(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        a = q.enqueue(rqtest_jobs.say_hello, job_id='a')
        connection.rpush(q.key, 'ghost1')
        b = q.enqueue(rqtest_jobs.say_hello, job_id='b')
        connection.rpush(q.key, 'ghost2', 'ghost1')
        c = q.enqueue(rqtest_jobs.say_hello, job_id='c')
        q.compact()
        assert q.job_ids == [a.id, b.id, c.id]
        assert sorted(connection.keys('rq:queue:*')) == [b'rq:queue:default']

    def test_compact_empty_queue(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        q.compact()
        assert connection.dbsize() == 0
        connection.rpush(q.key, 'ghost')
        q.compact()
        assert not connection.exists(q.key)

    def test_empty(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        other = Queue('other', connection=connection)
        kept = other.enqueue(rqtest_jobs.say_hello)
        a = q.enqueue(rqtest_jobs.say_hello)
        b = q.enqueue(rqtest_jobs.say_hello)
        connection.sadd(a.dependents_key, 'child')
        assert q.empty() == 2
        assert q.count == 0
        assert not connection.exists(q.key)
        assert not connection.exists(a.key)
        assert not connection.exists(b.key)
        assert not connection.exists(a.dependents_key)
        assert other.job_ids == [kept.id]
        assert connection.exists(kept.key)
        # rq:queues still lists the queue (only delete() SREMs it).
        assert connection.sismember('rq:queues', q.key)

    def test_empty_leaves_registries_and_dependency_sets(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        parent = q.enqueue(rqtest_jobs.say_hello)
        child = q.enqueue(rqtest_jobs.say_hello, depends_on=parent)
        assert q.empty() == 1
        assert not connection.exists(parent.key)
        assert not connection.exists(parent.dependents_key)
        # The deferred child is not in the queue list, so it is untouched.
        assert connection.exists(child.key)
        assert connection.exists(child.dependencies_key)
        assert connection.zscore('rq:deferred:default', child.id) is not None

    def test_empty_nothing(self, connection: redis.Redis) -> None:
        assert Queue(connection=connection).empty() == 0

    def test_delete_with_jobs(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        other = Queue('other', connection=connection)
        other.enqueue(rqtest_jobs.say_hello)
        job = q.enqueue(rqtest_jobs.say_hello)
        assert connection.smembers('rq:queues') == {b'rq:queue:default', b'rq:queue:other'}
        q.delete()
        assert connection.smembers('rq:queues') == {b'rq:queue:other'}
        assert not connection.exists(q.key)
        assert not connection.exists(job.key)
        assert Queue.all(connection) == [other]

    def test_delete_without_jobs(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        job = q.enqueue(rqtest_jobs.say_hello)
        q.delete(delete_jobs=False)
        assert not connection.sismember('rq:queues', q.key)
        assert not connection.exists(q.key)
        assert connection.exists(job.key)  # the hash is kept

    def test_queue_reappears_after_delete(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        q.enqueue(rqtest_jobs.say_hello)
        q.delete()
        q.enqueue(rqtest_jobs.say_hello)
        assert q.count == 1
        assert connection.sismember('rq:queues', q.key)

    def test_pop_job_id(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        assert q.pop_job_id() is None
        connection.rpush(q.key, 'a', 'b')
        assert q.pop_job_id() == 'a'
        assert q.pop_job_id() == 'b'
        assert q.pop_job_id() is None

    def test_push_job_id(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        q.push_job_id('a')
        q.push_job_id('b')
        q.push_job_id('c', at_front=True)
        assert ids(connection, q.key) == [b'c', b'a', b'b']
        with connection.pipeline() as pipe:
            q.push_job_id('d', pipeline=pipe)
            q.push_job_id('e', pipeline=pipe, at_front=True)
            assert q.count == 3
            pipe.execute()
        assert ids(connection, q.key) == [b'e', b'c', b'a', b'b', b'd']


# -- Queue.all / from_queue_key ------------------------------------------------------------


class TestAll:
    def test_all(self, connection: redis.Redis) -> None:
        assert Queue.all(connection) == []
        for name in ('low', 'high', 'default'):
            Queue(name, connection=connection).enqueue(rqtest_jobs.say_hello)
        queues = Queue.all(connection)
        assert [q.name for q in queues] == ['default', 'high', 'low']
        assert all(q.connection is connection for q in queues)

    def test_all_includes_emptied_queues(self, connection: redis.Redis) -> None:
        q = Queue('low', connection=connection)
        q.enqueue(rqtest_jobs.say_hello)
        q.empty()
        assert [x.name for x in Queue.all(connection)] == ['low']

    def test_all_passes_classes(self, connection: redis.Redis) -> None:
        Queue('low', connection=connection).enqueue(rqtest_jobs.say_hello)
        (q,) = Queue.all(connection, job_class=MyJob, serializer='json', death_penalty_class=MyDeathPenalty)
        assert q.job_class is MyJob
        assert q.serializer is JSONSerializer
        assert q.death_penalty_class is MyDeathPenalty

    def test_all_of_a_subclass(self, connection: redis.Redis) -> None:
        class MyQueue(Queue):
            pass

        Queue('low', connection=connection).enqueue(rqtest_jobs.say_hello)
        (q,) = MyQueue.all(connection)
        assert type(q) is MyQueue

    def test_from_queue_key(self, connection: redis.Redis) -> None:
        q = Queue.from_queue_key('rq:queue:reports', connection)
        assert q.name == 'reports'
        assert q.key == 'rq:queue:reports'
        assert q.connection is connection
        q2 = Queue.from_queue_key('rq:queue:a:b', connection, job_class=MyJob, serializer='json')
        assert q2.name == 'a:b'
        assert q2.job_class is MyJob
        assert q2.serializer is JSONSerializer

    @pytest.mark.parametrize('key', ['rq:queues', 'reports', 'rq:job:abc', 'queue:reports', 'rq:queue:'])
    def test_from_queue_key_rejects_other_keys(self, connection: redis.Redis, key: str) -> None:
        with pytest.raises(ValueError):
            Queue.from_queue_key(key, connection)


# -- dequeueing -----------------------------------------------------------------------------


class TestDequeue:
    def test_lpop_non_blocking_in_order(self, connection: redis.Redis) -> None:
        connection.rpush('rq:queue:b', 'b1')
        connection.rpush('rq:queue:c', 'c1', 'c2')
        keys = ['rq:queue:a', 'rq:queue:b', 'rq:queue:c']
        assert Queue.lpop(keys, None, connection=connection) == ('rq:queue:b', 'b1')
        assert Queue.lpop(keys, None, connection=connection) == ('rq:queue:c', 'c1')
        assert Queue.lpop(keys, None, connection=connection) == ('rq:queue:c', 'c2')
        assert Queue.lpop(keys, None, connection=connection) is None

    def test_lpop_blocking(self, connection: redis.Redis) -> None:
        connection.rpush('rq:queue:b', 'b1')
        assert Queue.lpop(['rq:queue:a', 'rq:queue:b'], 1, connection=connection) == ('rq:queue:b', 'b1')

    def test_lpop_timeout_zero_is_rejected(self, connection: redis.Redis) -> None:
        connection.rpush('rq:queue:a', 'x')
        with pytest.raises(ValueError):
            Queue.lpop(['rq:queue:a'], 0, connection=connection)
        assert connection.llen('rq:queue:a') == 1

    def test_lpop_dequeue_timeout(self, connection: redis.Redis) -> None:
        start = time.monotonic()
        with pytest.raises(DequeueTimeout):
            Queue.lpop(['rq:queue:a', 'rq:queue:b'], 1, connection=connection)
        assert time.monotonic() - start >= 0.9

    def test_lmove(self, connection: redis.Redis) -> None:
        connection.rpush('rq:queue:a', 'x', 'y')
        assert Queue.lmove(connection, 'rq:queue:a', None) == ('rq:queue:a', 'x')
        assert Queue.lmove(connection, 'rq:queue:a', 1) == ('rq:queue:a', 'y')
        assert ids(connection, 'rq:queue:a:intermediate') == [b'x', b'y']
        assert Queue.lmove(connection, 'rq:queue:a', None) is None
        with pytest.raises(DequeueTimeout):
            Queue.lmove(connection, 'rq:queue:a', 1)

    def test_lmove_timeout_zero_is_rejected(self, connection: redis.Redis) -> None:
        connection.rpush('rq:queue:a', 'x')
        with pytest.raises(ValueError):
            Queue.lmove(connection, 'rq:queue:a', 0)
        assert ids(connection, 'rq:queue:a') == [b'x']

    def test_dequeue_any_single_queue_uses_intermediate_list(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        job = q.enqueue(rqtest_jobs.add, 1, 2)
        result = Queue.dequeue_any([q], None, connection=connection)
        assert result is not None
        got, queue = result
        assert got.id == job.id
        assert got.args == (1, 2)
        assert queue is q
        assert q.count == 0
        assert ids(connection, 'rq:queue:default:intermediate') == [job.id.encode()]

    def test_dequeue_any_single_queue_blocking(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        job = q.enqueue(rqtest_jobs.say_hello)
        result = Queue.dequeue_any([q], 1, connection=connection)
        assert result is not None
        assert result[0].id == job.id
        assert ids(connection, q.intermediate_queue_key) == [job.id.encode()]

    def test_dequeue_any_multi_queue_priority_order_no_intermediate(self, connection: redis.Redis) -> None:
        high = Queue('high', connection=connection)
        low = Queue('low', connection=connection)
        l1 = low.enqueue(rqtest_jobs.say_hello)
        h1 = high.enqueue(rqtest_jobs.say_hello)
        seen = []
        for _ in range(2):
            result = Queue.dequeue_any([high, low], None, connection=connection)
            assert result is not None
            seen.append((result[0].id, result[1].name))
        assert seen == [(h1.id, 'high'), (l1.id, 'low')]
        assert Queue.dequeue_any([high, low], None, connection=connection) is None
        assert not connection.exists('rq:queue:high:intermediate')
        assert not connection.exists('rq:queue:low:intermediate')

    def test_dequeue_any_multi_queue_blocking(self, connection: redis.Redis) -> None:
        high = Queue('high', connection=connection)
        low = Queue('low', connection=connection)
        job = low.enqueue(rqtest_jobs.say_hello)
        result = Queue.dequeue_any([high, low], 1)
        assert result is not None
        assert result[0].id == job.id
        assert result[1] is low
        assert not connection.exists('rq:queue:low:intermediate')

    def test_dequeue_any_connection_defaults_to_first_queue(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        job = q.enqueue(rqtest_jobs.say_hello)
        result = Queue.dequeue_any([q], None)
        assert result is not None and result[0].id == job.id

    def test_dequeue_any_empty_non_blocking(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        assert Queue.dequeue_any([q], None, connection=connection) is None
        assert connection.dbsize() == 0

    @pytest.mark.parametrize('timeout', [0, -1])
    @pytest.mark.parametrize('names', [['default'], ['high', 'low']])
    def test_dequeue_any_timeout_zero_is_rejected(
        self, connection: redis.Redis, names: list[str], timeout: int
    ) -> None:
        queues = [Queue(n, connection=connection) for n in names]
        queues[0].enqueue(rqtest_jobs.say_hello)
        before = snapshot(connection)
        with pytest.raises(ValueError):
            Queue.dequeue_any(queues, timeout, connection=connection)
        assert snapshot(connection) == before

    @pytest.mark.parametrize('names', [['default'], ['high', 'low']])
    def test_dequeue_any_timeout(self, connection: redis.Redis, names: list[str]) -> None:
        queues = [Queue(n, connection=connection) for n in names]
        start = time.monotonic()
        with pytest.raises(DequeueTimeout):
            Queue.dequeue_any(queues, 1, connection=connection)
        assert time.monotonic() - start >= 0.9

    def test_dequeue_any_skips_dangling_id_single_queue(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        connection.rpush(q.key, 'ghost')
        job = q.enqueue(rqtest_jobs.say_hello)
        result = Queue.dequeue_any([q], None, connection=connection)
        assert result is not None
        assert result[0].id == job.id
        assert q.count == 0
        # The dangling id does not linger in the intermediate list (only real jobs do).
        assert ids(connection, q.intermediate_queue_key) == [job.id.encode()]

    def test_dequeue_any_skips_dangling_id_multi_queue(self, connection: redis.Redis) -> None:
        high = Queue('high', connection=connection)
        low = Queue('low', connection=connection)
        connection.rpush(high.key, 'ghost')
        job = low.enqueue(rqtest_jobs.say_hello)
        result = Queue.dequeue_any([high, low], 1, connection=connection)
        assert result is not None
        assert (result[0].id, result[1].name) == (job.id, 'low')
        assert connection.llen(high.key) == 0

    def test_dequeue_any_only_dangling_ids(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        connection.rpush(q.key, 'ghost1', 'ghost2')
        assert Queue.dequeue_any([q], None, connection=connection) is None
        assert not connection.exists(q.key)

    def test_dequeue_any_expired_ttl_job_is_skipped(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection)
        stale = q.enqueue(rqtest_jobs.say_hello, ttl=1)
        fresh = q.enqueue(rqtest_jobs.say_hello)
        connection.delete(stale.key)  # what the ttl expiry does
        result = Queue.dequeue_any([q], None, connection=connection)
        assert result is not None and result[0].id == fresh.id

    def test_dequeue_any_uses_job_class_and_serializer(self, connection: redis.Redis) -> None:
        q = Queue(connection=connection, serializer='json')
        job = q.enqueue(rqtest_jobs.add, 1, 2)
        result = Queue.dequeue_any([q], None, connection=connection, job_class=MyJob)
        assert result is not None
        assert result[0].id == job.id
        assert type(result[0]) is MyJob
        assert result[0].args == [1, 2]

    def test_dequeue_any_returns_a_corrupt_job_that_raises_on_access(self, connection: redis.Redis) -> None:
        """As in RQ, the payload is decoded when read: the job is dequeued, and reading its call
        raises naming it (a worker fails it with that cause)."""
        q = Queue(connection=connection)
        job = q.enqueue(rqtest_jobs.say_hello)
        connection.hset(job.key, 'data', b'\x00garbage')
        dequeued, queue = Queue.dequeue_any([q], None, connection=connection)  # type: ignore[misc]
        assert dequeued.id == job.id and queue is q
        with pytest.raises(DeserializationError, match=job.id):
            dequeued.func_name  # noqa: B018
