"""Names that upstream RQ 2.12 and its clients import from rq-core's modules: each exists and
behaves as upstream's does (the expected values were read from upstream rq 2.12.0)."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import io
import logging
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

import rqtest_jobs
from rq import Queue, Repeat, Retry, Webhook, executions, logutils, types, utils
from rq import connections as rq_connections
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.dependency import Dependency
from rq.exceptions import MissingDistributionError
from rq.executions import Execution, ExecutionRegistry
from rq.group import Group
from rq.job import JOB_ID_PATTERN, UNEVALUATED, Job, JobStatus
from rq.registry import (
    BaseRegistry,
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.results import Result
from rq.serializers import SERIALIZER_ALIASES, DefaultSerializer, JSONSerializer, resolve_serializer
from rq.timeouts import JobTimeoutException, TimerDeathPenalty, UnixSignalDeathPenalty


class Target:
    def method(self) -> None:
        """A bound method's owner and name are what a job stores."""

    def __call__(self) -> None:
        """A callable instance is stored with ``'__call__'``."""


class TestUtils:
    def test_get_call_string(self) -> None:
        assert utils.get_call_string('f', (1,), {'a': 2}) == 'f(1, a=2)'
        assert utils.get_call_string(None, (), {}) is None
        # each repr cut to max_length plus '...'; key=value strings sorted as strings
        call = utils.get_call_string('f', (1, 'x' * 20), {'b': 2, 'a1': 3, 'a': [1] * 10}, max_length=5)
        assert call == "f(1, 'xxxx..., a1=3, a=[1, 1..., b=2)"

    def test_import_attribute(self) -> None:
        assert utils.import_attribute('os.path.join') is os.path.join
        assert utils.import_attribute('rq.job.Job.fetch') == Job.fetch
        assert utils.import_attribute('len') is len
        with pytest.raises(ValueError):
            utils.import_attribute('os.path.no_such_thing')

    def test_ensure_job_list(self) -> None:
        assert utils.ensure_job_list('abc') == ['abc']
        assert utils.ensure_job_list(['a', 'b']) == ['a', 'b']
        assert utils.ensure_job_list(('a',)) == ['a']
        assert utils.ensure_job_list(3) == [3]

    def test_is_nonstring_iterable(self) -> None:
        assert utils.is_nonstring_iterable('x') is False
        assert utils.is_nonstring_iterable(b'x') is True
        assert utils.is_nonstring_iterable([1]) is True
        assert utils.is_nonstring_iterable({}) is True
        assert utils.is_nonstring_iterable(3) is False

    def test_safe_json_dumps(self) -> None:
        assert utils.safe_json_dumps({'a': 1}) == '{"a": 1}'
        assert utils.safe_json_dumps(object()) == utils.NOT_JSON_SERIALIZABLE == '<not JSON serializable>'
        assert utils.safe_json_dumps({1, 2}) == '<not JSON serializable>'
        assert utils.safe_json_dumps(float('nan')) == 'NaN'

    def test_as_text_and_backend_class(self) -> None:
        assert utils.as_text(b'caf\xc3\xa9') == 'café'
        assert utils.as_text('x') == 'x'
        with pytest.raises(ValueError):
            utils.as_text(3)  # type: ignore[arg-type]
        queue_class: Any = utils.backend_class(Queue, 'job_class')
        assert queue_class is Job
        assert utils.backend_class(Queue, 'job_class', override='rq.serializers.JSONSerializer') is JSONSerializer
        assert utils.backend_class(Queue, 'job_class', override=DefaultSerializer) is DefaultSerializer

    def test_resolve_function_reference(self) -> None:
        instance = Target()
        assert utils.resolve_function_reference(os.path.join) == (None, 'posixpath.join')
        assert utils.resolve_function_reference(len) == (None, 'builtins.len')
        assert utils.resolve_function_reference('a.b') == (None, 'a.b')
        assert utils.resolve_function_reference(instance.method) == (instance, 'method')
        assert utils.resolve_function_reference(instance) == (instance, '__call__')
        with pytest.raises(TypeError, match='Expected a callable or a string'):
            utils.resolve_function_reference(Target)
        with pytest.raises(TypeError, match='Expected a callable or a string'):
            utils.resolve_function_reference(3)

    def test_platform(self) -> None:
        assert [p.value for p in utils.Platform] == ['windows', 'mac', 'linux', 'others']
        expected = utils.Platform.LINUX if sys.platform.startswith('linux') else utils.get_platform()
        assert utils.get_platform() is expected

    def test_normalize_config_path(self) -> None:
        assert utils.normalize_config_path('app/cron_config.py') == 'app.cron_config'
        assert utils.normalize_config_path('app/cron_config') == 'app.cron_config'
        assert utils.normalize_config_path('app.cron_config') == 'app.cron_config'
        assert utils.normalize_config_path('/abs/x.py') == 'abs.x'
        assert utils.normalize_config_path('x.py') == 'x'

    def test_validate_absolute_path(self, tmp_path: Path) -> None:
        config = tmp_path / 'config.py'
        config.write_text('')
        assert utils.validate_absolute_path(str(config)) == str(config)
        with pytest.raises(FileNotFoundError):
            utils.validate_absolute_path(str(tmp_path / 'missing.py'))
        with pytest.raises(IsADirectoryError):
            utils.validate_absolute_path(str(tmp_path))

    def test_logger(self) -> None:
        assert isinstance(utils.logger, logging.Logger)

    def test_parse_names_and_connection(self, connection: redis.Redis) -> None:
        queue = Queue('x', connection=connection)
        assert utils.parse_names([queue, 'b', 3]) == ['x', 'b', '3']  # type: ignore[list-item]
        assert utils.get_connection_from_queues(['a', queue]) is connection
        assert utils.get_connection_from_queues(['a']) is None

    def test_import_job_and_queue_class(self) -> None:
        assert utils.import_job_class('rq.job.Job') is Job
        assert utils.import_queue_class('rq.queue.Queue') is Queue
        for name in ('rq.queue.Queue', 'os.path.join'):
            with pytest.raises(ValueError, match=re.escape(f'Invalid job class: {name}')):
                utils.import_job_class(name)
        for name in ('rq.job.Job', 'os.path.join'):
            with pytest.raises(ValueError, match=re.escape(f'Invalid queue class: {name}')):
                utils.import_queue_class(name)
        with pytest.raises(ValueError):
            utils.import_job_class('no_such_module_anywhere.Job')

    def test_import_worker_class(self) -> None:
        with pytest.raises(ValueError, match=r'Invalid worker class: os\.path\.join'):
            utils.import_worker_class('os.path.join')
        if importlib.util.find_spec('rq.worker') is None:  # the core-only environment
            with pytest.raises(MissingDistributionError, match='rq-worker'):
                utils.import_worker_class('rq.job.Job')
        else:
            with pytest.raises(ValueError, match=r'Invalid worker class: rq\.job\.Job'):
                utils.import_worker_class('rq.job.Job')
            assert utils.import_worker_class('rq.worker.SimpleWorker').__name__ == 'SimpleWorker'

    def test_importing_utils_imports_no_worker(self) -> None:
        code = 'import sys, rq.utils; rq.utils.parse_names([]); print("rq.worker" in sys.modules)'
        completed = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
        assert completed.stdout.strip() == 'False'


class TestJobModule:
    def test_job_id_pattern(self) -> None:
        assert JOB_ID_PATTERN.fullmatch('my_job-1')
        assert not JOB_ID_PATTERN.fullmatch('my job')

    def test_unevaluated_is_the_jobs_sentinel(self, connection: redis.Redis) -> None:
        job = Job.create(rqtest_jobs.add, args=(1,), connection=connection)
        job.save()
        fetched = Job.fetch(job.id, connection=connection)
        assert fetched._args is UNEVALUATED  # not decoded yet
        assert fetched.args == (1,)
        assert fetched._args is not UNEVALUATED
        assert fetched._data is UNEVALUATED or isinstance(fetched._data, bytes)
        job.args = (2,)
        assert job._data is UNEVALUATED  # encoded again when needed

    def test_logger(self) -> None:
        from rq import job as job_module

        assert job_module.logger.name == 'rq.job'


class TestConnections:
    def test_parse_connection_rebuilds_the_connection(self, connection: redis.Redis) -> None:
        connection_class, pool_connection_class, kwargs = rq_connections.parse_connection(connection)
        assert connection_class is type(connection)
        assert pool_connection_class is connection.connection_pool.connection_class
        assert not set(rq_connections.REDIS_RUNTIME_CONNECTION_KWARGS) & set(kwargs)
        assert all(type(value) is not object for value in kwargs.values())
        pool = redis.ConnectionPool(connection_class=pool_connection_class, **kwargs)
        rebuilt = connection_class(connection_pool=pool)
        connection.set('probe', 'here')
        assert rebuilt.get('probe') == b'here'
        rebuilt.close()

    def test_no_redis_connection_exception(self) -> None:
        assert issubclass(rq_connections.NoRedisConnectionException, Exception)


class TestTypes:
    def test_aliases(self) -> None:
        assert types.FunctionReferenceType.__constraints__[0] is str
        assert types.JobDependencyType == 'Dependency | Job | str | list[Dependency | Job | str]'
        assert types.SuccessCallbackType is not None and types.FailureCallbackType is not None


class TestLogutils:
    def test_setup_loghandlers_signature_is_upstreams(self) -> None:
        parameters = inspect.signature(logutils.setup_loghandlers).parameters
        assert list(parameters) == ['level', 'date_format', 'log_format', 'name']
        assert parameters['level'].default is None
        assert parameters['date_format'].default == DEFAULT_LOGGING_DATE_FORMAT
        assert parameters['log_format'].default == DEFAULT_LOGGING_FORMAT
        assert parameters['name'].default == 'rq.worker'

    def test_setup_loghandlers(self) -> None:
        logger = logging.getLogger(f'rq.test_names_{uuid.uuid4().hex}')
        logger.propagate = False  # (pytest's handler on the root logger would count as one already)
        logutils.setup_loghandlers(name=logger.name)
        assert [type(h) for h in logger.handlers] == [logutils.ColorizingStreamHandler] * 2
        assert logger.level == logging.NOTSET  # level=None leaves it
        logutils.setup_loghandlers('debug', name=logger.name)
        assert len(logger.handlers) == 2  # not added twice
        assert logger.level == logging.DEBUG

    def test_colorizing_stream_handler_takes_upstreams_arguments(self) -> None:
        stream = io.StringIO()
        handler = logutils.ColorizingStreamHandler(exclude=['x'], stream=stream)
        assert handler.exclude == ['x'] and handler.stream is stream
        assert logutils.ColorizingStreamHandler(None, stream).stream is stream
        assert handler.levels[logging.WARNING] is logutils.yellow

    def test_colorizers(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(logutils.colorizer, 'notty', True)
        assert logutils.red('x') == 'x'
        monkeypatch.setattr(logutils.colorizer, 'notty', False)
        assert logutils.red('x') == '\x1b[31mx\x1b[39;49;00m'
        assert logutils.green('x') == '\x1b[32mx\x1b[39;49;00m'
        assert logutils.make_colorizer('white')('x') == '\x1b[01mx\x1b[39;49;00m'


class FakeWorker:
    """What prepare_execution and cleanup_execution use of a worker."""

    def __init__(self, connection: redis.Redis) -> None:
        self.name = 'w1'
        self.connection = connection
        self.execution: Execution | None = None
        self.states: list[str] = []
        self.current_job_ids: list[str | None] = []

    def get_heartbeat_ttl(self, job: Job) -> int:
        return 90

    def set_state(self, state: str, pipeline: Any = None) -> None:
        self.states.append(state)

    def set_current_job_id(self, job_id: str | None = None, pipeline: Any = None) -> None:
        self.current_job_ids.append(job_id)


class TestExecutions:
    def test_prepare_and_cleanup_execution(self, connection: redis.Redis) -> None:
        job = Queue(connection=connection).enqueue(rqtest_jobs.say_hello)
        worker = FakeWorker(connection)
        execution = executions.prepare_execution(worker, job)
        assert worker.execution is execution and worker.states == ['busy']
        assert connection.hget(execution.key, 'worker_name') == b'w1'
        assert 0 < connection.ttl(execution.key) <= 90
        assert connection.zscore(job.started_job_registry.key, execution.composite_key) is not None
        assert ExecutionRegistry(job.id, connection).get_execution_ids() == [execution.id]
        with connection.pipeline() as pipe:
            executions.cleanup_execution(worker, job, pipe)
            pipe.execute()
        assert worker.execution is None and worker.current_job_ids == [None]
        assert not connection.exists(execution.key)
        assert connection.zcard(job.started_job_registry.key) == 0
        assert ExecutionRegistry(job.id, connection).get_execution_ids() == []

    def test_logger_and_key_template(self) -> None:
        assert executions.logger.name == 'rq.worker'
        assert ExecutionRegistry.key_template == 'rq:executions:{0}'


class TestSerializers:
    def test_aliases(self) -> None:
        assert dict(SERIALIZER_ALIASES) == {'json': JSONSerializer, 'pickle': DefaultSerializer}
        assert resolve_serializer('json') is JSONSerializer


class TestQueue:
    def test_every_upstream_keyword(self, connection: redis.Redis) -> None:
        queue = Queue(
            name='kw',
            connection=connection,
            default_timeout='5m',
            is_async=False,
            job_class='rq.job.Job',
            serializer='json',
            death_penalty_class=TimerDeathPenalty,
        )
        assert (queue.name, queue._default_timeout, queue.is_async) == ('kw', 300, False)
        assert queue.job_class is Job and queue.serializer is JSONSerializer
        assert queue.death_penalty_class is TimerDeathPenalty

    def test_other_keywords_are_ignored_as_upstream_does(self, connection: redis.Redis) -> None:
        # (django-rq passes autocommit and commit_mode through to its queue class)
        queue = Queue('q', connection=connection, autocommit=True, commit_mode='request', bogus=1)
        assert queue.name == 'q' and not hasattr(queue, 'autocommit')

    def test_logger(self, connection: redis.Redis) -> None:
        from rq import queue as queue_module

        assert queue_module.logger.name == 'rq.queue'
        assert Queue(connection=connection).log is queue_module.logger

    def test_maintenance_lock(self, connection: redis.Redis) -> None:
        queue = Queue('m', connection=connection)
        assert queue.registry_cleaning_key == 'rq:clean_registries:m'
        assert queue.acquire_maintenance_lock() is True
        assert queue.acquire_maintenance_lock() is False
        assert 890 < connection.ttl('rq:clean_registries:m') <= 899
        queue.release_maintenance_lock()
        assert not connection.exists('rq:clean_registries:m')
        assert queue.acquire_maintenance_lock() is True

    def test_get_redis_server_version(self, connection: redis.Redis) -> None:
        queue = Queue(connection=connection)
        version = queue.get_redis_server_version()
        expected = tuple(int(part) for part in str(connection.info('server')['redis_version']).split('.')[:3])
        assert version == expected and queue.redis_server_version == expected

    def test_setup_dependencies_defers_behind_an_unmet_dependency(self, connection: redis.Redis) -> None:
        queue = Queue(connection=connection)
        parent = queue.enqueue(rqtest_jobs.say_hello)
        child = Job.create(rqtest_jobs.say_hello, connection=connection, depends_on=parent, origin=queue.name)
        assert queue.setup_dependencies(child) is child
        assert child.get_status() == JobStatus.DEFERRED
        assert child.id in DeferredJobRegistry(queue=queue)
        assert connection.smembers(f'rq:job:{parent.id}:dependents') == {child.id.encode()}
        assert connection.smembers(f'rq:job::{child.id}:dependencies') == {parent.id.encode()}
        assert queue.job_ids == [parent.id]

    def test_setup_dependencies_leaves_a_job_whose_dependencies_are_met(self, connection: redis.Redis) -> None:
        queue = Queue(connection=connection)
        parent = queue.enqueue(rqtest_jobs.say_hello)
        parent.set_status(JobStatus.FINISHED)
        child = Job.create(rqtest_jobs.say_hello, connection=connection, depends_on=parent, origin=queue.name)
        assert queue.setup_dependencies(child) is child
        assert not connection.exists(child.key)
        assert child.id not in DeferredJobRegistry(queue=queue)

    def test_setup_dependencies_leaves_a_given_pipeline_in_multi(self, connection: redis.Redis) -> None:
        queue = Queue(connection=connection)
        job = Job.create(rqtest_jobs.say_hello, connection=connection)
        with connection.pipeline() as pipe:
            queue.setup_dependencies(job, pipeline=pipe)
            assert pipe.explicit_transaction


class TestRegistries:
    @pytest.mark.parametrize(
        ('registry_class', 'template'),
        [
            (BaseRegistry, 'rq:registry:{0}'),
            (StartedJobRegistry, 'rq:wip:{0}'),
            (FinishedJobRegistry, 'rq:finished:{0}'),
            (FailedJobRegistry, 'rq:failed:{0}'),
            (DeferredJobRegistry, 'rq:deferred:{0}'),
            (ScheduledJobRegistry, 'rq:scheduled:{0}'),
            (CanceledJobRegistry, 'rq:canceled:{0}'),
        ],
    )
    def test_key_template(self, registry_class: type[BaseRegistry], template: str, connection: redis.Redis) -> None:
        assert registry_class.key_template == template
        assert registry_class('q', connection=connection).key == template.format('q')

    def test_a_subclass_key_template_names_its_key(self, connection: redis.Redis) -> None:
        class AuditRegistry(FinishedJobRegistry):
            key_template = 'rq:audit:{0}'

        assert AuditRegistry('q', connection=connection).key == 'rq:audit:q'

    def test_class_attributes(self, connection: redis.Redis) -> None:
        assert BaseRegistry.job_class is Job
        assert BaseRegistry.death_penalty_class is UnixSignalDeathPenalty

        class MyJob(Job):
            pass

        class MyRegistry(FailedJobRegistry):
            job_class = MyJob
            death_penalty_class = TimerDeathPenalty

        registry = MyRegistry('q', connection=connection)
        assert registry.job_class is MyJob and registry.death_penalty_class is TimerDeathPenalty
        assert FailedJobRegistry('q', connection=connection, job_class=MyJob).job_class is MyJob


class TestDependency:
    def test_dependencies_attribute(self) -> None:
        assert Dependency(['a', 'b']).dependencies == ['a', 'b']
        assert Dependency('a').dependencies == ['a']

    def test_get_jobs_with_met_dependencies(self, connection: redis.Redis) -> None:
        queue = Queue(connection=connection)
        done = queue.enqueue(rqtest_jobs.say_hello)
        done.set_status(JobStatus.FINISHED)
        waiting = queue.enqueue(rqtest_jobs.say_hello)
        met = Job.create(rqtest_jobs.say_hello, connection=connection, depends_on=done)
        unmet = Job.create(rqtest_jobs.say_hello, connection=connection, depends_on=waiting)
        free = Job.create(rqtest_jobs.say_hello, connection=connection)
        with connection.pipeline() as pipe:
            result = Dependency.get_jobs_with_met_dependencies([met, unmet, free], pipe)
        assert result == ([met, free], [unmet])
        assert connection.smembers(f'rq:job:{waiting.id}:dependents') == {unmet.id.encode()}
        assert connection.smembers(f'rq:job:{done.id}:dependents') == {met.id.encode()}


class TestReprs:
    def test_group(self, connection: redis.Redis) -> None:
        assert repr(Group(connection, name='g1')) == 'Group(id=g1)'

    def test_retry(self) -> None:
        assert repr(Retry(3)) == 'Retry(max=3, interval=0, enqueue_at_front=False)'
        assert repr(Retry(3, [1, 2])) == 'Retry(max=3, interval=[1, 2], enqueue_at_front=False)'
        assert repr(Retry(2, interval=5, enqueue_at_front=True)) == 'Retry(max=2, interval=5, enqueue_at_front=True)'

    def test_retry_with_an_empty_interval_list_waits_nothing(self, connection: redis.Redis) -> None:
        # (RQ accepts the empty list, then its worker fails at the retry reading it back)
        job = Queue(connection=connection).enqueue(len, 'ab', retry=Retry(2, interval=[]))
        assert Retry(2, interval=[]).intervals == [0]
        assert connection.hget(job.key, 'retry_intervals') == b'[0]'

    def test_result(self, connection: redis.Redis) -> None:
        result = Result('j1', Result.Type.SUCCESSFUL, connection, id='1700000000000-0')
        assert repr(result) == 'Result(id=1700000000000-0, type=SUCCESSFUL)'

    def test_webhook_is_a_dataclass(self) -> None:
        webhook = Webhook('http://example.com/a', 'finished')
        assert dataclasses.is_dataclass(webhook)
        assert (webhook.url, webhook.job_status, webhook.method, webhook.headers, webhook.timeout) == (
            'http://example.com/a',
            'finished',
            'GET',
            None,
            10,
        )
        assert repr(webhook) == (
            "Webhook(url='http://example.com/a', job_status='finished', method='GET', headers=None, timeout=10)"
        )
        assert webhook == Webhook('http://example.com/a', 'finished')
        assert webhook != Webhook('http://example.com/a', 'failed')
        assert dataclasses.asdict(webhook) == webhook.to_dict()


class TestRepeatArguments:
    def test_accepted(self) -> None:
        assert (Repeat(2).times, Repeat(2).intervals) == (2, [0])
        assert Repeat(2, interval=(x for x in [1, 2])).intervals == [1, 2]
        assert Repeat(2, interval=[1.5]).intervals == [1.5]  # type: ignore[list-item]
        assert Repeat(2, interval=[]).intervals == []
        assert Repeat(True).times == 1
        assert Repeat(2.0).times == 2  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ('args', 'error', 'message'),
        [
            ((0,), ValueError, 'times: please enter a value greater than 0'),
            ((2, [-1]), ValueError, 'intervals: negative numbers are not allowed'),
            ((2, -1), ValueError, 'intervals: negative numbers are not allowed'),
            ((2, None), TypeError, 'intervals must be an int or iterable of ints'),
            ((2, 2.5), TypeError, 'intervals must be an int or iterable of ints'),
            (('3',), TypeError, 'not supported'),
        ],
    )
    def test_rejected_as_upstream_does(self, args: tuple[Any, ...], error: type[Exception], message: str) -> None:
        with pytest.raises(error, match=message):
            Repeat(*args)


class TestTimerDeathPenalty:
    def test_new_timer_calls_handle_death_penalty(self) -> None:
        penalty = TimerDeathPenalty(3)
        timer = penalty.new_timer()
        assert timer.interval == 3 and timer.function == penalty.handle_death_penalty
        assert timer is not penalty.new_timer()  # a timer runs once

    def test_handle_death_penalty_raises_in_the_creating_thread(self) -> None:
        penalty = TimerDeathPenalty(3)
        with pytest.raises(JobTimeoutException, match=r'maximum timeout value \(3 seconds\)'):
            penalty.handle_death_penalty()  # raised asynchronously in this thread: delivered at the next bytecode
            for _ in range(1000):
                pass
