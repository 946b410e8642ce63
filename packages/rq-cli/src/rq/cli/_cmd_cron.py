"""``rq cron CONFIG_PATH``: run the cron scheduler of rq-cron with a config file or module."""

from __future__ import annotations

import importlib

import click

from ._command import RqCommand
from ._config import CliConfig, shared_options
from ._errors import CliError

LEVELS = ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')


@click.command('cron', cls=RqCommand)
@click.option(
    '--logging-level', '-l', type=click.Choice(LEVELS, case_sensitive=False), default='INFO', show_default=True
)
@click.option('--timezone', help='Time zone of the cron strings (default: UTC).')
@click.option('--name', help='Name of this cron scheduler (default: host:pid:random).')
@click.argument('config_path')
@shared_options
def cron(cli: CliConfig, logging_level: str, timezone: str | None, name: str | None, config_path: str) -> int:
    """Enqueue the jobs that CONFIG_PATH (a .py file or a module) registers, on their schedules."""
    try:
        run_cron = importlib.import_module('rq.cron.command').run_cron
    except (ImportError, AttributeError) as exc:
        raise CliError(f"rq-cron's cron runner is unavailable (install rq-cron): {exc}") from exc
    cli.apply_dict_config()
    code: int = run_cron(cli.connection, config_path, logging_level=logging_level.upper(), timezone=timezone, name=name)
    return code
