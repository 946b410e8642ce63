"""``Queue(is_async=False)``: jobs run in the enqueueing process and leave the same Redis state as
a worker run."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import redis

import rqtest_jobs
import rqtest_jobs_lifecycle
from rq import Callback, Queue, Repeat, Retry, Webhook, get_current_job
from rq.job import Dependency, Job, JobStatus
from rq.registry import DeferredJobRegistry, FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry
from rq.results import Result
from rqtest_jobs import add, async_add, div_by_zero, fail, record_failure, record_success, return_none, say_hello
from ttl_checks import assert_expires_at, assert_ttl


@pytest.fixture
def queue(connection: redis.Redis) -> Queue:
    return Queue('default', connection=connection, is_async=False)


def exc_string(job: Job) -> str:
    result = job.latest_result()
    assert result is not None
    assert result.type == Result.Type.FAILED
    return result.exc_string or ''


# -- success ----------------------------------------------------------------------------


def test_success(queue: Queue) -> None:
    connection = queue.connection
    job = queue.enqueue(add, 2, b=3)

    assert job.get_status(refresh=False) == JobStatus.FINISHED
    assert job.get_status() == JobStatus.FINISHED
    assert job.is_finished
    assert job.return_value() == 5
    assert job.worker_name == 'sync'
    assert connection.hget(job.key, 'worker_name') == b'sync'
    assert job.started_at is not None
    assert job.ended_at is not None
    assert job.started_at <= job.ended_at
    stored = Job.fetch(job.id, connection=connection)
    assert stored.enqueued_at is not None
    assert stored.started_at is not None
    assert stored.ended_at is not None
    assert stored.return_value() == 5

    result = job.latest_result()
    assert result is not None
    assert result.type == Result.Type.SUCCESSFUL
    assert result.return_value == 5
    assert len(job.results()) == 1

    assert job in FinishedJobRegistry(queue=queue)
    assert queue.count == 0
    assert StartedJobRegistry(queue=queue).count == 0
    assert job not in FailedJobRegistry(queue=queue)


def test_result_entry_worker_name_is_empty(queue: Queue) -> None:
    """RQ 2.x writes the sync worker name 'sync' in the job hash, but '' in the results stream."""
    job = queue.enqueue(add, 1)
    entry = queue.connection.xrevrange(f'rq:results:{job.id}', count=1)[0][1]
    assert entry[b'worker_name'] == b''
    assert entry[b'type'] == b'1'


def test_sync_queue_is_not_async(queue: Queue) -> None:
    assert queue.is_async is False
    assert Queue('default', connection=queue.connection).is_async is True


def test_default_result_ttl(queue: Queue) -> None:
    connection = queue.connection
    since = time.time()
    job = queue.enqueue(say_hello)
    assert_ttl(connection, job.key, 500, since)
    assert_ttl(connection, f'rq:results:{job.id}', 500, since)
    assert_expires_at(connection.zscore('rq:finished:default', job.id), 500, since)


def test_explicit_result_ttl(queue: Queue) -> None:
    since = time.time()
    job = queue.enqueue(say_hello, result_ttl=50)
    assert_ttl(queue.connection, job.key, 50, since)
    assert_ttl(queue.connection, f'rq:results:{job.id}', 50, since)


def test_result_ttl_zero_deletes_the_job(queue: Queue) -> None:
    connection = queue.connection
    job = queue.enqueue(say_hello, result_ttl=0)
    assert not connection.exists(job.key)
    assert not connection.exists(f'rq:results:{job.id}')
    assert job not in FinishedJobRegistry(queue=queue)
    assert job.latest_result() is None


def test_result_ttl_zero_still_releases_dependents(connection: redis.Redis) -> None:
    async_queue = Queue('default', connection=connection)
    parent = async_queue.enqueue(add, 1, result_ttl=0)
    child = async_queue.enqueue(add, 2, depends_on=parent)
    async_queue.remove(parent)
    Queue('default', connection=connection, is_async=False).run_sync(parent)
    assert not connection.exists(parent.key)
    assert child.get_status() == JobStatus.QUEUED
    assert async_queue.get_job_ids() == [child.id]


def test_failure_ttl_zero_deletes_the_job(queue: Queue) -> None:
    connection = queue.connection
    job = queue.enqueue(fail, failure_ttl=0)
    assert job.get_status(refresh=False) == JobStatus.FAILED
    assert not connection.exists(job.key)
    assert not connection.exists(f'rq:results:{job.id}')
    assert job not in FailedJobRegistry(queue=queue)


def test_result_ttl_minus_one_keeps_the_job(queue: Queue) -> None:
    connection = queue.connection
    job = queue.enqueue(say_hello, result_ttl=-1)
    assert connection.ttl(job.key) == -1
    assert connection.ttl(f'rq:results:{job.id}') == -1
    assert connection.zscore('rq:finished:default', job.id) == float('inf')
    assert job.return_value() == 'Hi there, World!'


def test_job_ttl_does_not_limit_a_finished_job(queue: Queue) -> None:
    since = time.time()
    job = queue.enqueue(say_hello, ttl=10)
    assert_ttl(queue.connection, job.key, 500, since)


def test_none_return_value(queue: Queue) -> None:
    job = queue.enqueue(return_none)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() is None
    result = job.latest_result()
    assert result is not None
    assert result.type == Result.Type.SUCCESSFUL
    entry = queue.connection.xrevrange(f'rq:results:{job.id}', count=1)[0][1]
    assert b'return_value' not in entry


def test_meta_written_by_the_job_is_kept(queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs.set_meta, 'color', 'blue')
    assert Job.fetch(job.id, connection=queue.connection).meta == {'color': 'blue'}


def test_async_function(queue: Queue) -> None:
    job = queue.enqueue(async_add, 4, 5)
    assert job.get_status() == JobStatus.FINISHED
    assert job.return_value() == 9


def test_async_function_failure(queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs_lifecycle.async_fail)
    assert job.get_status() == JobStatus.FAILED
    assert 'ValueError: async boom' in exc_string(job)


def test_get_current_job_inside_the_job(queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs_lifecycle.current_job_info)
    assert job.return_value() == {'id': job.id, 'status': 'started', 'worker_name': 'sync'}
    assert get_current_job() is None


def test_get_current_job_id(queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs.current_job_id)
    assert job.return_value() == job.id


def test_bound_method_and_string_function(queue: Queue) -> None:
    assert queue.enqueue(rqtest_jobs.Calculator(3).add, 4).return_value() == 7
    assert queue.enqueue('rqtest_jobs.add', 1, 2).return_value() == 3


def test_enqueue_call_and_enqueue_job(queue: Queue) -> None:
    assert queue.enqueue_call(add, args=(1,), kwargs={'b': 5}).return_value() == 6
    job = queue.create_job(add, args=(2, 2))
    assert queue.enqueue_job(job).return_value() == 4
    assert job.get_status() == JobStatus.FINISHED


def test_enqueue_many(queue: Queue) -> None:
    jobs = queue.enqueue_many([Queue.prepare_data(add, (1,)), Queue.prepare_data(div_by_zero)])
    assert sorted(j.get_status().value for j in jobs) == ['failed', 'finished']
    assert queue.count == 0


def test_repeat_does_not_apply(queue: Queue) -> None:
    job = queue.enqueue(rqtest_jobs_lifecycle.incr, 'runs', repeat=Repeat(times=2))
    assert job.get_status() == JobStatus.FINISHED
    assert queue.connection.get('runs') == b'1'
    assert queue.count == 0


# -- failure ----------------------------------------------------------------------------


def test_failure(queue: Queue) -> None:
    connection = queue.connection
    job = queue.enqueue(div_by_zero, 1)

    assert job.get_status(refresh=False) == JobStatus.FAILED
    assert job.get_status() == JobStatus.FAILED
    assert job.is_failed
    assert job.return_value() is None
    assert job in FailedJobRegistry(queue=queue)
    assert job not in FinishedJobRegistry(queue=queue)
    assert connection.hget(job.key, 'worker_name') == b'sync'

    result = job.latest_result()
    assert result is not None
    assert result.type == Result.Type.FAILED
    assert result.exc_string is not None
    assert result.exc_string.startswith('Traceback (most recent call last):')
    assert 'ZeroDivisionError: division by zero' in result.exc_string
    assert 'div_by_zero' in result.exc_string
    with pytest.warns(DeprecationWarning):
        assert job.exc_info == result.exc_string
    # the failure is kept for the default failure ttl (a year) and the job hash gets no traceback
    assert job.ended_at is not None
    assert_ttl(connection, job.key, 31536000, job.ended_at)
    assert connection.hget(job.key, 'exc_info') is None


def test_failure_ttl(queue: Queue) -> None:
    since = time.time()
    job = queue.enqueue(fail, 'bad', failure_ttl=100)
    assert_ttl(queue.connection, job.key, 100, since)
    assert_ttl(queue.connection, f'rq:results:{job.id}', 100, since)


def test_failure_does_not_raise(queue: Queue) -> None:
    job = queue.enqueue(fail, 'nope')
    assert 'ValueError: nope' in exc_string(job)


def test_retry_does_not_apply(queue: Queue) -> None:
    job = queue.enqueue(fail, retry=Retry(max=3))
    assert job.get_status() == JobStatus.FAILED
    assert job in FailedJobRegistry(queue=queue)
    assert queue.count == 0


# -- callbacks --------------------------------------------------------------------------


def test_success_callback(queue: Queue) -> None:
    job = queue.enqueue(add, 1, b=1, on_success=Callback(record_success), on_failure=Callback(record_failure))
    assert queue.connection.get(f'callback:success:{job.id}') == b'2'
    assert queue.connection.get(f'callback:failure:{job.id}') is None


def test_success_callback_by_name(queue: Queue) -> None:
    job = queue.enqueue(add, 1, on_success=Callback('rqtest_jobs.record_success'))
    assert queue.connection.get(f'callback:success:{job.id}') == b'2'


def test_failure_callback(queue: Queue) -> None:
    job = queue.enqueue(fail, 'bad', on_success=Callback(record_success), on_failure=Callback(record_failure))
    assert queue.connection.get(f'callback:failure:{job.id}') == b'ValueError: bad'
    assert queue.connection.get(f'callback:success:{job.id}') is None
    assert job.get_status() == JobStatus.FAILED


def test_raising_success_callback_fails_the_job(queue: Queue) -> None:
    job = queue.enqueue(
        add,
        1,
        on_success=Callback(rqtest_jobs_lifecycle.failing_success_callback),
        on_failure=Callback(record_failure),
    )
    assert job.get_status() == JobStatus.FAILED
    assert job in FailedJobRegistry(queue=queue)
    assert job not in FinishedJobRegistry(queue=queue)
    assert 'RuntimeError: success callback exploded' in exc_string(job)
    assert queue.connection.get(f'callback:failure:{job.id}') == b'RuntimeError: success callback exploded'
    results = job.results()
    assert [r.type for r in results] == [Result.Type.FAILED]


def test_raising_success_callback_keeps_dependents_deferred(queue: Queue) -> None:
    async_queue = Queue('default', connection=queue.connection)
    parent = async_queue.enqueue(add, 1, on_success=Callback(rqtest_jobs_lifecycle.failing_success_callback))
    child = async_queue.enqueue(add, 2, depends_on=parent)
    async_queue.remove(parent)
    queue.run_sync(parent)
    assert parent.get_status() == JobStatus.FAILED
    assert child.get_status() == JobStatus.DEFERRED


def test_raising_failure_callback_replaces_the_exception(queue: Queue) -> None:
    job = queue.enqueue(fail, 'original', on_failure=Callback(rqtest_jobs_lifecycle.failing_failure_callback))
    assert job.get_status() == JobStatus.FAILED
    text = exc_string(job)
    assert "KeyError: 'failure callback exploded'" in text
    assert 'ValueError: original' not in text.splitlines()[-1]


def test_deprecated_bare_callback(queue: Queue) -> None:
    with pytest.warns(DeprecationWarning):
        job = queue.enqueue(add, 1, on_success=record_success)
    assert queue.connection.get(f'callback:success:{job.id}') == b'2'


# -- dependencies ------------------------------------------------------------------------


def test_dependents_released_after_success(connection: redis.Redis) -> None:
    async_queue = Queue('default', connection=connection)
    parent = async_queue.enqueue(add, 1)
    child = async_queue.enqueue(add, 2, depends_on=parent)
    async_queue.remove(parent)
    Queue('default', connection=connection, is_async=False).run_sync(parent)
    assert parent.get_status() == JobStatus.FINISHED
    assert child.get_status() == JobStatus.QUEUED
    assert async_queue.get_job_ids() == [child.id]
    assert child not in DeferredJobRegistry(queue=async_queue)


def test_dependents_with_allow_failure_released_after_failure(connection: redis.Redis) -> None:
    async_queue = Queue('default', connection=connection)
    parent = async_queue.enqueue(div_by_zero)
    child = async_queue.enqueue(add, 2, depends_on=Dependency(parent, allow_failure=True))
    strict = async_queue.enqueue(add, 3, depends_on=parent)
    async_queue.remove(parent)
    Queue('default', connection=connection, is_async=False).run_sync(parent)
    assert child.get_status() == JobStatus.QUEUED
    assert strict.get_status() == JobStatus.DEFERRED


def test_sync_job_with_finished_dependency_runs(queue: Queue) -> None:
    parent = queue.enqueue(add, 1)
    child = queue.enqueue(add, 2, depends_on=parent)
    assert child.get_status() == JobStatus.FINISHED
    assert child.return_value() == 3


def test_sync_job_with_unfinished_dependency_is_deferred(queue: Queue) -> None:
    parent = Queue('default', connection=queue.connection).enqueue(add, 1)
    child = queue.enqueue(rqtest_jobs_lifecycle.incr, 'ran', depends_on=parent)
    assert child.get_status() == JobStatus.DEFERRED
    assert child in DeferredJobRegistry(queue=queue)
    assert queue.connection.get('ran') is None


# -- webhooks ----------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]]

    def _record(self) -> None:
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        self.server.requests.append(  # type: ignore[attr-defined]
            {'method': self.command, 'path': self.path, 'headers': dict(self.headers), 'body': body}
        )
        self.send_response(200)
        self.end_headers()

    do_GET = _record
    do_POST = _record

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def webhook_server() -> Iterator[HTTPServer]:
    server = HTTPServer(('127.0.0.1', 0), _Recorder)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def url(server: HTTPServer, path: str) -> str:
    return f'http://127.0.0.1:{server.server_address[1]}{path}'


def test_finished_webhook(queue: Queue, webhook_server: HTTPServer) -> None:
    job = queue.enqueue(
        add,
        1,
        webhooks=[
            Webhook(url(webhook_server, '/done'), 'finished', method='POST', headers={'X-Token': 'abc'}),
            Webhook(url(webhook_server, '/get'), 'finished'),
            Webhook(url(webhook_server, '/failed'), 'failed'),
        ],
    )
    requests = webhook_server.requests  # type: ignore[attr-defined]
    assert sorted(r['path'] for r in requests) == ['/done', '/get']
    post = next(r for r in requests if r['path'] == '/done')
    assert post['method'] == 'POST'
    assert post['headers']['X-Token'] == 'abc'
    assert post['headers']['Content-Type'] == 'application/json'
    payload = json.loads(post['body'])
    assert payload['job_id'] == job.id
    assert payload['func_name'] == 'rqtest_jobs.add'
    assert payload['status'] == 'finished'
    assert payload['enqueued_at'].endswith('+00:00')
    assert payload['ended_at'].endswith('+00:00')
    assert 'exc_info' not in payload
    get = next(r for r in requests if r['path'] == '/get')
    assert get['method'] == 'GET'
    assert get['body'] == b''


def test_failed_webhook(queue: Queue, webhook_server: HTTPServer) -> None:
    job = queue.enqueue(
        fail,
        'bad',
        webhooks=[
            Webhook(url(webhook_server, '/failed'), 'failed', method='POST'),
            Webhook(url(webhook_server, '/done'), 'finished'),
        ],
    )
    requests = webhook_server.requests  # type: ignore[attr-defined]
    assert [r['path'] for r in requests] == ['/failed']
    payload = json.loads(requests[0]['body'])
    assert payload['status'] == 'failed'
    assert payload['job_id'] == job.id
    assert 'ValueError: bad' in payload['exc_info']


def test_unreachable_webhook_does_not_fail_the_job(queue: Queue, webhook_server: HTTPServer) -> None:
    port = webhook_server.server_address[1]
    webhook_server.shutdown()
    webhook_server.server_close()
    job = queue.enqueue(add, 1, webhooks=[Webhook(f'http://127.0.0.1:{port}/gone', 'finished', timeout=1)])
    assert job.get_status() == JobStatus.FINISHED
