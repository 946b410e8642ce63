"""Start a worker from the shell with only rq-worker installed.

    python -m rq.worker [--url redis://localhost:6379/0] [--burst] [--worker-class rq.worker.SimpleWorker] QUEUE ...

(The ``rq worker`` command of rq-cli has every upstream option; this entry point has the common
ones and no dependency beyond rq-worker.) It exits with code 1 and a one-line message when the
worker class cannot be imported, Redis cannot be reached, workers are suspended (``rq suspend``)
or a live worker already has the ``--name``; and when the worker stops because of Redis (Redis
refused a command, or a cold shutdown came while Redis did not answer): a Redis that is slow or
away for a while never stops a worker, which waits for it (see :mod:`rq.worker.reconnect`).
A requested stop (SIGINT, SIGTERM, the shutdown command) exits with code 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import Any

import redis

from rq._redis.first_answer import wait_for_first_answer
from rq._redis.keys import worker_key
from rq.defaults import DEFAULT_JOB_MONITORING_INTERVAL, DEFAULT_RESULT_TTL, DEFAULT_WORKER_TTL
from rq.suspension import is_suspended
from rq.utils import import_attribute

from .concurrent import REPLACE_EXIT_CODE, ConcurrentWorker
from .loop import BaseWorker
from .reconnect import describe
from .supervisor import supervise
from .variants import RandomWorker, RoundRobinWorker

WORKER_CLASSES = {
    'Worker',
    'SimpleWorker',
    'SpawnWorker',
    'ConcurrentWorker',
    'HerokuWorker',
    'RoundRobinWorker',
    'RandomWorker',
}
DEFAULT_URL = 'redis://localhost:6379/0'


def build_parser() -> argparse.ArgumentParser:
    """The options, each with its help text and its default."""
    parser = argparse.ArgumentParser(prog='python -m rq.worker', description='Run an rq worker.')
    parser.add_argument(
        'queues', nargs='*', default=['default'], help='queues to work on, highest priority first (default: default)'
    )
    parser.add_argument(
        '-u',
        '--url',
        default=os.environ.get('RQ_REDIS_URL') or os.environ.get('REDIS_URL'),
        help=f'Redis URL (default: $RQ_REDIS_URL, else $REDIS_URL, else {DEFAULT_URL})',
    )
    parser.add_argument(
        '-w',
        '--worker-class',
        help='worker class: Worker, SimpleWorker, SpawnWorker, ConcurrentWorker, HerokuWorker or a dotted path '
        '(default: Worker; ConcurrentWorker with --concurrency)',
    )
    parser.add_argument(
        '-c',
        '--concurrency',
        type=_at_least_one,
        help='run up to this many jobs at once in one process (threads, and one event loop for async jobs), '
        'under a supervisor that replaces the process if a job cannot be stopped (default: one job at a time)',
    )
    parser.add_argument(
        '--isolate',
        action='append',
        default=[],
        metavar='QUEUE',
        help='with --concurrency: run each job of QUEUE in a work horse of its own (repeatable; a job can ask '
        "for one with meta={'rq.isolate': True}) (default: none)",
    )
    parser.add_argument(
        '--no-supervisor',
        action='store_true',
        help='with --concurrency: run the worker in this process, which exits with code '
        f'{REPLACE_EXIT_CODE} when it must be replaced',
    )
    parser.add_argument('-b', '--burst', action='store_true', help='quit once the queues are empty')
    parser.add_argument('-n', '--name', help='worker name, unique among live workers (default: random)')
    parser.add_argument(
        '-s', '--with-scheduler', action='store_true', help='also move scheduled jobs to their queues (needs rq-cron)'
    )
    parser.add_argument(
        '-l',
        '--logging-level',
        '--logging_level',
        default='INFO',
        help='DEBUG, INFO, WARNING, ERROR or CRITICAL (default: %(default)s)',
    )
    parser.add_argument('--max-jobs', type=int, help='quit after this many jobs (default: no limit)')
    parser.add_argument(
        '--max-idle-time', type=float, help='quit after this many seconds without a job (default: no limit)'
    )
    parser.add_argument(
        '--results-ttl',
        type=int,
        default=DEFAULT_RESULT_TTL,
        help="seconds a finished job's result is kept, unless the job sets its own (default: %(default)s)",
    )
    parser.add_argument(
        '--worker-ttl',
        type=int,
        default=DEFAULT_WORKER_TTL,
        help="seconds the worker's registration outlives its last heartbeat (default: %(default)s)",
    )
    parser.add_argument(
        '--job-monitoring-interval',
        type=int,
        default=DEFAULT_JOB_MONITORING_INTERVAL,
        help='seconds between heartbeats of a running job; a job whose worker stops beating is failed '
        '(or retried) as abandoned within two intervals (default: %(default)s)',
    )
    parser.add_argument('--serializer', help="'pickle', 'json' or a dotted path (default: $RQ_SERIALIZER, else pickle)")
    parser.add_argument(
        '--dequeue-strategy',
        choices=['default', 'round_robin', 'random'],
        default='default',
        help='order of the queues: as given, rotated after each job, or shuffled (default: %(default)s)',
    )
    return parser


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a whole number') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'{value} is not at least 1')
    return value


def choose_worker_class(path: str | None, concurrency: int | None) -> Any:
    """The worker class to run: ``path`` (Worker by default, ConcurrentWorker with a concurrency),
    which must run jobs concurrently when ``concurrency`` is given."""
    if concurrency is None:
        return resolve_worker_class(path or 'Worker')
    worker_class = resolve_worker_class(path or 'ConcurrentWorker')
    if not issubclass(worker_class, ConcurrentWorker):
        raise SystemExit(
            f'Error: --concurrency needs a worker class that runs jobs concurrently (rq.worker.ConcurrentWorker '
            f'or a subclass), not {worker_class.__module__}.{worker_class.__qualname__}'
        )
    return worker_class


def resolve_worker_class(path: str) -> Any:
    if path in WORKER_CLASSES:
        path = f'rq.worker.{path}'
    try:
        worker_class = import_attribute(path)
    except (ImportError, AttributeError, ValueError) as exc:
        raise SystemExit(f'Error: cannot import worker class {path!r}: {exc}') from None
    if not (isinstance(worker_class, type) and issubclass(worker_class, BaseWorker)):
        raise SystemExit(f'Error: {path!r} is not a worker class')
    return worker_class


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    worker_class = choose_worker_class(args.worker_class, args.concurrency)
    url = args.url or DEFAULT_URL
    try:
        connection = redis.Redis.from_url(url)
    except ValueError as exc:
        return _error(f'invalid Redis URL {url!r}: {exc}')
    try:
        wait_for_first_answer(
            connection, lambda exc: print(f'Redis at {url} is slow to answer ({exc}); waiting', file=sys.stderr)
        )
    except redis.exceptions.RedisError as exc:
        return _error(f'cannot connect to Redis at {url}: {exc}')
    if is_suspended(connection):
        return _error('RQ is currently suspended, to resume job execution run "rq resume"')
    existing = worker_key(args.name) if args.name else None
    if existing and connection.exists(existing) and not connection.hexists(existing, 'death'):
        return _error(f'a live worker named {args.name!r} is registered already')
    for deprecated, replacement in ((RoundRobinWorker, 'round_robin'), (RandomWorker, 'random')):
        if issubclass(worker_class, deprecated):
            print(
                f'Warning: {deprecated.__name__} is deprecated; use --dequeue-strategy {replacement}',
                file=sys.stderr,
            )
            warnings.filterwarnings(
                'ignore', message=f'{deprecated.__name__} is deprecated', category=DeprecationWarning
            )
    if args.isolate and args.concurrency is None:
        return _error('--isolate needs --concurrency (a forking worker runs every job in a horse already)')
    extra = {} if args.concurrency is None else {'concurrency': args.concurrency, 'isolated_queues': args.isolate}

    def run() -> int:
        try:
            worker = worker_class(
                args.queues,
                name=args.name,
                connection=connection,
                default_result_ttl=args.results_ttl,
                worker_ttl=args.worker_ttl,
                job_monitoring_interval=args.job_monitoring_interval,
                serializer=args.serializer,
                **extra,
            )
        except (ValueError, TypeError, NotImplementedError) as exc:
            return _error(str(exc))
        try:
            worker.work(
                burst=args.burst,
                logging_level=args.logging_level,
                max_jobs=args.max_jobs,
                max_idle_time=args.max_idle_time,
                with_scheduler=args.with_scheduler,
                dequeue_strategy=args.dequeue_strategy,
            )
        except redis.exceptions.RedisError as exc:
            return _error(f'the worker stopped because of Redis: {describe(exc)}')
        return REPLACE_EXIT_CODE if getattr(worker, 'replacement_reason', None) else 0

    if args.concurrency is not None and not args.no_supervisor:
        return supervise(run)
    return run()


def _error(message: str) -> int:
    print(f'Error: {message}', file=sys.stderr)
    return 1


if __name__ == '__main__':
    sys.exit(main())
