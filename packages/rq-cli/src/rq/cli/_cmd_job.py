"""``rq job JOB_ID``: one job's status, call, times, worker, and result or traceback."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.pretty import Pretty
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from rq.results import Result

from ._command import RqCommand
from ._config import CliConfig, shared_options
from ._console import print_view, stdout_console
from ._fitted_table import AtLeast
from ._info_text import format_duration
from ._job_view import fetch_job, job_document, latest_result, local_time

STATUS_STYLES = {
    'finished': 'green',
    'failed': 'red',
    'started': 'yellow',
    'queued': 'cyan',
    'scheduled': 'blue',
    'deferred': 'magenta',
    'canceled': 'dim',
    'stopped': 'red',
}


@click.command('job', cls=RqCommand)
@click.option('--json', 'as_json_output', is_flag=True, help='Print one JSON document.')
@click.argument('job_id')
@shared_options
def job(cli: CliConfig, as_json_output: bool, job_id: str) -> None:
    """Show job JOB_ID: status, call, times, worker, and its result or traceback.

    JOB_ID may be the start of an id (the 8 characters the demo prints) when no other job's id
    starts the same way; an id that exists exactly always names that job.
    """
    found = fetch_job(cli, job_id)
    document = job_document(found, latest_result(found))
    if as_json_output:
        click.echo(json.dumps(document, default=repr, sort_keys=True))
        return
    if document['status'] == 'queued':
        document['position'] = found.get_position()
    print_view(stdout_console(), render_job(document))


#: Cells between a field's label and its value.
LABEL_GAP = 2


def render_job(document: dict[str, Any]) -> RenderableType:
    """A heading with the job's id, its fields, then its result or traceback.

    No frame around it: ids (the job's, its queue's, its worker's, its dependencies') are never
    wrapped or cut, so the view is drawn at least as wide as the longest of them needs.
    """
    fields = Table.grid(padding=(0, LABEL_GAP))
    fields.add_column(style='bold', no_wrap=True)
    fields.add_column()
    status = document['status']
    fields.add_row('Status', Text(status, style=STATUS_STYLES.get(status, '')))
    fields.add_row('Queue', document['queue'] or '?')
    if document.get('position') is not None:
        fields.add_row('Position', str(document['position']))
    fields.add_row('Call', Text(document['call']))
    if document['description'] and document['description'] != document['call']:
        fields.add_row('Description', Text(document['description']))
    for label, key in (('Created', 'created_at'), ('Enqueued', 'enqueued_at'), ('Started', 'started_at')):
        if document[key]:
            fields.add_row(label, local_time(document[key], milliseconds=True))
    if document['ended_at']:
        fields.add_row('Ended', local_time(document['ended_at'], milliseconds=True) + _took(document))
    if document['worker_name']:
        slot = f' [slot {document["slot"]}]' if document['slot'] is not None else ''
        fields.add_row('Worker', document['worker_name'] + slot)
    fields.add_row('Timeout', 'none' if document['timeout'] == -1 else f'{document["timeout"]} s')
    if document['retries_left'] is not None:
        fields.add_row('Retries left', str(document['retries_left']))
    if document['dependency_ids']:
        fields.add_row('Depends on', '\n'.join(document['dependency_ids']))
    if document['meta']:
        fields.add_row('Meta', Pretty(document['meta']))
    heading = Text.assemble(('Job ', 'bold'), (document['id'], 'bold'))
    parts: list[RenderableType] = [heading, fields]
    if document['result'] is not None:
        parts.append(_result(document['result']))
    return AtLeast(Group(*parts), _required_width(document, fields))


def _required_width(document: dict[str, Any], fields: Table) -> int:
    """The heading's width, or a label and the longest id among the fields, whichever is wider."""
    ids = [document['queue'] or '', document['worker_name'] or '', *document['dependency_ids']]
    labels = max(cell_len(str(cell)) for cell in fields.columns[0].cells)
    return max(cell_len(f'Job {document["id"]}'), labels + LABEL_GAP + max(cell_len(i) for i in ids))


def _result(result: dict[str, Any]) -> RenderableType:
    kind = result['type']
    if kind == Result.Type.SUCCESSFUL.name:
        return Panel(
            Pretty(result['return_value']), title='Result', title_align='left', border_style='green', expand=False
        )
    traceback_text = result['exc_string'] or '(no traceback stored)'
    title = 'Traceback' if kind == Result.Type.FAILED.name else f'Latest outcome: {kind.lower()}'
    return Panel(
        Syntax(traceback_text.rstrip(), 'pytb', word_wrap=True),
        title=title,
        title_align='left',
        border_style='red',
        expand=False,
    )


def _took(document: dict[str, Any]) -> str:
    if not document['started_at']:
        return ''
    seconds = (
        datetime.fromisoformat(document['ended_at']) - datetime.fromisoformat(document['started_at'])
    ).total_seconds()
    return f' (ran {seconds:.3f} s)' if seconds < 60 else f' (ran {format_duration(seconds)})'
