"""The ``rq`` click group: lazily loaded subcommands, one-line errors, the upstream-RQ warning."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import click

from rq.version import VERSION

from ._errors import report, wants_traceback

#: command name -> (module, attribute); a module is imported only when its command runs (or --help).
COMMANDS = {
    'cron': ('rq.cli._cmd_cron', 'cron'),
    'empty': ('rq.cli._cmd_admin', 'empty'),
    'enqueue': ('rq.cli._cmd_enqueue', 'enqueue'),
    'failed': ('rq.cli._cmd_failed', 'failed'),
    'info': ('rq.cli._cmd_info', 'info'),
    'job': ('rq.cli._cmd_job', 'job'),
    'requeue': ('rq.cli._cmd_admin', 'requeue'),
    'resume': ('rq.cli._cmd_admin', 'resume'),
    'suspend': ('rq.cli._cmd_admin', 'suspend'),
    'worker': ('rq.cli._cmd_worker', 'worker'),
    'worker-pool': ('rq.cli._cmd_worker', 'worker_pool'),
}


class RqGroup(click.Group):
    """Loads subcommands on demand and turns every failure into one line on stderr."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        _warn_about_upstream()
        try:
            # Always named 'rq' in messages (click's test runner would pass the function's name).
            outcome = super().main(argv, 'rq', complete_var, standalone_mode=False, **extra)
            code = outcome if isinstance(outcome, int) else 0
        except Exception as exc:
            code = report(exc, wants_traceback(argv))
        except KeyboardInterrupt:
            code = 130
        if standalone_mode:
            sys.exit(code)
        return code


def _warn_about_upstream() -> None:
    from ._upstream import upstream_warning

    warning = upstream_warning()
    if warning:
        from ._console import print_warning

        print_warning(warning)


@click.group(cls=RqGroup, context_settings={'help_option_names': ['-h', '--help']})
@click.version_option(VERSION, '--version', prog_name='rq', message='%(prog)s %(version)s')
@click.option('--verbose', '-v', is_flag=True, help='Tracebacks of errors (also accepted after the subcommand).')
def main(verbose: bool) -> None:
    """rq: run and inspect RQ job queues from the shell.

    Every subcommand takes the connection options (--url, --config, REDIS_URL, ...) and the class
    options (--worker-class, --queue-class, ...); see 'rq COMMAND --help'.
    """
