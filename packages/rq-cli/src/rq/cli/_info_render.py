"""How ``rq info`` draws a :class:`~rq.cli._info_snapshot.Snapshot` as rich tables (``--raw`` and
``--json`` are in ``_info_text``, which does not need rich)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ._console import simple_table
from ._info_snapshot import QueueCounts, Snapshot
from ._info_text import COUNT_COLUMNS, format_duration, uptime, worker_queue_names

STATE_STYLES = {'busy': 'yellow', 'idle': 'green', 'suspended': 'red', 'started': 'cyan'}
COUNT_STYLES = {'failed': 'red', 'finished': 'green', 'started': 'yellow'}


def queues_table(snapshot: Snapshot) -> Table:
    table = simple_table(f'Queues ({len(snapshot.queues)})', show_footer=len(snapshot.queues) > 1)
    totals = {column: sum(getattr(q, column) for q in snapshot.queues) for column in COUNT_COLUMNS}
    table.add_column('Queue', footer='total', overflow='fold')
    for column in COUNT_COLUMNS:
        _count_column(table, column.capitalize(), str(totals[column]))
    if snapshot.show_workers:
        _count_column(table, 'Workers', str(len(snapshot.workers)))
    for counts in snapshot.queues:
        cells: list[RenderableType] = [Text(counts.name, style='bold')]
        cells += [_count(counts, column) for column in COUNT_COLUMNS]
        if snapshot.show_workers:
            cells.append(str(len(snapshot.workers_of(counts.name))))
        table.add_row(*cells)
    return table


def _count_column(table: Table, header: str, footer: str = '') -> None:
    """A right-aligned number column that is never narrower than its header."""
    table.add_column(header, footer=footer, justify='right', no_wrap=True, min_width=len(header))


def _count(counts: QueueCounts, column: str) -> Text:
    value = getattr(counts, column)
    return Text(str(value), style=COUNT_STYLES.get(column, '') if value else 'dim')


def workers_table(snapshot: Snapshot) -> Table:
    table = simple_table(f'Workers ({len(snapshot.workers)})')
    for name in ('Worker', 'State', 'Current job', 'Queues'):
        table.add_column(name, overflow='fold')
    for name in ('OK', 'Failed', 'Uptime'):
        _count_column(table, name)
    table.add_column('Host / PID', overflow='fold')
    for worker in snapshot.workers:
        alive = uptime(worker, snapshot.taken_at)
        table.add_row(
            Text(worker.name, style='bold'),
            Text(worker.state, style=STATE_STYLES.get(worker.state, '')),
            worker.current_job or Text('-', style='dim'),
            ', '.join(worker.queues),
            str(worker.successful_job_count),
            Text(str(worker.failed_job_count), style='red' if worker.failed_job_count else ''),
            format_duration(alive) if alive is not None else '?',
            f'{worker.hostname} / {worker.pid}',
        )
    return table


def by_queue_table(snapshot: Snapshot) -> Table:
    table = simple_table('Workers by queue')
    table.add_column('Queue', overflow='fold')
    table.add_column('Workers', overflow='fold')
    for counts in snapshot.queues or [QueueCounts(n, 0, 0, 0, 0, 0, 0, 0) for n in worker_queue_names(snapshot)]:
        workers = snapshot.workers_of(counts.name)
        cell = Text(', ').join(
            Text.assemble(w.name, ' (', (w.state, STATE_STYLES.get(w.state, '')), ')') for w in workers
        )
        table.add_row(Text(counts.name, style='bold'), cell if workers else Text('-', style='dim'))
    return table


def render(snapshot: Snapshot, by_queue: bool) -> RenderableType:
    parts: list[RenderableType] = []
    if snapshot.show_queues:
        parts.append(queues_table(snapshot))
    if snapshot.show_workers:
        if snapshot.queues:
            parts.append(Text(''))
        if by_queue and (snapshot.queues or snapshot.workers):
            parts.append(by_queue_table(snapshot))
        elif snapshot.workers:
            parts.append(workers_table(snapshot))
        else:
            parts.append(Text('No workers', style='dim'))
    stamp = snapshot.taken_at.astimezone().strftime('%Y-%m-%d %H:%M:%S')
    parts.append(Text(f'Updated: {stamp}', style='dim'))
    return Group(*parts)
