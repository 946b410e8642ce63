"""A job that returns a generator fails, under every worker class and on a synchronous queue.

Calling a generator function runs none of its body, so storing the ``'Unserializable return
value'`` placeholder as a success would report as done work that never ran. The failure names the
function, the type and the serializer's own error; a job with retries left is retried like any
failure. (Other unstorable values, such as a lock, keep upstream's placeholder: test_bad_jobs.py.)
"""

from __future__ import annotations

import base64
import binascii

import pytest
import redis

from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from rq.results import Result
from rq.worker import SimpleWorker, SpawnWorker, Worker

pytestmark = pytest.mark.timeout(120)  # (a guard against hangs only)

PLACEHOLDER = b'Unserializable return value'


def stored_anywhere(connection: redis.Redis, needle: bytes) -> bool:
    """Whether any string, hash or stream in Redis holds ``needle`` (results are base64: checked decoded)."""
    for key in connection.scan_iter():
        kind = connection.type(key)
        if kind == b'hash':
            values = list(connection.hgetall(key).values())
        elif kind == b'stream':
            values = [value for _id, fields in connection.xrange(key) for value in fields.values()]
            values += [_b64decoded(value) for value in values]
        elif kind == b'string':
            values = [connection.get(key) or b'']
        else:
            continue
        if any(needle in value for value in values):
            return True
    return False


def _b64decoded(value: bytes) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b''


def assert_failed_naming_the_generator(job: Job) -> None:
    connection = job.connection
    assert job.get_status() == JobStatus.FAILED
    assert job.id in FailedJobRegistry(job.origin, connection=connection)
    assert job.id not in FinishedJobRegistry(job.origin, connection=connection)
    result = job.latest_result()
    assert result is not None and result.type == Result.Type.FAILED
    text = result.exc_string or ''
    assert 'SerializationError' in text, text
    assert 'rqtest_jobs_results.numbers returned a generator' in text, text
    assert "cannot pickle 'generator' object" in text, text  # the serializer's own error
    assert job.return_value() is None
    assert not connection.exists(f'ran:{job.id}'), 'the generator body ran'
    assert not stored_anywhere(connection, PLACEHOLDER)


@pytest.mark.parametrize('worker_class', [Worker, SimpleWorker, SpawnWorker])
def test_a_worker_fails_a_job_that_returns_a_generator(queue: Queue, worker_class: type[Worker]) -> None:
    job = queue.enqueue('rqtest_jobs_results.numbers', 3)
    worker_class([queue], connection=queue.connection).work(burst=True)
    assert_failed_naming_the_generator(job)


def test_a_synchronous_queue_fails_a_job_that_returns_a_generator(connection: redis.Redis) -> None:
    job = Queue(connection=connection, is_async=False).enqueue('rqtest_jobs_results.numbers', 3)
    assert_failed_naming_the_generator(job)


def test_a_job_with_retries_left_is_retried_first(queue: Queue) -> None:
    job = queue.enqueue('rqtest_jobs_results.numbers', 3, retry=Retry(max=2))
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    job.refresh()
    assert job.retries_left == 0
    assert_failed_naming_the_generator(job)


def test_the_json_serializer_error_is_named(connection: redis.Redis) -> None:
    queue = Queue('json', connection=connection, serializer='json')
    job = queue.enqueue('rqtest_jobs_results.numbers', 3)
    SimpleWorker([queue], connection=connection, serializer='json').work(burst=True)
    assert job.get_status() == JobStatus.FAILED
    result = job.latest_result()
    assert result is not None
    assert 'JSONSerializer' in (result.exc_string or '') and 'not JSON serializable' in (result.exc_string or '')
