"""Canceling, requeueing and deleting jobs; emptying and deleting queues."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import redis

from rq import Queue, cancel_job, requeue_job
from rq._outcome import record_failure, record_success
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.executions import Execution
from rq.group import Group
from rq.job import Dependency, Job, JobStatus
from rq.registry import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.results import Result
from rq.utils import current_timestamp
from rqtest_jobs import add, div_by_zero, say_hello


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    return Queue('default', connection=connection)


def start(job: Job, worker_name: str = 'w1') -> Execution:
    job.connection.lrem(f'rq:queue:{job.origin}', 0, job.id)
    with job.connection.pipeline() as pipe:
        job.prepare_for_execution(worker_name, pipe)
        execution = Execution.create(job, 90, pipe)
        pipe.execute()
    return execution


def failed_job(queue: Queue, func: object = div_by_zero) -> Job:
    job = queue.enqueue(func)
    start(job)
    record_failure(job, queue, 'Traceback: boom', worker_name='w1')
    return job


def finished_job(queue: Queue) -> Job:
    job = queue.enqueue(say_hello)
    start(job)
    record_success(job, queue, 'hi', worker_name='w1')
    return job


# -- cancel --------------------------------------------------------------------------------


def test_cancel_queued_job(queue: Queue) -> None:
    connection = queue.connection
    job = queue.enqueue(say_hello)
    other = queue.enqueue(say_hello)
    before = current_timestamp()
    job.cancel()

    assert job.get_status() == JobStatus.CANCELED
    assert job.get_status(refresh=False) == JobStatus.CANCELED
    assert job.is_canceled
    assert queue.get_job_ids() == [other.id]
    registry = CanceledJobRegistry(queue=queue)
    assert job in registry
    assert before <= connection.zscore('rq:canceled:default', job.id) <= current_timestamp()
    # the hash is kept
    assert Job.exists(job.id, connection)
    assert Job.fetch(job.id, connection=connection).func_name == 'rqtest_jobs.say_hello'


def test_cancel_twice_raises(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    job.cancel()
    with pytest.raises(InvalidJobOperation):
        job.cancel()
    with pytest.raises(InvalidJobOperation):
        Job.fetch(job.id, connection=queue.connection).cancel()


def test_cancel_missing_job(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    queue.connection.delete(job.key)
    with pytest.raises(NoSuchJobError):
        job.cancel()
    assert job not in CanceledJobRegistry(queue=queue)


def test_cancel_deferred_job(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    child.cancel()
    assert child.get_status() == JobStatus.CANCELED
    assert child not in DeferredJobRegistry(queue=queue)
    assert child in CanceledJobRegistry(queue=queue)


def test_cancel_scheduled_job(queue: Queue) -> None:
    job = queue.enqueue_at(datetime(2031, 1, 1, tzinfo=timezone.utc), say_hello)
    assert job in ScheduledJobRegistry(queue=queue)
    job.cancel()
    assert job not in ScheduledJobRegistry(queue=queue)
    assert job.get_status() == JobStatus.CANCELED


@pytest.mark.parametrize('make', [failed_job, finished_job])
def test_cancel_ended_job(queue: Queue, make: object) -> None:
    job = make(queue)  # type: ignore[operator]
    job.cancel()
    assert job not in FailedJobRegistry(queue=queue)
    assert job not in FinishedJobRegistry(queue=queue)
    assert job in CanceledJobRegistry(queue=queue)


def test_cancel_started_job(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    start(job)
    assert job in StartedJobRegistry(queue=queue)
    job.cancel()
    assert job not in StartedJobRegistry(queue=queue)
    assert job.get_status() == JobStatus.CANCELED


def test_cancel_job_in_intermediate_queue(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    queue.connection.lmove('rq:queue:default', 'rq:queue:default:intermediate', 'LEFT', 'RIGHT')
    job.cancel()
    assert queue.connection.llen('rq:queue:default:intermediate') == 0


def test_cancel_in_other_queue(connection: redis.Redis) -> None:
    queue = Queue('low', connection=connection)
    job = queue.enqueue(say_hello)
    job.cancel()
    assert job in CanceledJobRegistry('low', connection=connection)
    assert job not in CanceledJobRegistry('default', connection=connection)
    assert queue.count == 0


def test_cancel_with_pipeline(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    with queue.connection.pipeline() as pipe:
        job.cancel(pipeline=pipe)
        assert queue.get_job_ids() == [job.id]
        assert Job.fetch(job.id, connection=queue.connection).get_status() == JobStatus.QUEUED
        pipe.execute()
    assert job.get_status() == JobStatus.CANCELED
    assert queue.count == 0
    with queue.connection.pipeline() as pipe, pytest.raises(InvalidJobOperation):
        job.cancel(pipeline=pipe)


def test_canceled_job_is_not_released_by_its_parent(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    child.cancel()
    record_success(parent, queue, 'x', worker_name='w')
    assert child.get_status() == JobStatus.CANCELED
    assert child.id.encode() not in queue.connection.lrange('rq:queue:default', 0, -1)


def test_cancel_enqueue_dependents(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    parent.cancel(enqueue_dependents=True)
    assert parent.get_status() == JobStatus.CANCELED
    assert child.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [child.id]
    assert child not in DeferredJobRegistry(queue=queue)


def test_cancel_enqueue_dependents_still_waits_for_other_parents(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    other = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=[parent, other])
    parent.cancel(enqueue_dependents=True)
    assert child.get_status() == JobStatus.DEFERRED
    # the other parent's success does not count the canceled parent as met
    record_success(other, queue, 'x', worker_name='w')
    assert child.get_status() == JobStatus.DEFERRED


def test_cancel_without_enqueue_dependents_keeps_them_deferred(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    parent.cancel()
    assert child.get_status() == JobStatus.DEFERRED
    assert parent.dependent_ids == [child.id]


def test_cancel_remove_from_dependencies(queue: Queue) -> None:
    p1 = queue.enqueue(say_hello)
    p2 = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=[p1, p2])
    sibling = queue.enqueue(add, 2, depends_on=p1)
    child.cancel(remove_from_dependencies=True)
    assert p1.dependent_ids == [sibling.id]
    assert p2.dependent_ids == []


def test_cancel_keeps_dependencies_by_default(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    child.cancel()
    assert parent.dependent_ids == [child.id]


def test_cancel_job_function(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    cancel_job(job.id, connection=queue.connection)
    assert job.get_status() == JobStatus.CANCELED
    assert queue.count == 0
    with pytest.raises(InvalidJobOperation):
        cancel_job(job.id, connection=queue.connection)
    with pytest.raises(NoSuchJobError):
        cancel_job('missing', connection=queue.connection)


def test_cancel_job_function_enqueue_dependents(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    cancel_job(parent.id, connection=queue.connection, enqueue_dependents=True)
    assert child.get_status() == JobStatus.QUEUED


# -- requeue --------------------------------------------------------------------------------


def test_requeue_failed_job(queue: Queue) -> None:
    job = failed_job(queue)
    assert job.get_status() == JobStatus.FAILED
    requeued = job.requeue()
    assert requeued.id == job.id
    assert requeued.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [job.id]
    assert job not in FailedJobRegistry(queue=queue)
    assert queue.connection.ttl(job.key) == -1


def test_requeue_at_front(queue: Queue) -> None:
    job = failed_job(queue)
    waiting = queue.enqueue(say_hello)
    job.requeue(at_front=True)
    assert queue.get_job_ids() == [job.id, waiting.id]


def test_requeue_keeps_failure_results(queue: Queue) -> None:
    job = failed_job(queue)
    job.requeue()
    result = job.latest_result()
    assert result is not None
    assert result.type == Result.Type.FAILED


@pytest.mark.parametrize('state', ['queued', 'finished', 'canceled', 'deferred'])
def test_requeue_only_from_failed_registry(queue: Queue, state: str) -> None:
    if state == 'finished':
        job = finished_job(queue)
    elif state == 'deferred':
        job = queue.enqueue(add, 1, depends_on=queue.enqueue(say_hello))
    else:
        job = queue.enqueue(say_hello)
        if state == 'canceled':
            job.cancel()
    status = job.get_status()
    ids = queue.get_job_ids()
    with pytest.raises(InvalidJobOperation):
        job.requeue()
    with pytest.raises(InvalidJobOperation):
        requeue_job(job.id, connection=queue.connection)
    assert job.get_status() == status
    assert queue.get_job_ids() == ids


def test_requeue_job_function(connection: redis.Redis) -> None:
    queue = Queue('low', connection=connection)
    job = failed_job(queue)
    requeued = requeue_job(job.id, connection=connection)
    assert isinstance(requeued, Job)
    assert requeued.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [job.id]
    with pytest.raises(NoSuchJobError):
        requeue_job('missing', connection=connection)


def test_requeued_job_with_failure_ttl_does_not_expire(queue: Queue) -> None:
    job = queue.enqueue(div_by_zero, failure_ttl=100)
    start(job)
    record_failure(job, queue, 'boom', worker_name='w1')
    assert 0 < queue.connection.ttl(job.key) <= 100
    job.requeue()
    assert queue.connection.ttl(job.key) == -1


# -- delete ---------------------------------------------------------------------------------


def test_delete_queued_job(queue: Queue) -> None:
    connection = queue.connection
    job = queue.enqueue(say_hello)
    job.delete()
    assert not connection.exists(job.key)
    assert queue.count == 0
    with pytest.raises(NoSuchJobError):
        Job.fetch(job.id, connection=connection)


def test_delete_removes_everything(queue: Queue) -> None:
    connection = queue.connection
    group = Group.create(connection, name='g1')
    parent = group.enqueue_many(queue, [Queue.prepare_data(say_hello, job_id='parent')])[0]
    job = queue.enqueue(add, 1, job_id='job', depends_on=parent)
    queue.enqueue(add, 2, job_id='dependent', depends_on=job)
    executions = [start(parent), start(parent)]
    record_failure(parent, queue, 'boom', worker_name='w1')
    assert connection.exists('rq:results:parent')
    assert connection.sismember('rq:group:g1', 'parent')
    assert parent in FailedJobRegistry(queue=queue)
    execution_keys = [e.key for e in executions]
    live = start(parent)  # one more execution that is still running
    assert connection.zscore('rq:wip:default', live.composite_key) is not None

    parent.delete()

    assert not connection.exists('rq:job:parent')
    assert not connection.exists('rq:job:parent:dependents')
    assert not connection.exists('rq:executions:parent')
    assert not connection.exists(live.key)
    for key in execution_keys:
        assert not connection.exists(key)
    assert connection.zcard('rq:wip:default') == 0
    assert parent not in FailedJobRegistry(queue=queue)
    assert not connection.sismember('rq:group:g1', 'parent')
    # the results stream goes too (RQ 3.0; RQ 2.x left it to expire)
    assert not connection.exists('rq:results:parent')
    # the dependent keeps existing
    assert Job.exists('job', connection)


def test_delete_removes_dependencies_set(queue: Queue) -> None:
    connection = queue.connection
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    assert connection.exists(f'rq:job::{child.id}:dependencies')
    child.delete()
    assert not connection.exists(f'rq:job::{child.id}:dependencies')
    assert child not in DeferredJobRegistry(queue=queue)


@pytest.mark.parametrize(
    'registry_class', [FinishedJobRegistry, FailedJobRegistry, ScheduledJobRegistry, CanceledJobRegistry]
)
def test_delete_removes_registry_entry(queue: Queue, registry_class: type) -> None:
    job = queue.enqueue(say_hello)
    registry = registry_class(queue=queue)
    queue.connection.zadd(registry.key, {job.id: current_timestamp() + 100})
    job.delete()
    assert job not in registry


def test_delete_keep_in_queue(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    job.delete(remove_from_queue=False)
    assert not queue.connection.exists(job.key)
    assert queue.get_job_ids() == [job.id]


def test_delete_with_pipeline(queue: Queue) -> None:
    job = queue.enqueue(say_hello)
    with queue.connection.pipeline() as pipe:
        job.delete(pipeline=pipe)
        assert queue.connection.exists(job.key)
        pipe.execute()
    assert not queue.connection.exists(job.key)
    assert queue.count == 0


def test_delete_dependents(queue: Queue) -> None:
    connection = queue.connection
    parent = queue.enqueue(say_hello)
    c1 = queue.enqueue(add, 1, depends_on=parent)
    c2 = queue.enqueue(add, 2, depends_on=parent)
    unrelated = queue.enqueue(add, 3)
    parent.delete(delete_dependents=True)
    for job in (parent, c1, c2):
        assert not connection.exists(job.key)
    assert not connection.exists(parent.dependents_key)
    assert not connection.exists(c1.dependencies_key)
    assert c1 not in DeferredJobRegistry(queue=queue)
    assert queue.get_job_ids() == [unrelated.id]


def test_delete_keeps_dependents_by_default(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    parent.delete()
    assert Job.exists(child.id, queue.connection)
    assert child.get_status() == JobStatus.DEFERRED


def test_job_delete_dependents_method(queue: Queue) -> None:
    connection = queue.connection
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    other_queue = Queue('other', connection=connection)
    released = other_queue.enqueue(add, 2, depends_on=parent)
    connection.rpush('rq:queue:other', released.id)  # as if it had already been released
    parent.delete_dependents()
    assert Job.exists(parent.id, connection)
    assert not connection.exists(child.key)
    assert not connection.exists(released.key)
    assert not connection.exists(parent.dependents_key)
    assert other_queue.count == 0


# -- Queue.empty and Queue.delete ---------------------------------------------------------


def test_queue_empty(queue: Queue) -> None:
    connection = queue.connection
    jobs = [queue.enqueue(add, i) for i in range(3)]
    parent = jobs[0]
    child = queue.enqueue(add, 9, depends_on=parent)
    connection.xadd(f'rq:results:{parent.id}', {'type': 1})
    connection.zadd('rq:finished:default', {'x': current_timestamp() + 100})

    assert queue.empty() == 3

    assert queue.count == 0
    assert not connection.exists('rq:queue:default')
    for job in jobs:
        assert not connection.exists(job.key)
    assert not connection.exists(parent.dependents_key)
    # the results streams go too (RQ 3.0); what RQ leaves behind: registries, deferred jobs and
    # dependency sets
    assert not connection.exists(f'rq:results:{parent.id}')
    assert connection.zscore('rq:finished:default', 'x') is not None
    assert Job.exists(child.id, connection)
    assert connection.exists(child.dependencies_key)
    assert b'rq:queue:default' in connection.smembers('rq:queues')


def test_queue_empty_when_empty(queue: Queue) -> None:
    assert queue.empty() == 0


def test_queue_empty_leaves_other_queues(connection: redis.Redis) -> None:
    first = Queue('first', connection=connection)
    second = Queue('second', connection=connection)
    first.enqueue(add, 1)
    kept = second.enqueue(add, 2)
    first.empty()
    assert second.get_job_ids() == [kept.id]
    assert Job.exists(kept.id, connection)


def test_queue_delete(queue: Queue) -> None:
    connection = queue.connection
    job = queue.enqueue(add, 1)
    queue.delete()
    assert not connection.exists('rq:queue:default')
    assert b'rq:queue:default' not in connection.smembers('rq:queues')
    assert not connection.exists(job.key)
    assert Queue.all(connection) == []
    # the queue comes back on the next enqueue
    queue.enqueue(add, 2)
    assert Queue.all(connection) == [queue]


def test_queue_delete_keep_jobs(queue: Queue) -> None:
    connection = queue.connection
    job = queue.enqueue(add, 1)
    queue.delete(delete_jobs=False)
    assert not connection.exists('rq:queue:default')
    assert b'rq:queue:default' not in connection.smembers('rq:queues')
    assert Job.exists(job.id, connection)


def test_allow_failure_dependent_of_deleted_parent_is_released_by_other_parent(queue: Queue) -> None:
    """A deleted dependency is ignored, like a missing one."""
    parent = queue.enqueue(say_hello)
    other = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=Dependency([parent, other]))
    parent.delete()
    record_success(other, queue, 'x', worker_name='w')
    assert child.get_status() == JobStatus.QUEUED
