"""A progress bar for commands that work through many jobs (shown on a terminal only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from ._console import stderr_console


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; the bar is drawn on stderr when it is a terminal."""
    console = stderr_console()
    columns = (
        TextColumn('{task.description}'),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not console.is_terminal, transient=False) as progress:
        task = progress.add_task(description, total=total)

        def advance(amount: int = 1) -> None:
            progress.advance(task, amount)

        yield advance
