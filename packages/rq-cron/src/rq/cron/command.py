"""``rq cron CONFIG``: the body of the command (rq-cli's ``rq cron`` calls :func:`run_cron`), and
``python -m rq.cron CONFIG`` for hosts without rq-cli."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import redis

from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import DuplicateSchedulerError

from ._schedule import resolve_timezone
from .config import CronConfigError
from .scheduler import CronScheduler

__all__ = ['main', 'run_cron']

logger = logging.getLogger('rq.cron')

LOGGING_LEVELS = ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')


def _setup_logging(level: str | int) -> None:
    """Log ``rq.cron`` and ``rq.scheduler`` to stderr (once; an application's handlers are kept)."""
    for name in ('rq.cron', 'rq.scheduler'):
        target = logging.getLogger(name)
        target.setLevel(level if isinstance(level, int) else level.upper())
        if not target.hasHandlers():  # (handlers of 'rq' or of the root, e.g. a DICT_CONFIG, are kept)
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(DEFAULT_LOGGING_FORMAT, DEFAULT_LOGGING_DATE_FORMAT))
            target.addHandler(handler)
            target.propagate = False


def _fail(message: str) -> int:
    print(f'Error: {message}', file=sys.stderr, flush=True)
    return 1


def run_cron(
    connection: redis.Redis,
    config: str,
    *,
    logging_level: str = 'INFO',
    timezone: str | None = None,
    name: str | None = None,
) -> int:
    """Load the cron ``config`` (a file or module path) and enqueue its jobs on time until SIGINT or
    SIGTERM. Returns the exit code: 0 after a clean stop, 1 when nothing can run (the config does
    not import, no entry is usable, a bad ``timezone``, Redis unreachable, the name is taken). Bad
    entries are reported (file, line, name, reason) and skipped; the good ones run."""
    if isinstance(logging_level, str) and logging_level.upper() not in LOGGING_LEVELS:
        return _fail(f'unknown logging level {logging_level!r} (choose from {", ".join(LOGGING_LEVELS)})')
    _setup_logging(logging_level)
    try:
        resolve_timezone(timezone)
    except ValueError as exc:
        return _fail(f'--timezone: {exc}')
    scheduler = CronScheduler(connection, logging_level=logging_level, name=name or '', timezone=timezone)
    try:
        usable = scheduler.load_config_from_file(config)
    except CronConfigError as exc:
        return _fail(str(exc))
    if not usable:
        found = len(scheduler.errors)
        detail = f'all {found} entries are invalid (see above)' if found else 'it registers no cron jobs'
        return _fail(f'nothing to run in cron config {config!r}: {detail}')
    try:
        scheduler.start()
    except DuplicateSchedulerError as exc:
        return _fail(f'{exc} (and alive); give another --name')
    except redis.exceptions.ConnectionError as exc:
        return _fail(f'cannot reach Redis: {exc}')
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m rq.cron',
        description='Enqueue the cron jobs registered by CONFIG (a file or module path) on time.',
    )
    parser.add_argument('config', metavar='CONFIG', help='cron config: a .py file path or a dotted module path')
    parser.add_argument(
        '-u', '--url', help='Redis URL (default: $RQ_REDIS_URL, $REDIS_URL or redis://localhost:6379/0)'
    )
    parser.add_argument('-l', '--logging-level', default='INFO', type=str.upper, choices=LOGGING_LEVELS)
    parser.add_argument(
        '--timezone', help='timezone for cron strings of entries that name none (default: local time, as TZ says)'
    )
    parser.add_argument('-n', '--name', help='scheduler name (default <hostname>:<pid>:<random>)')
    parser.add_argument(
        '-P', '--path', action='append', default=[], help='directory to add to the import path (repeatable)'
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for path in args.path:
        sys.path.insert(0, os.path.abspath(path))
    url = args.url or os.environ.get('RQ_REDIS_URL') or os.environ.get('REDIS_URL') or 'redis://localhost:6379/0'
    try:
        connection = redis.Redis.from_url(url)
    except ValueError as exc:
        return _fail(f'--url: {exc}')
    return run_cron(connection, args.config, logging_level=args.logging_level, timezone=args.timezone, name=args.name)
