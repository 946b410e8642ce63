"""rich consoles for the ``rq`` command.

Colour is used only on a terminal and never when ``NO_COLOR`` is set (rich honours both); output
that scripts read (``--raw``, ``--json``) is printed without rich.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text


def stdout_console() -> Console:
    """A console on the current ``sys.stdout`` (looked up at each write, so test runners can swap it)."""
    return Console(highlight=False)


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


def simple_table(title: str, show_footer: bool = False) -> Table:
    """The table style of every ``rq`` view: a title, a rule under the header, no frame."""
    return Table(
        title=title, title_justify='left', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_footer=show_footer
    )
