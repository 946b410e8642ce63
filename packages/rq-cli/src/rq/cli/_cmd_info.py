"""``rq info``: queues and workers at a glance, once or as a live view.

On a terminal: rich tables. Piped (or with ``--plain``): upstream RQ's text, which scripts parse;
``--raw``: upstream's raw lines; ``--json``: one JSON document.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from ._command import RqCommand
from ._config import CliConfig, shared_options
from ._errors import UsageError
from ._info_plain import info_lines
from ._info_snapshot import Snapshot, clean_registries_of, resolve_queues, take_snapshot
from ._info_text import as_json
from ._output import plain_output

if TYPE_CHECKING:
    from rich.console import Console


@click.command('info', cls=RqCommand)
@click.option('--interval', '-i', type=click.FloatRange(min=0), help='Refresh every N seconds (0: once).')
@click.option('--count', type=click.IntRange(min=1), help='With --interval: stop after this many updates.')
@click.option('--raw', '-r', is_flag=True, help="Upstream's raw lines: only the numbers, no bars or summaries.")
@click.option('--plain', is_flag=True, help="Upstream's text, as a pipe gets it, even on a terminal (no tables).")
@click.option('--json', 'as_json_output', is_flag=True, help='One JSON document (one per line with --interval).')
@click.option('--only-queues', '-Q', is_flag=True, help='Only the queues (wins over -W).')
@click.option('--only-workers', '-W', is_flag=True, help='Only the workers.')
@click.option('--by-queue', '-R', is_flag=True, help='Workers grouped by queue.')
@click.option('--clean', is_flag=True, help='First drop expired registry entries and fail abandoned jobs.')
@click.argument('queues', nargs=-1)
@shared_options
def info(
    cli: CliConfig,
    interval: float | None,
    count: int | None,
    raw: bool,
    plain: bool,
    as_json_output: bool,
    only_queues: bool,
    only_workers: bool,
    by_queue: bool,
    clean: bool,
    queues: tuple[str, ...],
) -> None:
    """Show QUEUES (default: all) with their job counts, and the workers."""
    if as_json_output and (raw or plain):
        raise UsageError(f'{"--raw" if raw else "--plain"} and --json cannot be used together')
    only_workers = only_workers and not only_queues  # (upstream's precedence)
    interval = interval or None  # (0: once, as upstream)
    chosen = resolve_queues(cli, queues, reads_jobs=clean)
    if clean:
        clean_registries_of(chosen)

    def snapshot() -> Snapshot:
        return take_snapshot(cli, chosen, bool(queues), show_queues=not only_workers, show_workers=not only_queues)

    if as_json_output:  # output for scripts: rich is not even imported
        _repeat(snapshot, _json_printer, interval, count)
        return
    if raw or plain_output(plain):
        printer = _text_printer(by_queue, raw, clear=interval is not None)
        _repeat(snapshot, printer, interval, count, on_interrupt=click.echo)  # (Ctrl-C: a newline, as upstream)
        return
    from ._console import stdout_console  # deferred: rich, for the tables only (not --json/--raw/--plain)

    console = stdout_console()
    if interval is not None and console.is_terminal:
        _live(console, snapshot, interval, count, by_queue)
    else:
        _repeat(snapshot, _rich_printer(console, by_queue, separate=interval is not None), interval, count)


def _text_printer(by_queue: bool, raw: bool, clear: bool) -> Callable[[Snapshot], None]:
    """Upstream's text; with ``clear`` (``--interval``) the screen is cleared first, on a terminal."""

    def emit(snapshot: Snapshot) -> None:
        if clear:
            click.clear()  # (nothing when standard output is no terminal)
        for line in info_lines(snapshot, by_queue, raw):
            click.echo(line)

    return emit


def _json_printer(snapshot: Snapshot) -> None:
    click.echo(as_json(snapshot))


def _rich_printer(console: Console, by_queue: bool, separate: bool) -> Callable[[Snapshot], None]:
    from ._console import print_view  # deferred: rich, for the tables only (not --json/--raw/--plain)
    from ._info_render import render  # deferred: rich, for the tables only (not --json/--raw/--plain)

    def emit(snapshot: Snapshot) -> None:
        print_view(console, render(snapshot, by_queue))
        if separate:
            console.print()

    return emit


def _repeat(
    snapshot: Callable[[], Snapshot],
    emit: Callable[[Snapshot], None],
    interval: float | None,
    count: int | None,
    on_interrupt: Callable[[], object] = lambda: None,
) -> None:
    """Print one snapshot, or one every ``interval`` seconds (``count`` times, or until Ctrl-C, after
    which ``on_interrupt()`` is called)."""
    done = 0
    try:
        while True:
            emit(snapshot())
            done += 1
            if interval is None or (count is not None and done >= count):
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        on_interrupt()


def _live(
    console: Console, snapshot: Callable[[], Snapshot], interval: float, count: int | None, by_queue: bool
) -> None:
    """Redraw the tables in place every ``interval`` seconds until Ctrl-C (or ``count`` updates).

    A frame wider than the terminal (an id longer than the terminal is wide) cannot be redrawn in
    place without cutting it, so such a frame is printed below the previous one instead.
    """
    from rich.live import Live

    from ._console import print_view  # deferred: rich, for the tables only (not --json/--raw/--plain)
    from ._info_render import render  # deferred: rich, for the tables only (not --json/--raw/--plain)

    live: Live | None = None
    done = 0
    try:
        while True:
            view = render(snapshot(), by_queue)
            if view.required_width <= console.width:
                if live is None:
                    live = Live(console=console, auto_refresh=False, transient=False)
                    live.start()
                live.update(view, refresh=True)
            else:
                if live is not None:
                    live.stop()
                    live = None
                print_view(console, view)
                console.print()
            done += 1
            if count is not None and done >= count:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        return
    finally:
        if live is not None:
            live.stop()
