"""``rq worker`` and ``rq worker-pool``: run workers from the shell."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from typing import Any

import click
import redis

from rq.defaults import (
    DEFAULT_JOB_MONITORING_INTERVAL,
    DEFAULT_LOGGING_DATE_FORMAT,
    DEFAULT_LOGGING_FORMAT,
    DEFAULT_MAINTENANCE_TASK_INTERVAL,
    DEFAULT_RESULT_TTL,
    DEFAULT_WORKER_TTL,
)
from rq.logutils import setup_loghandlers
from rq.suspension import is_suspended
from rq.trust import ACCEPT_UNSIGNED_ENV, ALLOWED_FUNCTIONS_ENV, SIGNING_KEYS_ENV
from rq.utils import import_attribute

from ._command import RqCommand
from ._config import CliConfig, shared_options
from ._console import print_warning
from ._errors import CliError, UsageError, one_line
from ._output import plain_output

#: A worker's exit code when it stopped to be replaced (rq.worker.concurrent.REPLACE_EXIT_CODE).
REPLACE_EXIT_CODE = 75

DEQUEUE_STRATEGIES = ('default', 'round_robin', 'random')
SUSPENDED_MESSAGE = 'RQ is currently suspended, to resume job execution run "rq resume"'
_DEPRECATED_WORKERS = {'RoundRobinWorker': 'round_robin', 'RandomWorker': 'random'}


def shared_worker_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options of both worker commands: ``-q/--quiet``, ``--log-format``, ``--date-format`` and
    ``--exception-handler`` (``-v`` is a shared option)."""
    command = click.option('--quiet', '-q', is_flag=True, help='Less output: warnings and errors only.')(command)
    command = click.option(
        '--log-format',
        default=DEFAULT_LOGGING_FORMAT,
        show_default=True,
        help='Format of each log line (Python logging format).',
    )(command)
    command = click.option(
        '--date-format', default=DEFAULT_LOGGING_DATE_FORMAT, show_default=True, help='Format of the time in log lines.'
    )(command)
    command = click.option(
        '--signing-keys',
        metavar='KEYS',
        help='Comma-separated keys, newest first: run only jobs signed with one of them (sign with the first). '
        'Visible to other users of this host in the process list: prefer $RQ_SIGNING_KEYS or the SIGNING_KEYS '
        'setting.  [default: the SIGNING_KEYS setting, else $RQ_SIGNING_KEYS]',
    )(command)
    command = click.option(
        '--accept-unsigned',
        is_flag=True,
        default=None,
        help='With signing keys: run unsigned jobs too, with a warning, counted in rq info (while producers '
        'are given the keys).  [default: the ACCEPT_UNSIGNED setting, else $RQ_ACCEPT_UNSIGNED]',
    )(command)
    command = click.option(
        '--allowed-functions',
        metavar='PREFIXES',
        help='Comma-separated dotted prefixes (myapp.tasks): import job functions and callbacks from there only.  '
        '[default: the ALLOWED_FUNCTIONS setting, else $RQ_ALLOWED_FUNCTIONS]',
    )(command)
    return click.option(
        '--exception-handler',
        multiple=True,
        help='Dotted path of a function called with (job, exc_type, exc_value, traceback) when a job fails '
        '(repeatable; called in order).',
    )(command)


def apply_trust_settings(
    cli: CliConfig, signing_keys: str | None, accept_unsigned: bool | None, allowed_functions: str | None
) -> None:
    """Put the trust settings (options, else the config module's) in the environment, where every
    worker this command starts reads them (see rq.trust): a pool's, a supervisor's, any worker class."""
    chosen = {
        SIGNING_KEYS_ENV: signing_keys if signing_keys is not None else cli.settings.get('SIGNING_KEYS'),
        ACCEPT_UNSIGNED_ENV: accept_unsigned if accept_unsigned is not None else cli.settings.get('ACCEPT_UNSIGNED'),
        ALLOWED_FUNCTIONS_ENV: allowed_functions
        if allowed_functions is not None
        else cli.settings.get('ALLOWED_FUNCTIONS'),
    }
    for variable, value in chosen.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = '1' if value else '0'
        elif not isinstance(value, str):
            value = ','.join(item.decode() if isinstance(item, bytes) else str(item) for item in value)
        os.environ[variable] = value


@click.command('worker', cls=RqCommand)
@click.option('--burst', '-b', is_flag=True, help='Quit once the queues are empty.')
@click.option(
    '--logging_level',
    '--logging-level',
    'logging_level',
    default='INFO',
    show_default=True,
    help='Logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL.',
)
@click.option('--name', '-n', help='Worker name, unique among live workers.  [default: the NAME setting, else random]')
@click.option(
    '--results-ttl',
    type=int,
    default=DEFAULT_RESULT_TTL,
    show_default=True,
    help="Seconds a finished job's result is kept, unless the job sets its own result_ttl.",
)
@click.option(
    '--worker-ttl',
    type=int,
    default=DEFAULT_WORKER_TTL,
    show_default=True,
    help="Seconds the worker's registration outlives its last heartbeat (an idle worker beats every "
    'worker-ttl - 15 s).',
)
@click.option(
    '--maintenance-interval',
    type=int,
    default=DEFAULT_MAINTENANCE_TASK_INTERVAL,
    show_default=True,
    help='Seconds between two cleanings of the registries of the queues.',
)
@click.option(
    '--job-monitoring-interval',
    type=int,
    default=DEFAULT_JOB_MONITORING_INTERVAL,
    show_default=True,
    help='Seconds between heartbeats of a running job; a job whose worker stops beating is failed (or '
    'retried) as abandoned within two intervals.',
)
@click.option(
    '--disable-job-desc-logging',
    is_flag=True,
    help="Log a job's function name only, not its description (which shows the arguments).",
)
@click.option('--pid', help="Write the worker's process id to this file.")
@click.option(
    '--disable-default-exception-handler',
    '-d',
    is_flag=True,
    help='Do not keep failed jobs in the failed job registry (their status still says failed).',
)
@click.option('--max-jobs', type=int, help='Quit after this many jobs.  [default: no limit]')
@click.option('--max-idle-time', type=int, help='Quit after this many seconds without a job.  [default: no limit]')
@click.option('--with-scheduler', '-s', is_flag=True, help='Also move scheduled jobs to their queues when due.')
@click.option(
    '--dequeue-strategy',
    '-ds',
    default='default',
    show_default=True,
    help='Order of the queues: as given (default), rotated after each job (round_robin) or shuffled (random).',
)
@click.option(
    '--concurrency',
    type=click.IntRange(min=1),
    help='Run up to this many jobs at once in one process (threads, and one event loop for async jobs), '
    'under a supervisor that replaces the process if a job cannot be stopped.  [default: one job at a time]',
)
@click.option(
    '--isolate',
    multiple=True,
    metavar='QUEUE',
    help='With --concurrency: run each job of QUEUE in a work horse of its own (repeatable; a job can ask for '
    "one with meta={'rq.isolate': True}).",
)
@click.option(
    '--no-supervisor',
    is_flag=True,
    help=f'With --concurrency: run the worker in this process, which exits with code {REPLACE_EXIT_CODE} when it '
    'must be replaced.',
)
@shared_worker_options
@click.argument('queues', nargs=-1)
@shared_options
def worker(
    cli: CliConfig,
    burst: bool,
    logging_level: str | None,
    name: str | None,
    results_ttl: int,
    worker_ttl: int,
    maintenance_interval: int,
    job_monitoring_interval: int,
    disable_job_desc_logging: bool,
    pid: str | None,
    disable_default_exception_handler: bool,
    max_jobs: int | None,
    max_idle_time: int | None,
    with_scheduler: bool,
    dequeue_strategy: str,
    concurrency: int | None,
    isolate: tuple[str, ...],
    no_supervisor: bool,
    quiet: bool,
    log_format: str,
    date_format: str,
    signing_keys: str | None,
    accept_unsigned: bool | None,
    allowed_functions: str | None,
    exception_handler: tuple[str, ...],
    queues: tuple[str, ...],
) -> None:
    """Run a worker on QUEUES (default: the QUEUES setting, else 'default'), highest priority first."""
    if dequeue_strategy not in DEQUEUE_STRATEGIES:  # (checked here, not by click: exit code 1, as upstream)
        choices = ', '.join(map(repr, DEQUEUE_STRATEGIES))
        raise CliError(f'{dequeue_strategy!r} is not one of {choices}', '--dequeue-strategy')
    level = _logging_level(cli.verbose, quiet, logging_level)
    cli.apply_dict_config()
    apply_trust_settings(cli, signing_keys, accept_unsigned, allowed_functions)
    if pid:
        with open(os.path.expanduser(pid), 'w') as pid_file:
            pid_file.write(str(os.getpid()))
    cli.wait_while_slow = True
    if isolate and concurrency is None:
        raise UsageError('needs --concurrency (a forking worker runs every job in a horse already)', '--isolate')
    worker_class = cli.worker_class if concurrency is None else cli.concurrent_worker_class
    extra = {} if concurrency is None else {'concurrency': concurrency, 'isolated_queues': list(isolate)}
    _warn_if_deprecated(worker_class)
    handlers = _exception_handlers(exception_handler)
    if is_suspended(cli.connection):
        if plain_output():  # (for scripts: upstream's line, on stdout)
            click.echo(SUSPENDED_MESSAGE)
            raise click.exceptions.Exit(1)
        raise CliError(SUSPENDED_MESSAGE)

    def run() -> int:
        try:
            instance = worker_class(
                [cli.queue(queue_name) for queue_name in queues or cli.settings.get('QUEUES', ['default'])],
                name=name or cli.settings.get('NAME'),
                connection=cli.connection,
                worker_ttl=worker_ttl,
                default_result_ttl=results_ttl,
                maintenance_interval=maintenance_interval,
                job_monitoring_interval=job_monitoring_interval,
                job_class=cli.job_class,
                queue_class=cli.queue_class,
                exception_handlers=handlers or None,
                disable_default_exception_handler=disable_default_exception_handler,
                log_job_description=not disable_job_desc_logging,
                serializer=cli.serializer,
                **extra,
            )
            instance.work(
                burst=burst,
                logging_level=level,
                date_format=date_format,
                log_format=log_format,
                max_jobs=max_jobs,
                max_idle_time=max_idle_time,
                with_scheduler=with_scheduler,
                dequeue_strategy=dequeue_strategy,
            )
        except ValueError as exc:  # e.g. a live worker already has this name
            raise CliError(str(exc)) from exc
        except redis.exceptions.RedisError as exc:
            # (a Redis that is slow or away never stops a worker, which waits for it: this is a refusal,
            # or a cold shutdown while Redis did not answer; a requested stop returns normally: code 0)
            raise CliError(f'the worker stopped because of Redis: {type(exc).__name__}: {one_line(exc)}') from exc
        return REPLACE_EXIT_CODE if getattr(instance, 'replacement_reason', None) else 0

    code = run() if concurrency is None or no_supervisor else _supervised(run)
    if code:
        raise click.exceptions.Exit(code)


def _supervised(run: Callable[[], int]) -> int:
    """``run`` in a child process, replaced each time it exits to be replaced (see rq.worker.supervisor)."""
    from rq.worker.supervisor import supervise  # deferred: rq --help loads this module; rq-worker only to run

    def in_child() -> int:
        try:
            return run()
        except click.ClickException as exc:
            exc.show()
            return exc.exit_code

    return supervise(in_child)


@click.command('worker-pool', cls=RqCommand)
@click.option('--burst', '-b', is_flag=True, help='Each worker quits once the queues are empty.')
@click.option(
    '--logging-level',
    '-l',
    default='INFO',
    show_default=True,
    help='Logging level: DEBUG, INFO, WARNING, ERROR or CRITICAL.',
)
@click.option(
    '--num-workers',
    '-n',
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help='Number of worker processes (each one named at random).',
)
@click.option(
    '--concurrency',
    type=click.IntRange(min=1),
    help='Each worker runs up to this many jobs at once (see rq worker --concurrency).  [default: one at a time]',
)
@click.option(
    '--isolate',
    multiple=True,
    metavar='QUEUE',
    help='With --concurrency: run each job of QUEUE in a work horse of its own (see rq worker --isolate).',
)
@shared_worker_options
@click.argument('queues', nargs=-1)
@shared_options
def worker_pool(
    cli: CliConfig,
    burst: bool,
    logging_level: str,
    num_workers: int,
    concurrency: int | None,
    isolate: tuple[str, ...],
    quiet: bool,
    log_format: str,
    date_format: str,
    signing_keys: str | None,
    accept_unsigned: bool | None,
    allowed_functions: str | None,
    exception_handler: tuple[str, ...],
    queues: tuple[str, ...],
) -> None:
    """Run NUM_WORKERS workers on QUEUES, restarting any that dies."""
    from rq.worker_pool import WorkerPool  # deferred: rq --help loads this module; rq-worker is imported only to run

    if isolate and concurrency is None:
        raise UsageError('needs --concurrency (a forking worker runs every job in a horse already)', '--isolate')
    level = _logging_level(cli.verbose, quiet, logging_level)
    cli.apply_dict_config()
    apply_trust_settings(cli, signing_keys, accept_unsigned, allowed_functions)
    setup_loghandlers(level, date_format, log_format, name='rq')
    handlers = _exception_handlers(exception_handler)
    queue_names = list(queues or cli.settings.get('QUEUES', ['default']))
    cli.wait_while_slow = True
    for queue_name in queue_names:
        cli.queue(queue_name)  # rejects bad names before any worker starts
    pool = WorkerPool(
        queue_names,
        connection=cli.connection,
        num_workers=num_workers,
        worker_class=cli.worker_class if concurrency is None else cli.concurrent_worker_class,
        serializer=cli.serializer,
        job_class=cli.job_class,
        queue_class=cli.queue_class,
        exception_handlers=handlers or None,
        **({} if concurrency is None else {'concurrency': concurrency, 'isolated_queues': list(isolate)}),
    )
    pool.start(burst=burst, logging_level=level)


def _logging_level(verbose: bool, quiet: bool, level: str | None) -> str:
    if verbose and quiet:
        raise CliError('--verbose and --quiet cannot be used together')
    if verbose:
        return 'DEBUG'
    if quiet:
        return 'WARNING'
    chosen = (level or 'INFO').upper()
    if not isinstance(logging.getLevelName(chosen), int):
        raise CliError(f'unknown logging level {level!r}', '--logging-level')
    return chosen


def _exception_handlers(paths: tuple[str, ...]) -> list[Any]:
    handlers = []
    for path in paths:
        try:
            handlers.append(import_attribute(path))
        except (ImportError, AttributeError, ValueError) as exc:
            raise CliError(f'cannot import {path!r}: {exc}', '--exception-handler') from exc
    return handlers


def _warn_if_deprecated(worker_class: type[Any]) -> None:
    strategy = _DEPRECATED_WORKERS.get(worker_class.__qualname__)
    if strategy is not None:
        print_warning(f'{worker_class.__qualname__} is deprecated; use --dequeue-strategy {strategy} instead')
        warnings.filterwarnings('ignore', message=f'{worker_class.__qualname__} is deprecated')
