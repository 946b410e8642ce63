"""Job registries (``rq:wip|finished|failed|deferred|scheduled|canceled:<queue>``) against a real Redis."""

from __future__ import annotations

import time
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import redis

from rq import Callback, Queue, Retry
from rq.exceptions import AbandonedJobError, InvalidJobOperation, NoSuchJobError
from rq.executions import Execution
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job, JobStatus
from rq.registry import (
    BaseRegistry,
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
    clean_registries,
)
from rq.results import Result
from rq.serializers import JSONSerializer
from rq.utils import current_timestamp
from rqtest_jobs import add, div_by_zero, say_hello
from ttl_checks import assert_expires_at, assert_ttl

ALL_REGISTRIES = [
    (StartedJobRegistry, 'rq:wip:'),
    (FinishedJobRegistry, 'rq:finished:'),
    (FailedJobRegistry, 'rq:failed:'),
    (DeferredJobRegistry, 'rq:deferred:'),
    (ScheduledJobRegistry, 'rq:scheduled:'),
    (CanceledJobRegistry, 'rq:canceled:'),
]
# Registries whose add() takes a job and a ttl and whose entries are bare job ids.
ID_REGISTRIES = [FinishedJobRegistry, FailedJobRegistry, DeferredJobRegistry, ScheduledJobRegistry, CanceledJobRegistry]


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    return Queue('default', connection=connection)


def zscores(connection: redis.Redis, key: str) -> dict[str, float]:
    return {m.decode(): s for m, s in connection.zrange(key, 0, -1, withscores=True)}


def start_job(job: Job, worker_name: str = 'w1', ttl: int = 90) -> Execution:
    """Put a job in the state a worker leaves it in while running it: status started, one execution."""
    job.connection.lrem(f'rq:queue:{job.origin}', 0, job.id)
    with job.connection.pipeline() as pipe:
        job.prepare_for_execution(worker_name, pipe)
        execution = Execution.create(job, ttl, pipe)
        pipe.execute()
    return execution


def abandon(connection: redis.Redis, execution: Execution, queue_name: str = 'default') -> None:
    """Make an execution look like its worker died: its started-registry score is in the past."""
    connection.zadd(f'rq:wip:{queue_name}', {execution.composite_key: current_timestamp() - 10})


# -- construction --------------------------------------------------------------------------


@pytest.mark.parametrize(('registry_class', 'prefix'), ALL_REGISTRIES)
def test_key_and_name_from_queue(registry_class: type[BaseRegistry], prefix: str, connection: redis.Redis) -> None:
    queue = Queue('emails', connection=connection, serializer=JSONSerializer)
    registry = registry_class(queue=queue)
    assert registry.key == prefix + 'emails'
    assert registry.name == 'emails'
    assert registry.connection is connection
    assert registry.serializer is queue.serializer


@pytest.mark.parametrize(('registry_class', 'prefix'), ALL_REGISTRIES)
def test_key_from_name_and_connection(registry_class: type[BaseRegistry], prefix: str, connection: redis.Redis) -> None:
    registry = registry_class('low', connection=connection)
    assert registry.key == prefix + 'low'
    assert registry.name == 'low'
    assert registry_class(connection=connection).key == prefix + 'default'


@pytest.mark.parametrize(('registry_class', 'prefix'), ALL_REGISTRIES)
def test_connection_is_required(registry_class: type[BaseRegistry], prefix: str) -> None:
    with pytest.raises(TypeError):
        registry_class('default')


def test_queue_registry_properties(queue: Queue) -> None:
    assert queue.started_job_registry == StartedJobRegistry('default', connection=queue.connection)
    assert queue.finished_job_registry == FinishedJobRegistry('default', connection=queue.connection)
    assert queue.failed_job_registry == FailedJobRegistry('default', connection=queue.connection)
    assert queue.deferred_job_registry == DeferredJobRegistry('default', connection=queue.connection)
    assert queue.scheduled_job_registry == ScheduledJobRegistry('default', connection=queue.connection)
    assert queue.canceled_job_registry == CanceledJobRegistry('default', connection=queue.connection)
    assert queue.finished_job_registry != FailedJobRegistry('default', connection=queue.connection)
    assert queue.finished_job_registry != FinishedJobRegistry('other', connection=queue.connection)


def test_get_queue(connection: redis.Redis) -> None:
    registry = FinishedJobRegistry('reports', connection=connection, serializer=JSONSerializer)
    queue = registry.get_queue()
    assert isinstance(queue, Queue)
    assert queue.name == 'reports'
    assert queue.connection is connection
    assert queue.serializer is registry.serializer


# -- the common sorted-set operations -------------------------------------------------------


@pytest.mark.parametrize('registry_class', ID_REGISTRIES)
def test_add_contains_count_len(registry_class: type[BaseRegistry], queue: Queue) -> None:
    registry = registry_class(queue=queue)
    job = queue.enqueue(say_hello)
    assert job not in registry
    assert job.id not in registry
    assert registry.count == 0
    registry.add(job, 100)
    assert job in registry
    assert job.id in registry
    assert 'nope' not in registry
    assert registry.count == 1
    assert len(registry) == 1
    assert registry.get_job_count() == 1
    assert registry.get_job_ids() == [job.id]


@pytest.mark.parametrize('registry_class', [FinishedJobRegistry, CanceledJobRegistry, ScheduledJobRegistry])
def test_add_scores_now_plus_ttl(registry_class: type[BaseRegistry], queue: Queue) -> None:
    registry = registry_class(queue=queue)
    job = queue.enqueue(say_hello)
    before = current_timestamp()
    registry.add(job, 100)
    score = queue.connection.zscore(registry.key, job.id)
    assert before + 100 <= score <= current_timestamp() + 100


def test_add_default_ttl_scores_now(queue: Queue) -> None:
    registry = FinishedJobRegistry(queue=queue)
    job = queue.enqueue(say_hello)
    before = current_timestamp()
    registry.add(job)
    assert before <= queue.connection.zscore(registry.key, job.id) <= current_timestamp()


def test_add_ttl_minus_one_is_infinite(queue: Queue) -> None:
    registry = FinishedJobRegistry(queue=queue)
    job = queue.enqueue(say_hello)
    registry.add(job, -1)
    assert queue.connection.zscore(registry.key, job.id) == float('inf')
    assert registry.get_expiration_time(job) is None
    registry.cleanup(current_timestamp() + 10**9)
    assert job in registry


def test_add_with_pipeline_is_deferred_until_execute(queue: Queue) -> None:
    registry = FinishedJobRegistry(queue=queue)
    job = queue.enqueue(say_hello)
    with queue.connection.pipeline() as pipe:
        registry.add(job, 10, pipeline=pipe)
        assert job not in registry
        pipe.execute()
    assert job in registry


def test_add_xx_only_updates_existing(queue: Queue) -> None:
    registry = FinishedJobRegistry(queue=queue)
    job = queue.enqueue(say_hello)
    registry.add(job, 10, xx=True)
    assert job not in registry
    registry.add(job, 10)
    registry.add(job, 1000, xx=True)
    assert queue.connection.zscore(registry.key, job.id) >= current_timestamp() + 900


def test_get_job_ids_order_slice_and_desc(queue: Queue) -> None:
    registry = FinishedJobRegistry(queue=queue)
    for job_id, ttl in (('c', 300), ('a', 100), ('b', 200)):
        registry.add(job_id, ttl)
    assert registry.get_job_ids() == ['a', 'b', 'c']
    assert registry.get_job_ids(desc=True) == ['c', 'b', 'a']
    assert registry.get_job_ids(0, 1) == ['a', 'b']
    assert registry.get_job_ids(1, 1) == ['b']
    assert registry.get_job_ids(0, 0, desc=True) == ['c']


def test_remove(queue: Queue) -> None:
    registry = FinishedJobRegistry(queue=queue)
    job = queue.enqueue(say_hello)
    other = queue.enqueue(say_hello)
    registry.add(job, 10)
    registry.add(other, 10)
    registry.remove(job)
    assert job not in registry
    assert Job.exists(job.id, queue.connection)
    registry.remove(other.id)
    assert registry.count == 0
    assert Job.exists(other.id, queue.connection)


@pytest.mark.parametrize('by_id', [False, True])
def test_remove_delete_job(queue: Queue, by_id: bool) -> None:
    registry = FailedJobRegistry(queue=queue)
    job = queue.enqueue(say_hello)
    registry.add(job, 10)
    registry.remove(job.id if by_id else job, delete_job=True)
    assert job not in registry
    assert not Job.exists(job.id, queue.connection)
    assert queue.connection.exists(job.key) == 0


def test_remove_with_pipeline(queue: Queue) -> None:
    registry = FinishedJobRegistry(queue=queue)
    registry.add('x', 10)
    with queue.connection.pipeline() as pipe:
        registry.remove('x', pipeline=pipe)
        assert 'x' in registry
        pipe.execute()
    assert 'x' not in registry


def test_get_expired_job_ids(queue: Queue) -> None:
    registry = FinishedJobRegistry(queue=queue)
    now = current_timestamp()
    queue.connection.zadd(registry.key, {'old': now - 100, 'recent': now - 1, 'future': now + 100})
    assert registry.get_expired_job_ids() == ['old', 'recent']
    assert registry.get_expired_job_ids(now - 50) == ['old']
    assert registry.get_expired_job_ids(now + 200) == ['old', 'recent', 'future']
    # reading expired ids does not remove them
    assert registry.get_job_count(cleanup=False) == 3


def test_get_expiration_time(queue: Queue) -> None:
    registry = FinishedJobRegistry(queue=queue)
    job = queue.enqueue(say_hello)
    since = time.time()
    registry.add(job, 3600)
    expires = registry.get_expiration_time(job)
    assert_expires_at(expires, 3600, since)


@pytest.mark.parametrize('registry_class', [FinishedJobRegistry, FailedJobRegistry])
def test_cleanup_drops_expired_entries(registry_class: type[BaseRegistry], queue: Queue) -> None:
    registry = registry_class(queue=queue)
    now = current_timestamp()
    queue.connection.zadd(registry.key, {'old': now - 100, 'recent': now - 1, 'future': now + 100})
    assert registry.get_job_count(cleanup=False) == 3
    assert registry.get_job_ids(cleanup=False) == ['old', 'recent', 'future']
    assert registry.get_job_ids() == ['future']
    queue.connection.zadd(registry.key, {'old': now - 100})
    assert registry.count == 1
    queue.connection.zadd(registry.key, {'old': now - 100})
    assert len(registry) == 1
    queue.connection.zadd(registry.key, {'old': now - 100})
    assert registry.get_job_count() == 1
    registry.cleanup(now + 200)
    assert registry.get_job_count(cleanup=False) == 0


@pytest.mark.parametrize('registry_class', [DeferredJobRegistry, ScheduledJobRegistry, CanceledJobRegistry])
def test_never_cleaned(registry_class: type[BaseRegistry], queue: Queue) -> None:
    registry = registry_class(queue=queue)
    now = current_timestamp()
    queue.connection.zadd(registry.key, {'old': now - 100, 'future': now + 100})
    registry.cleanup()
    registry.cleanup(now + 1000)
    assert registry.count == 2
    assert registry.get_job_ids() == ['old', 'future']
    clean_registries(queue)
    assert registry.get_job_count() == 2


def test_failed_ttl_minus_one_score_survives_cleanup(queue: Queue) -> None:
    registry = FailedJobRegistry(queue=queue)
    job = queue.enqueue(say_hello)
    registry.add(job, ttl=-1)
    assert queue.connection.zscore(registry.key, job.id) == -1
    registry.cleanup(current_timestamp() + 10**6)
    assert job in registry
    assert registry.get_expiration_time(job) is None


def test_canceled_registry_has_no_expired_ids(queue: Queue) -> None:
    with pytest.raises(NotImplementedError):
        CanceledJobRegistry(queue=queue).get_expired_job_ids()


# -- requeue --------------------------------------------------------------------------------


def fail_job(queue: Queue, job: Job) -> None:
    """Leave a job as a worker leaves a failed one: status failed, in the failed registry."""
    queue.remove(job)
    job.set_status(JobStatus.FAILED)
    FailedJobRegistry(queue=queue).add(job, exc_string='Traceback: boom')


def test_requeue_failed_job(queue: Queue) -> None:
    job = queue.enqueue(div_by_zero)
    fail_job(queue, job)
    registry = FailedJobRegistry(queue=queue)
    assert queue.count == 0

    requeued = registry.requeue(job)
    assert requeued.id == job.id
    assert requeued.get_status() == JobStatus.QUEUED
    assert requeued.enqueued_at is not None
    assert job not in registry
    assert queue.get_job_ids() == [job.id]
    assert Job.fetch(job.id, connection=queue.connection).get_status() == JobStatus.QUEUED
    # a queued job must not expire with its failure ttl
    assert queue.connection.ttl(job.key) == -1


def test_requeue_by_id_into_origin_queue(connection: redis.Redis) -> None:
    queue = Queue('jobs', connection=connection)
    other = Queue('other', connection=connection)
    job = queue.enqueue(add, 1)
    fail_job(queue, job)
    other.enqueue(add, 2)
    FailedJobRegistry('jobs', connection=connection).requeue(job.id)
    assert queue.get_job_ids() == [job.id]
    assert len(other) == 1
    assert b'rq:queue:jobs' in connection.smembers('rq:queues')


def test_requeue_at_front(queue: Queue) -> None:
    job = queue.enqueue(div_by_zero)
    fail_job(queue, job)
    first = queue.enqueue(say_hello)
    FailedJobRegistry(queue=queue).requeue(job, at_front=True)
    assert queue.get_job_ids() == [job.id, first.id]


def test_requeue_appends_by_default(queue: Queue) -> None:
    job = queue.enqueue(div_by_zero)
    fail_job(queue, job)
    first = queue.enqueue(say_hello)
    FailedJobRegistry(queue=queue).requeue(job)
    assert queue.get_job_ids() == [first.id, job.id]


def test_requeue_not_in_registry(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    with pytest.raises(InvalidJobOperation):
        FailedJobRegistry(queue=queue).requeue(job)
    with pytest.raises(InvalidJobOperation):
        FailedJobRegistry(queue=queue).requeue(job.id)
    assert queue.get_job_ids() == [job.id]


def test_requeue_job_whose_hash_is_gone(queue: Queue) -> None:
    registry = FailedJobRegistry(queue=queue)
    queue.connection.zadd(registry.key, {'ghost': current_timestamp() + 100})
    with pytest.raises(NoSuchJobError):
        registry.requeue('ghost')
    assert 'ghost' not in registry
    assert queue.count == 0


def test_requeue_from_finished_registry(queue: Queue) -> None:
    registry = FinishedJobRegistry(queue=queue)
    job = queue.enqueue(say_hello)
    queue.remove(job)
    job.set_status(JobStatus.FINISHED)
    registry.add(job, 100)
    registry.requeue(job)
    assert job not in registry
    assert job.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [job.id]


# -- failed registry -----------------------------------------------------------------------


def test_failed_add_saves_and_expires_job(queue: Queue) -> None:
    job = queue.enqueue(say_hello, meta={'kept': 'in redis'})
    queue.remove(job)
    job._status = JobStatus.FAILED
    job.meta['changed'] = 'only in memory'
    registry = FailedJobRegistry(queue=queue)
    before = current_timestamp()
    registry.add(job, exc_string='Traceback: boom')

    score = queue.connection.zscore(registry.key, job.id)
    assert before + 31536000 <= score <= current_timestamp() + 31536000
    assert_ttl(queue.connection, job.key, 31536000, before)
    stored = Job.fetch(job.id, connection=queue.connection)
    assert stored.get_status() == JobStatus.FAILED
    # meta is not part of the save
    assert stored.meta == {'kept': 'in redis'}
    # the traceback lives in the results stream, not the job hash
    assert queue.connection.hget(job.key, 'exc_info') is None


def test_failed_add_with_ttl(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    registry = FailedJobRegistry(queue=queue)
    before = current_timestamp()
    registry.add(job, ttl=50)
    assert before + 50 <= queue.connection.zscore(registry.key, job.id) <= current_timestamp() + 50
    assert_ttl(queue.connection, job.key, 50, before)


def test_failed_add_in_pipeline(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    registry = FailedJobRegistry(queue=queue)
    with queue.connection.pipeline() as pipe:
        registry.add(job, ttl=50, pipeline=pipe)
        assert job not in registry
        pipe.execute()
    assert job in registry


def test_failed_add_ttl_minus_one_keeps_job(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    registry = FailedJobRegistry(queue=queue)
    registry.add(job, ttl=-1)
    assert queue.connection.zscore(registry.key, job.id) == -1
    assert queue.connection.ttl(job.key) == -1


def test_requeue_clears_the_previous_run(queue: Queue) -> None:
    job = queue.enqueue(div_by_zero)
    start_job(job)
    fail_job(queue, job)
    assert queue.connection.hget(job.key, 'started_at')
    requeued = FailedJobRegistry(queue=queue).requeue(job)
    assert requeued.started_at is None
    assert requeued.ended_at is None
    assert queue.connection.hget(job.key, 'started_at') == b''
    assert queue.connection.hget(job.key, 'ended_at') == b''
    # as RQ does, the legacy exc_info field is written as the zlib compression of ''
    assert queue.connection.hget(job.key, 'exc_info') == zlib.compress(b'')
    assert requeued._exc_info == ''


def test_requeue_applies_the_job_ttl_again(queue: Queue) -> None:
    job = queue.enqueue(div_by_zero, ttl=100)
    fail_job(queue, job)
    assert queue.connection.ttl(job.key) > 1000
    since = time.time()
    FailedJobRegistry(queue=queue).requeue(job)
    assert_ttl(queue.connection, job.key, 100, since)


# -- deferred and scheduled ---------------------------------------------------------------


def test_deferred_add_scores_now(queue: Queue) -> None:
    registry = DeferredJobRegistry(queue=queue)
    job = queue.enqueue(say_hello)
    before = current_timestamp()
    registry.add(job)
    assert before <= queue.connection.zscore(registry.key, job.id) <= current_timestamp()


def test_schedule_and_scheduled_time(queue: Queue) -> None:
    registry = ScheduledJobRegistry(queue=queue)
    job = queue.create_job(say_hello)
    when = datetime(2031, 5, 6, 7, 8, 9, 900000, tzinfo=timezone.utc)
    registry.schedule(job, when)
    assert queue.connection.zscore(registry.key, job.id) == int(when.timestamp())
    assert registry.get_scheduled_time(job) == when.replace(microsecond=0)
    assert registry.get_scheduled_time(job.id) == when.replace(microsecond=0)


def test_schedule_timezone_aware_and_naive(queue: Queue) -> None:
    registry = ScheduledJobRegistry(queue=queue)
    plus_two = timezone(timedelta(hours=2))
    registry.schedule(queue.create_job(say_hello, job_id='aware'), datetime(2031, 1, 1, 12, 0, tzinfo=plus_two))
    assert registry.get_scheduled_time('aware') == datetime(2031, 1, 1, 10, 0, tzinfo=timezone.utc)
    naive = datetime(2031, 1, 1, 12, 0)
    registry.schedule(queue.create_job(say_hello, job_id='naive'), naive)
    assert queue.connection.zscore(registry.key, 'naive') == int(naive.astimezone(timezone.utc).timestamp())


def test_get_scheduled_time_missing(queue: Queue) -> None:
    with pytest.raises(NoSuchJobError):
        ScheduledJobRegistry(queue=queue).get_scheduled_time('missing')


def test_get_jobs_to_schedule(queue: Queue) -> None:
    registry = ScheduledJobRegistry(queue=queue)
    now = current_timestamp()
    queue.connection.zadd(registry.key, {'a': now - 30, 'b': now - 20, 'c': now - 10, 'later': now + 100})
    assert registry.get_jobs_to_schedule() == ['a', 'b', 'c']
    assert registry.get_jobs_to_schedule(chunk_size=2) == ['a', 'b']
    assert registry.get_jobs_to_schedule(now - 15) == ['a', 'b']
    assert registry.get_jobs_to_schedule(now + 200) == ['a', 'b', 'c', 'later']
    assert registry.count == 4


def test_scheduled_expired_ids_are_the_due_jobs(queue: Queue) -> None:
    """RQ keeps BaseRegistry.get_expired_job_ids (and its alias get_jobs_to_enqueue) on the scheduled registry."""
    registry = ScheduledJobRegistry(queue=queue)
    now = current_timestamp()
    queue.connection.zadd(registry.key, {'due': now - 5, 'later': now + 100})
    assert registry.get_expired_job_ids() == ['due']
    assert registry.get_jobs_to_enqueue() == ['due']  # type: ignore[attr-defined]


def test_scheduled_remove_jobs_is_deprecated(queue: Queue) -> None:
    registry = ScheduledJobRegistry(queue=queue)
    now = current_timestamp()
    queue.connection.zadd(registry.key, {'due': now - 5, 'later': now + 100})
    with pytest.warns(DeprecationWarning):
        registry.remove_jobs()
    assert registry.get_job_ids() == ['later']


def test_enqueue_at_lands_in_scheduled_registry(queue: Queue) -> None:
    when = datetime(2031, 1, 1, tzinfo=timezone.utc)
    job = queue.enqueue_at(when, say_hello)
    registry = ScheduledJobRegistry(queue=queue)
    assert job in registry
    assert registry.get_scheduled_time(job) == when


# -- the started registry ------------------------------------------------------------------


def test_started_add_and_remove_are_not_supported(queue: Queue) -> None:
    registry = StartedJobRegistry(queue=queue)
    job = queue.enqueue(say_hello)
    with pytest.raises(NotImplementedError):
        registry.add(job, 10)
    with pytest.raises(NotImplementedError):
        registry.remove(job)


def test_started_members_are_executions(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    execution = start_job(job, ttl=90)
    registry = StartedJobRegistry(queue=queue)
    member = f'{job.id}:{execution.id}'
    assert list(zscores(queue.connection, 'rq:wip:default')) == [member]
    score = queue.connection.zscore('rq:wip:default', member)
    assert current_timestamp() + 85 <= score <= current_timestamp() + 90
    assert registry.get_job_ids() == [job.id]
    assert registry.get_job_and_execution_ids() == [(job.id, execution.id)]
    assert job in registry
    assert job.id in registry
    assert member in registry
    assert f'{job.id}:other' not in registry
    assert job.id[:-1] not in registry
    assert '*' not in registry
    assert registry.count == 1
    assert job.get_status() == JobStatus.STARTED


def test_started_two_executions_of_one_job(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    first = start_job(job)
    second = start_job(job)
    registry = StartedJobRegistry(queue=queue)
    assert registry.count == 2
    assert registry.get_job_ids() == [job.id]
    assert sorted(registry.get_job_and_execution_ids()) == sorted([(job.id, first.id), (job.id, second.id)])


def test_started_remove_execution_and_executions(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    first = start_job(job)
    second = start_job(job)
    registry = StartedJobRegistry(queue=queue)
    registry.remove_execution(first, job)
    assert registry.get_job_and_execution_ids() == [(job.id, second.id)]
    registry.remove_executions(job)
    assert registry.count == 0
    assert Job.exists(job.id, queue.connection)


def test_started_remove_execution_delete_job(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    execution = start_job(job)
    StartedJobRegistry(queue=queue).remove_execution(execution, job, delete_job=True)
    assert not Job.exists(job.id, queue.connection)
    assert queue.connection.zcard('rq:wip:default') == 0


def test_started_get_expired_job_ids_parses_members(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    execution = start_job(job)
    registry = StartedJobRegistry(queue=queue)
    assert registry.get_expired_job_ids() == []
    abandon(queue.connection, execution)
    assert registry.get_expired_job_ids() == [job.id]


# -- abandoned jobs -------------------------------------------------------------------------


def test_reading_count_fails_abandoned_job(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    execution = start_job(job, worker_name='dead-worker')
    abandon(queue.connection, execution)

    registry = StartedJobRegistry(queue=queue)
    assert registry.count == 0

    assert job.get_status() == JobStatus.FAILED
    assert job in FailedJobRegistry(queue=queue)
    assert queue.count == 0
    result = job.latest_result()
    assert result is not None
    assert result.type == Result.Type.FAILED
    assert result.exc_string is not None
    assert result.exc_string.startswith('Moved to FailedJobRegistry, due to AbandonedJobError')
    assert result.worker_name == ''
    assert queue.connection.zcard('rq:wip:default') == 0


def test_abandoned_job_calls_failure_callback(queue: Queue) -> None:
    job = queue.enqueue(say_hello, on_failure=Callback('rqtest_jobs_lifecycle.record_failure_type'))
    execution = start_job(job)
    abandon(queue.connection, execution)
    StartedJobRegistry(queue=queue).get_job_ids()
    assert queue.connection.get(f'failure_type:{job.id}') == b'AbandonedJobError'
    assert job.get_status() == JobStatus.FAILED


def test_abandoned_job_with_retries_left_is_retried(queue: Queue) -> None:
    job = queue.enqueue(say_hello, retry=Retry(max=2))
    execution = start_job(job)
    abandon(queue.connection, execution)

    assert StartedJobRegistry(queue=queue).get_job_count() == 0

    assert job.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [job.id]
    assert job not in FailedJobRegistry(queue=queue)
    assert job.latest_result() is None
    assert Job.fetch(job.id, connection=queue.connection).retries_left == 1


def test_two_abandoned_executions_of_one_job_retry_it_once(queue: Queue) -> None:
    job = queue.enqueue(say_hello, retry=Retry(max=3))
    abandon(queue.connection, start_job(job))
    abandon(queue.connection, start_job(job))
    assert StartedJobRegistry(queue=queue).count == 0
    assert queue.get_job_ids() == [job.id]
    assert Job.fetch(job.id, connection=queue.connection).retries_left == 2


def test_concurrent_cleaners_handle_an_abandoned_job_once(queue: Queue) -> None:
    import threading

    jobs = [queue.enqueue(say_hello, retry=Retry(max=3)) for _ in range(20)]
    for job in jobs:
        abandon(queue.connection, start_job(job))
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def clean() -> None:
        try:
            connection = redis.Redis(port=queue.connection.connection_pool.connection_kwargs['port'])
            barrier.wait()
            StartedJobRegistry('default', connection=connection).cleanup()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=clean) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(queue.get_job_ids()) == sorted(job.id for job in jobs)
    assert {Job.fetch(job.id, connection=queue.connection).retries_left for job in jobs} == {2}
    assert queue.connection.zcard('rq:wip:default') == 0


def test_claimed_entry_is_handled_again_after_the_grace_period(queue: Queue) -> None:
    from rq._redis import ops
    from rq.registry import ABANDONED_CLAIM_SECONDS

    job = queue.enqueue(say_hello)
    execution = start_job(job)
    abandon(queue.connection, execution)
    now = current_timestamp()
    # a cleaner claimed it, then died before recording anything
    assert ops.claim_expired(queue.connection, 'rq:wip:default', execution.composite_key, now, now + 60)
    assert not ops.claim_expired(queue.connection, 'rq:wip:default', execution.composite_key, now, now + 60)
    registry = StartedJobRegistry(queue=queue)
    assert registry.count == 1
    assert job.get_status() == JobStatus.STARTED
    registry.cleanup(now + ABANDONED_CLAIM_SECONDS + 1)
    assert registry.get_job_count(cleanup=False) == 0
    assert job.get_status() == JobStatus.FAILED


def test_abandoned_job_releases_allow_failure_dependents(queue: Queue) -> None:
    from rq.job import Dependency

    job = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=Dependency(job, allow_failure=True))
    strict_child = queue.enqueue(add, 2, depends_on=job)
    execution = start_job(job)
    abandon(queue.connection, execution)
    clean_registries(queue)
    assert job.get_status() == JobStatus.FAILED
    assert child.get_status() == JobStatus.QUEUED
    assert strict_child.get_status() == JobStatus.DEFERRED
    assert queue.get_job_ids() == [child.id]


def test_abandoned_job_runs_exception_handlers(queue: Queue) -> None:
    seen: list[Any] = []

    def handler(job: Job, exc_type: Any, exc_value: Any, tb: Any) -> bool:
        seen.append((job.id, exc_type, type(exc_value)))
        return True

    job = queue.enqueue(say_hello)
    execution = start_job(job)
    abandon(queue.connection, execution)
    clean_registries(queue, exception_handlers=[handler])
    assert seen == [(job.id, AbandonedJobError, AbandonedJobError)]
    assert job.get_status() == JobStatus.FAILED


def test_live_execution_is_left_alone(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    start_job(job)
    registry = StartedJobRegistry(queue=queue)
    assert registry.count == 1
    clean_registries(queue)
    assert registry.count == 1
    assert job.get_status() == JobStatus.STARTED


def test_abandoned_entry_of_a_deleted_job_is_dropped(queue: Queue) -> None:
    now = current_timestamp()
    queue.connection.zadd('rq:wip:default', {'gone:abc': now - 10})
    registry = StartedJobRegistry(queue=queue)
    assert registry.count == 0
    assert FailedJobRegistry(queue=queue).count == 0


def test_cleanup_with_explicit_timestamp(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    start_job(job, ttl=60)
    registry = StartedJobRegistry(queue=queue)
    registry.cleanup(current_timestamp() + 1000)
    assert registry.get_job_count(cleanup=False) == 0
    assert job.get_status() == JobStatus.FAILED


def test_get_job_ids_without_cleanup_keeps_abandoned(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    execution = start_job(job)
    abandon(queue.connection, execution)
    registry = StartedJobRegistry(queue=queue)
    assert registry.get_job_ids(cleanup=False) == [job.id]
    assert registry.get_job_count(cleanup=False) == 1
    assert job.get_status() == JobStatus.STARTED


# -- clean_registries -----------------------------------------------------------------------


def test_clean_registries(queue: Queue) -> None:
    connection = queue.connection
    now = current_timestamp()
    for kind in ('finished', 'failed', 'deferred', 'canceled', 'scheduled'):
        connection.zadd(f'rq:{kind}:default', {'old': now - 10, 'new': now + 100})
    abandoned = queue.enqueue(say_hello)
    abandon(connection, start_job(abandoned))
    other_queue = Queue('other', connection=connection)
    connection.zadd('rq:finished:other', {'old': now - 10})

    clean_registries(queue)

    assert FinishedJobRegistry(queue=queue).get_job_ids(cleanup=False) == ['new']
    assert set(FailedJobRegistry(queue=queue).get_job_ids(cleanup=False)) == {'new', abandoned.id}
    assert DeferredJobRegistry(queue=queue).get_job_ids(cleanup=False) == ['old', 'new']
    assert CanceledJobRegistry(queue=queue).get_job_ids(cleanup=False) == ['old', 'new']
    assert ScheduledJobRegistry(queue=queue).get_job_ids(cleanup=False) == ['old', 'new']
    assert StartedJobRegistry(queue=queue).get_job_count(cleanup=False) == 0
    assert abandoned.get_status() == JobStatus.FAILED
    # other queues are not touched
    assert FinishedJobRegistry(queue=other_queue).get_job_ids(cleanup=False) == ['old']


# -- the intermediate queue (ids popped by a worker but not started yet) --------------------


def park(queue: Queue, job: Job) -> None:
    """Move the job's id from the queue to its intermediate list, as a single-queue worker does."""
    queue.connection.lrem(queue.key, 1, job.id)
    queue.connection.rpush(queue.intermediate_queue_key, job.id)


def test_intermediate_queue_keys(queue: Queue) -> None:
    intermediate = queue.intermediate_queue
    assert isinstance(intermediate, IntermediateQueue)
    assert intermediate.key == 'rq:queue:default:intermediate'
    assert queue.intermediate_queue_key == 'rq:queue:default:intermediate'
    assert IntermediateQueue.get_intermediate_queue_key('rq:queue:low') == 'rq:queue:low:intermediate'
    assert intermediate.get_first_seen_key('abc') == 'rq:queue:default:intermediate:first_seen:abc'


def test_intermediate_queue_ids_count_remove(queue: Queue) -> None:
    first = queue.enqueue(say_hello)
    second = queue.enqueue(say_hello)
    park(queue, first)
    park(queue, second)
    intermediate = queue.intermediate_queue
    assert intermediate.get_job_ids() == [first.id, second.id]
    assert intermediate.count() == 2
    intermediate.remove(first.id)
    assert intermediate.get_job_ids() == [second.id]


def test_intermediate_first_seen(queue: Queue) -> None:
    intermediate = queue.intermediate_queue
    assert intermediate.get_first_seen('j') is None
    assert not intermediate.should_be_cleaned_up('j')
    since = time.time()
    assert intermediate.set_first_seen('j') is True
    assert intermediate.set_first_seen('j') is False
    first_seen = intermediate.get_first_seen('j')
    assert_expires_at(first_seen, 0, since)
    key = intermediate.get_first_seen_key('j')
    assert_ttl(queue.connection, key, 86400, since)
    float(queue.connection.get(key))
    assert not intermediate.should_be_cleaned_up('j')
    queue.connection.set(key, current_timestamp() - 61)
    assert intermediate.should_be_cleaned_up('j')


def test_intermediate_cleanup_fails_stuck_job(queue: Queue) -> None:
    stuck = queue.enqueue(say_hello)
    park(queue, stuck)
    intermediate = queue.intermediate_queue

    intermediate.cleanup(None, queue)  # first sighting: only remembered
    assert intermediate.get_job_ids() == [stuck.id]
    assert stuck.get_status() == JobStatus.QUEUED

    intermediate.cleanup(None, queue)  # seen again, but less than a minute ago
    assert intermediate.get_job_ids() == [stuck.id]

    queue.connection.set(intermediate.get_first_seen_key(stuck.id), current_timestamp() - 61)
    intermediate.cleanup(None, queue)
    assert intermediate.get_job_ids() == []
    assert stuck.get_status() == JobStatus.FAILED
    assert stuck in FailedJobRegistry(queue=queue)
    result = stuck.latest_result()
    assert result is not None
    assert result.exc_string == 'Job was stuck in intermediate queue.'


def test_intermediate_cleanup_uses_the_worker(queue: Queue) -> None:
    calls: list[tuple[str, str, str]] = []

    class Worker:
        def handle_job_failure(self, job: Job, queue: Queue, exc_string: str = '') -> None:
            calls.append((job.id, queue.name, exc_string))

    stuck = queue.enqueue(say_hello)
    park(queue, stuck)
    intermediate = queue.intermediate_queue
    queue.connection.set(intermediate.get_first_seen_key(stuck.id), current_timestamp() - 61)
    intermediate.cleanup(Worker(), queue)
    assert calls == [(stuck.id, 'default', 'Job was stuck in intermediate queue.')]
    assert intermediate.count() == 0


def test_intermediate_cleanup_leaves_started_jobs(queue: Queue) -> None:
    running = queue.enqueue(say_hello)
    park(queue, running)
    start_job(running)
    intermediate = queue.intermediate_queue
    queue.connection.set(intermediate.get_first_seen_key(running.id), current_timestamp() - 61)
    intermediate.cleanup(None, queue)
    assert intermediate.get_job_ids() == [running.id]
    assert running.get_status() == JobStatus.STARTED


def test_intermediate_cleanup_drops_gone_jobs(queue: Queue) -> None:
    gone = queue.enqueue(say_hello)
    park(queue, gone)
    queue.connection.delete(gone.key)
    queue.intermediate_queue.cleanup(None, queue)
    assert queue.intermediate_queue.count() == 0


def test_abandoned_job_failure_callback_runs_off_the_main_thread(queue: Queue) -> None:
    """A web app reading registry counts in a worker thread still gets the failure callback run
    (SIGALRM-based timeouts only work in the main thread)."""
    import threading

    job = queue.enqueue(say_hello, on_failure=Callback('rqtest_jobs_lifecycle.record_failure_type'))
    abandon(queue.connection, start_job(job))
    counts: list[int] = []
    thread = threading.Thread(target=lambda: counts.append(StartedJobRegistry(queue=queue).count))
    thread.start()
    thread.join()
    assert counts == [0]
    assert queue.connection.get(f'failure_type:{job.id}') == b'AbandonedJobError'
    assert job.get_status() == JobStatus.FAILED
