"""How an ``rq`` command runs as a program: one-line errors, exit codes and the upstream-RQ warning.

The ``rq`` group runs this way, and so does each subcommand run on its own (the ``rqinfo`` and
``rqworker`` scripts call the ``info`` and ``worker`` commands directly, as upstream RQ's do).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from ._errors import report, wants_traceback
from ._upstream import upstream_warning


def run_as_program(invoke: Callable[[list[str]], Any], args: Sequence[str] | None, standalone_mode: bool) -> Any:
    """Call ``invoke(argv)`` (click's own ``main`` in non-standalone mode); report a failure as one
    line on stderr; exit with the command's code (or return it when not ``standalone_mode``)."""
    argv = list(sys.argv[1:] if args is None else args)
    warn_about_upstream()
    try:
        outcome = invoke(argv)
        code = outcome if isinstance(outcome, int) else 0
    except Exception as exc:
        code = report(exc, wants_traceback(argv))
    except KeyboardInterrupt:
        code = 130
    if standalone_mode:
        sys.exit(code)
    return code


def warn_about_upstream() -> None:
    warning = upstream_warning()
    if warning:
        from ._console import print_warning  # deferred: rich only when there is a warning to print

        print_warning(warning)


class RqCommand(click.Command):
    """A subcommand of ``rq`` that also runs on its own (``rqinfo``, ``rqworker``) with ``rq``'s error
    reporting."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        def invoke(argv: list[str]) -> Any:
            return super(RqCommand, self).main(argv, prog_name, complete_var, standalone_mode=False, **extra)

        return run_as_program(invoke, args, standalone_mode)
