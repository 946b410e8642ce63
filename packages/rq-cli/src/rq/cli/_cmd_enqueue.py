"""``rq enqueue FUNCTION [ARGUMENTS]...``: put one job on a queue, now or at a time."""

from __future__ import annotations

import importlib.util
from datetime import datetime, timedelta
from typing import Any

import click
from rich.text import Text

from rq.exceptions import DuplicateJobError, InvalidJobDependency, SerializationError, TimeoutFormatError
from rq.job import JobStatus, Retry, get_call_string
from rq.utils import now, parse_timeout

from ._command import RqCommand
from ._config import CliConfig, shared_options
from ._console import print_warning, say
from ._enqueue_args import parse_arguments
from ._errors import CliError, UsageError
from ._job_prefix import LISTED, job_namespace, longer_job_ids

#: What runs a Python file given as FUNCTION: importing it under its own name (so code guarded by
#: ``if __name__ == '__main__'`` does not run). A standard-library function, so any worker has it.
RUN_MODULE = 'runpy.run_module'
SCHEDULE_AT_FORMAT = '%Y-%m-%dT%H:%M:%S'


@click.command('enqueue', cls=RqCommand)
@click.option('--queue', '-q', default='default', show_default=True, help='The queue to put the job on.')
@click.option('--timeout', help='Longest run time before the job is stopped and failed (e.g. 90, 5m, 1h).')
@click.option('--result-ttl', help='How long a successful job and its result are kept.')
@click.option('--ttl', help='How long the job may wait in the queue before it is discarded.')
@click.option('--failure-ttl', help='How long a failed job is kept.')
@click.option('--description', help='Description of the job (default: its call string).')
@click.option('--depends-on', multiple=True, help='Id of a job that must finish first (repeatable).')
@click.option('--job-id', help='The id of the job (default: a new UUID).')
@click.option('--at-front', is_flag=True, help='Put the job at the front of the queue.')
@click.option('--retry-max', type=int, default=0, help='How many times a failed job is retried.')
@click.option('--retry-interval', type=int, multiple=True, default=[0], help='Seconds between retries (repeatable).')
@click.option('--schedule-in', help='Enqueue after this delay (e.g. 10s, 5m, 2d).')
@click.option('--schedule-at', help='Enqueue at this local time, ISO 8601 without zone (2021-05-27T21:45:00).')
@click.option('--quiet', is_flag=True, help='Print nothing but errors.')
@click.argument('function')
@click.argument('arguments', nargs=-1)
@shared_options
def enqueue(
    cli: CliConfig,
    queue: str,
    timeout: str | None,
    result_ttl: str | None,
    ttl: str | None,
    failure_ttl: str | None,
    description: str | None,
    depends_on: tuple[str, ...],
    job_id: str | None,
    at_front: bool,
    retry_max: int,
    retry_interval: tuple[int, ...],
    schedule_in: str | None,
    schedule_at: str | None,
    quiet: bool,
    function: str,
    arguments: tuple[str, ...],
) -> None:
    """Enqueue FUNCTION (a dotted path, or the dotted path of a Python file to run) with ARGUMENTS.

    \b
    Arguments: value, key=value (text); :json, key:=json (JSON);
    %literal, key%=literal (Python literal); @file reads a value from a file.
    """
    args, kwargs = parse_arguments(arguments)
    call_string = get_call_string(function, args, kwargs) or function
    func, args, kwargs = _resolve_function(function, args, kwargs)
    options: dict[str, Any] = {
        'timeout': _duration(timeout, '--timeout'),
        'result_ttl': _duration(result_ttl, '--result-ttl'),
        'ttl': _duration(ttl, '--ttl'),
        'failure_ttl': _duration(failure_ttl, '--failure-ttl'),
        'description': description or call_string,
        'depends_on': list(depends_on) or None,
        'job_id': job_id,
        'retry': _retry(retry_max, retry_interval),
    }
    when = _schedule(schedule_in, schedule_at)
    target = cli.queue(queue)
    _warn_about_partial_ids(cli, depends_on)
    try:
        if when is None:
            job = target.enqueue_call(func, args, kwargs, at_front=at_front, **options)
        else:
            job = target.create_job(func, args, kwargs, status=JobStatus.SCHEDULED, **options)
            job.enqueue_at_front = at_front or None
            target.schedule_job(job, when)
    except (ValueError, TypeError, SerializationError, DuplicateJobError, InvalidJobDependency) as exc:
        raise CliError(f'cannot enqueue {call_string}: {exc}') from exc
    if not quiet:
        say(Text.assemble('Enqueued ', (call_string, 'blue'), f" with job-id '{job.id}'."))


def _warn_about_partial_ids(cli: CliConfig, depends_on: tuple[str, ...]) -> None:
    """Warn about a --depends-on value that names no job but starts existing ids: it is taken as typed
    (as upstream does, a dependency that does not exist does not hold the job back), since a whole id
    of a job that has expired must keep that meaning."""
    namespace = job_namespace(cli.job_class)
    for given in depends_on:
        longer = longer_job_ids(cli.connection, namespace, given)
        if longer:
            shown = ', '.join(sorted(longer)[:LISTED]) + (', ...' if len(longer) > LISTED else '')
            print_warning(
                f'--depends-on {given!r}: no job has this id, so the new job will not wait for it; '
                f'give a whole id ({given!r} is the start of {shown})'
            )


def _resolve_function(function: str, args: list[Any], kwargs: dict[str, Any]) -> tuple[str, list[Any], dict[str, Any]]:
    """A dotted path naming a Python file (module) becomes a job that runs that file."""
    if not _names_a_module(function):
        return function, args, kwargs
    if args or kwargs:
        raise UsageError(f'{function!r} is a Python file, which takes no arguments')
    return RUN_MODULE, [function], {'run_name': function}


def _names_a_module(function: str) -> bool:
    try:
        spec = importlib.util.find_spec(function)
    except (ImportError, ValueError, AttributeError):
        return False
    return spec is not None and spec.submodule_search_locations is None and str(spec.origin or '').endswith('.py')


def _duration(value: str | None, option: str) -> int | None:
    try:
        return parse_timeout(value)
    except TimeoutFormatError as exc:
        raise CliError(str(exc), option) from exc


def _retry(retry_max: int, intervals: tuple[int, ...]) -> Retry | None:
    if retry_max == 0:
        return None
    try:
        return Retry(max=retry_max, interval=list(intervals))
    except ValueError as exc:
        raise CliError(str(exc), '--retry-max/--retry-interval') from exc


def _schedule(schedule_in: str | None, schedule_at: str | None) -> datetime | None:
    if schedule_in is not None and schedule_at is not None:
        raise UsageError("You can't specify both --schedule-in and --schedule-at")  # (upstream's words)
    if schedule_in is not None:
        delay = _duration(schedule_in, '--schedule-in')
        assert delay is not None
        return now() + timedelta(seconds=delay)
    if schedule_at is not None:
        try:
            return datetime.strptime(schedule_at, SCHEDULE_AT_FORMAT)  # naive: this machine's local time
        except ValueError as exc:
            raise CliError(
                f'expected a local time like 2021-05-27T21:45:00, not {schedule_at!r}', '--schedule-at'
            ) from exc
    return None
