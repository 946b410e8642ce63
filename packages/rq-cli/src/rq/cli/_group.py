"""The ``rq`` click group: lazily loaded subcommands, one-line errors, the upstream-RQ warning."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import click

from rq.version import VERSION

from ._command import run_as_program

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


def load_command(name: str) -> click.Command:
    """The command ``name`` of :data:`COMMANDS` (importing its module now)."""
    module_name, attribute = COMMANDS[name]
    command: click.Command = getattr(importlib.import_module(module_name), attribute)
    return command


class RqGroup(click.Group):
    """Loads subcommands on demand and turns every failure into one line on stderr.

    Commands that other packages add with ``@main.command()`` (as they do to upstream RQ's group)
    are listed and run too.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        def invoke(argv: list[str]) -> Any:
            # Always named 'rq' in messages (click's test runner would pass the function's name).
            return super(RqGroup, self).main(argv, 'rq', complete_var, standalone_mode=False, **extra)

        return run_as_program(invoke, args, standalone_mode)


@click.group(cls=RqGroup, context_settings={'help_option_names': ['-h', '--help']})
@click.version_option(VERSION, '--version', prog_name='rq')  # ('rq, version X', as upstream's)
@click.option('--verbose', '-v', is_flag=True, help='Tracebacks of errors (also accepted after the subcommand).')
def main(verbose: bool) -> None:
    """rq: run and inspect RQ job queues from the shell.

    Every subcommand takes the connection options (--url, --config, REDIS_URL, ...) and the class
    options (--worker-class, --queue-class, ...); see 'rq COMMAND --help'.
    """
