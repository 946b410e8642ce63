"""RQ_SERIALIZER=json: one setting switches a deployment's default serializer to JSON, producers
and workers alike, with a clear error for a value JSON cannot encode."""

from __future__ import annotations

import datetime
import json
import subprocess
import zlib

import pytest
import redis

from redis_server import RedisServer
from rq import Queue
from rq.exceptions import SerializationError
from rq.job import Job
from rq.serializers import DefaultSerializer, JSONSerializer
from signal_support import worker_command
from worker_process import worker_env


def test_the_environment_makes_json_the_default(
    connection: redis.Redis, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('RQ_SERIALIZER', 'json')
    queue = Queue(connection=connection)
    assert queue.serializer is JSONSerializer
    assert Queue(connection=connection, serializer='pickle').serializer is DefaultSerializer  # (explicit wins)
    job = queue.enqueue('rqtest_jobs.add', 2, b=3, meta={'k': 'v'})
    assert json.loads(zlib.decompress(connection.hget(job.key, 'data'))) == ['rqtest_jobs.add', None, [2], {'b': 3}]
    command = worker_command(redis_server.port, '--burst', '--worker-class', 'SimpleWorker')
    done = subprocess.run(command, env=worker_env(RQ_SERIALIZER='json'), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    fetched = Job.fetch(job.id, connection=connection)
    assert fetched.get_status() == 'finished' and fetched.return_value() == 5 and fetched.meta == {'k': 'v'}


def test_a_value_json_cannot_encode_fails_at_enqueue_with_the_cause(
    connection: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('RQ_SERIALIZER', 'json')
    queue = Queue(connection=connection)
    with pytest.raises(SerializationError, match=r'not JSON serializable \(RQ_SERIALIZER=json makes it the default'):
        queue.enqueue('rqtest_jobs.add', datetime.datetime.now())
    assert connection.llen('rq:queue:default') == 0  # (nothing was written)


def test_a_serializer_setting_that_names_nothing_is_refused_clearly(
    connection: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('RQ_SERIALIZER', 'no.such.serializer')
    with pytest.raises(ValueError, match=r"RQ_SERIALIZER='no\.such\.serializer' is not a serializer"):
        Queue(connection=connection)
