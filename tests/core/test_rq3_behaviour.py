"""rq 3.0's module layout and behaviour changes, in rq-core: ``rq.callbacks``, ``rq.job_lifecycle``,
``rq.utils.missing_keys``, the group-cleaning lock, ``ExecutionRegistry.add(xx=)``; result streams
deleted with their jobs, ``get_job_ids(length=0)``, duplicate ids in ``enqueue_many``, the ``@job``
defaults and a returned ``Retry``'s ``enqueue_at_front``. Core only: no worker is imported here."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import rq
import rq.job
import rqtest_jobs
import rqtest_jobs_lifecycle
from rq import Callback, Queue, Retry
from rq._outcome import record_retry_by_return
from rq.callbacks import execute_failure_callback, execute_stopped_callback, execute_success_callback
from rq.decorators import job
from rq.executions import Execution, ExecutionRegistry
from rq.group import Group
from rq.job import Job, JobStatus
from rq.job_lifecycle import call_exception_handlers, format_exc_info, record_job_failure
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry
from rq.results import Result
from rq.timeouts import TimerDeathPenalty
from rq.utils import missing_keys
from rq.webhook import Webhook
from webhook_server import webhook_recorder


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    return Queue('default', connection=connection)


def _exc_info(message: str = 'boom') -> tuple[Any, Any, Any]:
    try:
        raise ValueError(message)
    except ValueError:
        return sys.exc_info()


def _add_result(connection: redis.Redis, enqueued: Job) -> None:
    Result.create(enqueued, Result.Type.SUCCESSFUL, 500, return_value=3)
    assert connection.exists(f'rq:results:{enqueued.id}')


# -- rq.callbacks ------------------------------------------------------------------------------------


def test_callback_class_is_one_class_under_every_name() -> None:
    assert rq.callbacks.Callback is rq.job.Callback is rq.Callback
    assert Callback.__module__ == 'rq.job'  # pickles load in rq 2.x processes too


def test_execute_success_callback_calls_it_with_the_result(connection: redis.Redis, queue: Queue) -> None:
    enqueued = queue.enqueue(rqtest_jobs.add, 1, on_success=Callback(rqtest_jobs.record_success))
    execute_success_callback(enqueued, TimerDeathPenalty, 42)
    assert connection.get(f'callback:success:{enqueued.id}') == b'42'


def test_execute_failure_callback_calls_it_with_the_exception(connection: redis.Redis, queue: Queue) -> None:
    enqueued = queue.enqueue(rqtest_jobs.add, 1, on_failure=Callback(rqtest_jobs.record_failure))
    execute_failure_callback(enqueued, TimerDeathPenalty, *_exc_info('bad input'))
    assert connection.get(f'callback:failure:{enqueued.id}') == b'ValueError: bad input'


def test_execute_stopped_callback(connection: redis.Redis, queue: Queue) -> None:
    enqueued = queue.enqueue(rqtest_jobs.add, 1, on_stopped=Callback(rqtest_jobs.record_stopped))
    execute_stopped_callback(enqueued, TimerDeathPenalty)
    assert connection.get(f'callback:stopped:{enqueued.id}') == b'stopped'


def test_no_callback_is_a_no_op(queue: Queue) -> None:
    enqueued = queue.enqueue(rqtest_jobs.add, 1)
    execute_success_callback(enqueued, TimerDeathPenalty, 1)
    execute_failure_callback(enqueued, TimerDeathPenalty, *_exc_info())
    execute_stopped_callback(enqueued, TimerDeathPenalty)


def test_coroutine_callbacks_are_refused(queue: Queue) -> None:
    enqueued = queue.enqueue(
        rqtest_jobs.add,
        1,
        on_success=Callback(rqtest_jobs.async_add),
        on_failure=Callback(rqtest_jobs.async_add),
        on_stopped=Callback(rqtest_jobs.async_add),
    )
    with pytest.raises(TypeError, match='Coroutine success callbacks are not supported'):
        execute_success_callback(enqueued, TimerDeathPenalty, 1)
    with pytest.raises(TypeError, match='Coroutine failure callbacks are not supported'):
        execute_failure_callback(enqueued, TimerDeathPenalty, *_exc_info())
    with pytest.raises(TypeError, match='Coroutine stopped callbacks are not supported'):
        execute_stopped_callback(enqueued, TimerDeathPenalty)


def test_a_failing_failure_callback_is_logged_and_raised(queue: Queue, caplog: pytest.LogCaptureFixture) -> None:
    enqueued = queue.enqueue(rqtest_jobs.add, 1, on_failure=Callback(rqtest_jobs.failing_callback))
    with caplog.at_level(logging.ERROR, logger='rq.job'), pytest.raises(RuntimeError, match='callback failed'):
        execute_failure_callback(enqueued, TimerDeathPenalty, *_exc_info())
    assert f'Job {enqueued.id}: error while executing failure callback' in caplog.text


def test_job_methods_delegate_to_rq_callbacks(connection: redis.Redis, queue: Queue) -> None:
    enqueued = queue.enqueue(
        rqtest_jobs.add, 1, on_success=Callback(rqtest_jobs.record_success), on_stopped=Callback(rqtest_jobs.async_add)
    )
    enqueued.execute_success_callback(TimerDeathPenalty, 'kept')
    assert connection.get(f'callback:success:{enqueued.id}') == b"'kept'"
    with pytest.raises(TypeError):
        enqueued.execute_stopped_callback(TimerDeathPenalty)


# -- rq.job_lifecycle --------------------------------------------------------------------------------


def test_call_exception_handlers_chain(queue: Queue) -> None:
    enqueued = queue.enqueue(rqtest_jobs.add, 1)
    calls: list[str] = []

    def falls_through(job: Job, *exc_info: Any) -> None:
        calls.append(f'through:{job.id}:{exc_info[0].__name__}')

    def stops(job: Job, *exc_info: Any) -> bool:
        calls.append('stops')
        return False

    def never(job: Job, *exc_info: Any) -> bool:
        calls.append('never')
        return True

    call_exception_handlers([falls_through, stops, never], enqueued, *_exc_info())
    assert calls == [f'through:{enqueued.id}:ValueError', 'stops']


def test_call_exception_handlers_lets_a_handler_error_through(queue: Queue) -> None:
    def broken(job: Job, *exc_info: Any) -> None:
        raise KeyError('handler')

    with pytest.raises(KeyError):
        call_exception_handlers([broken], queue.enqueue(rqtest_jobs.add, 1), *_exc_info())


def test_format_exc_info() -> None:
    text = format_exc_info(_exc_info('formatted'))
    assert text.startswith('Traceback (most recent call last):')
    assert text.rstrip().endswith('ValueError: formatted')


def test_record_job_failure(connection: redis.Redis, queue: Queue) -> None:
    enqueued = queue.enqueue(rqtest_jobs.add, 1, failure_ttl=300)
    with connection.pipeline() as pipe:
        record_job_failure(enqueued, 'Traceback: it broke', pipe)
        pipe.execute()
    assert enqueued.get_status(refresh=True) == JobStatus.FAILED
    assert enqueued.id in FailedJobRegistry(queue=queue)
    result = Result.fetch_latest(enqueued)
    assert result is not None
    assert result.type == Result.Type.FAILED
    assert result.exc_string == 'Traceback: it broke'
    assert result.worker_name == ''
    assert 0 < connection.ttl(f'rq:results:{enqueued.id}') <= 300


# -- rq.utils.missing_keys, groups, executions -------------------------------------------------------


def test_missing_keys(connection: redis.Redis) -> None:
    connection.set('present:1', 1)
    connection.set('present:2', 1)
    assert missing_keys(connection, []) == []
    assert missing_keys(connection, ['present:1', 'present:2']) == []
    assert missing_keys(connection, ['absent:1', 'present:1', 'absent:2', 'present:2']) == ['absent:1', 'absent:2']


def test_group_maintenance_lock(connection: redis.Redis) -> None:
    assert Group.REDIS_GROUP_CLEANING_KEY == 'rq:clean_groups'
    assert Group.acquire_maintenance_lock(connection, 30) is True
    assert 0 < connection.ttl('rq:clean_groups') <= 30
    assert Group.acquire_maintenance_lock(connection, 30) is False
    connection.delete('rq:clean_groups')
    assert Group.acquire_maintenance_lock(connection, 5) is True


def test_execution_registry_add_xx_only_updates(connection: redis.Redis) -> None:
    registry = ExecutionRegistry('job-1', connection=connection)
    known, unknown = Execution('known', 'job-1', connection), Execution('unknown', 'job-1', connection)
    with connection.pipeline() as pipe:
        registry.add(known, ttl=10, pipeline=pipe)
        pipe.execute()
    first_score = connection.zscore(registry.key, 'known')
    with connection.pipeline() as pipe:
        registry.add(unknown, ttl=1000, pipeline=pipe, xx=True)
        registry.add(known, ttl=1000, pipeline=pipe, xx=True)
        pipe.execute()
    assert connection.zrange(registry.key, 0, -1) == [b'known']
    assert first_score is not None
    assert connection.zscore(registry.key, 'known') == pytest.approx(first_score + 990, abs=2)


def test_execution_restore_and_hash(connection: redis.Redis) -> None:
    execution = Execution('e1', 'job-1', connection)
    execution.restore({b'created_at': b'1700000000', b'last_heartbeat': b'1700000100', b'worker_name': b'w1'})
    assert execution.created_at.timestamp() == 1700000000
    assert execution.last_heartbeat.timestamp() == 1700000100
    assert execution.worker_name == 'w1'
    assert execution.job_id == 'job-1'  # rq 2.x hashes have no job_id
    assert {execution, Execution('e1', 'job-1', connection)} == {execution}


# -- result streams go with their jobs ---------------------------------------------------------------


def test_job_delete_deletes_the_result_stream(connection: redis.Redis, queue: Queue) -> None:
    enqueued = queue.enqueue(rqtest_jobs.add, 1)
    _add_result(connection, enqueued)
    enqueued.delete()
    assert not connection.exists(f'rq:results:{enqueued.id}')
    assert not connection.exists(enqueued.key)


def test_registry_delete_job_deletes_the_result_stream(connection: redis.Redis, queue: Queue) -> None:
    enqueued = queue.enqueue(rqtest_jobs.add, 1)
    registry = FinishedJobRegistry(queue=queue)
    registry.add(enqueued, ttl=100)
    _add_result(connection, enqueued)
    registry.remove(enqueued, delete_job=True)
    assert not connection.exists(f'rq:results:{enqueued.id}')


def test_queue_empty_deletes_the_result_streams(connection: redis.Redis, queue: Queue) -> None:
    jobs = [queue.enqueue(rqtest_jobs.add, n) for n in range(3)]
    for enqueued in jobs:
        _add_result(connection, enqueued)
    other = Queue('other', connection=connection).enqueue(rqtest_jobs.add, 9)
    _add_result(connection, other)
    assert queue.empty() == 3
    for enqueued in jobs:
        assert not connection.exists(f'rq:results:{enqueued.id}', enqueued.key)
    assert connection.exists(f'rq:results:{other.id}')


# -- get_job_ids(length=0), enqueue_many duplicates --------------------------------------------------


def test_get_job_ids_length_zero_is_empty(queue: Queue) -> None:
    ids = [queue.enqueue(rqtest_jobs.add, n).id for n in range(3)]
    assert queue.get_job_ids(length=0) == []
    assert queue.get_job_ids(1, 0) == []
    assert queue.get_jobs(length=0) == []
    assert queue.get_job_ids(length=2) == ids[:2]
    assert queue.get_job_ids(1) == ids[1:]


def test_enqueue_many_refuses_duplicate_ids(connection: redis.Redis, queue: Queue) -> None:
    datas = [
        Queue.prepare_data(rqtest_jobs.add, (1,), job_id='same'),
        Queue.prepare_data(rqtest_jobs.add, (2,), job_id='other'),
        Queue.prepare_data(rqtest_jobs.add, (3,), job_id='same'),
    ]
    with pytest.raises(ValueError, match=re.escape("Job ID 'same' appears more than once in enqueue_many()")):
        queue.enqueue_many(iter(datas))
    assert connection.keys('rq:*') == []
    unnamed = queue.enqueue_many(Queue.prepare_data(rqtest_jobs.add, (n,)) for n in range(2))
    assert len({j.id for j in unnamed}) == 2


# -- @job defaults -----------------------------------------------------------------------------------


def test_decorator_writes_no_result_ttl_by_default(connection: redis.Redis) -> None:
    enqueued = job('default', connection=connection)(rqtest_jobs.add).delay(1)  # type: ignore[attr-defined]
    assert connection.hget(enqueued.key, 'result_ttl') is None
    assert Job.fetch(enqueued.id, connection=connection).result_ttl is None
    explicit = job('default', connection=connection, result_ttl=20)(rqtest_jobs.add).delay(1)  # type: ignore[attr-defined]
    assert connection.hget(explicit.key, 'result_ttl') == b'20'


def test_decorator_at_front_false_overrides_true(queue: Queue) -> None:
    add = job(queue, at_front=True)(rqtest_jobs.add)
    back = queue.enqueue(rqtest_jobs.add, 0)
    front = add.delay(1)  # type: ignore[attr-defined]
    last = add.delay(2, at_front=False)  # type: ignore[attr-defined]
    still_front = add.delay(3, at_front=None)  # type: ignore[attr-defined]
    assert queue.get_job_ids() == [still_front.id, front.id, back.id, last.id]


def test_decorator_falsy_depends_on_keeps_the_decorators(queue: Queue) -> None:
    parent = queue.enqueue(rqtest_jobs.say_hello)
    add = job(queue, depends_on=parent)(rqtest_jobs.add)
    assert add.delay(1, depends_on=None).dependency_ids == [parent.id]  # type: ignore[attr-defined]
    assert add.delay(1, depends_on=[]).dependency_ids == [parent.id]  # type: ignore[attr-defined]


# -- a returned Retry ------------------------------------------------------------------------------


def test_returned_retry_enqueue_at_front(connection: redis.Redis, queue: Queue) -> None:
    """What a worker records when the function returned ``Retry(..., enqueue_at_front=True)``."""
    enqueued = queue.enqueue(rqtest_jobs_lifecycle.return_kwargs)
    other = queue.enqueue(rqtest_jobs.add, 1)
    connection.lrem(queue.key, 1, enqueued.id)  # (as a worker's claim does)
    assert record_retry_by_return(enqueued, queue, Retry(max=2, enqueue_at_front=True)) is True
    assert queue.get_job_ids() == [enqueued.id, other.id]
    assert connection.hget(enqueued.key, 'enqueue_at_front_on_retry') == b'1'


def test_returned_retry_scheduled_keeps_at_front_for_when_it_is_due(connection: redis.Redis, queue: Queue) -> None:
    enqueued = queue.enqueue(rqtest_jobs_lifecycle.return_kwargs)
    connection.lrem(queue.key, 1, enqueued.id)
    assert record_retry_by_return(enqueued, queue, Retry(max=2, interval=60, enqueue_at_front=True)) is True
    assert enqueued.get_status(refresh=True) == JobStatus.SCHEDULED
    assert connection.hget(enqueued.key, 'enqueue_at_front_on_retry') == b'1'


# -- abandoned jobs (rq 3.0) ---------------------------------------------------------------------------


@pytest.fixture
def webhook_server() -> Iterator[Any]:
    with webhook_recorder() as server:
        yield server


def _abandon(connection: redis.Redis, enqueued: Job, status: str = 'started') -> None:
    """What a worker that died while running the job leaves: a started entry whose score is past."""
    connection.lrem('rq:queue:default', 0, enqueued.id)
    connection.hset(enqueued.key, mapping={'status': status, 'worker_name': 'dead'})
    connection.zadd('rq:wip:default', {f'{enqueued.id}:e1': 1})


def test_an_abandoned_job_gets_no_traceback_and_sends_failed_webhooks(
    connection: redis.Redis, queue: Queue, webhook_server: Any
) -> None:
    url = f'{webhook_server.url}/failed'
    enqueued = queue.enqueue(
        rqtest_jobs.add,
        1,
        on_failure=Callback(rqtest_jobs_lifecycle.record_failure_traceback),
        webhooks=[Webhook(url, 'failed', method='POST')],
    )
    _abandon(connection, enqueued)
    StartedJobRegistry(queue=queue).cleanup()
    assert enqueued.get_status() == JobStatus.FAILED
    assert connection.get(f'failure_tb:{enqueued.id}') == b'None'
    assert [(path, body['status']) for _, path, body in webhook_server.calls] == [('/failed', 'failed')]


def test_an_expired_entry_of_a_job_no_longer_started_is_only_dropped(connection: redis.Redis, queue: Queue) -> None:
    enqueued = queue.enqueue(rqtest_jobs.add, 1)
    _abandon(connection, enqueued, status='finished')
    StartedJobRegistry(queue=queue).cleanup()
    assert enqueued.get_status() == JobStatus.FINISHED
    assert connection.zcard('rq:wip:default') == 0
    assert not FailedJobRegistry(queue=queue).get_job_ids()
