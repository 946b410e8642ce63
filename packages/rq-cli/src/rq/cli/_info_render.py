"""How ``rq info`` draws a :class:`~rq.cli._info_snapshot.Snapshot` as rich tables (``--raw`` and
``--json`` are in ``_info_text``, which does not need rich)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.text import Text

from ._fitted_table import FittedTable, required_width
from ._info_snapshot import QueueCounts, Snapshot, WorkerRow
from ._info_text import COUNT_COLUMNS, format_duration, uptime, worker_queue_names

STATE_STYLES = {'busy': 'yellow', 'idle': 'green', 'suspended': 'red', 'started': 'cyan'}
COUNT_STYLES = {'failed': 'red', 'finished': 'green', 'started': 'yellow'}
#: Which count columns a narrow terminal drops first (the highest rank goes first).
COUNT_DROP_RANKS = {'scheduled': 7, 'deferred': 6, 'started': 4, 'finished': 3, 'failed': 2, 'queued': 1}
WORKERS_DROP_RANK = 5
#: RQ 3.0's ready registry: a column only when some queue has ready jobs, the first to go.
READY_DROP_RANK = 8


def queues_table(snapshot: Snapshot) -> FittedTable:
    table = FittedTable(f'Queues ({len(snapshot.queues)})', show_footer=len(snapshot.queues) > 1)
    totals = {column: sum(getattr(q, column) for q in snapshot.queues) for column in COUNT_COLUMNS}
    table.add_column('Queue', footer='total')
    for column in COUNT_COLUMNS:
        _count_column(table, column.capitalize(), COUNT_DROP_RANKS[column], str(totals[column]))
    with_ready = any(q.ready for q in snapshot.queues)
    if with_ready:
        _count_column(table, 'Ready', READY_DROP_RANK, str(sum(q.ready for q in snapshot.queues)))
    if snapshot.show_workers:
        _count_column(table, 'Workers', WORKERS_DROP_RANK, str(len(snapshot.workers)))
    for counts in snapshot.queues:
        cells: list[str | Text] = [Text(counts.name, style='bold')]
        cells += [_count(counts, column) for column in COUNT_COLUMNS]
        if with_ready:
            cells.append(_count(counts, 'ready'))
        if snapshot.show_workers:
            cells.append(str(len(snapshot.workers_of(counts.name))))
        table.add_row(*cells)
    return table


def rate_limits_table(snapshot: Snapshot) -> FittedTable:
    """RQ 3.0's rate-limit keys in use: concurrency, jobs holding a slot, jobs waiting for one."""
    table = FittedTable(f'Rate limits ({len(snapshot.rate_limits)})')
    table.add_column('Key')
    for header, rank in (('Concurrency', 3), ('Holding', 1), ('Waiting', 2)):
        _count_column(table, header, rank)
    for limit in snapshot.rate_limits:
        table.add_row(
            Text(limit.key, style='bold'),
            str(limit.concurrency),
            Text(str(limit.holding), style='yellow' if limit.holding else 'dim'),
            Text(str(limit.waiting), style='' if limit.waiting else 'dim'),
        )
    return table


def _count_column(table: FittedTable, header: str, drop_rank: int, footer: str = '') -> None:
    """A right-aligned number column, never narrower than its header."""
    table.add_column(header, drop_rank=drop_rank, justify='right', footer=footer)


def _count(counts: QueueCounts, column: str) -> Text:
    value = getattr(counts, column)
    return Text(str(value), style=COUNT_STYLES.get(column, '') if value else 'dim')


def workers_table(snapshot: Snapshot) -> FittedTable:
    table = FittedTable(f'Workers ({len(snapshot.workers)})')
    table.add_column('Worker')
    table.add_column('State', drop_rank=2)
    table.add_column('Current job', drop_rank=1)
    table.add_column('Queues', 'between_words', drop_rank=3)
    for header, rank in (('OK', 4), ('Failed', 5), ('Uptime', 6)):
        table.add_column(header, drop_rank=rank, justify='right')
    table.add_column('Host / PID', 'anywhere', drop_rank=7)
    for worker in snapshot.workers:
        alive = uptime(worker, snapshot.taken_at)
        table.add_row(
            Text(worker.name, style='bold'),
            Text(worker.state, style=STATE_STYLES.get(worker.state, '')),
            worker.busy_slots or worker.current_job or Text('-', style='dim'),
            ', '.join(worker.queues),
            ok_count(worker),
            Text(str(worker.failed_job_count), style='red' if worker.failed_job_count else ''),
            format_duration(alive) if alive is not None else '?',
            f'{worker.hostname} / {worker.pid}',
        )
    return table


def ok_count(worker: WorkerRow) -> Text:
    """The jobs a worker finished; with, for a worker in migration mode, the unsigned ones it ran."""
    text = Text(str(worker.successful_job_count))
    if worker.unsigned_job_count:
        text.append(f' ({worker.unsigned_job_count} unsigned)', style='yellow')
    return text


def by_queue_table(snapshot: Snapshot) -> FittedTable:
    table = FittedTable('Workers by queue')
    table.add_column('Queue')
    table.add_column('Workers', 'between_words')
    for counts in snapshot.queues or [QueueCounts(n, 0, 0, 0, 0, 0, 0, 0) for n in worker_queue_names(snapshot)]:
        workers = snapshot.workers_of(counts.name)
        cell = Text(', ').join(
            Text.assemble(w.name, ' (', (w.state, STATE_STYLES.get(w.state, '')), ')') for w in workers
        )
        table.add_row(Text(counts.name, style='bold'), cell if workers else Text('-', style='dim'))
    return table


@dataclass(frozen=True)
class InfoView:
    """The tables of one snapshot, one under the other."""

    parts: list[RenderableType]

    @property
    def required_width(self) -> int:
        """The narrowest console on which no line of the view is wider than the console."""
        return required_width(self.parts)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.parts


def render(snapshot: Snapshot, by_queue: bool) -> InfoView:
    parts: list[RenderableType] = []
    if snapshot.show_queues:
        parts.append(queues_table(snapshot))
        if snapshot.rate_limits:
            parts += [Text(''), rate_limits_table(snapshot)]
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
    return InfoView(parts)
