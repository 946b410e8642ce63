"""``rq failed QUEUE``: the most recent failures of a queue, a page at a time."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.text import Text

from rq.registry import FailedJobRegistry

from ._command import RqCommand
from ._config import CliConfig, shared_options
from ._console import print_view, say, stdout_console
from ._fitted_table import FittedTable
from ._job_view import call_string, exception_line, latest_result, local_time, timestamp


@click.command('failed', cls=RqCommand)
@click.option('--limit', '-n', type=click.IntRange(min=1), default=20, show_default=True, help='Jobs per page.')
@click.option('--page', '-p', type=click.IntRange(min=1), default=1, show_default=True, help='Page (1: newest).')
@click.option('--json', 'as_json_output', is_flag=True, help='Print one JSON document.')
@click.argument('queue')
@shared_options
def failed(cli: CliConfig, limit: int, page: int, as_json_output: bool, queue: str) -> None:
    """List the failed jobs of QUEUE, newest first, with the exception of each."""
    registry = FailedJobRegistry(queue=cli.queue(queue))
    total = registry.count
    start = (page - 1) * limit
    ids = registry.get_job_ids(start, start + limit - 1, desc=True, cleanup=False)
    rows = [_row(job_id, job) for job_id, job in zip(ids, _fetch(cli, ids), strict=True)]
    if as_json_output:
        document = {'queue': queue, 'total': total, 'page': page, 'limit': limit, 'jobs': rows}
        click.echo(json.dumps(document, default=repr, sort_keys=True))
        return
    pages = max(1, -(-total // limit))
    if not rows:
        say(f'No failed jobs in {queue!r}' + (f' on page {page} of {pages}' if total else ''))
        return
    table = FittedTable(f'Failed jobs in {queue!r}: {total}')
    table.add_column('#', drop_rank=2, justify='right')
    table.add_column('Job')
    table.add_column('Call', 'anywhere', drop_rank=3, min_width=12)
    table.add_column('Failed at', 'anywhere', drop_rank=4, min_width=10)
    table.add_column('Exception', 'anywhere', drop_rank=1, min_width=16)
    for number, row in enumerate(rows, start=start + 1):
        failed_at = local_time(row['failed_at']) if row['failed_at'] else '?'
        table.add_row(str(number), row['id'], Text(row['call']), failed_at, Text(row['exception'], style='red'))
    print_view(stdout_console(), table)
    if page < pages:
        say(f'Page {page} of {pages}; next: rq failed {queue} --page {page + 1}', style='dim')


def _fetch(cli: CliConfig, ids: list[str]) -> list[Any]:
    return cli.job_class.fetch_many(ids, connection=cli.connection, serializer=cli.serializer)


def _row(job_id: str, job: Any) -> dict[str, Any]:
    if job is None:
        return {'id': job_id, 'call': '(job data expired)', 'failed_at': None, 'exception': '', 'worker_name': None}
    result = latest_result(job)
    ended = job.ended_at or (result.created_at if result is not None else None)
    return {
        'id': job.id,
        'call': call_string(job),
        'failed_at': timestamp(ended),
        # without a results entry, the legacy exc_info field (``job.exc_info`` would warn)
        'exception': exception_line(result.exc_string if result is not None else job._exc_info),
        'worker_name': job.worker_name or None,
    }
