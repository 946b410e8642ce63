"""RQ 3.0's ready registry ``rq:ready:<queue>`` in rq-core: ``ReadyJobRegistry``, the two-step API
(``Queue.move_dependents_to_ready`` then ``enqueue_ready_jobs_by_queue``), the mappings that
``enqueue_dependents`` and ``Job.cancel`` return, and the drain that maintenance runs
(``clean_registries``) on jobs left ready as rq 3.0 leaves them. Core only."""

from __future__ import annotations

import time

import pytest
import redis
from redis.exceptions import WatchError

import rqtest_jobs
from rq import Queue, RateLimit
from rq._redis import scripts
from rq.job import Dependency, Job, JobStatus
from rq.rate_limit import release_slot
from rq.registry import DeferredJobRegistry, ReadyJobRegistry, clean_registries


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    return Queue('default', connection=connection)


def status(connection: redis.Redis, job: Job | str) -> str | None:
    raw = connection.hget(Job.key_for(job if isinstance(job, str) else job.id), 'status')
    return raw.decode() if raw else None


def queued(connection: redis.Redis, name: str = 'default') -> list[str]:
    return [raw.decode() for raw in connection.lrange(f'rq:queue:{name}', 0, -1)]


def ready_ids(connection: redis.Redis, name: str = 'default') -> list[str]:
    return [raw.decode() for raw in connection.zrange(f'rq:ready:{name}', 0, -1)]


def finish(queue: Queue, job: Job) -> None:
    """The parent's outcome stored without releasing anything (the state 3.0's worker is in when it
    moves the dependents, or after it moved them)."""
    queue.remove(job)
    job.set_status(JobStatus.FINISHED)


def leave_ready(connection: redis.Redis, job: Job) -> None:
    """What rq 3.0's ``ReadyJobRegistry.register_jobs`` writes, its process then stopping before the
    drain: out of the deferred registry, status ``ready_to_enqueue``, ZADD ``rq:ready:<origin>``."""
    connection.zrem(f'rq:deferred:{job.origin}', job.id)
    connection.hset(job.key, 'status', 'ready_to_enqueue')
    connection.zadd(f'rq:ready:{job.origin}', {job.id: int(time.time())})


def deferred_child(queue: Queue, *args: int, **options: object) -> Job:
    """A job of ``queue`` deferred behind a parent queued on another queue (``parents``)."""
    parent = Queue('parents', connection=queue.connection).enqueue(rqtest_jobs.say_hello)
    child = queue.enqueue(rqtest_jobs.add, *args or (1,), depends_on=parent, **options)
    assert status(queue.connection, child) == 'deferred'
    return child


# -- the registry ------------------------------------------------------------------------------------


def test_registry_names_and_api(connection: redis.Redis, queue: Queue) -> None:
    registry = queue.ready_job_registry
    assert isinstance(registry, ReadyJobRegistry)
    assert registry == ReadyJobRegistry('default', connection=connection)
    assert registry.key == 'rq:ready:default'
    job = queue.enqueue(rqtest_jobs.add, 1)
    registry.add(job)
    registry.add('other-id')
    assert job in registry and 'other-id' in registry
    assert registry.get_job_count(cleanup=False) == 2
    assert registry.get_job_ids(cleanup=False) == [job.id, 'other-id']
    registry.remove('other-id')
    assert registry.get_job_ids(cleanup=False) == [job.id]


def test_count_and_get_job_ids_drain_first_as_in_rq3(connection: redis.Redis, queue: Queue) -> None:
    job = deferred_child(queue)
    leave_ready(connection, job)
    assert queue.ready_job_registry.count == 0
    assert queued(connection) == [job.id]
    assert queue.ready_job_registry.get_job_ids() == []


def test_register_jobs_queues_the_move_on_the_callers_transaction(connection: redis.Redis, queue: Queue) -> None:
    child = deferred_child(queue)
    registry = queue.ready_job_registry
    with connection.pipeline() as pipe:
        registry.register_jobs([child], pipeline=pipe)
        assert status(connection, child) == 'deferred'  # nothing written before the caller executes
        pipe.execute()
    assert child.get_status(refresh=False) is JobStatus.READY_TO_ENQUEUE
    assert status(connection, child) == 'ready_to_enqueue'
    assert ready_ids(connection) == [child.id]
    assert child.id not in DeferredJobRegistry(queue=queue)


def test_enqueue_jobs_queues_only_what_it_takes_out_of_the_registry(connection: redis.Redis, queue: Queue) -> None:
    first, second = deferred_child(queue, 1), deferred_child(queue, 2)
    leave_ready(connection, first)
    leave_ready(connection, second)
    connection.zrem('rq:ready:default', second.id)  # another drain took it (and is about to queue it)
    handed = queue.ready_job_registry.enqueue_jobs([first.id, second.id])
    assert [job.id for job in handed] == [first.id]
    assert handed[0].get_status(refresh=False) is JobStatus.QUEUED
    assert queued(connection) == [first.id]
    assert status(connection, second) == 'ready_to_enqueue'
    assert connection.sismember('rq:queues', 'rq:queue:default')


# -- the drain in maintenance (jobs left ready as rq 3.0 leaves them) --------------------------------


def test_clean_registries_queues_a_job_left_ready(connection: redis.Redis, queue: Queue) -> None:
    job = deferred_child(queue)
    leave_ready(connection, job)
    connection.hdel(job.key, 'enqueued_at')
    connection.delete('rq:queues')
    clean_registries(queue)
    assert queued(connection) == [job.id]
    assert status(connection, job) == 'queued'
    assert connection.hget(job.key, 'enqueued_at')
    assert ready_ids(connection) == []
    assert connection.sismember('rq:queues', 'rq:queue:default')


def test_the_drain_honours_enqueue_at_front(connection: redis.Redis, queue: Queue) -> None:
    waiting = queue.enqueue(rqtest_jobs.add, 0)
    front = deferred_child(queue, 1)
    connection.hset(front.key, 'enqueue_at_front', '1')  # (as Dependency(..., enqueue_at_front=True) writes it)
    back = deferred_child(queue, 2)
    leave_ready(connection, front)
    leave_ready(connection, back)
    clean_registries(queue)
    assert queued(connection)[0] == front.id
    assert queued(connection)[-1] == back.id
    assert waiting.id in queued(connection)


def test_a_rate_limited_ready_job_waits_for_a_slot(connection: redis.Redis, queue: Queue) -> None:
    holder = queue.enqueue(rqtest_jobs.add, 1, rate_limit=RateLimit('k', 1))
    job = deferred_child(queue, 2, rate_limit=RateLimit('k', 1))
    leave_ready(connection, job)
    clean_registries(queue)
    assert status(connection, job) == 'rate_limited'
    assert job.id not in queued(connection)
    assert ready_ids(connection) == []
    assert connection.zrange('rq:rl:k:rate_limited', 0, -1) == [job.id.encode()]
    # the holder ends: the waiter gets the slot and its queue
    connection.lrem('rq:queue:default', 0, holder.id)
    holder.set_status(JobStatus.FINISHED)
    assert release_slot(holder) == [job.id]
    assert status(connection, job) == 'queued'
    assert queued(connection) == [job.id]


def test_a_rate_limited_ready_job_takes_a_free_slot(connection: redis.Redis, queue: Queue) -> None:
    job = deferred_child(queue, 2, rate_limit=RateLimit('k', 1))
    leave_ready(connection, job)
    clean_registries(queue)
    assert status(connection, job) == 'queued'
    assert job.id in queued(connection)
    assert connection.zrange('rq:rl:k:allowed', 0, -1) == [job.id.encode()]


def test_an_id_whose_job_is_gone_is_dropped(connection: redis.Redis, queue: Queue) -> None:
    connection.zadd('rq:ready:default', {'ghost': int(time.time())})
    clean_registries(queue)
    assert ready_ids(connection) == []
    assert queued(connection) == []
    assert not connection.exists(Job.key_for('ghost'))


@pytest.mark.parametrize('now_status', ['canceled', 'queued', 'deferred'])
def test_a_job_no_longer_ready_is_not_queued(connection: redis.Redis, queue: Queue, now_status: str) -> None:
    job = deferred_child(queue)
    leave_ready(connection, job)
    connection.hset(job.key, 'status', now_status)
    clean_registries(queue)
    assert ready_ids(connection) == []
    assert queued(connection) == []
    assert status(connection, job) == now_status


def test_the_drain_goes_in_bounded_batches(
    connection: redis.Redis, queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scripts, 'SWEEP_BATCH', 2)
    jobs = [deferred_child(queue, n) for n in range(5)]
    for score, job in enumerate(jobs):
        leave_ready(connection, job)
        connection.zadd('rq:ready:default', {job.id: 1000 + score})  # (their order, oldest first)
    drained = queue.ready_job_registry.cleanup()
    assert [job.id for job in drained] == [job.id for job in jobs]
    assert queued(connection) == [job.id for job in jobs]


# -- move_dependents_to_ready and enqueue_ready_jobs_by_queue -----------------------------------------


def test_move_dependents_to_ready_then_enqueue(connection: redis.Redis, queue: Queue) -> None:
    other = Queue('other', connection=connection)
    parent = queue.enqueue(rqtest_jobs.say_hello)
    here = queue.enqueue(rqtest_jobs.add, 1, depends_on=parent)
    there = other.enqueue(rqtest_jobs.add, 2, depends_on=parent)
    finish(queue, parent)

    moved = Queue('unrelated', connection=connection).move_dependents_to_ready(parent)
    assert moved == {'default': [here.id], 'other': [there.id]}
    assert status(connection, here) == status(connection, there) == 'ready_to_enqueue'
    assert ready_ids(connection) == [here.id] and ready_ids(connection, 'other') == [there.id]
    assert here.id not in DeferredJobRegistry(queue=queue) and there.id not in DeferredJobRegistry(queue=other)
    assert parent.dependent_ids == []
    assert queued(connection) == [] and queued(connection, 'other') == []

    queue.enqueue_ready_jobs_by_queue(moved)
    assert queued(connection) == [here.id] and queued(connection, 'other') == [there.id]
    assert status(connection, here) == status(connection, there) == 'queued'
    assert ready_ids(connection) == [] and ready_ids(connection, 'other') == []


def test_move_leaves_dependents_that_wait_for_others(connection: redis.Redis, queue: Queue) -> None:
    parent, other_parent = queue.enqueue(rqtest_jobs.say_hello), queue.enqueue(rqtest_jobs.say_hello)
    both = queue.enqueue(rqtest_jobs.add, 1, depends_on=[parent, other_parent])
    only = queue.enqueue(rqtest_jobs.add, 2, depends_on=parent)
    finish(queue, parent)
    assert queue.move_dependents_to_ready(parent) == {'default': [only.id]}
    assert status(connection, both) == 'deferred'
    assert parent.dependent_ids == [both.id]
    assert queue.move_dependents_to_ready(parent) == {}  # nothing more until the other parent ends


def test_move_follows_rq3s_rule_for_the_parent(connection: redis.Redis, queue: Queue) -> None:
    """As rq 3.0's worker calls it before storing the parent's outcome: the parent counts unless it is
    canceled, stopped, or failed where failures are not allowed; ``exclude_job_id`` counts anyway."""
    parent = queue.enqueue(rqtest_jobs.say_hello)
    child = queue.enqueue(rqtest_jobs.add, 1, depends_on=parent)
    tolerant = queue.enqueue(rqtest_jobs.add, 2, depends_on=Dependency(parent, allow_failure=True))
    parent.set_status(JobStatus.CANCELED)
    assert queue.move_dependents_to_ready(parent) == {}
    parent.set_status(JobStatus.FAILED)
    assert queue.move_dependents_to_ready(parent) == {'default': [tolerant.id]}
    parent.set_status(JobStatus.CANCELED)
    assert queue.move_dependents_to_ready(parent, exclude_job_id=parent.id) == {'default': [child.id]}


def test_move_without_refresh_judges_the_parent_by_its_status_in_memory(connection: redis.Redis, queue: Queue) -> None:
    parent = queue.enqueue(rqtest_jobs.say_hello)
    child = queue.enqueue(rqtest_jobs.add, 1, depends_on=parent)
    parent._status = JobStatus.CANCELED  # stored: queued
    assert queue.move_dependents_to_ready(parent, refresh_job_status=False) == {}
    assert queue.move_dependents_to_ready(parent) == {'default': [child.id]}


def test_move_on_the_callers_watched_transaction(connection: redis.Redis, queue: Queue) -> None:
    parent = queue.enqueue(rqtest_jobs.say_hello)
    child = queue.enqueue(rqtest_jobs.add, 1, depends_on=parent)
    with connection.pipeline() as pipe:
        pipe.watch(parent.dependents_key)
        moved = queue.move_dependents_to_ready(parent, pipeline=pipe, refresh_job_status=False)
        assert moved == {'default': [child.id]}
        assert pipe.explicit_transaction  # the move started the transaction, as rq 3.0's does
        assert status(connection, child) == 'deferred'
        parent.set_status(JobStatus.FINISHED, pipeline=pipe)
        pipe.execute()
    assert status(connection, child) == 'ready_to_enqueue'
    assert ready_ids(connection) == [child.id]
    queue.enqueue_ready_jobs_by_queue(moved)
    assert queued(connection) == [parent.id, child.id]


def test_move_on_a_transaction_fails_when_a_dependency_changes_before_it_runs(
    connection: redis.Redis, queue: Queue
) -> None:
    parent, other_parent = queue.enqueue(rqtest_jobs.say_hello), queue.enqueue(rqtest_jobs.say_hello)
    child = queue.enqueue(rqtest_jobs.add, 1, depends_on=[parent, other_parent])
    other_parent.set_status(JobStatus.FINISHED)
    with connection.pipeline() as pipe:
        pipe.watch(parent.dependents_key)
        assert queue.move_dependents_to_ready(parent, pipeline=pipe) == {'default': [child.id]}
        Job.fetch(other_parent.id, connection=connection).set_status(JobStatus.FAILED)  # another client
        with pytest.raises(WatchError):
            pipe.execute()
    assert status(connection, child) == 'deferred'


def test_move_refuses_a_pipeline_that_is_not_watching(connection: redis.Redis, queue: Queue) -> None:
    parent = queue.enqueue(rqtest_jobs.say_hello)
    queue.enqueue(rqtest_jobs.add, 1, depends_on=parent)
    with connection.pipeline() as pipe, pytest.raises(ValueError):
        queue.move_dependents_to_ready(parent, pipeline=pipe)


def test_a_move_with_no_dependents_leaves_the_transaction_to_the_caller(connection: redis.Redis, queue: Queue) -> None:
    parent = queue.enqueue(rqtest_jobs.say_hello)
    with connection.pipeline() as pipe:
        pipe.watch(parent.dependents_key)
        assert queue.move_dependents_to_ready(parent, pipeline=pipe) == {}
        assert not pipe.explicit_transaction
        pipe.multi()
        pipe.execute()


# -- what enqueue_dependents and cancel return --------------------------------------------------------


def test_enqueue_dependents_queues_at_once_and_says_what(connection: redis.Redis, queue: Queue) -> None:
    other = Queue('other', connection=connection)
    parent = queue.enqueue(rqtest_jobs.say_hello)
    here = queue.enqueue(rqtest_jobs.add, 1, depends_on=parent)
    there = other.enqueue(rqtest_jobs.add, 2, depends_on=parent)
    assert queue.enqueue_dependents(parent) == {}  # the parent is not finished
    finish(queue, parent)
    assert queue.enqueue_dependents(parent) == {'default': [here.id], 'other': [there.id]}
    assert queued(connection) == [here.id] and queued(connection, 'other') == [there.id]
    assert ready_ids(connection) == [] and ready_ids(connection, 'other') == []
    assert queue.enqueue_dependents(parent) == {}


def test_enqueue_dependents_exclude_job_id(connection: redis.Redis, queue: Queue) -> None:
    parent = queue.enqueue(rqtest_jobs.say_hello)
    child = queue.enqueue(rqtest_jobs.add, 1, depends_on=parent)
    assert queue.enqueue_dependents(parent, exclude_job_id=parent.id) == {'default': [child.id]}


def test_cancel_returns_the_dependents_it_queued(connection: redis.Redis, queue: Queue) -> None:
    parent = queue.enqueue(rqtest_jobs.say_hello)
    child = queue.enqueue(rqtest_jobs.add, 1, depends_on=parent)
    other_child = Queue('other', connection=connection).enqueue(rqtest_jobs.add, 2, depends_on=parent)
    assert parent.cancel(enqueue_dependents=True) == {'default': [child.id], 'other': [other_child.id]}
    assert queued(connection) == [child.id] and queued(connection, 'other') == [other_child.id]
    assert status(connection, parent) == 'canceled'


def test_cancel_without_dependents_returns_an_empty_mapping(connection: redis.Redis, queue: Queue) -> None:
    parent = queue.enqueue(rqtest_jobs.say_hello)
    child = queue.enqueue(rqtest_jobs.add, 1, depends_on=parent)
    assert parent.cancel() == {}
    assert status(connection, child) == 'deferred'


def test_cancel_with_a_pipeline_still_queues_the_dependents_at_once(connection: redis.Redis, queue: Queue) -> None:
    parent = queue.enqueue(rqtest_jobs.say_hello)
    child = queue.enqueue(rqtest_jobs.add, 1, depends_on=parent)
    with connection.pipeline() as pipe:
        assert parent.cancel(pipeline=pipe, enqueue_dependents=True) == {'default': [child.id]}
        pipe.execute()
    assert status(connection, parent) == 'canceled'
    assert queued(connection) == [child.id]
