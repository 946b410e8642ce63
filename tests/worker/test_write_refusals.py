"""A worker whose writes Redis refuses (out of memory, ``noeviction``) keeps going and loses no job.

Each test runs a private redis-server with ``maxmemory-policy noeviction``. Memory pressure is made
deterministic from ``INFO memory``: ``maxmemory`` is set 1 MB above the memory in use, and the job
returns a 2 MB result. The command that would store it carries the result itself, which takes
Redis past ``maxmemory`` while it is read: the script refuses its first write (nothing of it
applies). Small writes fit in the headroom once Redis has trimmed the connection's input buffer
(within a second; the worker tries the failure record again meanwhile). The job whose result was
refused is failed with that cause; the job claimed in the same round trip (the worker claims its
next job together with recording a success) is handed back and runs once, normally.

When even the short failure record is refused (``maxmemory`` 1 byte), the worker logs it and lets
go of the run: the job stays started until its started entry expires, then the look for abandoned
jobs fails it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
import redis

from crash_support import census, expire_started_entries
from redis_server import RedisServer
from rq import Queue, Retry
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.worker import SimpleWorker, Worker, recording

HEADROOM = 1_000_000  # bytes between the memory in use and maxmemory
RESULT_SIZE = 2_000_000  # more than the headroom: storing it is refused
CLASSES = [Worker, SimpleWorker]


@pytest.fixture(scope='module')
def tight_server() -> Iterator[RedisServer]:
    """A server of its own: these tests change its memory settings."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tight(tight_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis(port=tight_server.port)
    client.config_set('maxmemory', 0)
    client.config_set('maxmemory-policy', 'noeviction')
    client.flushall()
    yield client
    client.config_set('maxmemory', 0)
    client.close()


def squeeze(connection: redis.Redis) -> None:
    """Leave :data:`HEADROOM` bytes between the memory in use and ``maxmemory``."""
    used = int(connection.info('memory')['used_memory'])
    connection.config_set('maxmemory', used + HEADROOM)


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


def lines_naming(caplog: pytest.LogCaptureFixture, job_id: str) -> list[str]:
    return [message for message in messages(caplog) if job_id in message]


def run_burst(cls: type[Worker], connection: redis.Redis, caplog: pytest.LogCaptureFixture) -> Worker:
    worker = cls([Queue(connection=connection)], connection=connection, job_monitoring_interval=30)
    with caplog.at_level(logging.INFO, logger='rq.worker'):
        worker.work(burst=True)  # (returns: the refusal did not stop the worker)
    return worker


@pytest.mark.parametrize('cls', CLASSES)
def test_a_refused_result_fails_its_job_and_the_job_claimed_with_it_runs_once(
    tight: redis.Redis, caplog: pytest.LogCaptureFixture, cls: type[Worker]
) -> None:
    queue = Queue(connection=tight)
    big = queue.enqueue('rqtest_jobs_refusals.count_then_return', 'runs:big', RESULT_SIZE)
    small = queue.enqueue('rqtest_jobs_worker.count_runs', 'runs:small')
    squeeze(tight)
    worker = run_burst(cls, tight, caplog)

    found = census(tight, ['default'], [big.id, small.id])
    assert found.places == {big.id: 'failed', small.id: 'finished'}, found.places
    assert found.exc[big.id].startswith('could not store the result: OutOfMemoryError: ')
    assert 'maxmemory' in found.exc[big.id]
    assert len(found.exc[big.id]) < 500  # a short record, which fits where the result did not
    # the job claimed together with the refused result was handed back, then ran once, normally
    assert tight.get('runs:big') == b'1'
    assert tight.get('runs:small') == b'1'
    assert len(Job.fetch(small.id, connection=tight).results()) == 1
    assert tight.zcard('rq:wip:default') == 0
    assert (worker.successful_job_count, worker.failed_job_count) == (1, 1)

    big_lines = lines_naming(caplog, big.id)
    assert not [line for line in big_lines if 'Job OK' in line], big_lines
    [failed] = [line for line in big_lines if 'Job failed' in line]
    assert 'could not store the result: OutOfMemoryError' in failed
    assert len(big_lines) == 2, big_lines  # its start, and its outcome: one line per event
    small_lines = lines_naming(caplog, small.id)
    assert [line for line in small_lines if 'put back at the front of its queue' in line]
    assert len([line for line in small_lines if 'Job OK' in line]) == 1
    assert not [line for line in small_lines if 'abandoned' in line]


def test_a_refused_result_retries_its_job_while_it_has_retries(
    tight: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    queue = Queue(connection=tight)
    big = queue.enqueue('rqtest_jobs_refusals.count_then_return', 'runs:big', RESULT_SIZE, retry=Retry(max=1))
    small = queue.enqueue('rqtest_jobs_worker.count_runs', 'runs:small')
    squeeze(tight)
    run_burst(SimpleWorker, tight, caplog)

    found = census(tight, ['default'], [big.id, small.id])
    assert found.places == {big.id: 'failed', small.id: 'finished'}, found.places
    assert tight.get('runs:big') == b'2'  # retried once, refused again: failed
    assert tight.get('runs:small') == b'1'
    outcomes = [line for line in lines_naming(caplog, big.id) if 'could not store the result' in line]
    assert ['Job retried' in outcomes[0], 'Job failed' in outcomes[1]] == [True, True], outcomes
    assert not [line for line in lines_naming(caplog, big.id) if 'Job OK' in line]


@pytest.mark.parametrize('cls', CLASSES)
def test_a_run_whose_failure_is_refused_too_is_let_go_and_failed_as_abandoned(
    tight: redis.Redis, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, cls: type[Worker]
) -> None:
    monkeypatch.setattr(recording, 'REFUSAL_RETRY_DELAYS', (0.01,), raising=False)
    queue = Queue(connection=tight)
    job = queue.enqueue('rqtest_jobs_refusals.exhaust_memory')
    worker = run_burst(cls, tight, caplog)

    [line] = [line for line in lines_naming(caplog, job.id) if 'Job not recorded' in line]
    assert 'could not store the result: OutOfMemoryError' in line
    assert 'recording its failure was refused too (OutOfMemoryError' in line
    assert 'failed or retried as abandoned' in line
    assert not [line for line in lines_naming(caplog, job.id) if 'Job OK' in line]
    assert worker.held_executions() == []  # (its started entry is no longer renewed)
    # not lost: still started, its entry expires, and the look for abandoned jobs fails it
    assert census(tight, ['default'], [job.id]).places == {job.id: 'started'}
    assert tight.keys('rq:execution:*') == []  # (no live worker named for it any more)
    tight.config_set('maxmemory', 0)
    expire_started_entries(tight, ['default'])
    StartedJobRegistry(queue=queue).cleanup(timestamp=time.time())
    found = census(tight, ['default'], [job.id])
    assert found.places == {job.id: 'failed'}, found.places
    assert 'AbandonedJobError' in found.exc[job.id]
