"""The ``@job`` decorator: ``f.delay(...)`` and ``f.enqueue(...)``."""

from __future__ import annotations

import time

import pytest
import redis

import rqtest_jobs
import rqtest_jobs_lifecycle
from rq import Callback, Queue, Retry
from rq.decorators import job
from rq.job import Dependency, Job, JobStatus
from ttl_checks import assert_ttl


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    return Queue('default', connection=connection)


def test_delay_enqueues(connection: redis.Redis) -> None:
    add = job('default', connection=connection)(rqtest_jobs.add)
    enqueued = add.delay(3, b=4)  # type: ignore[attr-defined]
    assert isinstance(enqueued, Job)
    assert enqueued.get_status() == JobStatus.QUEUED
    assert enqueued.func_name == 'rqtest_jobs.add'
    assert enqueued.args == (3,)
    assert Job.fetch(enqueued.id, connection=connection).args == (3,)
    assert enqueued.kwargs == {'b': 4}
    assert enqueued.origin == 'default'
    assert Queue('default', connection=connection).get_job_ids() == [enqueued.id]


def test_enqueue_is_an_alias_of_delay(connection: redis.Redis) -> None:
    add = job('low', connection=connection)(rqtest_jobs.add)
    enqueued = add.enqueue(1)  # type: ignore[attr-defined]
    assert Queue('low', connection=connection).get_job_ids() == [enqueued.id]


def test_decorated_function_still_callable(connection: redis.Redis) -> None:
    add = job('default', connection=connection)(rqtest_jobs.add)
    assert add(1, 2) == 3
    assert add is rqtest_jobs.add
    assert connection.keys('rq:*') == []


def test_result_ttl_not_written_by_default(connection: redis.Redis) -> None:
    """RQ 3.0: the decorator's result_ttl defaults to None, so the worker's default applies."""
    add = job('default', connection=connection)(rqtest_jobs.add)
    enqueued = add.delay(1)  # type: ignore[attr-defined]
    assert connection.hget(enqueued.key, 'result_ttl') is None
    assert Job.fetch(enqueued.id, connection=connection).result_ttl is None


def test_options(connection: redis.Redis) -> None:
    decorator = job(
        'default',
        connection=connection,
        timeout='5m',
        result_ttl=20,
        ttl=30,
        failure_ttl=40,
        description='my description',
        meta={'owner': 'me'},
        retry=Retry(max=2, interval=[1, 2]),
        on_success=Callback(rqtest_jobs.record_success),
        on_failure=Callback(rqtest_jobs.record_failure),
        on_stopped=Callback(rqtest_jobs.record_stopped),
    )
    since = time.time()
    enqueued = decorator(rqtest_jobs.add).delay(1)  # type: ignore[attr-defined]
    stored = Job.fetch(enqueued.id, connection=connection)
    assert stored.timeout == 300
    assert stored.result_ttl == 20
    assert stored.ttl == 30
    assert stored.failure_ttl == 40
    assert stored.description == 'my description'
    assert stored.meta == {'owner': 'me'}
    assert stored.retries_left == 2
    assert stored.retry_intervals == [1, 2]
    assert stored.success_callback is rqtest_jobs.record_success
    assert stored.failure_callback is rqtest_jobs.record_failure
    assert stored.stopped_callback is rqtest_jobs.record_stopped
    assert_ttl(connection, enqueued.key, 30, since)


def test_default_timeout_from_queue(connection: redis.Redis) -> None:
    queue = Queue('default', connection=connection, default_timeout=77)
    enqueued = job(queue)(rqtest_jobs.add).delay(1)  # type: ignore[attr-defined]
    assert Job.fetch(enqueued.id, connection=connection).timeout == 77


def test_queue_object(connection: redis.Redis) -> None:
    queue = Queue('objects', connection=connection)
    enqueued = job(queue)(rqtest_jobs.add).delay(1)  # type: ignore[attr-defined]
    assert queue.get_job_ids() == [enqueued.id]
    assert enqueued.origin == 'objects'


def test_sync_queue_object_runs_the_job(connection: redis.Redis) -> None:
    queue = Queue('default', connection=connection, is_async=False)
    enqueued = job(queue)(rqtest_jobs.add).delay(2, b=2)  # type: ignore[attr-defined]
    assert enqueued.get_status() == JobStatus.FINISHED
    assert enqueued.return_value() == 4


def test_queue_name_needs_a_connection() -> None:
    with pytest.raises(TypeError):
        job('default')(rqtest_jobs.add).delay(1)  # type: ignore[attr-defined]


def test_queue_class(connection: redis.Redis) -> None:
    class MyQueue(Queue):
        pass

    enqueued = job('custom', connection=connection, queue_class=MyQueue)(rqtest_jobs.add).delay(1)  # type: ignore[attr-defined]
    assert MyQueue('custom', connection=connection).get_job_ids() == [enqueued.id]


def test_job_id_at_call_time(connection: redis.Redis) -> None:
    add = job('default', connection=connection)(rqtest_jobs.add)
    enqueued = add.delay(1, job_id='my-id')  # type: ignore[attr-defined]
    assert enqueued.id == 'my-id'
    assert enqueued.kwargs == {}
    assert Job.exists('my-id', connection)


def test_at_front_at_call_time(queue: Queue) -> None:
    add = job(queue)(rqtest_jobs.add)
    first = add.delay(1)  # type: ignore[attr-defined]
    front = add.delay(2, at_front=True)  # type: ignore[attr-defined]
    assert queue.get_job_ids() == [front.id, first.id]
    assert front.kwargs == {}


def test_at_front_in_decorator(queue: Queue) -> None:
    first = queue.enqueue(rqtest_jobs.add, 1)
    front = job(queue, at_front=True)(rqtest_jobs.add).delay(2)  # type: ignore[attr-defined]
    assert queue.get_job_ids() == [front.id, first.id]


def test_depends_on_at_call_time(queue: Queue) -> None:
    parent = queue.enqueue(rqtest_jobs.say_hello)
    add = job(queue)(rqtest_jobs.add)
    child = add.delay(1, depends_on=parent)  # type: ignore[attr-defined]
    assert child.get_status() == JobStatus.DEFERRED
    assert child.dependency_ids == [parent.id]
    assert child.kwargs == {}


def test_depends_on_in_decorator_and_override(queue: Queue) -> None:
    first = queue.enqueue(rqtest_jobs.say_hello, job_id='first')
    second = queue.enqueue(rqtest_jobs.say_hello, job_id='second')
    add = job(queue, depends_on=first)(rqtest_jobs.add)
    default_child = add.delay(1)  # type: ignore[attr-defined]
    assert default_child.dependency_ids == [first.id]
    overridden = add.delay(2, depends_on=Dependency(second, allow_failure=True))  # type: ignore[attr-defined]
    assert overridden.dependency_ids == [second.id]
    assert queue.connection.hget(overridden.key, 'allow_dependency_failures') == b'1'


def test_other_kwargs_reach_the_function(connection: redis.Redis) -> None:
    queue = Queue('default', connection=connection, is_async=False)
    function = job(queue)(rqtest_jobs_lifecycle.return_kwargs)
    enqueued = function.delay(timeout=5, ttl=7, description='to the function', result_ttl=3)  # type: ignore[attr-defined]
    assert enqueued.return_value() == {'timeout': 5, 'ttl': 7, 'description': 'to the function', 'result_ttl': 3}
    # the decorator's own options are unaffected
    assert enqueued.result_ttl is None
    assert enqueued.ttl is None


def test_positional_args(connection: redis.Redis) -> None:
    queue = Queue('default', connection=connection, is_async=False)
    echo = job(queue)(rqtest_jobs.echo)
    assert echo.delay(1, 'two', [3]).return_value() == [[1, 'two', [3]], {}]  # type: ignore[attr-defined]


def test_decorator_rejects_bad_queue(connection: redis.Redis) -> None:
    with pytest.raises(TypeError):
        job(42, connection=connection)  # type: ignore[arg-type]
