"""rich consoles for the ``rq`` command.

Colour is used only on a terminal and never when ``NO_COLOR`` is set (rich honours both); output
that scripts read (upstream's text when piped, ``--raw``, ``--json``) is printed without rich.

Whether standard output is taken for a terminal is decided in ``_output`` (rich's rules, without rich).

Width: a terminal's own, or ``COLUMNS`` when set. Otherwise (a pipe, a file) rich would assume 80
columns, or the width of whatever terminal stdin or stderr is, so the same command would lay out its
tables differently in a script than at a shell prompt; we give such output room enough that no row
is ever wrapped: one line per row, for ``grep`` and ``cut``.
"""

from __future__ import annotations

import os

from rich.console import Console, RenderableType
from rich.text import Text

from ._output import stdout_is_terminal

#: The width of output that is not a terminal (without ``COLUMNS``): wider than any row.
PIPE_WIDTH = 100_000


def stdout_console() -> Console:
    """A console on the current ``sys.stdout`` (looked up at each write, so test runners can swap it)."""
    console = Console(highlight=False, force_terminal=stdout_is_terminal())
    if not _is_a_tty(console) and not os.environ.get('COLUMNS', '').isdigit():
        console.width = PIPE_WIDTH
    return console


def _is_a_tty(console: Console) -> bool:
    """Whether the console's file is a real terminal (``TTY_COMPATIBLE=1`` may draw tables into a pipe)."""
    try:
        return console.file.isatty()
    except (ValueError, AttributeError):
        return False


def print_view(console: Console, view: RenderableType) -> None:
    """Print a view whose ids must stay whole: its lines may be wider than a narrow terminal, which
    then wraps them itself (rich would cut them)."""
    console.print(view, crop=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def say(message: str | Text, style: str | None = None, err: bool = False) -> None:
    """Print one line as it is (no markup, no wrapping)."""
    console = stderr_console() if err else stdout_console()
    text = message if isinstance(message, Text) else Text(message, style=style or '')
    console.print(text, soft_wrap=True)


def print_error(message: str) -> None:
    say(Text.assemble(('Error: ', 'bold red'), message), err=True)


def print_warning(message: str) -> None:
    say(Text.assemble(('Warning: ', 'bold yellow'), message), err=True)
