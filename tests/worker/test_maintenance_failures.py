"""A maintenance step that meets Redis not answering logs one line (the worker's own steps report
the outage, and the step runs again on its next turn); any other failure keeps its traceback."""

from __future__ import annotations

import logging

import pytest
import redis

from rq import Queue
from rq._redis import keys
from rq.registry import FinishedJobRegistry
from rq.worker import SimpleWorker
from rq.worker.maintenance import Maintenance


def clean_with(
    connection: redis.Redis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, error: Exception
) -> logging.LogRecord:
    def cleanup(self: FinishedJobRegistry, *args: object) -> None:
        raise error

    monkeypatch.setattr(FinishedJobRegistry, 'cleanup', cleanup)
    worker = SimpleWorker([Queue(connection=connection)], connection=connection, name='maintained')
    with caplog.at_level(logging.INFO, logger='rq.worker'):
        Maintenance(worker).clean_queues()
    [record] = [record for record in caplog.records if 'cleaning queue default failed' in record.getMessage()]
    return record


def test_redis_not_answering_is_one_line(
    connection: redis.Redis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    record = clean_with(connection, monkeypatch, caplog, redis.exceptions.TimeoutError('Timeout reading from socket'))
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage().endswith(
        ': cleaning queue default failed (TimeoutError: Timeout reading from socket); it runs again later'
    )
    assert connection.exists(keys.clean_registries_lock_key('default')) == 0  # (its lock let go as before)


def test_another_failure_keeps_its_traceback(
    connection: redis.Redis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    record = clean_with(connection, monkeypatch, caplog, ValueError('a bug'))
    assert record.levelno == logging.ERROR and record.exc_info is not None
