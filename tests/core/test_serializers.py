"""Serializers: resolution, formats, and jobs stored with them in Redis."""

from __future__ import annotations

import json
import pickle
import zlib
from typing import Any

import pytest
import redis

import rqtest_jobs
import rqtest_jobs_model
from rq import Queue
from rq.exceptions import DeserializationError
from rq.job import Job
from rq.results import Result
from rq.serializers import DefaultSerializer, JSONSerializer, PickleSerializer, Serializer, resolve_serializer
from rqtest_jobs_model import CustomSerializer, NotASerializer


@pytest.mark.parametrize('value', [None, '', 0, False])
def test_falsy_gives_pickle(value: Any) -> None:
    assert resolve_serializer(value) is DefaultSerializer


@pytest.mark.parametrize('alias', ['json', 'JSON', 'Json'])
def test_json_alias(alias: str) -> None:
    assert resolve_serializer(alias) is JSONSerializer


@pytest.mark.parametrize('alias', ['pickle', 'PICKLE', 'Pickle'])
def test_pickle_alias(alias: str) -> None:
    assert resolve_serializer(alias) is DefaultSerializer


def test_dotted_paths() -> None:
    assert resolve_serializer('rq.serializers.JSONSerializer') is JSONSerializer
    assert resolve_serializer('rq.serializers.DefaultSerializer') is DefaultSerializer
    assert resolve_serializer('rqtest_jobs_model.CustomSerializer') is CustomSerializer


def test_classes_and_instances_are_returned_as_given() -> None:
    assert resolve_serializer(JSONSerializer) is JSONSerializer
    instance = CustomSerializer()
    assert resolve_serializer(instance) is instance
    assert resolve_serializer(CustomSerializer) is CustomSerializer
    assert isinstance(CustomSerializer, Serializer)


@pytest.mark.parametrize(
    'value', [NotASerializer, object(), 42, 'rqtest_jobs_model.NotASerializer', 'rqtest_jobs_model.NOT_CALLABLE']
)
def test_objects_without_dumps_and_loads_are_rejected(value: Any) -> None:
    with pytest.raises(NotImplementedError):
        resolve_serializer(value)


@pytest.mark.parametrize(
    'path', ['no_such_module_anywhere.Serializer', 'rq.serializers.NoSuchSerializer', 'yaml_but_not', 'a..b']
)
def test_unknown_paths_raise_value_error(path: str) -> None:
    with pytest.raises(ValueError):
        resolve_serializer(path)


def test_pickle_serializer() -> None:
    assert PickleSerializer is DefaultSerializer
    value = {'a': (1, 2), 'b': {3}}
    data = DefaultSerializer.dumps(value)
    assert data == pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    assert DefaultSerializer.loads(data) == value


def test_json_serializer() -> None:
    data = JSONSerializer.dumps({'a': (1, 2), 'u': '\u2603'})
    assert isinstance(data, bytes)
    assert data == json.dumps({'a': [1, 2], 'u': '\u2603'}).encode('utf-8')
    assert JSONSerializer.loads(data) == {'a': [1, 2], 'u': '\u2603'}
    assert JSONSerializer.loads('[1]') == [1]
    with pytest.raises(TypeError):
        JSONSerializer.dumps({1, 2})


def test_json_job_round_trip(connection: redis.Redis) -> None:
    job = Job.create(
        rqtest_jobs.echo,
        args=(1, (2, 3)),
        kwargs={'k': ('x',)},
        meta={'tags': ('a', 'b')},
        serializer='json',
        connection=connection,
    )
    job.save()
    assert json.loads(zlib.decompress(connection.hget(job.key, 'data'))) == [
        'rqtest_jobs.echo',
        None,
        [1, [2, 3]],
        {'k': ['x']},
    ]
    assert connection.hget(job.key, 'meta') == b'{"tags": ["a", "b"]}'
    fetched = Job.fetch(job.id, connection=connection, serializer=JSONSerializer)
    assert fetched.args == [1, [2, 3]]
    assert fetched.kwargs == {'k': ['x']}
    assert fetched.meta == {'tags': ['a', 'b']}
    assert fetched.perform() == [[1, [2, 3]], {'k': ['x']}]


def test_json_queue_and_results(connection: redis.Redis) -> None:
    queue = Queue('jq', connection=connection, serializer='json')
    job = queue.enqueue(rqtest_jobs.add, 2, b=3)
    fetched = queue.fetch_job(job.id)
    assert fetched is not None
    assert fetched.args == [2]
    Result.create(fetched, Result.Type.SUCCESSFUL, ttl=100, return_value=(5, 6))
    assert fetched.return_value() == [5, 6]


def test_reading_json_job_with_pickle_fails_cleanly(connection: redis.Redis) -> None:
    job = Job.create(rqtest_jobs.add, args=(1,), serializer='json', connection=connection)
    job.save()
    fetched = Job.fetch(job.id, connection=connection)  # (as RQ: the payload is decoded when read)
    with pytest.raises(DeserializationError, match=job.id):
        fetched.args  # noqa: B018


def test_custom_serializer_job(connection: redis.Redis) -> None:
    job = Job.create(
        rqtest_jobs.add, args=(1,), kwargs={'b': 4}, serializer='rqtest_jobs_model.CustomSerializer',
        connection=connection,
    )  # fmt: skip
    job.save()
    assert zlib.decompress(connection.hget(job.key, 'data')).startswith(b'CS:')
    fetched = Job.fetch(job.id, connection=connection, serializer=rqtest_jobs_model.CustomSerializer())
    assert fetched.perform() == 5
