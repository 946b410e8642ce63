"""A tour of rq: enqueue jobs the RQ 2.x way, run them with two worker processes, show results.

Run with ``hatch run demo`` (or ``python examples/demo.py``). It starts a private redis-server,
unless ``$REDIS_URL`` is set: then it uses that database, refuses one that holds keys unless given
``--use-non-empty-db``, and at the end deletes only the keys it created (see local_redis.py).
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from demo_jobs import count_words, explode, shout, slow_square  # examples/ is on sys.path as a script
from local_redis import DemoRedis, demo_redis, remove_created_keys
from rq import Queue, Retry
from rq.job import Job

HERE = Path(__file__).resolve().parent


class Tour:
    """The demo's steps, with everything it creates named after ``token`` so it can be found again."""

    def __init__(self, target: DemoRedis, token: str) -> None:
        self.target = target
        self.token = token
        connection = target.connection
        self.high = Queue(f'{token}-high', connection=connection)
        self.default = Queue(f'{token}-default', connection=connection)
        self.job_ids: list[str] = []
        self.workers: list[subprocess.Popen[bytes]] = []

    @property
    def markers(self) -> list[str]:
        """What the names of the demo's keys contain: the token (queues, workers) or a job id."""
        return [self.token, *self.job_ids]

    def start_worker(self, role: str, worker_class: str, *options: str) -> subprocess.Popen[bytes]:
        pythonpath = os.pathsep.join(filter(None, [str(HERE), os.environ.get('PYTHONPATH')]))
        command = [
            sys.executable,
            '-m',
            'rq.worker',
            '--url',
            self.target.url,
            '--burst',
            '--name',
            f'{self.token}-{role}',
            '--worker-class',
            worker_class,
            '--logging-level',
            'WARNING',
            *options,
            self.high.name,
            self.default.name,
        ]
        process = subprocess.Popen(command, env={**os.environ, 'PYTHONPATH': pythonpath})
        self.workers.append(process)
        return process

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
            process.wait(30)

    def enqueue(self) -> tuple[Job, Job, Job, Job, list[Job]]:
        print('\n1. Enqueue jobs (producers need only rq-core):')
        squares = [self.default.enqueue(slow_square, n) for n in range(6)]
        self.job_ids += [job.id for job in squares]
        first = self.high.enqueue(count_words, 'the quick brown fox', meta={'source': 'demo'})
        self.job_ids.append(first.id)
        child = self.default.enqueue(shout, 'runs after the first job', depends_on=first)
        self.job_ids.append(child.id)
        failing = self.default.enqueue(explode, retry=Retry(max=1))
        self.job_ids.append(failing.id)
        later = self.default.enqueue_in(timedelta(seconds=2), count_words, 'scheduled two seconds ahead')
        self.job_ids.append(later.id)
        for job in (first, child, failing, later, *squares[:2]):
            print(f'   {job.id[:8]}  {job.get_status():<9}  {job.description}')
        print(
            f'   queues: {self.high.name}={self.high.count}, {self.default.name}={self.default.count}'
            ' (the dependent job is deferred)'
        )
        return first, child, failing, later, squares

    def run_two_workers(self) -> None:
        print('\n2. Two workers drain the queues (high first): a forking Worker and a SimpleWorker')
        print(
            f'   (python -m rq.worker --burst {self.high.name} {self.default.name}; logging at WARNING, '
            'so only the failure shows):'
        )
        started = time.monotonic()
        for process in (self.start_worker('forking', 'Worker'), self.start_worker('simple', 'SimpleWorker')):
            process.wait(60)
        print(f'   both workers done in {time.monotonic() - started:.2f} s')

    def show_results(self, jobs: list[Job], later: Job) -> None:
        print('\n3. Results, read by id from Redis:')
        for job in jobs:
            fetched = Job.fetch(job.id, connection=self.target.connection)
            latest = fetched.latest_result()
            if fetched.get_status() == 'finished':
                shown = repr(fetched.return_value())
            else:
                shown = latest.exc_string.strip().splitlines()[-1] if latest and latest.exc_string else '-'
            print(f'   {job.id[:8]}  {fetched.get_status():<9} by {fetched.worker_name or "-":<21} {shown}')
        finished = self.default.finished_job_registry.count + self.high.finished_job_registry.count
        print(
            f'   finished registry: {finished} jobs;'
            f' failed registry: {self.default.failed_job_registry.count} (after its one retry)'
        )
        print(f'   still scheduled: {len(self.default.scheduled_job_registry)} job ({later.id[:8]}, due in 2 s)')

    def run_scheduled(self, later: Job) -> None:
        print('\n4. A worker with the scheduler (rq-cron) moves the scheduled job once due, then runs it:')
        while self.default.scheduled_job_registry.get_scheduled_time(later) > datetime.now(timezone.utc):
            time.sleep(0.1)
        self.start_worker('scheduler', 'Worker', '--with-scheduler').wait(60)
        fetched = Job.fetch(later.id, connection=self.target.connection)
        status, worker_name = fetched.get_status(), fetched.worker_name or '-'
        print(f'   {later.id[:8]}  {status:<9} by {worker_name:<21} {fetched.return_value()!r}')

    def run(self) -> None:
        first, child, failing, later, squares = self.enqueue()
        self.run_two_workers()
        self.show_results([first, child, failing, *squares], later)
        self.run_scheduled(later)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0] if __doc__ else None)
    parser.add_argument(
        '--use-non-empty-db',
        action='store_true',
        help='with $REDIS_URL: run even if its database holds keys (the demo touches only keys it creates, '
        'and deletes them at the end)',
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    with demo_redis(allow_non_empty=args.use_non_empty_db) as target:
        tour = Tour(target, token=f'demo-{secrets.token_hex(4)}')
        if not target.private:
            print(f'(using $REDIS_URL, {target.shown}: queues and workers named {tour.token}-*, removed at the end)')
        try:
            tour.run()
        finally:
            tour.stop_workers()
            removed = remove_created_keys(target.connection, tour.markers)
            if not target.private:
                print(f'\n(removed the {removed} keys the demo created from {target.shown}; nothing else was touched)')


if __name__ == '__main__':
    main()
