"""Callbacks, exception handlers, work_horse_killed_handler, dependents and webhooks under the workers."""

from __future__ import annotations

import base64
import signal
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import rqtest_jobs
import rqtest_jobs_lifecycle
import rqtest_jobs_worker
from rq import Callback, Queue, Retry, Webhook
from rq.command import handle_stop_job_command, send_stop_job_command
from rq.job import Dependency, JobStatus
from rq.worker import SimpleWorker, SpawnWorker, Worker
from webhook_server import webhook_recorder
from worker_process import wait_until

WORKER_CLASSES = [Worker, SimpleWorker, SpawnWorker]


@pytest.fixture(params=WORKER_CLASSES, ids=lambda cls: cls.__name__)
def worker_class(request: pytest.FixtureRequest) -> type[Worker]:
    return request.param  # type: ignore[no-any-return]


def run_burst(worker_class: type[Any], queue: Queue, max_jobs: int | None = None, **kwargs: Any) -> Any:
    worker = worker_class([queue], job_monitoring_interval=1, **kwargs)
    worker.work(burst=True, max_jobs=max_jobs)
    return worker


def status(connection: redis.Redis, job_id: str) -> str | None:
    value = connection.hget(f'rq:job:{job_id}', 'status')
    return None if value is None else value.decode()


def entries(connection: redis.Redis, job_id: str) -> list[dict[str, str]]:
    return [{k.decode(): v.decode() for k, v in f.items()} for _, f in connection.xrange(f'rq:results:{job_id}')]


def exc_text(connection: redis.Redis, job_id: str) -> str:
    last = entries(connection, job_id)[-1]
    return zlib.decompress(base64.b64decode(last['exc_string'])).decode()


# -- success callback -----------------------------------------------------------------------


def test_success_callback_gets_the_return_value(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs.add, 2, 3, on_success=Callback(rqtest_jobs.record_success))
    run_burst(worker_class, queue)
    assert connection.get(f'callback:success:{job.id}') == b'5'
    assert status(connection, job.id) == 'finished'
    assert connection.get(f'callback:failure:{job.id}') is None


def test_success_callback_runs_before_the_success_is_recorded(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    job = queue.enqueue(rqtest_jobs.add, 1, on_success=Callback(rqtest_jobs_worker.status_in_success_callback))
    run_burst(worker_class, queue)
    assert connection.get(f'callback:status:{job.id}') == b'started'
    assert status(connection, job.id) == 'finished'


def test_raising_success_callback_fails_the_job(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(
        rqtest_jobs.add,
        1,
        on_success=Callback(rqtest_jobs_lifecycle.failing_success_callback),
        on_failure=Callback(rqtest_jobs.record_failure),
    )
    child = queue.enqueue(rqtest_jobs.add, 2, depends_on=job)
    worker = run_burst(worker_class, queue)
    assert status(connection, job.id) == 'failed'
    assert [e['type'] for e in entries(connection, job.id)] == ['2']
    assert 'RuntimeError: success callback exploded' in exc_text(connection, job.id)
    # then the failure callback runs, with the success callback's exception
    assert connection.get(f'callback:failure:{job.id}') == b'RuntimeError: success callback exploded'
    assert connection.zscore('rq:failed:default', job.id) is not None
    assert connection.zscore('rq:finished:default', job.id) is None
    assert status(connection, child.id) == 'deferred'  # dependents are not released
    assert connection.llen('rq:queue:default') == 0
    assert connection.hget(worker.key, 'failed_job_count') == b'1'
    assert connection.hget(worker.key, 'successful_job_count') is None


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker], ids=lambda cls: cls.__name__)
def test_success_callback_timeout(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs.add, 1, on_success=Callback(rqtest_jobs_worker.slow_success_callback, timeout=1))
    assert connection.hget(job.key, 'success_callback_timeout') == b'1'
    run_burst(worker_class, queue)
    # cut short: the callback (3 s) never got to write its key
    assert status(connection, job.id) == 'failed'
    assert 'JobTimeoutException: Task exceeded maximum timeout value (1 seconds)' in exc_text(connection, job.id)
    assert connection.get(f'callback:slow-success:{job.id}') is None


# -- failure callback -----------------------------------------------------------------------


def test_failure_callback_gets_the_exception(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(rqtest_jobs.fail, 'bad', on_failure=Callback(rqtest_jobs.record_failure))
    run_burst(worker_class, queue)
    assert connection.get(f'callback:failure:{job.id}') == b'ValueError: bad'
    assert status(connection, job.id) == 'failed'
    assert 'ValueError: bad' in exc_text(connection, job.id)


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker], ids=lambda cls: cls.__name__)
def test_failure_callback_sees_a_timeout(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    job = queue.enqueue(
        rqtest_jobs.sleep, 5, job_timeout=1, on_failure=Callback(rqtest_jobs_lifecycle.record_failure_type)
    )
    run_burst(worker_class, queue)
    assert connection.get(f'failure_type:{job.id}') == b'JobTimeoutException'


def test_raising_failure_callback_replaces_the_exception(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    job = queue.enqueue(
        rqtest_jobs.fail, 'original', on_failure=Callback(rqtest_jobs_lifecycle.failing_failure_callback)
    )
    run_burst(worker_class, queue)
    assert status(connection, job.id) == 'failed'
    text = exc_text(connection, job.id)
    assert "KeyError: 'failure callback exploded'" in text
    assert connection.zscore('rq:failed:default', job.id) is not None


def test_failure_callback_timeout_replaces_the_exception(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs.fail, on_failure=Callback(rqtest_jobs_worker.slow_failure_callback, timeout=1))
    run_burst(Worker, queue)
    assert 'JobTimeoutException: Task exceeded maximum timeout value (1 seconds)' in exc_text(connection, job.id)
    assert connection.get(f'callback:slow-failure:{job.id}') is None


def test_failure_callback_runs_for_each_retried_attempt(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(
        rqtest_jobs_lifecycle.async_fail, retry=Retry(max=1), on_failure=Callback(rqtest_jobs.record_failure)
    )
    run_burst(SimpleWorker, queue)
    assert connection.get(f'callback:failure:{job.id}') == b'ValueError: async boom'
    assert status(connection, job.id) == 'failed'


# -- stopped callback -----------------------------------------------------------------------


def _stop_when_started(connection: redis.Redis, job_id: str) -> threading.Thread:
    def stop() -> None:
        # The worker has the job; a stop sent before its horse runs may come too early on a slow
        # machine, so it is sent again until the job is no longer started.
        if wait_until(lambda: status(connection, job_id) == 'started', timeout=60):
            deadline = time.monotonic() + 60
            while status(connection, job_id) == 'started' and time.monotonic() < deadline:
                send_stop_job_command(connection, job_id)
                time.sleep(0.2)

    thread = threading.Thread(target=stop, daemon=True)
    thread.start()
    return thread


def test_stop_job_command_runs_the_stopped_callback(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    job = queue.enqueue(
        rqtest_jobs_worker.busy_loop,
        8,
        on_stopped=Callback(rqtest_jobs.record_stopped),
        on_failure=Callback(rqtest_jobs.record_failure),
        retry=Retry(max=2),
    )
    after = queue.enqueue(rqtest_jobs.add, 1)
    thread = _stop_when_started(connection, job.id)
    worker = run_burst(worker_class, queue)
    thread.join()
    assert status(connection, job.id) == 'stopped'  # (not finished: stopped before its 8 s were up)
    assert connection.get(f'callback:stopped:{job.id}') == b'stopped'
    assert connection.get(f'callback:failure:{job.id}') is None
    assert connection.hget(job.key, 'retries_left') == b'2'  # a stopped job is not retried
    assert connection.zscore('rq:failed:default', job.id) is not None
    assert [e['type'] for e in entries(connection, job.id)] == ['2']
    assert 'stopped' in exc_text(connection, job.id).lower()
    assert connection.zcard('rq:wip:default') == 0
    assert status(connection, after.id) == 'finished'
    assert connection.hget(worker.key, 'failed_job_count') == b'1'


def test_stop_commands_racing_with_job_ends_never_break_a_simple_worker(connection: redis.Redis, queue: Queue) -> None:
    """Stop commands aimed at whatever job is current, as fast as possible: each lands inside a job
    (stopped) or is dropped (the job ended first), never in the recording or the loop."""
    jobs = [queue.enqueue(rqtest_jobs_worker.busy_loop, 0.01 * (i % 2)) for i in range(120)]
    worker = SimpleWorker([queue])
    done = threading.Event()

    def spam() -> None:
        while not done.is_set():
            current = worker.get_current_job_id()
            if current is not None:
                handle_stop_job_command(worker, {'command': 'stop-job', 'job_id': current})

    thread = threading.Thread(target=spam, daemon=True)
    thread.start()
    try:
        assert worker.work(burst=True) is True
    finally:
        done.set()
        thread.join()
    found = [status(connection, job.id) for job in jobs]
    assert set(found) <= {'finished', 'stopped'}
    assert 'stopped' in found
    assert connection.zcard('rq:wip:default') == 0


# -- exception handlers ---------------------------------------------------------------------


def handler_calls(connection: redis.Redis, job_id: str) -> list[str]:
    return [item.decode() for item in connection.lrange(f'handlers:{job_id}', 0, -1)]


def test_exception_handlers_run_in_order_until_one_returns_false(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    job = queue.enqueue(rqtest_jobs.fail)
    handlers = [
        rqtest_jobs_worker.first_handler,
        rqtest_jobs_worker.second_handler,
        rqtest_jobs_worker.stopping_handler,
        rqtest_jobs_worker.last_handler,
    ]
    run_burst(worker_class, queue, exception_handlers=handlers)
    assert handler_calls(connection, job.id) == ['first:ValueError', 'second:ValueError', 'stopping:ValueError']
    # the handlers do not replace RQ's own failure handling
    assert status(connection, job.id) == 'failed'
    assert connection.zscore('rq:failed:default', job.id) is not None


def test_exception_handler_returning_a_false_value_stops_the_chain(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs.fail)
    handlers = [rqtest_jobs_worker.zero_handler, rqtest_jobs_worker.last_handler]
    run_burst(SimpleWorker, queue, exception_handlers=handlers)
    assert handler_calls(connection, job.id) == ['zero:ValueError']


def test_exception_handler_given_alone_and_pushed(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs.fail)
    worker = SimpleWorker([queue], exception_handlers=rqtest_jobs_worker.first_handler)
    worker.push_exc_handler(rqtest_jobs_worker.last_handler)
    worker.push_exc_handler(rqtest_jobs_worker.second_handler)
    assert worker.pop_exc_handler() is rqtest_jobs_worker.second_handler
    worker.work(burst=True)
    assert handler_calls(connection, job.id) == ['first:ValueError', 'last:ValueError']


def test_raising_exception_handler_does_not_break_the_worker(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs.fail)
    after = queue.enqueue(rqtest_jobs.add, 1)
    run_burst(Worker, queue, exception_handlers=[rqtest_jobs_worker.raising_handler, rqtest_jobs_worker.last_handler])
    assert handler_calls(connection, job.id)[0] == 'raising:ValueError'
    assert status(connection, job.id) == 'failed'
    assert status(connection, after.id) == 'finished'


def test_exception_handlers_see_timeouts_and_not_successes(connection: redis.Redis, queue: Queue) -> None:
    slow = queue.enqueue(rqtest_jobs.sleep, 5, job_timeout=1)
    fine = queue.enqueue(rqtest_jobs.add, 1)
    run_burst(Worker, queue, exception_handlers=[rqtest_jobs_worker.first_handler])
    assert handler_calls(connection, slow.id) == ['first:JobTimeoutException']
    assert handler_calls(connection, fine.id) == []


def test_exception_handlers_with_default_handler_disabled(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs.fail)
    run_burst(
        SimpleWorker,
        queue,
        exception_handlers=[rqtest_jobs_worker.first_handler],
        disable_default_exception_handler=True,
    )
    assert handler_calls(connection, job.id) == ['first:ValueError']
    assert status(connection, job.id) == 'failed'
    assert connection.zcard('rq:failed:default') == 0


# -- work_horse_killed_handler --------------------------------------------------------------


@pytest.mark.parametrize('worker_class', [Worker, SpawnWorker], ids=lambda cls: cls.__name__)
def test_work_horse_killed_handler_for_a_horse_killed_by_a_signal(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    calls: list[tuple[Any, ...]] = []

    def killed(job: Any, pid: int, status: int, rusage: Any) -> None:
        calls.append((job.id, pid, status, rusage))

    job = queue.enqueue(rqtest_jobs_worker.kill_self, int(signal.SIGKILL))
    after = queue.enqueue(rqtest_jobs.add, 1)
    worker = run_burst(worker_class, queue, work_horse_killed_handler=killed)
    assert len(calls) == 1
    job_id, pid, wait_status, _ = calls[0]
    assert job_id == job.id
    assert pid > 0 and pid != worker.pid
    assert wait_status & 0x7F == signal.SIGKILL  # WTERMSIG of the wait status
    assert status(connection, job.id) == 'failed'
    text = exc_text(connection, job.id)
    assert 'Work-horse terminated unexpectedly' in text and 'SIGKILL' in text
    assert connection.zscore('rq:failed:default', job.id) is not None
    assert status(connection, after.id) == 'finished'


def test_work_horse_killed_handler_not_called_for_ordinary_failures(connection: redis.Redis, queue: Queue) -> None:
    calls: list[Any] = []
    queue.enqueue(rqtest_jobs.fail)
    queue.enqueue(rqtest_jobs.add, 1)
    run_burst(Worker, queue, work_horse_killed_handler=lambda *args: calls.append(args))
    assert calls == []


def test_killed_horse_with_retries_left_is_retried(connection: redis.Redis, queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs_worker.kill_self, int(signal.SIGKILL), retry=Retry(max=1))
    worker = run_burst(Worker, queue, max_jobs=1)
    assert status(connection, job.id) == 'queued'
    assert connection.hget(job.key, 'retries_left') == b'0'
    assert connection.lrange('rq:queue:default', 0, -1) == [job.id.encode()]
    assert not connection.exists(f'rq:results:{job.id}')
    assert connection.hget(worker.key, 'failed_job_count') == b'1'


# -- dependents -----------------------------------------------------------------------------


def test_dependents_are_enqueued_on_success(connection: redis.Redis, queue: Queue, worker_class: type[Any]) -> None:
    parent = queue.enqueue(rqtest_jobs.add, 1)
    other_queue = Queue('other', connection=connection)
    child = other_queue.enqueue(rqtest_jobs.add, 2, depends_on=parent)
    assert status(connection, child.id) == 'deferred'
    run_burst(worker_class, queue)
    assert status(connection, child.id) == 'queued'
    assert connection.lrange('rq:queue:other', 0, -1) == [child.id.encode()]  # its own origin queue
    assert connection.zscore('rq:deferred:other', child.id) is None
    assert not connection.exists(f'rq:job:{parent.id}:dependents')


def test_dependents_of_a_failed_job_need_allow_failure(
    connection: redis.Redis, queue: Queue, worker_class: type[Any]
) -> None:
    parent = queue.enqueue(rqtest_jobs.fail)
    strict = queue.enqueue(rqtest_jobs.add, 1, depends_on=parent)
    lenient = queue.enqueue(rqtest_jobs.add, 2, depends_on=Dependency(jobs=[parent], allow_failure=True))
    run_burst(worker_class, queue)
    assert status(connection, parent.id) == 'failed'
    assert status(connection, lenient.id) == 'finished'
    assert status(connection, strict.id) == 'deferred'


def test_dependents_wait_for_retries(connection: redis.Redis, queue: Queue) -> None:
    parent = queue.enqueue(rqtest_jobs.fail, retry=Retry(max=1))
    lenient = queue.enqueue(rqtest_jobs.add, 2, depends_on=Dependency(jobs=[parent], allow_failure=True))
    run_burst(SimpleWorker, queue, max_jobs=1)
    assert status(connection, parent.id) == 'queued'
    assert status(connection, lenient.id) == 'deferred'


def test_dependent_on_two_parents_waits_for_both(connection: redis.Redis, queue: Queue) -> None:
    first = queue.enqueue(rqtest_jobs.add, 1)
    slow_queue = Queue('later', connection=connection)
    second = slow_queue.enqueue(rqtest_jobs.add, 2)
    child = queue.enqueue(rqtest_jobs.add, 3, depends_on=[first, second])
    run_burst(SimpleWorker, queue)
    assert status(connection, child.id) == 'deferred'
    run_burst(SimpleWorker, slow_queue)
    assert status(connection, child.id) == 'queued'


def test_dependents_released_at_front_when_asked(connection: redis.Redis, queue: Queue) -> None:
    parent = queue.enqueue(rqtest_jobs.add, 1)
    child = queue.enqueue(rqtest_jobs.add, 2, depends_on=Dependency(jobs=[parent], enqueue_at_front=True))
    tail = queue.enqueue(rqtest_jobs.add, 3)
    run_burst(SimpleWorker, queue, max_jobs=1)
    assert connection.lrange('rq:queue:default', 0, -1) == [child.id.encode(), tail.id.encode()]


def test_result_ttl_zero_still_releases_dependents(connection: redis.Redis, queue: Queue) -> None:
    parent = queue.enqueue(rqtest_jobs.add, 1, result_ttl=0)
    child = queue.enqueue(rqtest_jobs.add, 2, depends_on=parent)
    run_burst(Worker, queue)
    assert not connection.exists(f'rq:job:{parent.id}')
    assert status(connection, child.id) == 'finished'


# -- webhooks -------------------------------------------------------------------------------


@pytest.fixture
def webhook_server() -> Iterator[Any]:
    with webhook_recorder() as server:
        yield server


def test_webhooks_for_finished_and_failed(
    connection: redis.Redis, queue: Queue, worker_class: type[Any], webhook_server: Any
) -> None:
    url = webhook_server.url
    hooks = [Webhook(f'{url}/done', 'finished', method='POST'), Webhook(f'{url}/failed', 'failed', method='POST')]
    good = queue.enqueue(rqtest_jobs.add, 1, webhooks=hooks)
    bad = queue.enqueue(rqtest_jobs.fail, 'oops', webhooks=hooks)
    run_burst(worker_class, queue)
    calls = sorted(webhook_server.calls, key=lambda call: call[1])
    assert [(method, path) for method, path, _ in calls] == [('POST', '/done'), ('POST', '/failed')]
    done, failed = calls[0][2], calls[1][2]
    assert done['job_id'] == good.id and done['status'] == 'finished'
    assert done['func_name'] == 'rqtest_jobs.add'
    assert done['ended_at']
    assert failed['job_id'] == bad.id and failed['status'] == 'failed'
    assert 'ValueError: oops' in failed['exc_info']


def test_no_failed_webhook_for_retried_attempts(connection: redis.Redis, queue: Queue, webhook_server: Any) -> None:
    hook = Webhook(f'{webhook_server.url}/failed', 'failed')
    queue.enqueue(rqtest_jobs.fail, retry=Retry(max=2), webhooks=[hook])
    worker = SimpleWorker([queue])
    worker.work(burst=True, max_jobs=2)
    assert webhook_server.calls == []
    worker = SimpleWorker([queue])
    worker.work(burst=True)
    assert [(method, path) for method, path, _ in webhook_server.calls] == [('GET', '/failed')]


def test_failed_webhook_when_returned_retries_are_used_up(
    connection: redis.Redis, queue: Queue, webhook_server: Any
) -> None:
    hook = Webhook(f'{webhook_server.url}/failed', 'failed', method='POST')
    job = queue.enqueue(rqtest_jobs_worker.return_retry, 1, webhooks=[hook])
    run_burst(Worker, queue)
    assert len(webhook_server.calls) == 1
    assert webhook_server.calls[0][2]['job_id'] == job.id
    assert status(connection, job.id) == JobStatus.FAILED.value
