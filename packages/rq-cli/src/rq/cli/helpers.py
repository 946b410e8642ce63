"""Upstream RQ's ``rq.cli.helpers`` with its names and signatures: reading settings and making the
connection, the shared options and ``pass_cli_config`` (for commands added with ``@main.command()``),
``rq info``'s text, and the parsing of ``rq enqueue``'s arguments and schedule.

They are built on this package's own modules, so they behave as the ``rq`` command does.
"""

from __future__ import annotations

import functools
import importlib
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import Enum
from functools import cached_property, partial
from typing import Any

import click
from redis import Redis

from rq.defaults import (
    DEFAULT_CONNECTION_CLASS,
    DEFAULT_DEATH_PENALTY_CLASS,
    DEFAULT_JOB_CLASS,
    DEFAULT_QUEUE_CLASS,
    DEFAULT_SERIALIZER_CLASS,
    DEFAULT_WORKER_CLASS,
)
from rq.logutils import setup_loghandlers
from rq.queue import Queue
from rq.utils import import_attribute, now, parse_timeout

from . import _config
from ._connection import from_settings
from ._enqueue_args import parse_argument, parse_arguments
from ._errors import CliError
from ._info_plain import chart_scale, info_lines, state_text
from ._info_snapshot import Snapshot, WorkerRow, count_queues, worker_row

__all__ = [
    'ClassPathError',
    'CliConfig',
    'ParsingMode',
    'get_redis_from_config',
    'get_scale',
    'green',
    'import_attribute',
    'pad',
    'parse_function_arg',
    'parse_function_args',
    'parse_schedule',
    'pass_cli_config',
    'read_config_file',
    'red',
    'refresh',
    'setup_loghandlers_from_args',
    'shared_options',
    'show_both',
    'show_queues',
    'show_workers',
    'state_symbol',
    'yellow',
]

red = partial(click.style, fg='red')
green = partial(click.style, fg='green')
yellow = partial(click.style, fg='yellow')

SCHEDULE_AT_FORMAT = '%Y-%m-%dT%H:%M:%S'


# -- settings and connection ----------------------------------------------------------------------


def read_config_file(module: str) -> dict[str, Any]:
    """The names of the settings module ``module`` (a dotted name) written in capitals, with their values."""
    settings = importlib.import_module(module)
    return {name: value for name, value in vars(settings).items() if name.upper() == name}


def get_redis_from_config(settings: Mapping[str, Any], connection_class: type[Redis] = Redis) -> Redis:
    """A client built from ``settings``: ``REDIS_URL``, else ``SENTINEL`` (a dict of ``INSTANCES``,
    ``MASTER_NAME``, ``DB``, ...), else ``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_DB``, ``REDIS_PASSWORD``
    and ``REDIS_SSL*``. A value that cannot be used raises ``ValueError``."""
    try:
        return from_settings(connection_class, settings)
    except CliError as exc:
        raise ValueError(exc.message) from exc


class ClassPathError(CliError, ValueError):
    """A class path :class:`CliConfig` cannot use: a ``ValueError``, as upstream's (whose
    ``import_attribute`` raises one), which the ``rq`` command reports as one line, exit code 1."""


class CliConfig(_config.CliConfig):
    """What the shared options say, with upstream's signature: the classes are imported at once (a
    path that cannot be used raises :class:`ClassPathError`, a ``ValueError`` naming its option),
    ``path`` entries are added to ``sys.path``, and ``connection`` is made on first use (without a
    round trip)."""

    def __init__(
        self,
        url: str | None = None,
        config: str | None = None,
        worker_class: str = DEFAULT_WORKER_CLASS,
        job_class: str = DEFAULT_JOB_CLASS,
        death_penalty_class: str = DEFAULT_DEATH_PENALTY_CLASS,
        queue_class: str = DEFAULT_QUEUE_CLASS,
        connection_class: str = DEFAULT_CONNECTION_CLASS,
        path: Sequence[str] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            url=url,
            config=config,
            worker_class=worker_class,
            job_class=job_class,
            queue_class=queue_class,
            connection_class=connection_class,
            paths=tuple(path or ()),
            serializer=kwargs.get('serializer') or DEFAULT_SERIALIZER_CLASS,
            verbose=bool(kwargs.get('verbose')),
        )
        for attribute in ('worker_class', 'job_class', 'queue_class', 'connection_class'):
            try:
                getattr(self, attribute)  # (each message names its option)
            except CliError as exc:
                raise ClassPathError(exc.message) from exc
        try:
            self.death_penalty_class: type[Any] = import_attribute(death_penalty_class)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ClassPathError(f'cannot import {death_penalty_class!r}: {exc}', '--death-penalty-class') from exc

    @cached_property
    def connection(self) -> Redis:
        if self.url:
            return self.connection_class.from_url(self.url)
        settings: Mapping[str, Any] = read_config_file(self.config) if self.config else os.environ
        return get_redis_from_config(settings, self.connection_class)


#: The options every command of upstream's ``rq`` takes (``pass_cli_config`` adds them).
shared_options = [
    click.option('--url', '-u', envvar='RQ_REDIS_URL', help='URL describing Redis connection details.'),
    click.option('--config', '-c', envvar='RQ_CONFIG', help='Module containing RQ settings.'),
    click.option(
        '--worker-class', '-w', envvar='RQ_WORKER_CLASS', default=DEFAULT_WORKER_CLASS, help='RQ Worker class to use'
    ),
    click.option('--job-class', '-j', envvar='RQ_JOB_CLASS', default=DEFAULT_JOB_CLASS, help='RQ Job class to use'),
    click.option('--queue-class', envvar='RQ_QUEUE_CLASS', default=DEFAULT_QUEUE_CLASS, help='RQ Queue class to use'),
    click.option(
        '--connection-class',
        envvar='RQ_CONNECTION_CLASS',
        default=DEFAULT_CONNECTION_CLASS,
        help='Redis client class to use',
    ),
    click.option('--path', '-P', default=['.'], multiple=True, help='Specify the import path.'),
    click.option(
        '--serializer',
        '-S',
        default=DEFAULT_SERIALIZER_CLASS,
        help='Serializer to use. Accepts json, pickle, or a dotted import path (the default: $RQ_SERIALIZER, '
        'else pickle).',
    ),
]


def pass_cli_config(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a click command the shared options; it is called with a :class:`CliConfig` first, then
    every option (the shared ones too) as keyword arguments."""

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        return func(CliConfig(**kwargs), **kwargs)

    for option in shared_options:
        command = option(command)
    return command


# -- rq info's text -------------------------------------------------------------------------------


def pad(s: str, pad_to_length: int) -> str:
    """``s`` followed by spaces up to ``pad_to_length`` characters."""
    return f'{s:<{pad_to_length}}'


def get_scale(x: int) -> int:
    """The scale of ``rq info``'s bars for a longest queue of ``x`` jobs."""
    return chart_scale(x)


def state_symbol(state: str) -> str:
    """A worker state, coloured (busy red, idle green, suspended yellow)."""
    return state_text(str(state))


def _workers_of(queues: list[Queue], worker_class: Any, connection: Redis) -> list[WorkerRow]:
    found: dict[str, Any] = {}
    asked: list[Queue | None] = list(queues) or [None]
    for queue in asked:
        for worker in worker_class.all(connection=connection, queue=queue):
            found.setdefault(worker.name, worker)
    return sorted((worker_row(worker) for worker in found.values()), key=lambda row: row.name)


def _show(
    queues: Iterable[Queue], raw: bool, by_queue: bool, worker_class: Any, connection: Redis, parts: tuple[bool, bool]
) -> None:
    chosen = list(queues)
    show_queues, show_workers = parts
    snapshot = Snapshot(
        queues=count_queues(chosen) if show_queues else [],
        workers=_workers_of(chosen, worker_class, connection) if show_workers else [],
        show_queues=show_queues,
        show_workers=show_workers,
        queue_names=[queue.name for queue in chosen],
    )
    for line in info_lines(snapshot, by_queue, raw):
        click.echo(line)


def show_queues(
    queues: Iterable[Queue], raw: bool, by_queue: bool, queue_class: Any, worker_class: Any, connection: Redis
) -> None:
    """Print ``rq info -Q``'s text for ``queues``."""
    _show(queues, raw, by_queue, worker_class, connection, (True, False))


def show_workers(
    queues: Iterable[Queue], raw: bool, by_queue: bool, queue_class: Any, worker_class: Any, connection: Redis
) -> None:
    """Print ``rq info -W``'s text: the workers of ``queues`` (all workers when there are none)."""
    _show(queues, raw, by_queue, worker_class, connection, (False, True))


def show_both(
    queues: Iterable[Queue], raw: bool, by_queue: bool, queue_class: Any, worker_class: Any, connection: Redis
) -> None:
    """Print ``rq info``'s text for ``queues`` and their workers."""
    _show(queues, raw, by_queue, worker_class, connection, (True, True))


def refresh(interval: float | None, func: Callable[..., Any], *args: Any) -> None:
    """Call ``func(*args)`` once, or (``interval`` seconds) forever on a cleared screen every ``interval`` s."""
    while True:
        if interval:
            click.clear()
        func(*args)
        if not interval:
            return
        time.sleep(interval)


def setup_loghandlers_from_args(verbose: bool, quiet: bool, date_format: str, log_format: str) -> None:
    """Set up the ``rq`` loggers as the worker commands do: DEBUG with ``verbose``, WARNING with
    ``quiet``, else the level unchanged."""
    if verbose and quiet:
        raise RuntimeError('Flags --verbose and --quiet are mutually exclusive.')
    level = 'DEBUG' if verbose else 'WARNING' if quiet else None
    setup_loghandlers(level, date_format=date_format, log_format=log_format)


# -- rq enqueue's arguments and schedule ----------------------------------------------------------


class ParsingMode(Enum):
    """How an argument of ``rq enqueue`` is read: as text, JSON (``:``) or a Python literal (``%``)."""

    PLAIN_TEXT = 0
    JSON = 1
    LITERAL_EVAL = 2


def parse_function_arg(argument: str, arg_pos: int) -> tuple[str | None, Any]:
    """``(keyword or None, value)`` for one argument of ``rq enqueue`` (the ``arg_pos``-th, for messages)."""
    try:
        return parse_argument(argument, arg_pos)
    except CliError as exc:
        raise click.BadParameter(exc.message) from exc


def parse_function_args(arguments: Iterable[str]) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments that ``rq enqueue``'s ARGUMENTS stand for."""
    try:
        return parse_arguments(arguments)
    except CliError as exc:
        raise click.BadParameter(exc.message) from exc


def parse_schedule(schedule_in: str | None, schedule_at: str | None) -> datetime | None:
    """When ``rq enqueue --schedule-in``/``--schedule-at`` asks the job to be enqueued (None: now)."""
    if schedule_in is not None:
        if schedule_at is not None:
            raise click.BadArgumentUsage("You can't specify both --schedule-in and --schedule-at")
        return now() + timedelta(seconds=parse_timeout(schedule_in) or 0)
    if schedule_at is not None:
        return datetime.strptime(schedule_at, SCHEDULE_AT_FORMAT)
    return None
