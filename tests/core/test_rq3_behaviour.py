"""rq 3.0's module layout in rq-core: ``rq.callbacks``, ``rq.job_lifecycle``, ``rq.utils.missing_keys``,
the group-cleaning lock, ``ExecutionRegistry.add(xx=)``. Core only: no worker is imported here."""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest
import redis

import rq
import rq.job
import rqtest_jobs
from rq import Callback, Queue
from rq.callbacks import execute_failure_callback, execute_stopped_callback, execute_success_callback
from rq.executions import Execution, ExecutionRegistry
from rq.group import Group
from rq.job import Job, JobStatus
from rq.job_lifecycle import call_exception_handlers, format_exc_info, record_job_failure
from rq.registry import FailedJobRegistry
from rq.results import Result
from rq.timeouts import TimerDeathPenalty
from rq.utils import missing_keys


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    return Queue('default', connection=connection)


def _exc_info(message: str = 'boom') -> tuple[Any, Any, Any]:
    try:
        raise ValueError(message)
    except ValueError:
        return sys.exc_info()


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
