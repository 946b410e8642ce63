"""``rq empty``, ``rq requeue``, ``rq suspend`` and ``rq resume``."""

from __future__ import annotations

import click

from rq.job import validate_job_id
from rq.registry import FailedJobRegistry
from rq.suspension import resume as resume_workers
from rq.suspension import suspend as suspend_workers

from ._command import RqCommand
from ._config import CliConfig, shared_options
from ._console import print_error, print_warning, say
from ._errors import FAILURE, CliError
from ._job_prefix import job_namespace, resolve_member
from ._output import plain_output
from ._progress import progress_bar
from ._requeue_reasons import requeue_or_reason


@click.command('empty', cls=RqCommand)
@click.option('--all', '-a', 'all_queues', is_flag=True, help='Empty every queue.')
@click.argument('queues', nargs=-1)
@shared_options
def empty(cli: CliConfig, all_queues: bool, queues: tuple[str, ...]) -> None:
    """Remove every queued job (and its data) from QUEUES."""
    if all_queues and queues:  # (upstream's precedence)
        print_warning(f'--all empties every queue, not only {", ".join(queues)}')
    targets = cli.all_queues() if all_queues else [cli.queue(name) for name in queues]
    if not targets:
        say('Nothing to do')
        return
    sizes = [queue.count for queue in targets]
    lines = []
    with progress_bar('Emptying', total=sum(sizes)) as advance:
        for queue in targets:
            removed = queue.empty()
            advance(removed)
            lines.append(f'{removed} jobs removed from {queue.name} queue')
    for line in lines:
        say(line)


@click.command('requeue', cls=RqCommand)
@click.option('--queue', '-q', required=True, help='The queue whose failed jobs to requeue.')
@click.option('--all', '-a', 'all_jobs', is_flag=True, help='Requeue every failed job of the queue.')
@click.option('--at-front', is_flag=True, help='Put the jobs at the front of the queue.')
@click.argument('job_ids', nargs=-1)
@shared_options
def requeue(cli: CliConfig, queue: str, all_jobs: bool, at_front: bool, job_ids: tuple[str, ...]) -> None:
    """Put failed jobs (JOB_IDS, or --all) back on their queue.

    A JOB_ID may be the start of the id of one failed job of the queue; an id that exists exactly
    always names that job. Standard output has upstream RQ's lines; each id that could not be
    requeued is named on standard error with the reason, and the exit code is then 1.
    """
    registry = FailedJobRegistry(queue, connection=cli.connection, job_class=cli.job_class, serializer=cli.serializer)
    namespace = job_namespace(cli.job_class)
    ids = registry.get_job_ids() if all_jobs else _resolve(cli, registry, namespace, job_ids)
    if not ids:
        say('Nothing to do')
        return
    say(f'Requeueing {len(ids)} jobs from failed queue')
    if plain_output():
        click.echo('')  # (the line upstream's progress bar leaves when standard output is no terminal)
    reasons: dict[str, str] = {}
    with progress_bar('Requeueing', total=len(ids)) as advance:
        for job_id in ids:
            reason = requeue_or_reason(registry, namespace, job_id, at_front)
            if reason is not None:
                reasons[job_id] = reason
            advance(1)
    if reasons:
        say(f'Unable to requeue {len(reasons)} jobs from failed job registry', style='red')
        for job_id, reason in reasons.items():
            print_error(f'job {job_id!r} not requeued: {reason}')
        raise click.exceptions.Exit(FAILURE)


def _resolve(cli: CliConfig, registry: FailedJobRegistry, namespace: str, given: tuple[str, ...]) -> list[str]:
    """Full ids for ``given`` (a start of an id stands for the one failed job whose id begins so),
    all checked before anything is requeued; the ids that a start of an id stood for go to stderr."""
    for job_id in given:
        try:
            validate_job_id(job_id)
        except ValueError as exc:
            raise CliError(str(exc), 'JOB_ID') from None
    ids = [resolve_member(cli.connection, registry.key, namespace, job_id) for job_id in given]
    for typed, job_id in zip(given, ids, strict=True):
        if typed != job_id:
            say(f'{typed}: job {job_id}', style='dim', err=True)
    return ids


#: What upstream's ``rq suspend`` prints, byte for byte (for scripts that read it).
UPSTREAM_SUSPENDED = 'Suspending workers.  No new jobs will be started.  But current jobs will be completed'
UPSTREAM_SUSPENDED_FOR = (
    'Suspending workers for {duration} seconds. No new jobs will be started during that time, but then will\n'
    '        automatically resume'
)


@click.command('suspend', cls=RqCommand)
@click.option('--duration', type=int, help='Seconds to suspend for (default: until rq resume).')
@shared_options
def suspend(cli: CliConfig, duration: int | None) -> None:
    """Stop workers from starting new jobs (running jobs finish)."""
    if duration is not None and duration < 1:
        # (upstream's words and exit code 1; it means 1 or more)
        raise CliError('Duration must be an integer greater than 1 (1 second at least)', '--duration')
    suspend_workers(cli.connection, duration)
    if plain_output():
        click.echo(UPSTREAM_SUSPENDED_FOR.format(duration=duration) if duration else UPSTREAM_SUSPENDED)
    elif duration:
        say(f'Suspending workers for {duration} seconds: no new job starts until then; running jobs finish.')
    else:
        say('Suspending workers: no new job starts until "rq resume"; running jobs finish.')


@click.command('resume', cls=RqCommand)
@shared_options
def resume(cli: CliConfig) -> None:
    """Let suspended workers take jobs again."""
    resume_workers(cli.connection)
    say('Resuming workers.')
