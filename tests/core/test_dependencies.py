"""Job dependencies: deferral at enqueue time and release of the dependents when parents end."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import redis

from rq import Queue, Repeat
from rq._outcome import record_failure, record_success
from rq._redis import scripts
from rq.exceptions import InvalidJobDependency, NoSuchJobError
from rq.job import Dependency, Job, JobStatus
from rq.registry import DeferredJobRegistry
from rq.utils import current_timestamp
from rqtest_jobs import add, div_by_zero, say_hello
from ttl_checks import assert_ttl


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    return Queue('default', connection=connection)


def members(connection: redis.Redis, key: str) -> set[str]:
    return {m.decode() for m in connection.smembers(key)}


def succeed(queue: Queue, job: Job, value: object = 'ok') -> None:
    """Record a successful run of ``job`` the way a worker does."""
    queue.remove(job)
    record_success(job, queue, value, worker_name='w1')


def fail(queue: Queue, job: Job) -> None:
    queue.remove(job)
    record_failure(job, queue, 'Traceback: boom', worker_name='w1')


def run_sync(job: Job) -> Job:
    """Run a queued job in this process, through a synchronous queue of the same name."""
    Queue(job.origin, connection=job.connection).remove(job)
    return Queue(job.origin, connection=job.connection, is_async=False).run_sync(job)


# -- deferral at enqueue time ------------------------------------------------------------


def test_depends_on_job_defers(queue: Queue) -> None:
    connection = queue.connection
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)

    assert child.get_status() == JobStatus.DEFERRED
    assert child.get_status(refresh=False) == JobStatus.DEFERRED
    assert queue.get_job_ids() == [parent.id]
    assert child in DeferredJobRegistry(queue=queue)
    score = connection.zscore('rq:deferred:default', child.id)
    assert current_timestamp() - 5 <= score <= current_timestamp()
    assert members(connection, f'rq:job:{parent.id}:dependents') == {child.id}
    assert members(connection, f'rq:job::{child.id}:dependencies') == {parent.id}
    assert connection.hget(child.key, 'dependency_id') == parent.id.encode()
    assert connection.hget(child.key, 'dependency_ids') == f'["{parent.id}"]'.encode()
    # a deferred job has not been enqueued yet
    assert connection.hget(child.key, 'enqueued_at') is None


def test_depends_on_id(queue: Queue) -> None:
    parent = queue.enqueue(say_hello, job_id='parent')
    child = queue.enqueue(add, 1, depends_on='parent')
    assert child.get_status() == JobStatus.DEFERRED
    assert child.dependency_ids == ['parent']
    assert parent.dependent_ids == [child.id]


def test_depends_on_mixed_list(queue: Queue) -> None:
    connection = queue.connection
    a = queue.enqueue(say_hello, job_id='a')
    queue.enqueue(say_hello, job_id='b')
    queue.enqueue(say_hello, job_id='c')
    queue.enqueue(say_hello, job_id='d')
    child = queue.enqueue(add, 1, depends_on=[a, 'b', Dependency(jobs=['c', 'd'])])
    assert child.get_status() == JobStatus.DEFERRED
    assert child.dependency_ids == ['a', 'b', 'c', 'd']
    for parent_id in 'abcd':
        assert members(connection, f'rq:job:{parent_id}:dependents') == {child.id}
    assert Job.fetch(child.id, connection=connection)._dependency_ids == ['a', 'b', 'c', 'd']
    # a Dependency object in the list writes both flags (as False here)
    assert connection.hget(child.key, 'allow_dependency_failures') == b'0'
    assert connection.hget(child.key, 'enqueue_at_front') == b'0'


def test_plain_depends_on_writes_no_flags(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    assert queue.connection.hget(child.key, 'allow_dependency_failures') is None
    assert queue.connection.hget(child.key, 'enqueue_at_front') is None


def test_dependency_flags_are_or_ed(queue: Queue) -> None:
    queue.enqueue(say_hello, job_id='a')
    queue.enqueue(say_hello, job_id='b')
    child = queue.enqueue(
        add, 1, depends_on=[Dependency('a', allow_failure=True), Dependency('b', enqueue_at_front=True)]
    )
    assert queue.connection.hget(child.key, 'allow_dependency_failures') == b'1'
    assert queue.connection.hget(child.key, 'enqueue_at_front') == b'1'


def test_invalid_dependencies(queue: Queue) -> None:
    with pytest.raises(ValueError):
        Dependency(jobs=[])
    with pytest.raises((ValueError, InvalidJobDependency)):
        queue.enqueue(add, 1, depends_on=[42])
    with pytest.raises(InvalidJobDependency):
        queue.enqueue(add, 1, job_id='self', depends_on='self')
    assert queue.count == 0


def test_missing_dependency_is_ignored(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=[parent, 'missing'])
    assert child.get_status() == JobStatus.DEFERRED
    succeed(queue, parent)
    assert child.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [child.id]


def test_all_dependencies_missing_queues_immediately(queue: Queue) -> None:
    child = queue.enqueue(add, 1, depends_on=['missing', 'also-missing'])
    assert child.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [child.id]
    assert child not in DeferredJobRegistry(queue=queue)
    assert queue.connection.hget(child.key, 'enqueued_at')


def test_finished_parent_queues_child_immediately(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    succeed(queue, parent)
    child = queue.enqueue(add, 1, depends_on=parent)
    assert child.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [child.id]
    assert child not in DeferredJobRegistry(queue=queue)


def test_parent_finished_by_sync_queue(queue: Queue) -> None:
    parent = Queue('default', connection=queue.connection, is_async=False).enqueue(say_hello)
    assert parent.get_status() == JobStatus.FINISHED
    child = queue.enqueue(add, 1, depends_on=parent)
    assert child.get_status() == JobStatus.QUEUED


def test_deferred_job_with_ttl_expires_its_dependencies_set(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    since = time.time()
    child = queue.enqueue(add, 1, depends_on=parent, ttl=60)
    assert_ttl(queue.connection, child.key, 60, since)
    assert_ttl(queue.connection, child.dependencies_key, 60, since)


# -- release when parents end ---------------------------------------------------------


def test_child_released_after_parent_succeeds(queue: Queue) -> None:
    connection = queue.connection
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    succeed(queue, parent)

    assert child.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [child.id]
    assert child not in DeferredJobRegistry(queue=queue)
    assert connection.hget(child.key, 'enqueued_at')
    assert Job.fetch(child.id, connection=connection).enqueued_at is not None
    assert not connection.exists(parent.dependents_key)


def test_child_released_after_sync_run_of_parent(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    run_sync(parent)
    assert parent.get_status() == JobStatus.FINISHED
    assert child.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [child.id]


def test_parent_with_result_ttl_zero_releases_its_child(queue: Queue) -> None:
    """result_ttl=0 deletes the parent, but only after its dependents were released."""
    connection = queue.connection
    parent = queue.enqueue(say_hello, result_ttl=0)
    child = queue.enqueue(add, 1, depends_on=parent)
    other = queue.enqueue(say_hello)
    waiting = queue.enqueue(add, 2, depends_on=[parent, other])
    succeed(queue, parent)
    assert not connection.exists(parent.key)
    assert not connection.exists(parent.dependents_key)
    assert child.get_status() == JobStatus.QUEUED
    assert waiting.get_status() == JobStatus.DEFERRED
    # the deleted parent counts as met when the other one finishes
    succeed(queue, other)
    assert waiting.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [child.id, waiting.id]


def test_parent_with_failure_ttl_zero_releases_allow_failure_child(queue: Queue) -> None:
    connection = queue.connection
    parent = queue.enqueue(div_by_zero, failure_ttl=0)
    child = queue.enqueue(add, 1, depends_on=Dependency(parent, allow_failure=True))
    fail(queue, parent)
    assert not connection.exists(parent.key)
    assert not connection.exists(f'rq:results:{parent.id}')
    assert parent.id.encode() not in connection.zrange('rq:failed:default', 0, -1)
    assert child.get_status() == JobStatus.QUEUED


def test_repeating_parent_releases_its_child_on_success(queue: Queue) -> None:
    parent = queue.enqueue(say_hello, repeat=Repeat(times=2))
    child = queue.enqueue(add, 1, depends_on=parent)
    succeed(queue, parent)
    # the parent goes back on the queue for its next run; the child is released all the same
    assert parent.get_status() == JobStatus.QUEUED
    assert child.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [child.id, parent.id]


def test_release_is_part_of_the_outcome_transaction(queue: Queue) -> None:
    """The dependents are queued in the same MULTI/EXEC as the parent's new status: the commands
    of a successful outcome include the release script."""
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    queue.remove(parent)
    seen: list[int] = []
    release_source = scripts.source('release_dependents')

    def inspect(pipe: redis.client.Pipeline) -> None:
        seen.append(sum(1 for args, _ in pipe.command_stack if args[0] == 'EVAL' and args[1] == release_source))

    record_success(parent, queue, 'ok', worker_name='w1', extra=inspect)
    assert seen == [1]
    assert child.get_status() == JobStatus.QUEUED


def test_child_released_into_its_own_queue(connection: redis.Redis) -> None:
    parents = Queue('parents', connection=connection)
    children = Queue('children', connection=connection)
    parent = parents.enqueue(say_hello)
    child = children.enqueue(add, 1, depends_on=parent)
    assert child in DeferredJobRegistry(queue=children)
    succeed(parents, parent)
    assert children.get_job_ids() == [child.id]
    assert parents.count == 0
    assert child not in DeferredJobRegistry(queue=children)
    assert b'rq:queue:children' in connection.smembers('rq:queues')


def test_child_released_at_front_when_stored_flag_is_set(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=Dependency(parent, enqueue_at_front=True))
    waiting = queue.enqueue(add, 2)
    succeed(queue, parent)
    assert queue.get_job_ids() == [child.id, waiting.id]


def test_at_front_with_plain_depends_on_is_not_kept(queue: Queue) -> None:
    """As in RQ 2.x: ``at_front=True`` together with ``depends_on`` is not stored on the job."""
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent, at_front=True)
    waiting = queue.enqueue(add, 2)
    succeed(queue, parent)
    assert queue.get_job_ids() == [waiting.id, child.id]


def test_multiple_parents_release_after_the_last(queue: Queue) -> None:
    p1 = queue.enqueue(say_hello)
    p2 = queue.enqueue(say_hello)
    p3 = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=[p1, p2, p3])
    succeed(queue, p2)
    assert child.get_status() == JobStatus.DEFERRED
    succeed(queue, p1)
    assert child.get_status() == JobStatus.DEFERRED
    assert queue.get_job_ids() == [p3.id]
    succeed(queue, p3)
    assert child.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [child.id]


def test_one_parent_many_children(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    other = queue.enqueue(say_hello)
    children = [queue.enqueue(add, i, depends_on=parent) for i in range(5)]
    blocked = queue.enqueue(add, 9, depends_on=[parent, other])
    succeed(queue, parent)
    assert sorted(queue.get_job_ids()) == sorted([other.id] + [c.id for c in children])
    assert blocked.get_status() == JobStatus.DEFERRED
    # the blocked child still waits on both
    assert parent.dependent_ids == [blocked.id]
    succeed(queue, other)
    assert blocked.get_status() == JobStatus.QUEUED


def test_chain_releases_one_level_at_a_time(queue: Queue) -> None:
    a = queue.enqueue(say_hello)
    b = queue.enqueue(add, 1, depends_on=a)
    c = queue.enqueue(add, 2, depends_on=b)
    succeed(queue, a)
    assert b.get_status() == JobStatus.QUEUED
    assert c.get_status() == JobStatus.DEFERRED
    succeed(queue, b)
    assert c.get_status() == JobStatus.QUEUED


def test_allow_failure_released_when_parent_fails(queue: Queue) -> None:
    parent = queue.enqueue(div_by_zero)
    child = queue.enqueue(add, 1, depends_on=Dependency(parent, allow_failure=True))
    fail(queue, parent)
    assert parent.get_status() == JobStatus.FAILED
    assert child.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [child.id]


def test_allow_failure_released_after_sync_failure(queue: Queue) -> None:
    parent = queue.enqueue(div_by_zero)
    child = queue.enqueue(add, 1, depends_on=Dependency(parent, allow_failure=True))
    run_sync(parent)
    assert parent.get_status() == JobStatus.FAILED
    assert child.get_status() == JobStatus.QUEUED


def test_allow_failure_also_accepts_success(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=Dependency(parent, allow_failure=True))
    succeed(queue, parent)
    assert child.get_status() == JobStatus.QUEUED


def test_allow_failure_with_already_failed_parent_queues_at_enqueue(queue: Queue) -> None:
    """The project follows the docs: a failed parent is a met dependency for allow_failure (RQ 2.12
    leaves the child deferred forever)."""
    parent = queue.enqueue(div_by_zero)
    fail(queue, parent)
    child = queue.enqueue(add, 1, depends_on=Dependency(parent, allow_failure=True))
    assert child.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [child.id]
    assert child not in DeferredJobRegistry(queue=queue)


def test_failed_parent_without_allow_failure_keeps_child_deferred(queue: Queue) -> None:
    parent = queue.enqueue(div_by_zero)
    child = queue.enqueue(add, 1, depends_on=parent)
    fail(queue, parent)
    assert child.get_status() == JobStatus.DEFERRED
    assert child in DeferredJobRegistry(queue=queue)
    assert queue.count == 0
    # and a child enqueued after the failure is deferred as well
    late = queue.enqueue(add, 2, depends_on=parent)
    assert late.get_status() == JobStatus.DEFERRED


def test_mixed_parents_with_allow_failure(queue: Queue) -> None:
    ok = queue.enqueue(say_hello)
    bad = queue.enqueue(div_by_zero)
    child = queue.enqueue(add, 1, depends_on=Dependency([ok, bad], allow_failure=True))
    fail(queue, bad)
    assert child.get_status() == JobStatus.DEFERRED
    succeed(queue, ok)
    assert child.get_status() == JobStatus.QUEUED


def test_canceled_parent_never_releases(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=Dependency(parent, allow_failure=True))
    parent.cancel()
    assert child.get_status() == JobStatus.DEFERRED
    queue.enqueue_dependents(parent)
    assert child.get_status() == JobStatus.DEFERRED
    late = queue.enqueue(add, 2, depends_on=Dependency(parent, allow_failure=True))
    assert late.get_status() == JobStatus.DEFERRED
    assert queue.count == 0


def test_stopped_parent_never_releases(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=Dependency(parent, allow_failure=True))
    queue.remove(parent)
    record_failure(parent, queue, 'stopped', worker_name='w1', stopped=True)
    assert parent.get_status() == JobStatus.STOPPED
    assert child.get_status() == JobStatus.DEFERRED
    queue.enqueue_dependents(parent)
    assert child.get_status() == JobStatus.DEFERRED
    assert queue.count == 0


def test_canceled_child_is_not_released(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    child.cancel()
    succeed(queue, parent)
    assert child.get_status() == JobStatus.CANCELED
    assert queue.count == 0


def test_deleted_child_is_skipped(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    gone = queue.enqueue(add, 1, depends_on=parent)
    kept = queue.enqueue(add, 2, depends_on=parent)
    queue.connection.delete(gone.key)
    succeed(queue, parent)
    assert queue.get_job_ids() == [kept.id]
    assert not queue.connection.exists(parent.dependents_key)


def test_released_child_keeps_its_ttl(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent, ttl=100)
    succeed(queue, parent)
    assert child.get_status() == JobStatus.QUEUED
    assert 0 < queue.connection.ttl(child.key) <= 100


# -- the Job and Queue API -----------------------------------------------------------


def test_dependency_property(queue: Queue) -> None:
    parent = queue.enqueue(say_hello, job_id='parent')
    queue.enqueue(say_hello, job_id='second')
    child = queue.enqueue(add, 1, depends_on=['parent', 'second'])
    fetched = Job.fetch(child.id, connection=queue.connection)
    dependency = fetched.dependency
    assert dependency is not None
    assert dependency.id == parent.id
    assert dependency.func_name == 'rqtest_jobs.say_hello'
    assert fetched.dependency is dependency  # cached
    assert queue.enqueue(add, 2).dependency is None


def test_dependency_property_of_missing_parent(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    queue.connection.delete(parent.key)
    with pytest.raises(NoSuchJobError):
        Job.fetch(child.id, connection=queue.connection).dependency  # noqa: B018


def test_dependent_and_dependency_ids(queue: Queue) -> None:
    p1 = queue.enqueue(say_hello, job_id='p1')
    p2 = queue.enqueue(say_hello, job_id='p2')
    c1 = queue.enqueue(add, 1, job_id='c1', depends_on=[p1, p2])
    c2 = queue.enqueue(add, 2, job_id='c2', depends_on=p1)
    assert p1.dependent_ids == ['c1', 'c2']
    assert p2.dependent_ids == ['c1']
    assert c1.dependency_ids == ['p1', 'p2']
    assert c2.dependency_ids == ['p1']
    assert c2.dependent_ids == []
    assert p1.dependency_ids == []


def test_fetch_dependencies(queue: Queue) -> None:
    p1 = queue.enqueue(say_hello, job_id='p1')
    queue.enqueue(say_hello, job_id='p2')
    child = queue.enqueue(add, 1, depends_on=['p1', 'p2', 'missing'])
    queue.connection.delete('rq:job:p2')
    fetched = Job.fetch(child.id, connection=queue.connection).fetch_dependencies()
    assert [job.id for job in fetched] == [p1.id]
    assert fetched[0].get_status(refresh=False) == JobStatus.QUEUED
    assert queue.enqueue(add, 2).fetch_dependencies() == []


def test_fetch_dependencies_with_watch(queue: Queue) -> None:
    queue.enqueue(say_hello, job_id='p1')
    child = queue.enqueue(add, 1, depends_on='p1')
    with queue.connection.pipeline() as pipe:
        fetched = child.fetch_dependencies(watch=True, pipeline=pipe)
        assert [job.id for job in fetched] == ['p1']
        pipe.multi()
        pipe.set('x', 1)
        # the dependency changed after WATCH: the transaction is refused
        queue.connection.hset('rq:job:p1', 'status', 'finished')
        with pytest.raises(redis.WatchError):
            pipe.execute()


def test_dependencies_are_met(queue: Queue) -> None:
    p1 = queue.enqueue(say_hello)
    p2 = queue.enqueue(div_by_zero)
    child = queue.enqueue(add, 1, depends_on=[p1, p2])
    assert not child.dependencies_are_met()
    succeed(queue, p1)
    assert not child.dependencies_are_met()
    fail(queue, p2)
    assert not child.dependencies_are_met()
    queue.connection.hset(child.key, 'allow_dependency_failures', '1')
    child.refresh()
    assert child.dependencies_are_met()
    # a job without dependencies, and one whose dependencies are gone
    assert queue.enqueue(add, 2).dependencies_are_met()
    assert queue.enqueue(add, 3, depends_on='missing').dependencies_are_met()


def test_dependencies_are_met_with_parent_job(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    assert not child.dependencies_are_met(parent_job=parent)
    canceled = queue.enqueue(say_hello)
    child2 = queue.enqueue(add, 1, depends_on=Dependency(canceled, allow_failure=True))
    canceled.cancel()
    assert not child2.dependencies_are_met(parent_job=canceled)


def test_dependencies_are_met_refreshes_parent_status(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    stale_parent = Job.fetch(parent.id, connection=queue.connection)
    succeed(queue, parent)
    assert stale_parent.get_status(refresh=False) == JobStatus.QUEUED
    # by default the parent's status is read again from Redis, as in RQ
    assert child.dependencies_are_met(parent_job=stale_parent)


def test_dependencies_are_met_without_refresh_uses_parent_in_memory(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    stale_parent = Job.fetch(parent.id, connection=queue.connection)
    succeed(queue, parent)
    assert not child.dependencies_are_met(parent_job=stale_parent, refresh_job_status=False)


def test_dependencies_are_met_exclude_job_id(queue: Queue) -> None:
    p1 = queue.enqueue(say_hello)
    p2 = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=[p1, p2])
    succeed(queue, p1)
    assert not child.dependencies_are_met()
    assert child.dependencies_are_met(exclude_job_id=p2.id)
    assert not child.dependencies_are_met(exclude_job_id=p1.id)


def test_queue_enqueue_dependents(queue: Queue) -> None:
    parent = queue.enqueue(say_hello)
    child = queue.enqueue(add, 1, depends_on=parent)
    queue.enqueue_dependents(parent)
    assert child.get_status() == JobStatus.DEFERRED
    queue.remove(parent)
    parent.set_status(JobStatus.FINISHED)
    assert child.get_status() == JobStatus.DEFERRED
    queue.enqueue_dependents(parent)
    assert child.get_status() == JobStatus.QUEUED
    assert queue.get_job_ids() == [child.id]
    # a second call has nothing left to do
    queue.enqueue_dependents(parent)
    assert queue.get_job_ids() == [child.id]


def test_enqueue_dependents_from_another_queue_object(connection: redis.Redis) -> None:
    parents = Queue('parents', connection=connection)
    children = Queue('children', connection=connection)
    parent = parents.enqueue(say_hello)
    child = children.enqueue(add, 1, depends_on=parent)
    parent.set_status(JobStatus.FINISHED)
    Queue('unrelated', connection=connection).enqueue_dependents(parent)
    assert children.get_job_ids() == [child.id]
    assert Queue('unrelated', connection=connection).count == 0


# -- concurrency ------------------------------------------------------------------------


def race(*actions: Callable[[], object]) -> None:
    """Run the actions in threads, released together by a barrier; re-raise the first error."""
    barrier = threading.Barrier(len(actions))
    errors: list[BaseException] = []

    def run(action: Callable[[], object]) -> None:
        try:
            barrier.wait()
            action()
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def finisher(port: int, job_id: str) -> Callable[[], None]:
    """Record the success of ``job_id`` over a connection of its own."""
    connection = redis.Redis(port=port)
    job = Job.fetch(job_id, connection=connection)
    queue = Queue('default', connection=connection)
    return lambda: record_success(job, queue, 'done', worker_name='w')


def test_concurrent_parents_release_the_child_exactly_once(queue: Queue) -> None:
    """Two parents finishing at the same moment in two threads: the child is queued once, never
    twice and never lost."""
    port = queue.connection.connection_pool.connection_kwargs['port']
    for _ in range(25):
        queue.connection.flushdb()
        p1 = queue.enqueue(say_hello)
        p2 = queue.enqueue(say_hello)
        child = queue.enqueue(add, 1, depends_on=[p1, p2])
        race(finisher(port, p1.id), finisher(port, p2.id))
        ids = queue.connection.lrange('rq:queue:default', 0, -1)
        assert ids.count(child.id.encode()) == 1
        assert child.get_status() == JobStatus.QUEUED
        assert child not in DeferredJobRegistry(queue=queue)


def test_concurrent_parent_finish_and_child_enqueue(queue: Queue) -> None:
    """A child enqueued while its parent finishes is either deferred and then released, or queued
    directly: never left deferred behind a finished parent."""
    port = queue.connection.connection_pool.connection_kwargs['port']
    for _ in range(25):
        queue.connection.flushdb()
        parent = queue.enqueue(say_hello)
        child_queue = Queue('default', connection=redis.Redis(port=port))
        children: list[Job] = []
        race(
            finisher(port, parent.id),
            lambda: children.append(child_queue.enqueue(add, 1, depends_on=parent.id)),  # noqa: B023
        )
        child = children[0]
        assert child.get_status() == JobStatus.QUEUED
        assert queue.connection.lrange('rq:queue:default', 0, -1).count(child.id.encode()) == 1


@pytest.mark.parametrize('loaded', [[], ['release_dependents'], ['hset_if_exists']])
def test_a_finished_parent_releases_its_dependent_whatever_scripts_the_server_knows(
    connection: redis.Redis, loaded: list[str]
) -> None:
    """The success transaction marks the parent finished, then releases its dependents: the second
    step must see the first even when the server had lost some of the scripts (a restart, SCRIPT
    FLUSH) and had since loaded others again."""
    queue = Queue(connection=connection)
    parent = queue.enqueue(add, 1)
    child = queue.enqueue(add, 2, depends_on=parent)
    connection.script_flush()
    for name in loaded:
        connection.script_load(scripts.source(name))

    record_success(parent, queue, 2, worker_name='w')

    assert parent.get_status() == JobStatus.FINISHED
    assert child.get_status() == JobStatus.QUEUED
    assert child.id in queue.job_ids
