"""Bad input to Queue / enqueue / Job.fetch: each case raises a clear error and writes nothing."""

from __future__ import annotations

import datetime
import importlib
import logging
import pickle
import sys
import threading
import types
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import rqtest_jobs
import rqtest_jobs_queue
from redis_dump import snapshot
from rq import Callback, Queue, Repeat, Retry, Webhook
from rq.exceptions import (
    DeserializationError,
    DuplicateJobError,
    InvalidJobDependency,
    NoSuchJobError,
    SerializationError,
    TimeoutFormatError,
)
from rq.job import Job, JobStatus

# -- helpers --------------------------------------------------------------------------------


@pytest.fixture
def q(connection: redis.Redis) -> Queue:
    return Queue(connection=connection)


@pytest.fixture
def writes_nothing(connection: redis.Redis) -> Iterator[None]:
    """The test body must leave Redis exactly as it found it (empty)."""
    assert connection.dbsize() == 0
    yield
    assert connection.keys('*') == []


def all_entry_points(q: Queue) -> dict[str, Callable[..., Any]]:
    """Ways to enqueue ``f(*args, **kwargs)`` with reserved keywords; each must reject the same input."""
    later = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)

    def many(f: Any, *args: Any, **kwargs: Any) -> Any:
        options = Queue.parse_args(f, *args, **kwargs)._asdict()
        for name in ('pipeline', 'unique', 'rate_limit'):
            options.pop(name)
        return q.enqueue_many([Queue.prepare_data(**options)])

    return {
        'enqueue': q.enqueue,
        'enqueue_at': lambda f, *a, **k: q.enqueue_at(later, f, *a, **k),
        'enqueue_in': lambda f, *a, **k: q.enqueue_in(datetime.timedelta(seconds=30), f, *a, **k),
        'enqueue_many': many,
    }


ENTRY_POINTS = ['enqueue', 'enqueue_at', 'enqueue_in', 'enqueue_many']


def make_main_function() -> Any:
    """A function whose module is ``__main__`` (as if defined in a script)."""
    source = compile('def in_main(x):\n    return x\n', '<script>', 'exec')
    namespace: dict[str, Any] = {'__name__': '__main__'}
    exec(source, namespace)
    function = namespace['in_main']
    assert function.__module__ == '__main__'
    return function


def make_main_function_with_function_type() -> Any:
    """The same, built with ``types.FunctionType`` from the code of a module-level function."""
    function = types.FunctionType(rqtest_jobs.add.__code__, {'__name__': '__main__'}, 'built')
    assert function.__module__ == '__main__'
    return function


class MainClass:
    def method(self) -> None:
        pass

    def __call__(self) -> None:
        pass


MainClass.__module__ = '__main__'


module_lambda = lambda x: x  # noqa: E731 - a lambda at module level: RQ names it 'test_bad_input.<lambda>'


def nested_function() -> Any:
    def inner(x: int) -> int:
        return x

    return inner


# -- functions workers cannot import --------------------------------------------------------


def stored_func_name(connection: redis.Redis, job: Job) -> Any:
    """The function name in the job's ``data`` field, as any RQ process reads it."""
    return pickle.loads(zlib.decompress(connection.hget(job.key, 'data')))[0]  # type: ignore[arg-type]


def one(job: Job | list[Job]) -> Job:
    return job[0] if isinstance(job, list) else job


def warned(caplog: pytest.LogCaptureFixture, *needles: str) -> bool:
    return any(all(n in r.getMessage() for n in needles) for r in caplog.records if r.levelno == logging.WARNING)


class TestFunctionsFromMain:
    """RQ refuses a ``__main__`` function in ``enqueue``/``enqueue_at``/``enqueue_in`` only."""

    @pytest.mark.parametrize('entry', ['enqueue', 'enqueue_at', 'enqueue_in'])
    def test_function_from_main(self, q: Queue, writes_nothing: None, entry: str) -> None:
        with pytest.raises(ValueError, match='__main__'):
            all_entry_points(q)[entry](make_main_function(), 1)

    def test_function_type_from_main(self, q: Queue, writes_nothing: None) -> None:
        with pytest.raises(ValueError, match='__main__'):
            q.enqueue(make_main_function_with_function_type(), 1)

    def test_module_attribute_set_to_main(self, q: Queue, writes_nothing: None) -> None:
        def f() -> None:
            pass

        f.__module__ = '__main__'
        f.__qualname__ = 'f'
        with pytest.raises(ValueError, match='__main__'):
            q.enqueue(f)

    def test_callable_instance_of_main_class(self, q: Queue, writes_nothing: None) -> None:
        with pytest.raises(ValueError, match='__main__'):
            q.enqueue(MainClass())

    def test_bound_method_of_main_class_cannot_be_pickled(self, q: Queue, writes_nothing: None) -> None:
        # (the method's own module is this one, so RQ's __main__ check passes; its instance cannot be stored)
        with pytest.raises(SerializationError, match='MainClass'):
            q.enqueue(MainClass().method)

    def test_enqueue_call_and_create_accept_it_with_a_warning(
        self, connection: redis.Redis, q: Queue, caplog: pytest.LogCaptureFixture
    ) -> None:
        function = make_main_function()
        with caplog.at_level(logging.WARNING, logger='rq.job'):
            job = q.enqueue_call(function, args=(1,))
        assert stored_func_name(connection, job) == '__main__.in_main'
        assert job.get_status() == JobStatus.QUEUED
        assert warned(caplog, job.id, '__main__')
        assert Job.create(function, connection=connection).func_name == '__main__.in_main'
        [many] = q.enqueue_many([Queue.prepare_data(function, args=(2,))])
        assert many.func_name == '__main__.in_main'

    def test_dotted_path_into_main_is_a_string_like_any_other(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue('__main__.whatever')
        assert stored_func_name(connection, job) == '__main__.whatever'


class TestFunctionsWorkersCannotImport:
    """RQ accepts lambdas, nested functions, bare names and dotted paths to nothing, storing the name
    it computes; we do too, log why a worker will fail them, and run them with ``is_async=False``."""

    @pytest.mark.parametrize('entry', ENTRY_POINTS)
    def test_lambda(self, connection: redis.Redis, q: Queue, entry: str, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.WARNING, logger='rq.job'):
            job = one(all_entry_points(q)[entry](module_lambda, 1))
        assert stored_func_name(connection, job) == 'test_bad_input.<lambda>'
        assert job.description == 'test_bad_input.<lambda>(1)'
        assert warned(caplog, job.id, 'is a lambda', 'module level')

    @pytest.mark.parametrize('entry', ENTRY_POINTS)
    def test_nested_function(
        self, connection: redis.Redis, q: Queue, entry: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING, logger='rq.job'):
            job = one(all_entry_points(q)[entry](nested_function(), 1))
        assert stored_func_name(connection, job) == 'test_bad_input.nested_function.<locals>.inner'
        assert warned(caplog, job.id, 'nested function', "'test_bad_input.nested_function'", 'module level')

    def test_bare_name(self, connection: redis.Redis, q: Queue, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.WARNING, logger='rq.job'):
            job = q.enqueue('no_such_builtin_function', 1)
            created = Job.create(func='myfunc', connection=connection)
        assert stored_func_name(connection, job) == 'no_such_builtin_function'
        assert created.func_name == 'myfunc' and created.description == 'myfunc()'
        assert warned(caplog, job.id, 'bare name', 'package.module.no_such_builtin_function')
        assert not warned(caplog, created.id)  # (nothing is enqueued by Job.create)

    def test_a_builtin_bare_name_is_no_warning(self, q: Queue, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.WARNING, logger='rq.job'):
            q.enqueue('len', [1])
        assert not warned(caplog, 'len')

    def test_job_create_accepts_them(self, connection: redis.Redis, writes_nothing: None) -> None:
        names = [Job.create(f, connection=connection).func_name for f in (module_lambda, nested_function())]
        assert names == ['test_bad_input.<lambda>', 'test_bad_input.nested_function.<locals>.inner']

    @pytest.mark.parametrize('entry', ENTRY_POINTS)
    def test_missing_attribute_of_existing_module(
        self, connection: redis.Redis, q: Queue, entry: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING, logger='rq.job'):
            job = one(all_entry_points(q)[entry]('rqtest_jobs.no_such_function', 1))
        assert stored_func_name(connection, job) == 'rqtest_jobs.no_such_function'
        assert warned(caplog, job.id, 'no_such_function')

    @pytest.mark.parametrize('path', ['rqtest_jobs_queue.Greeter.nope', 'rqtest_jobs_queue.NOT_CALLABLE'])
    def test_other_dotted_paths_are_stored_as_given(self, connection: redis.Redis, q: Queue, path: str) -> None:
        assert stored_func_name(connection, q.enqueue(path)) == path

    @pytest.mark.parametrize('path', ['', '.rqtest_jobs.add', 'rqtest_jobs.add.', 'rqtest_jobs..add', 'a b.c'])
    def test_malformed_dotted_path_is_stored_as_given(self, connection: redis.Redis, q: Queue, path: str) -> None:
        assert stored_func_name(connection, q.enqueue(path)) == path

    @pytest.mark.parametrize('func', [None, 42, b'rqtest_jobs.add', ['rqtest_jobs.add']])
    def test_not_a_callable(self, q: Queue, writes_nothing: None, func: Any) -> None:
        with pytest.raises(TypeError):
            q.enqueue(func)

    def test_lambda_and_nested_function_run_in_sync_mode(
        self, connection: redis.Redis, caplog: pytest.LogCaptureFixture
    ) -> None:
        sync = Queue(connection=connection, is_async=False)
        with caplog.at_level(logging.WARNING, logger='rq.job'):
            doubled = sync.enqueue(lambda x: x * 2, 21)
            nested = sync.enqueue(nested_function(), 'same')
        assert doubled.get_status() == JobStatus.FINISHED and doubled.return_value() == 42
        assert nested.get_status() == JobStatus.FINISHED and nested.return_value() == 'same'
        assert not warned(caplog, doubled.id) and not warned(caplog, nested.id)  # (they run here)

    def test_a_job_built_from_a_lambda_keeps_it_until_its_function_changes(self, connection: redis.Redis) -> None:
        job = Job.create(module_lambda, args=(1,), connection=connection)
        job.args = (5,)
        assert job.perform() == 5
        job.func_name = 'rqtest_jobs.<lambda>'
        with pytest.raises(ValueError, match='is a lambda'):
            job.perform()

    @pytest.mark.parametrize(
        ('name', 'needles'),
        [
            ('myfunc', ["'myfunc' is a bare name", 'package.module.myfunc']),
            ('rqtest_jobs.outer.<locals>.inner', ['is a nested function', "'rqtest_jobs.outer'", 'module level']),
            ('rqtest_jobs.<lambda>', ['is a lambda', 'module level']),
        ],
    )
    def test_a_name_no_process_can_import_fails_saying_why(
        self, connection: redis.Redis, name: str, needles: list[str]
    ) -> None:
        """By name (as a worker, which reads it from Redis), the failure says what the name is and the fix."""
        job = Queue(connection=connection, is_async=False).enqueue(name)
        assert job.get_status() == JobStatus.FAILED
        latest = job.latest_result()
        assert latest is not None
        last_line = (latest.exc_string or '').strip().splitlines()[-1]
        assert 'ImportAttributeError' in last_line
        for needle in needles:
            assert needle in last_line
        with pytest.raises(ValueError, match='no worker can import'):
            Job.fetch(job.id, connection=connection).func  # noqa: B018

    def test_module_missing_here_is_accepted(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue('rqtest_module_only_on_workers.tasks.run', 1, k=2)
        assert job.get_status() == JobStatus.QUEUED
        assert q.job_ids == [job.id]
        fetched = Job.fetch(job.id, connection=connection)
        assert fetched.func_name == 'rqtest_module_only_on_workers.tasks.run'
        assert fetched.args == (1,)

    def test_module_missing_here_fails_at_run_in_sync_mode(self, connection: redis.Redis) -> None:
        sync = Queue(connection=connection, is_async=False)
        job = sync.enqueue('rqtest_module_only_on_workers.run', 1)
        assert job.get_status() == JobStatus.FAILED
        assert job.is_failed
        assert connection.hget(job.key, 'status') == b'failed'
        with warnings_ignored():  # exc_info is RQ's deprecated spelling of latest_result().exc_string
            exc_info = job.exc_info
        assert exc_info is not None
        assert "No module named 'rqtest_module_only_on_workers'" in exc_info
        latest = job.latest_result()
        assert latest is not None and latest.exc_string == exc_info
        assert job.id in sync.failed_job_registry.get_job_ids()
        assert connection.llen(sync.key) == 0

    def test_import_error_inside_the_function_fails_the_job(self, connection: redis.Redis) -> None:
        sync = Queue(connection=connection, is_async=False)
        job = sync.enqueue(rqtest_jobs_queue.raise_import_error)
        assert job.get_status() == JobStatus.FAILED
        latest = job.latest_result()
        assert latest is not None
        assert 'rqtest_no_such_module_anywhere' in (latest.exc_string or '')

    def test_callbacks_workers_cannot_import_are_accepted_with_a_warning(
        self, connection: redis.Redis, q: Queue, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING, logger='rq.job'):
            job = q.enqueue(
                rqtest_jobs.say_hello,
                on_success=Callback(module_lambda),
                on_failure=Callback(make_main_function()),
                on_stopped=Callback('rqtest_jobs.no_such_callback'),
            )
        raw = connection.hgetall(job.key)
        assert raw[b'success_callback_name'] == b'test_bad_input.<lambda>'
        assert raw[b'failure_callback_name'] == b'__main__.in_main'
        assert raw[b'stopped_callback_name'] == b'rqtest_jobs.no_such_callback'
        assert warned(caplog, job.id, 'on_success callback', 'is a lambda')
        assert warned(caplog, job.id, 'on_failure callback', '__main__')
        assert warned(caplog, job.id, 'on_stopped callback', 'no_such_callback')

    def test_callback_not_a_function(self, q: Queue, writes_nothing: None) -> None:
        with pytest.raises(ValueError):
            q.enqueue(rqtest_jobs.say_hello, on_success=Callback(rqtest_jobs_queue.Greeter('x')))  # type: ignore[arg-type]


# -- arguments that cannot be serialized ---------------------------------------------------


class TestUnserializable:
    @pytest.mark.parametrize('entry', ENTRY_POINTS)
    def test_unpicklable_argument(self, q: Queue, writes_nothing: None, entry: str) -> None:
        with pytest.raises(SerializationError) as info:
            all_entry_points(q)[entry](rqtest_jobs.echo, threading.Lock(), job_id='lockjob')
        assert isinstance(info.value, TypeError)
        message = str(info.value)
        assert 'lockjob' in message
        assert 'rqtest_jobs.echo' in message

    def test_unpicklable_kwarg(self, q: Queue, writes_nothing: None) -> None:
        with pytest.raises(SerializationError, match=r'rqtest_jobs\.echo'):
            q.enqueue(rqtest_jobs.echo, lock=threading.Lock())

    def test_unpicklable_bound_method_instance(self, q: Queue, writes_nothing: None) -> None:
        greeter = rqtest_jobs_queue.Greeter('hi')
        greeter.lock = threading.Lock()  # type: ignore[attr-defined]
        with pytest.raises(SerializationError, match='greet'):
            q.enqueue(greeter.greet, 'x')

    def test_json_serializer_rejects_objects(self, connection: redis.Redis, writes_nothing: None) -> None:
        jq = Queue(connection=connection, serializer='json')
        with pytest.raises(SerializationError, match=r'rqtest_jobs\.echo'):
            jq.enqueue(rqtest_jobs.echo, object())

    def test_unpicklable_meta(self, q: Queue, writes_nothing: None) -> None:
        with pytest.raises(SerializationError):
            q.enqueue(rqtest_jobs.echo, meta={'lock': threading.Lock()})

    def test_unpicklable_argument_in_sync_mode(self, connection: redis.Redis, writes_nothing: None) -> None:
        with pytest.raises(SerializationError):
            Queue(connection=connection, is_async=False).enqueue(rqtest_jobs.echo, threading.Lock())

    def test_create_job_fails_early(self, q: Queue, writes_nothing: None) -> None:
        with pytest.raises(SerializationError):
            q.create_job(rqtest_jobs.echo, args=(threading.Lock(),))


# -- invalid ids, timeouts, TTLs and options ------------------------------------------------


class TestInvalidOptions:
    @pytest.mark.parametrize('job_id', ['a:b', 'a.b', '', 'a b', 'a/b', 'é', 'a\n'])
    @pytest.mark.parametrize('entry', ENTRY_POINTS)
    def test_invalid_job_id(self, q: Queue, writes_nothing: None, entry: str, job_id: str) -> None:
        with pytest.raises(ValueError):
            all_entry_points(q)[entry](rqtest_jobs.say_hello, job_id=job_id)

    @pytest.mark.parametrize('job_id', [123, b'abc', 1.5, ['a']])
    def test_non_string_job_id(self, q: Queue, writes_nothing: None, job_id: Any) -> None:
        with pytest.raises(TypeError):
            q.enqueue(rqtest_jobs.say_hello, job_id=job_id)

    def test_invalid_id_in_job_constructor(self, connection: redis.Redis, writes_nothing: None) -> None:
        with pytest.raises(ValueError):
            Job('a:b', connection=connection)
        with pytest.raises(TypeError):
            Job(5, connection=connection)  # type: ignore[arg-type]

    @pytest.mark.parametrize('entry', ENTRY_POINTS)
    def test_job_timeout_zero(self, q: Queue, writes_nothing: None, entry: str) -> None:
        with pytest.raises(ValueError, match='-1'):
            all_entry_points(q)[entry](rqtest_jobs.say_hello, job_timeout=0)

    def test_timeout_zero_elsewhere(self, q: Queue, writes_nothing: None) -> None:
        with pytest.raises(ValueError):
            q.enqueue_call(rqtest_jobs.say_hello, timeout=0)
        with pytest.raises(ValueError):
            q.create_job(rqtest_jobs.say_hello, timeout='0')
        with pytest.raises(ValueError):
            q.enqueue(rqtest_jobs.say_hello, job_timeout='0h')

    @pytest.mark.parametrize('value', ['1.5h', 'ten', '1w', '1 hour', 'h', '--1'])
    @pytest.mark.parametrize('option', ['job_timeout', 'result_ttl', 'ttl', 'failure_ttl'])
    def test_timeout_format_error(self, q: Queue, writes_nothing: None, option: str, value: str) -> None:
        with pytest.raises(TimeoutFormatError):
            q.enqueue(rqtest_jobs.say_hello, **{option: value})

    @pytest.mark.parametrize('entry', ENTRY_POINTS)
    @pytest.mark.parametrize('ttl', [0, -5, '0', '-1'])
    def test_ttl_not_positive(self, q: Queue, writes_nothing: None, entry: str, ttl: Any) -> None:
        with pytest.raises(ValueError):
            all_entry_points(q)[entry](rqtest_jobs.say_hello, ttl=ttl)

    def test_unique_without_job_id(self, q: Queue, writes_nothing: None) -> None:
        with pytest.raises(ValueError, match='unique=True requires an explicit job_id'):
            q.enqueue(rqtest_jobs.say_hello, unique=True)
        with pytest.raises(ValueError, match='job_id'):
            q.enqueue_call(rqtest_jobs.say_hello, unique=True)
        with pytest.raises(ValueError, match='job_id'):
            q.enqueue_call(rqtest_jobs.say_hello, unique=True, job_id='')

    def test_unique_with_depends_on(self, q: Queue, writes_nothing: None) -> None:
        with pytest.raises(ValueError, match='unique=True is not supported with job dependencies'):
            q.enqueue(rqtest_jobs.say_hello, job_id='u', unique=True, depends_on='other')
        with pytest.raises(ValueError, match='unique=True is not supported with job dependencies'):
            q.enqueue_call(rqtest_jobs.say_hello, job_id='u', unique=True, depends_on=['other'])

    def test_unique_with_an_empty_depends_on_is_accepted(self, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.say_hello, job_id='u', unique=True, depends_on=[])
        assert job.get_status() == JobStatus.QUEUED and q.job_ids == ['u']

    def test_unique_in_enqueue_at_and_enqueue_in_is_never_refused(self, q: Queue) -> None:
        """RQ 2.12 ignores ``unique`` there (we honour it: see test_enqueue), so it refuses nothing."""
        later = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
        first = q.enqueue_at(later, rqtest_jobs.say_hello, unique=True)
        second = q.enqueue_in(datetime.timedelta(seconds=30), rqtest_jobs.say_hello, unique=True, depends_on='x')
        assert first.get_status() == second.get_status() == JobStatus.SCHEDULED

    def test_unique_is_not_an_option_of_prepare_data(self) -> None:
        with pytest.raises(TypeError, match='unique'):
            Queue.prepare_data(rqtest_jobs.say_hello, unique=True)  # type: ignore[call-arg]

    def test_duplicate_unique_id(self, connection: redis.Redis, q: Queue) -> None:
        q.enqueue(rqtest_jobs.add, 1, job_id='u', unique=True)
        before = snapshot(connection)
        with pytest.raises(DuplicateJobError, match='u'):
            q.enqueue(rqtest_jobs.add, 2, job_id='u', unique=True)
        with pytest.raises(DuplicateJobError):
            q.enqueue_call(rqtest_jobs.add, args=(3,), job_id='u', unique=True)
        assert snapshot(connection) == before

    @pytest.mark.parametrize(
        ('option', 'value', 'error'),
        [
            ('meta', ['not', 'a', 'dict'], TypeError),
            ('retry', 3, TypeError),
            ('repeat', 3, TypeError),
            ('webhooks', ['https://example.test'], TypeError),
            ('webhooks', [{'url': 'https://example.test', 'job_status': 'finished'}], TypeError),  # (as RQ)
            ('webhooks', 'https://example.test', TypeError),
            ('depends_on', 42, InvalidJobDependency),
            ('on_success', 42, ValueError),
        ],
    )
    def test_bad_option_types(self, q: Queue, writes_nothing: None, option: str, value: Any, error: type) -> None:
        with warnings_ignored(), pytest.raises(error):
            q.enqueue(rqtest_jobs.say_hello, **{option: value})

    def test_depends_on_itself(self, q: Queue, writes_nothing: None) -> None:
        with pytest.raises(InvalidJobDependency):
            q.enqueue(rqtest_jobs.say_hello, job_id='me', depends_on='me')

    @pytest.mark.parametrize(
        'make',
        [
            lambda: Retry(max=0),
            lambda: Retry(max=2, interval=-1),
            lambda: Repeat(times=0),
            lambda: Webhook('ftp://example.test', 'finished'),
            lambda: Webhook('https://example.test', 'started'),
        ],
    )
    def test_bad_option_values(self, make: Callable[[], Any]) -> None:
        with pytest.raises(ValueError):
            make()

    def test_args_not_a_sequence(self, q: Queue, writes_nothing: None) -> None:
        with pytest.raises(TypeError):
            q.enqueue_call(rqtest_jobs.add, args='12')
        with pytest.raises(TypeError):
            q.enqueue_call(rqtest_jobs.add, args=(1,), kwargs=[('b', 2)])  # type: ignore[arg-type]

    @pytest.mark.parametrize('when', ['2030-01-01', 1893456000, None])
    def test_enqueue_at_needs_a_datetime(self, q: Queue, writes_nothing: None, when: Any) -> None:
        with pytest.raises(TypeError):
            q.enqueue_at(when, rqtest_jobs.say_hello)

    def test_enqueue_in_needs_a_timedelta(self, q: Queue, writes_nothing: None) -> None:
        with pytest.raises(TypeError):
            q.enqueue_in('10s', rqtest_jobs.say_hello)  # type: ignore[arg-type]


class warnings_ignored:
    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter('ignore')

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)


# -- serializers ----------------------------------------------------------------------------


class TestSerializerChoice:
    @pytest.mark.parametrize(
        'path', ['rq.serializers.NoSuchSerializer', 'rqtest_no_such_module.Serializer', 'not a path', 'jsn']
    )
    def test_unknown_dotted_path(self, connection: redis.Redis, writes_nothing: None, path: str) -> None:
        with pytest.raises(ValueError, match='serializer'):
            Queue(connection=connection, serializer=path)

    def test_object_without_dumps_and_loads(self, connection: redis.Redis, writes_nothing: None) -> None:
        with pytest.raises(NotImplementedError):
            Queue(connection=connection, serializer='rqtest_jobs_queue.Greeter')


# -- fetching bad data ----------------------------------------------------------------------


class TestFetch:
    def test_fetch_missing_job(self, connection: redis.Redis, writes_nothing: None) -> None:
        with pytest.raises(NoSuchJobError, match='nope'):
            Job.fetch('nope', connection=connection)

    def test_fetch_hash_without_data(self, connection: redis.Redis) -> None:
        connection.hset('rq:job:half', 'status', 'queued')
        with pytest.raises(NoSuchJobError):
            Job.fetch('half', connection=connection)

    @pytest.mark.parametrize('garbage', [b'\x00\x01garbage', zlib.compress(b'not a pickle'), b''])
    def test_corrupt_data_field(self, connection: redis.Redis, q: Queue, garbage: bytes) -> None:
        """As in RQ, the payload is decoded when read: the job fetches, and what a dashboard lists
        (status, description, dates, the hash) reads; the call raises naming the job."""
        job = q.enqueue(rqtest_jobs.add, 1, job_id='corrupt')
        connection.hset(job.key, 'data', garbage)
        for fetched in (Job.fetch('corrupt', connection=connection), q.fetch_job('corrupt')):
            assert fetched is not None
            assert fetched.get_status() == JobStatus.QUEUED
            assert fetched.description == 'rqtest_jobs.add(1)'
            assert fetched.origin == 'default' and fetched.enqueued_at is not None
            assert str(fetched) == '<Job corrupt: rqtest_jobs.add(1)>'
            assert fetched.to_dict()['data'] == garbage
            for read in (
                lambda j: j.func_name,
                lambda j: j.args,
                lambda j: j.kwargs,
                lambda j: j.instance,
                lambda j: j.func,
                lambda j: j.get_call_string(),
            ):
                with pytest.raises(DeserializationError, match='Job corrupt: its data field cannot be decoded'):
                    read(fetched)
        fetched.save()  # the stored data is left as it was
        assert connection.hget(job.key, 'data') == garbage

    def test_corrupt_job_in_a_queue_listing(self, connection: redis.Redis, q: Queue) -> None:
        q.enqueue(rqtest_jobs.add, 1, job_id='fine')
        bad = q.enqueue(rqtest_jobs.add, 2, job_id='broken')
        connection.hset(bad.key, 'data', b'\x00garbage')
        fine, broken = q.jobs
        assert (fine.id, broken.id) == ('fine', 'broken')
        assert fine.args == (1,)
        with pytest.raises(DeserializationError, match='broken'):
            broken.args  # noqa: B018
        assert [j.id for j in Job.fetch_many(['fine', 'broken'], connection=connection) if j] == ['fine', 'broken']
        assert q.job_ids == ['fine', 'broken']  # nothing was removed

    def test_data_that_is_not_a_four_tuple(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.add, 1, job_id='short')
        connection.hset(job.key, 'data', zlib.compress(pickle.dumps(('rqtest_jobs.add', None))))
        fetched = Job.fetch('short', connection=connection)
        with pytest.raises(DeserializationError, match='short'):
            fetched.func_name  # noqa: B018

    def test_corrupt_webhooks_field_reads_as_none_with_a_warning(
        self, connection: redis.Redis, q: Queue, caplog: pytest.LogCaptureFixture
    ) -> None:
        """As RQ reads it: the job loads (and runs) without webhooks, and the problem is logged."""
        job = q.enqueue(rqtest_jobs.add, 1, job_id='hooks', webhooks=[Webhook('https://example.test', 'finished')])
        for corrupt in (b'{not json', b'[{"job_status": "finished"}]', b'"a string"'):
            connection.hset(job.key, 'webhooks', corrupt)
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger='rq.job'):
                fetched = Job.fetch('hooks', connection=connection)
            assert fetched.webhooks == []
            assert fetched.args == (1,)
            assert warned(caplog, 'hooks', 'failed to deserialize webhooks')

    def test_corrupt_status_field(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.add, 1, job_id='weird')
        connection.hset(job.key, 'status', 'exploded')
        with pytest.raises(DeserializationError, match='weird'):
            Job.fetch('weird', connection=connection)

    def test_corrupt_meta_is_kept_raw(self, connection: redis.Redis, q: Queue) -> None:
        job = q.enqueue(rqtest_jobs.add, 1, job_id='m')
        connection.hset(job.key, 'meta', b'\x00not pickle')
        fetched = Job.fetch('m', connection=connection)
        assert fetched.meta == {'unserialized': b'\x00not pickle'}

    def test_class_missing_where_fetched(self, connection: redis.Redis, q: Queue, tmp_path: Path) -> None:
        module_name = 'rqtest_vanishing_module'
        (tmp_path / f'{module_name}.py').write_text('class Thing:\n    def __init__(self, n):\n        self.n = n\n')
        sys.path.insert(0, str(tmp_path))
        importlib.invalidate_caches()
        try:
            module = importlib.import_module(module_name)
            job = q.enqueue(rqtest_jobs.echo, module.Thing(3), job_id='vanish')
        finally:
            sys.path.remove(str(tmp_path))
            sys.modules.pop(module_name, None)
            importlib.invalidate_caches()
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(module_name)
        assert job.id == 'vanish'
        stored_data = connection.hget('rq:job:vanish', 'data')

        fetched = Job.fetch('vanish', connection=connection)  # no error here
        assert fetched.id == 'vanish'
        assert fetched.get_status() == JobStatus.QUEUED
        assert fetched.origin == 'default'
        assert fetched.description is not None
        with pytest.raises(DeserializationError, match='vanish'):
            fetched.args  # noqa: B018
        with pytest.raises(DeserializationError, match='vanish'):
            fetched.func_name  # noqa: B018
        with pytest.raises(DeserializationError):
            fetched.kwargs  # noqa: B018
        # The queue still lists it, and the other listing paths do not fail on it.
        assert q.fetch_job('vanish') is not None
        assert [j.id for j in q.jobs] == ['vanish']
        assert Job.fetch_many(['vanish'], connection=connection)[0] is not None
        # The stored data is left as it was, so a worker that has the module can still run it.
        fetched.save()
        assert connection.hget('rq:job:vanish', 'data') == stored_data
