"""Value classes a job is created with: Retry, Callback, Repeat, Webhook, Dependency."""

from __future__ import annotations

import json
import logging
import pickle
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

import rqtest_jobs
from rq import Callback, Queue, Repeat, Retry, Webhook
from rq.dependency import Dependency
from rq.exceptions import InvalidJobDependency, TimeoutFormatError
from rq.job import Job, JobStatus
from rq.webhook import send_webhooks
from rqtest_jobs_model import Counter
from ttl_checks import assert_expires_at

# -- Retry -----------------------------------------------------------------------------------


def test_retry_defaults_and_intervals() -> None:
    retry = Retry(max=3)
    assert retry.max == 3
    assert retry.intervals == [0]
    assert retry.enqueue_at_front is False
    assert Retry(max=2, interval=5).intervals == [5]
    assert Retry(max=2, interval=(1, 2, 3)).intervals == [1, 2, 3]
    assert Retry(max=2, interval=iter([4, 5])).intervals == [4, 5]
    assert Retry(max=1, enqueue_at_front=True).enqueue_at_front is True


@pytest.mark.parametrize('max_value', [0, -1])
def test_retry_max_must_be_at_least_one(max_value: int) -> None:
    with pytest.raises(ValueError):
        Retry(max=max_value)


@pytest.mark.parametrize('interval', [-1, [1, -2], [0, 5, -10]])
def test_retry_rejects_negative_intervals(interval: Any) -> None:
    with pytest.raises(ValueError):
        Retry(max=2, interval=interval)


def test_retry_get_interval_is_left_aligned_and_reuses_last() -> None:
    intervals = [10, 20, 30]
    assert [Retry.get_interval(count, intervals) for count in range(6)] == [10, 20, 30, 30, 30, 30]
    assert Retry.get_interval(3, 7) == 7
    assert Retry.get_interval(0, []) == 0
    assert Retry.get_interval(0, None) == 0


def test_retry_is_stored_on_the_job(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), retry=Retry(max=4, interval=[3, 6]), connection=connection)
    job.save()
    raw = connection.hgetall(job.key)
    assert raw[b'retries_left'] == b'4'
    assert json.loads(raw[b'retry_intervals']) == [3, 6]
    assert b'enqueue_at_front_on_retry' not in raw
    with pytest.raises(TypeError):
        Job.create(rqtest_jobs.add, args=(1,), retry=3, connection=connection)


def test_value_classes_pickle_under_rq_job() -> None:
    # RQ 2.x processes load these by the names RQ gives them (a job may return a Retry)
    for value in (Retry(max=2, interval=[1, 2], enqueue_at_front=True), JobStatus.FAILED, Dependency(['a'])):
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        assert b'rq.job' in data
        assert b'rq._jobs' not in data and b'rq.dependency' not in data
    assert pickle.loads(pickle.dumps(Retry(max=2, interval=[1, 2]))) == Retry(max=2, interval=[1, 2])
    restored = pickle.loads(pickle.dumps(Dependency(['a'], allow_failure=True)))
    assert (restored.dependencies, restored.allow_failure) == (['a'], True)
    assert pickle.loads(pickle.dumps(JobStatus.FAILED)) is JobStatus.FAILED


# -- Callback ------------------------------------------------------------------------------


def test_callback_default_timeout_and_name() -> None:
    callback = Callback(rqtest_jobs.record_success)
    assert callback.timeout == 60
    assert callback.name == 'rqtest_jobs.record_success'
    assert callback.func is rqtest_jobs.record_success


@pytest.mark.parametrize(('timeout', 'expected'), [(10, 10), ('2m', 120), ('30', 30), ('1h', 3600), (None, 60)])
def test_callback_timeout_is_parsed(timeout: Any, expected: int) -> None:
    assert Callback(rqtest_jobs.record_success, timeout=timeout).timeout == expected


def test_callback_zero_timeout_means_default() -> None:
    assert Callback(rqtest_jobs.record_success, timeout=0).timeout == 60


def test_callback_bad_timeout() -> None:
    with pytest.raises(TimeoutFormatError):
        Callback(rqtest_jobs.record_success, timeout='soon')


def test_callback_accepts_strings_and_builtins() -> None:
    assert Callback('rqtest_jobs.record_failure').name == 'rqtest_jobs.record_failure'
    assert Callback(print).name == 'builtins.print'
    nested = Callback(rqtest_jobs.Calculator.static_double)
    assert nested.name == 'rqtest_jobs.Calculator.static_double'


@pytest.mark.parametrize('func', [42, None, Counter(1), Counter(1).increment, ['rqtest_jobs.add']])
def test_callback_rejects_other_objects(func: Any) -> None:
    with pytest.raises(ValueError):
        Callback(func)


def test_callbacks_are_stored_and_loaded(connection: redis.Redis) -> None:
    job = Job.create(
        rqtest_jobs.add,
        args=(1,),
        on_success=Callback(rqtest_jobs.record_success),
        on_failure=Callback('rqtest_jobs.record_failure', timeout=5),
        connection=connection,
    )
    job.save()
    raw = connection.hgetall(job.key)
    assert raw[b'success_callback_name'] == b'rqtest_jobs.record_success'
    assert raw[b'success_callback_timeout'] == b'60'
    assert raw[b'failure_callback_name'] == b'rqtest_jobs.record_failure'
    assert raw[b'failure_callback_timeout'] == b'5'
    assert raw[b'stopped_callback_name'] == b''
    assert b'stopped_callback_timeout' not in raw
    fetched = Job.fetch(job.id, connection=connection)
    assert fetched.success_callback is rqtest_jobs.record_success
    assert fetched.failure_callback is rqtest_jobs.record_failure
    assert fetched.stopped_callback is None


def test_bare_callback_is_deprecated_but_works(connection: redis.Redis) -> None:
    with pytest.warns(DeprecationWarning):
        job = Job.create(rqtest_jobs.add, args=(1,), on_success=rqtest_jobs.record_success, connection=connection)
    assert job._success_callback_name == 'rqtest_jobs.record_success'
    assert job.success_callback_timeout == 60
    with pytest.warns(DeprecationWarning):
        job = Job.create(rqtest_jobs.add, args=(1,), on_stopped='rqtest_jobs.record_stopped', connection=connection)
    assert job.stopped_callback is rqtest_jobs.record_stopped


def test_execute_callbacks_with_death_penalty(connection: redis.Redis) -> None:
    from rq.timeouts import UnixSignalDeathPenalty

    job = Job.create(
        rqtest_jobs.add,
        args=(1,),
        id='cbjob',
        on_success=Callback(rqtest_jobs.record_success),
        on_failure=Callback(rqtest_jobs.record_failure),
        on_stopped=Callback(rqtest_jobs.record_stopped),
        connection=connection,
    )
    job.execute_success_callback(UnixSignalDeathPenalty, 5)
    job.execute_failure_callback(UnixSignalDeathPenalty, ValueError, ValueError('bad'), None)
    job.execute_stopped_callback(UnixSignalDeathPenalty)
    assert connection.get('callback:success:cbjob') == b'5'
    assert connection.get('callback:failure:cbjob') == b'ValueError: bad'
    assert connection.get('callback:stopped:cbjob') == b'stopped'


# -- Repeat ----------------------------------------------------------------------------------


def test_repeat_values() -> None:
    repeat = Repeat(times=3)
    assert repeat.times == 3
    assert repeat.intervals == [0]
    assert Repeat(times=2, interval=(5, 10)).intervals == [5, 10]
    assert Repeat(times=2, interval=5) == Repeat(times=2, interval=[5])
    assert Repeat(times=2, interval=5) != Repeat(times=3, interval=5)


@pytest.mark.parametrize('times', [0, -1])
def test_repeat_times_must_be_at_least_one(times: int) -> None:
    with pytest.raises(ValueError):
        Repeat(times=times)


@pytest.mark.parametrize('interval', [-1, [5, -1]])
def test_repeat_rejects_negative_intervals(interval: Any) -> None:
    with pytest.raises(ValueError):
        Repeat(times=2, interval=interval)


def test_repeat_get_interval() -> None:
    assert [Repeat.get_interval(i, [5, 10, 15]) for i in range(5)] == [5, 10, 15, 15, 15]
    assert Repeat.get_interval(4, [7]) == 7


def delays_taken_the_rq3_way(times: int, stored: list[int]) -> list[int]:
    """The delays before each repeat when each takes the first stored interval off (rq 3.0)."""
    delays = []
    intervals: list[int] | None = stored
    for _ in range(times):
        delay, intervals = Repeat.take_interval(intervals)
        delays.append(delay)
    return delays


@pytest.mark.parametrize(
    ('times', 'interval', 'expected'),
    [
        (3, [5, 10, 15], [5, 10, 15]),
        (5, [5, 10, 15], [5, 10, 15, 15, 15]),
        (2, [5, 10, 15], [5, 10]),
        (1, [5, 10], [5]),
        (3, [4], [4, 4, 4]),
        (4, 9, [9, 9, 9, 9]),
        (2, [], [0, 0]),
    ],
)
def test_repeat_intervals_are_taken_in_order(times: int, interval: Any, expected: list[int]) -> None:
    repeat = Repeat(times=times, interval=interval)
    stored = Repeat.stored_intervals(repeat.times, repeat.intervals)
    assert stored == repeat.intervals  # as given, as rq 3.0 stores them (2.12's reversal is gone)
    assert delays_taken_the_rq3_way(times, stored) == expected


def test_repeat_single_interval_is_stored_as_given(connection: redis.Redis) -> None:
    assert Repeat.stored_intervals(3, [30]) == [30]
    job = Job.create(rqtest_jobs.add, args=(1,), repeat=Repeat(times=3, interval=30), connection=connection)
    job.save()
    raw = connection.hgetall(job.key)
    assert raw[b'repeats_left'] == b'3'
    assert json.loads(raw[b'repeat_intervals']) == [30]


def test_repeat_list_is_stored_as_given(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), repeat=Repeat(times=3, interval=[5, 10, 15]), connection=connection)
    job.save()
    assert json.loads(connection.hget(job.key, 'repeat_intervals')) == [5, 10, 15]
    with pytest.raises(TypeError):
        Job.create(rqtest_jobs.add, args=(1,), repeat=3, connection=connection)


def test_repeat_schedule_without_interval_enqueues(connection: redis.Redis) -> None:
    queue = Queue('rep', connection=connection)
    job = queue.enqueue(rqtest_jobs.add, 1, repeat=Repeat(times=2))
    connection.delete(queue.key)
    Repeat.schedule(job, queue)
    assert job.repeats_left == 1
    assert connection.lrange(queue.key, 0, -1) == [job.id.encode()]
    assert connection.hget(job.key, 'repeats_left') == b'1'
    assert connection.hget(job.key, 'status') == b'queued'


def test_repeat_schedule_with_interval_schedules(connection: redis.Redis) -> None:
    queue = Queue('rep', connection=connection)
    job = queue.enqueue(rqtest_jobs.add, 1, repeat=Repeat(times=2, interval=[100, 200]))
    connection.delete(queue.key)
    before = time.time()
    with connection.pipeline() as pipe:
        Repeat.schedule(job, queue, pipeline=pipe)
        pipe.execute()
    assert job.repeats_left == 1
    assert connection.llen(queue.key) == 0
    score = connection.zscore('rq:scheduled:rep', job.id)
    assert_expires_at(score, 100, before)  # the documented first delay: 100
    assert connection.hget(job.key, 'status') == b'scheduled'
    assert json.loads(connection.hget(job.key, 'repeat_intervals')) == job.repeat_intervals == [200]


def test_repeat_schedule_without_repeats_left_raises(connection: redis.Redis) -> None:
    queue = Queue('rep', connection=connection)
    job = queue.enqueue(rqtest_jobs.add, 1)
    with pytest.raises(ValueError):
        Repeat.schedule(job, queue)


# -- Dependency -------------------------------------------------------------------------------


def test_dependency_accepts_jobs_ids_and_sequences(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), connection=connection)
    assert Dependency('abc').dependencies == ['abc']
    assert Dependency(job).dependencies == [job]
    assert Dependency([job, 'x']).dependencies == [job, 'x']
    dependency = Dependency(('a', 'b'))
    assert dependency.dependencies == ['a', 'b']
    assert dependency.allow_failure is False
    assert dependency.enqueue_at_front is False


@pytest.mark.parametrize('jobs', [[], (), [1], [None], 42])
def test_dependency_rejects_empty_or_bad_jobs(jobs: Any) -> None:
    with pytest.raises((ValueError, TypeError)):
        Dependency(jobs)


def test_dependency_flags_are_or_ed(connection: redis.Redis) -> None:
    job = Job.create(
        rqtest_jobs.add,
        args=(1,),
        depends_on=[Dependency('a', allow_failure=True), Dependency(['b', 'a'], enqueue_at_front=True), 'c'],
        connection=connection,
    )
    assert job._dependency_ids == ['a', 'b', 'c']
    assert job.allow_dependency_failures is True
    assert job.enqueue_at_front is True


def test_depends_on_accepts_job_id_and_list(connection: redis.Redis) -> None:
    parent = Job.create(rqtest_jobs.add, args=(1,), connection=connection)
    assert Job.create(rqtest_jobs.add, args=(1,), depends_on=parent, connection=connection)._dependency_ids == [
        parent.id
    ]
    assert Job.create(rqtest_jobs.add, args=(1,), depends_on='p', connection=connection)._dependency_ids == ['p']
    mixed = Job.create(rqtest_jobs.add, args=(1,), depends_on=[parent, 'p'], connection=connection)
    assert mixed._dependency_ids == [parent.id, 'p']
    assert mixed.allow_dependency_failures is None


def test_depends_on_rejects_self_and_bad_items(connection: redis.Redis) -> None:
    with pytest.raises(InvalidJobDependency):
        Job.create(rqtest_jobs.add, args=(1,), id='me', depends_on='me', connection=connection)
    with pytest.raises(InvalidJobDependency):
        Job.create(rqtest_jobs.add, args=(1,), depends_on=[42], connection=connection)
    # An empty list is no dependency (as in RQ).
    assert Job.create(rqtest_jobs.add, args=(1,), depends_on=[], connection=connection)._dependency_ids == []


# -- Webhook -------------------------------------------------------------------------------


def test_webhook_defaults_and_dict_round_trip() -> None:
    hook = Webhook('https://example.com/x', 'failed')
    assert (hook.url, hook.job_status, hook.method, hook.headers, hook.timeout) == (
        'https://example.com/x',
        'failed',
        'GET',
        None,
        10,
    )
    data = hook.to_dict()
    assert data == {'url': 'https://example.com/x', 'job_status': 'failed', 'method': 'GET', 'headers': None,
                    'timeout': 10}  # fmt: skip
    assert Webhook.from_dict(data) == hook
    full = Webhook('http://h:81/p?q=1', 'finished', method='POST', headers={'A': 'b'}, timeout=2)
    assert Webhook.from_dict(json.loads(json.dumps(full.to_dict()))) == full
    assert Webhook.from_dict({'url': 'http://h/', 'job_status': 'finished'}) == Webhook('http://h/', 'finished')


@pytest.mark.parametrize('url', ['ftp://example.com', 'example.com/hook', 'http://', '', None, 42, 'file:///etc/x'])
def test_webhook_url_must_be_http(url: Any) -> None:
    with pytest.raises(ValueError):
        Webhook(url, 'finished')


@pytest.mark.parametrize('status', ['started', 'FINISHED', '', None, 'queued'])
def test_webhook_job_status_must_be_finished_or_failed(status: Any) -> None:
    with pytest.raises(ValueError):
        Webhook('http://h/', status)


@pytest.mark.parametrize('method', ['PUT', 'post', 'get', '', None])
def test_webhook_method_must_be_get_or_post(method: Any) -> None:
    with pytest.raises(ValueError):
        Webhook('http://h/', 'finished', method=method)


@pytest.mark.parametrize('timeout', [0, -1, 1.5, '10', None])  # (True is an int to RQ too)
def test_webhook_timeout_must_be_positive_int(timeout: Any) -> None:
    with pytest.raises(ValueError):
        Webhook('http://h/', 'finished', timeout=timeout)


def test_webhook_headers_must_be_a_dict() -> None:
    with pytest.raises(TypeError):
        Webhook('http://h/', 'finished', headers=[('a', 'b')])  # type: ignore[arg-type]


def test_webhooks_must_be_webhook_instances(connection: redis.Redis) -> None:
    with pytest.raises(TypeError):
        Job.create(rqtest_jobs.add, args=(1,), webhooks=[{'url': 'http://h/'}], connection=connection)


class Recorder:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.delay = 0.0
        self.received = threading.Event()
        self.release = threading.Event()  # ends a delayed answer early (the test is over)


@pytest.fixture
def http_server() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get('Content-Length') or 0)
            body = self.rfile.read(length) if length else b''
            recorder.requests.append(
                {'method': self.command, 'path': self.path, 'headers': dict(self.headers), 'body': body}
            )
            if recorder.delay:
                recorder.release.wait(recorder.delay)
            self.send_response(recorder.status)
            self.send_header('Content-Length', '0')
            self.end_headers()
            recorder.received.set()

        do_GET = _handle
        do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}', recorder
    finally:
        recorder.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def webhook_job(connection: redis.Redis, webhooks: list[Webhook]) -> Job:
    job = Job.create(rqtest_jobs.add, args=(1,), id='hookjob', webhooks=webhooks, connection=connection)
    job.enqueued_at = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=timezone.utc)
    job.ended_at = datetime(2026, 1, 2, 3, 4, 6, tzinfo=timezone.utc)
    job.save()
    return Job.fetch(job.id, connection=connection)


def test_webhook_post_sends_json_body(connection: redis.Redis, http_server: tuple[str, Recorder]) -> None:
    base, recorder = http_server
    hook = Webhook(f'{base}/done?x=1', 'finished', method='POST', headers={'X-Token': 'secret'}, timeout=5)
    job = webhook_job(connection, [hook])
    hook.send(job)
    [request] = recorder.requests
    assert request['method'] == 'POST'
    assert request['path'] == '/done?x=1'
    assert request['headers']['Content-Type'] == 'application/json'
    assert request['headers']['X-Token'] == 'secret'
    assert json.loads(request['body']) == {
        'job_id': 'hookjob',
        'func_name': 'rqtest_jobs.add',
        'status': 'finished',
        'enqueued_at': '2026-01-02T03:04:05.600000+00:00',
        'ended_at': '2026-01-02T03:04:06+00:00',
    }


def test_webhook_post_failed_includes_exc_info(connection: redis.Redis, http_server: tuple[str, Recorder]) -> None:
    base, recorder = http_server
    hook = Webhook(f'{base}/failed', 'failed', method='POST')
    job = webhook_job(connection, [hook])
    job.ended_at = None
    hook.send(job, exc_string='Traceback: boom')
    body = json.loads(recorder.requests[0]['body'])
    assert body['status'] == 'failed'
    assert body['exc_info'] == 'Traceback: boom'
    assert body['ended_at'] is None


def test_webhook_get_has_no_body(connection: redis.Redis, http_server: tuple[str, Recorder]) -> None:
    base, recorder = http_server
    hook = Webhook(f'{base}/get', 'finished', headers={'X-A': '1'})
    hook.send(webhook_job(connection, [hook]))
    [request] = recorder.requests
    assert request['method'] == 'GET'
    assert request['body'] == b''
    assert request['headers'].get('Content-Length') in (None, '0')
    assert 'Content-Type' not in request['headers']
    assert request['headers']['X-A'] == '1'


def test_webhook_http_error_is_logged_not_raised(
    connection: redis.Redis, http_server: tuple[str, Recorder], caplog: pytest.LogCaptureFixture
) -> None:
    base, recorder = http_server
    recorder.status = 500
    hook = Webhook(f'{base}/err', 'finished', method='POST')
    with caplog.at_level(logging.WARNING, logger='rq.webhook'):
        hook.send(webhook_job(connection, [hook]))
    assert len(recorder.requests) == 1
    assert any('hookjob' in record.getMessage() for record in caplog.records)


def test_webhook_connection_refused_is_logged_not_raised(
    connection: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    hook = Webhook(f'http://127.0.0.1:{port}/', 'finished', timeout=2)
    with caplog.at_level(logging.WARNING, logger='rq.webhook'):
        hook.send(webhook_job(connection, [hook]))
    assert [r for r in caplog.records if r.name == 'rq.webhook' and r.levelno == logging.WARNING]


def test_webhook_timeout_is_logged_not_raised(
    connection: redis.Redis, http_server: tuple[str, Recorder], caplog: pytest.LogCaptureFixture
) -> None:
    base, recorder = http_server
    recorder.delay = 60
    hook = Webhook(f'{base}/slow', 'finished', timeout=1)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger='rq.webhook'):
        hook.send(webhook_job(connection, [hook]))
    assert time.monotonic() - start < 30  # gave up long before the server answered
    assert [r for r in caplog.records if r.name == 'rq.webhook']


def test_send_webhooks_picks_matching_status(connection: redis.Redis, http_server: tuple[str, Recorder]) -> None:
    base, recorder = http_server
    hooks = [
        Webhook(f'{base}/ok1', 'finished'),
        Webhook(f'{base}/bad', 'failed'),
        Webhook(f'{base}/ok2', 'finished', method='POST'),
    ]
    job = webhook_job(connection, hooks)
    send_webhooks(job, 'finished')
    assert sorted(r['path'] for r in recorder.requests) == ['/ok1', '/ok2']
    recorder.requests.clear()
    job.send_webhooks(JobStatus.FAILED, exc_string='tb')
    assert [r['path'] for r in recorder.requests] == ['/bad']


def test_webhook_for_job_with_undecodable_payload_is_logged_not_raised(
    connection: redis.Redis, http_server: tuple[str, Recorder], caplog: pytest.LogCaptureFixture
) -> None:
    base, recorder = http_server
    hook = Webhook(f'{base}/x', 'finished', method='POST')
    job = webhook_job(connection, [hook])
    # the payload names a class from a module that does not exist in this process
    payload = pickle.dumps(('increment', Counter(1), (), {}), protocol=pickle.HIGHEST_PROTOCOL)
    connection.hset(job.key, 'data', zlib.compress(payload.replace(b'rqtest_jobs_model', b'rqtest_missingmod')))
    job = Job.fetch(job.id, connection=connection)
    with caplog.at_level(logging.WARNING, logger='rq.webhook'):
        hook.send(job)
    assert recorder.requests == []
    assert [r for r in caplog.records if r.name == 'rq.webhook']
