"""``rq info`` as text for scripts, in upstream RQ's format: what a pipe (or ``--plain``) gets, and
``--raw``'s lines. No rich needed.

Upstream lists queues and workers in the order of Redis's sets, which is arbitrary; here they are
sorted by name. Colours (the bar, worker states) are click styles, which ``click.echo`` drops when
standard output is no terminal.
"""

from __future__ import annotations

import shutil

import click

from ._info_snapshot import Snapshot, WorkerRow

#: The bar of the longest queue is as long as the chart when the queue is this long (or longer).
CHART_SCALES = (20, 50, 100, 200, 400, 600, 800, 1000)
#: What upstream shows for a queue without workers (``-R``): an en dash.
NO_WORKERS = '\u2013'
STATE_COLOURS = {'busy': 'red', 'idle': 'green', 'suspended': 'yellow'}


def chart_scale(largest: int) -> int:
    """The smallest scale that holds ``largest`` jobs (``largest`` itself past the last one)."""
    return next((scale for scale in CHART_SCALES if largest <= scale), largest)


def state_text(state: str) -> str:
    colour = STATE_COLOURS.get(state)
    return click.style(state, fg=colour) if colour else state


def queue_lines(snapshot: Snapshot, raw: bool, width: int) -> list[str]:
    """One line per queue; without ``raw`` a bar of its length in front and a summary line last.
    Then, only when there are some (upstream has neither), RQ 3.0's: a line per queue with jobs in
    its ready registry, and one per rate-limit key."""
    queues = snapshot.queues
    if raw:
        lines = [
            f'queue {q.name} {q.queued}, {q.started} executing, {q.finished} finished, {q.failed} failed'
            for q in queues
        ]
    else:
        ratio = min(20, width - 20) / chart_scale(max((q.queued for q in queues), default=0))
        lines = [
            f'{q.name:<12} {click.style("|" + "█" * int(ratio * q.queued), fg="green")} {q.queued}, '
            f'{q.started} executing, {q.finished} finished, {q.failed} failed'
            for q in queues
        ]
        lines.append(f'{len(queues)} queues, {sum(q.queued for q in queues)} jobs total')
    return lines + rq3_lines(snapshot, raw)


def rq3_lines(snapshot: Snapshot, raw: bool) -> list[str]:
    """RQ 3.0's ready jobs (per queue that has any) and rate limits (per key in use)."""
    lines = []
    for q in snapshot.queues:
        if q.ready:
            lines.append(f'ready {q.name} {q.ready}' if raw else f'{q.name}: {q.ready} ready to enqueue')
    for limit in snapshot.rate_limits:
        counts = f'concurrency {limit.concurrency}, {limit.holding} holding a slot, {limit.waiting} waiting'
        lines.append(f'rate_limit {limit.key} {counts}' if raw else f'rate limit {limit.key}: {counts}')
    return lines


def _where(worker: WorkerRow) -> str:
    return f'{worker.name} ({worker.hostname or None} {worker.ip_address or None} {worker.pid or None})'


def worker_lines(snapshot: Snapshot, raw: bool, by_queue: bool) -> list[str]:
    """One line per worker, or (``by_queue``) per queue naming its workers; a summary line last
    without ``raw``."""
    lines = []
    if not by_queue:
        for worker in snapshot.workers:
            jobs = f'jobs: {worker.successful_job_count} finished, {worker.failed_job_count} failed'
            if worker.busy_slots:  # (a worker that runs many jobs at once; upstream's line otherwise)
                jobs += f', {worker.busy_slots}'
            if worker.unsigned_job_count:  # (a worker that requires signatures, in migration mode)
                jobs += f', {worker.unsigned_job_count} unsigned accepted'
            if raw:
                lines.append(f'worker {_where(worker)} {worker.state} {", ".join(worker.queues)}. {jobs}')
            else:
                lines.append(f'{_where(worker)}: {state_text(worker.state)} {", ".join(worker.queues)}. {jobs}')
    else:
        width = max((len(name) for name in snapshot.queue_names), default=0) + 1
        for name in snapshot.queue_names:
            workers = sorted(f'{w.name} ({state_text(w.state)})' for w in snapshot.workers_of(name))
            lines.append(f'{name + ":":<{width}} {", ".join(workers) or NO_WORKERS}')
    if not raw:
        lines.append(f'{len(snapshot.workers)} workers, {len(snapshot.queue_names)} queues')
    return lines


def info_lines(snapshot: Snapshot, by_queue: bool, raw: bool, width: int | None = None) -> list[str]:
    """Everything ``rq info`` prints for ``snapshot``; ``width`` (of the bar chart's terminal)
    defaults to the terminal's, ``COLUMNS``, else 80."""
    if width is None:
        width = shutil.get_terminal_size().columns
    both = snapshot.show_queues and snapshot.show_workers
    lines = queue_lines(snapshot, raw, width) if snapshot.show_queues else []
    if both and not raw:
        lines.append('')
    if snapshot.show_workers:
        lines += worker_lines(snapshot, raw, by_queue)
    if both and not raw:
        lines += ['', f'Updated: {snapshot.taken_at.astimezone().replace(tzinfo=None)}']
    return lines
