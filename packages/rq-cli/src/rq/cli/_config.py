"""The options every ``rq`` subcommand shares, and what they resolve to (:class:`CliConfig`).

Classes, the serializer, the config module and the connection are resolved on first use, so a
command pays only for what it needs and a bad value is reported as a one-line error naming its option.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging.config
import os
import sys
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import click
import redis
from redis.cluster import RedisCluster

from rq._redis.first_answer import wait_for_first_answer
from rq.defaults import (
    DEFAULT_CONNECTION_CLASS,
    DEFAULT_JOB_CLASS,
    DEFAULT_QUEUE_CLASS,
    DEFAULT_SERIALIZER_CLASS,
    DEFAULT_WORKER_CLASS,
)
from rq.job import Job
from rq.queue import Queue
from rq.serializers import Serializer, resolve_serializer
from rq.utils import import_attribute

from ._connection import connect, describe
from ._errors import CliError

#: Worker classes that may be named without their module.
WORKER_CLASS_NAMES = (
    'Worker',
    'SimpleWorker',
    'SpawnWorker',
    'ConcurrentWorker',
    'HerokuWorker',
    'RoundRobinWorker',
    'RandomWorker',
)

SHARED_OPTIONS = (
    click.option('--url', '-u', envvar='RQ_REDIS_URL', help='Redis URL, e.g. redis://localhost:6379/0.'),
    click.option('--config', '-c', envvar='RQ_CONFIG', help='Settings module (REDIS_URL, QUEUES, ...) or .py file.'),
    click.option(
        '--worker-class',
        '-w',
        envvar='RQ_WORKER_CLASS',
        default=DEFAULT_WORKER_CLASS,
        show_default=True,
        help='Worker class: Worker, SimpleWorker, SpawnWorker, ConcurrentWorker, HerokuWorker or a dotted path '
        '(ConcurrentWorker with --concurrency).',
    ),
    click.option(
        '--job-class',
        '-j',
        envvar='RQ_JOB_CLASS',
        default=DEFAULT_JOB_CLASS,
        show_default=True,
        help='Dotted path of the Job class.',
    ),
    click.option(
        '--queue-class',
        envvar='RQ_QUEUE_CLASS',
        default=DEFAULT_QUEUE_CLASS,
        show_default=True,
        help='Dotted path of the Queue class.',
    ),
    click.option(
        '--connection-class',
        envvar='RQ_CONNECTION_CLASS',
        default=DEFAULT_CONNECTION_CLASS,
        show_default=True,
        help='Dotted path of the Redis client class.',
    ),
    click.option(
        '--path',
        '-P',
        'paths',
        multiple=True,
        default=['.'],
        show_default=True,
        help='Add to the import path (repeatable).',
    ),
    click.option(
        '--serializer',
        '-S',
        default=None,
        help="json, pickle or a dotted path (default: the config module's SERIALIZER, else $RQ_SERIALIZER, "
        'else pickle).',
    ),
    click.option('--verbose', '-v', is_flag=True, help='More output; tracebacks of errors.'),
)
SHARED_NAMES = (
    'url',
    'config',
    'worker_class',
    'job_class',
    'queue_class',
    'connection_class',
    'paths',
    'serializer',
    'verbose',
)


def shared_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared options to a click command function, which then receives a :class:`CliConfig`
    as its first argument instead of them."""

    @functools.wraps(command)
    def run(**kwargs: Any) -> Any:
        shared = {name: kwargs.pop(name) for name in SHARED_NAMES}
        return command(CliConfig(**shared), **kwargs)

    for option in reversed(SHARED_OPTIONS):
        run = option(run)
    return run


class CliConfig:
    """What the shared options say: import paths, classes, serializer, settings and the connection."""

    def __init__(
        self,
        url: str | None = None,
        config: str | None = None,
        worker_class: str = DEFAULT_WORKER_CLASS,
        job_class: str = DEFAULT_JOB_CLASS,
        queue_class: str = DEFAULT_QUEUE_CLASS,
        connection_class: str = DEFAULT_CONNECTION_CLASS,
        paths: tuple[str, ...] | list[str] = ('.',),
        serializer: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.url = url
        self.config = config
        self.worker_class_path = worker_class
        self.job_class_path = job_class
        self.queue_class_path = queue_class
        self.connection_class_path = connection_class
        self.serializer_path = serializer
        self.verbose = verbose
        for path in paths:
            if path not in sys.path:
                sys.path.append(path)

    # -- settings and connection -------------------------------------------------------------

    @cached_property
    def settings(self) -> dict[str, Any]:
        """The UPPERCASE names of the config module (empty without ``--config``)."""
        if not self.config:
            return {}
        module = load_settings_module(self.config)
        return {name: value for name, value in vars(module).items() if name.isupper()}

    def apply_dict_config(self) -> None:
        """Configure logging from the ``DICT_CONFIG`` setting, if there is one."""
        dict_config = self.settings.get('DICT_CONFIG')
        if not dict_config:
            return
        try:
            logging.config.dictConfig(dict_config)
        except (ValueError, TypeError, AttributeError, ImportError) as exc:
            raise CliError(f'invalid DICT_CONFIG: {exc}', '--config') from exc  # (exit code 1, as upstream)

    #: Set by the worker commands: a server that is there but slow to answer (a long script, a
    #: pause, a dataset still loading) is waited for, with one line on stderr, instead of failing.
    wait_while_slow = False

    @cached_property
    def connection(self) -> redis.Redis:
        """The Redis client, checked with a PING so that an unreachable server is one clear error."""
        client = connect(self.connection_class, self.url, self.settings if self.config else os.environ)

        def note(exc: BaseException) -> None:
            click.echo(f'Redis at {describe(client)} is slow to answer ({exc}); waiting', err=True)

        try:
            if self.wait_while_slow:
                wait_for_first_answer(client, note)
            else:
                client.ping()
        except redis.exceptions.RedisError as exc:
            raise CliError(f'cannot connect to Redis at {describe(client)}: {exc}') from exc
        return client

    # -- classes ---------------------------------------------------------------------------

    @cached_property
    def worker_class(self) -> type[Any]:
        from rq.worker import BaseWorker  # deferred: rq-worker only for the commands that run workers

        path = self.worker_class_path
        if path in WORKER_CLASS_NAMES:
            path = f'rq.worker.{path}'
        return import_class(path, BaseWorker, '--worker-class')

    @cached_property
    def concurrent_worker_class(self) -> type[Any]:
        """The worker class for ``--concurrency``: ConcurrentWorker, unless ``--worker-class`` names
        another, which must run jobs concurrently too."""
        from rq.worker import ConcurrentWorker  # deferred: rq-worker only for the commands that run workers

        if self.worker_class_path in (DEFAULT_WORKER_CLASS, 'Worker', 'rq.worker.Worker'):
            return ConcurrentWorker
        worker_class = self.worker_class
        if not issubclass(worker_class, ConcurrentWorker):
            raise CliError(
                f'--concurrency needs a worker class that runs jobs concurrently (rq.worker.ConcurrentWorker or a '
                f'subclass), not {self.worker_class_path}',
                '--worker-class',
            )
        return worker_class

    @cached_property
    def job_class(self) -> type[Job]:
        return import_class(self.job_class_path, Job, '--job-class')

    @cached_property
    def queue_class(self) -> type[Queue]:
        return import_class(self.queue_class_path, Queue, '--queue-class')

    @cached_property
    def connection_class(self) -> type[redis.Redis]:
        """A ``redis.Redis`` subclass, or redis-py's cluster client (``redis.cluster.RedisCluster``
        or a subclass: no ``Redis`` subclass, but the same commands and ``from_url``)."""
        value: type[redis.Redis] = import_class(
            self.connection_class_path, (redis.Redis, RedisCluster), '--connection-class'
        )
        return value

    @cached_property
    def serializer(self) -> Serializer:
        try:
            chosen = self.serializer_path
            if chosen in (None, DEFAULT_SERIALIZER_CLASS):  # (upstream's default value: not a choice)
                chosen = self.settings.get('SERIALIZER')
            return resolve_serializer(chosen)
        except (ValueError, NotImplementedError) as exc:
            raise CliError(str(exc), '--serializer') from exc

    def queue(self, name: str) -> Queue:
        """The queue ``name`` built with the configured queue class, job class and serializer."""
        try:
            return self.queue_class(
                name, connection=self.connection, job_class=self.job_class, serializer=self.serializer
            )
        except ValueError as exc:
            raise CliError(str(exc)) from exc

    def all_queues(self) -> list[Queue]:
        """Every known queue (``Queue.all``), sorted by name."""
        return self.queue_class.all(connection=self.connection, job_class=self.job_class, serializer=self.serializer)


def import_class(path: str, base: type[Any] | tuple[type[Any], ...], option: str) -> type[Any]:
    """Import ``path`` and check that it is ``base`` (or one of the ``base`` classes) or a subclass."""
    try:
        value = import_attribute(path)
    except (ImportError, AttributeError, ValueError) as exc:
        raise CliError(f'cannot import {path!r}: {exc}', option) from exc
    if not (isinstance(value, type) and issubclass(value, base)):
        bases = base if isinstance(base, tuple) else (base,)
        names = ' or '.join(f'{cls.__module__}.{cls.__qualname__}' for cls in bases)
        raise CliError(f'{path!r} is not a subclass of {names}', option)
    return value


def load_settings_module(name: str) -> Any:
    """Import the settings module ``name`` (dotted) or load it from a ``.py`` file path."""
    try:
        if name.endswith('.py') or os.sep in name:
            path = Path(name).expanduser()
            spec = importlib.util.spec_from_file_location(f'rq_cli_settings_{path.stem}', path)
            if spec is None or spec.loader is None or not path.is_file():
                raise FileNotFoundError(f'no such file: {str(path)!r}')
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module
        return importlib.import_module(name)
    except Exception as exc:  # the user's module may fail in any way: one line, the traceback with -v
        # (exit code 1, as upstream's traceback)
        raise CliError(f'cannot load settings from {name!r}: {type(exc).__name__}: {exc}', '--config') from exc
