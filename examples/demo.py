"""A tour of rq: enqueue jobs the RQ 2.x way, run them with two worker processes, show results.

Run with ``hatch run demo`` (starts a private redis-server unless ``$REDIS_URL`` is set).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from demo_jobs import count_words, explode, shout, slow_square  # examples/ is on sys.path as a script
from local_redis import local_redis
from rq import Queue, Retry
from rq.job import Job

HERE = Path(__file__).resolve().parent


def start_worker(url: str, name: str, worker_class: str, *options: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(filter(None, [str(HERE), os.environ.get('PYTHONPATH')]))}
    command = [
        sys.executable,
        '-m',
        'rq.worker',
        '--url',
        url,
        '--burst',
        '--name',
        name,
        '--worker-class',
        worker_class,
        '--logging-level',
        'WARNING',
        *options,
        'high',
        'default',
    ]
    return subprocess.Popen(command, env=env)


def main() -> None:
    with local_redis() as connection:
        connection.flushdb()
        kwargs = connection.connection_pool.connection_kwargs
        url = f'redis://{kwargs.get("host", "localhost")}:{kwargs.get("port", 6379)}/{kwargs.get("db", 0)}'
        default = Queue('default', connection=connection)
        high = Queue('high', connection=connection)

        print('\n1. Enqueue jobs (producers need only rq-core):')
        jobs = [default.enqueue(slow_square, n) for n in range(6)]
        first = high.enqueue(count_words, 'the quick brown fox', meta={'source': 'demo'})
        child = default.enqueue(shout, 'runs after the first job', depends_on=first)
        failing = default.enqueue(explode, retry=Retry(max=1))
        later = default.enqueue_in(timedelta(seconds=2), count_words, 'scheduled two seconds ahead')
        for job in (first, child, failing, later, *jobs[:2]):
            print(f'   {job.id[:8]}  {job.get_status():<9}  {job.description}')
        print(f'   queues: high={high.count}, default={default.count} (the dependent job is deferred)')

        print('\n2. Two workers drain the queues (high first): a forking Worker and a SimpleWorker')
        print('   (python -m rq.worker --burst high default; logging at WARNING, so only the failure shows):')
        workers = [start_worker(url, 'demo-forking', 'Worker'), start_worker(url, 'demo-simple', 'SimpleWorker')]
        started = time.monotonic()
        for process in workers:
            process.wait(60)
        print(f'   both workers done in {time.monotonic() - started:.2f} s')

        print('\n3. Results, read by id from Redis:')
        for job in (first, child, failing, *jobs):
            fetched = Job.fetch(job.id, connection=connection)
            latest = fetched.latest_result()
            if fetched.get_status() == 'finished':
                shown = repr(fetched.return_value())
            else:
                shown = latest.exc_string.strip().splitlines()[-1] if latest and latest.exc_string else '-'
            print(f'   {job.id[:8]}  {fetched.get_status():<9} by {fetched.worker_name or "-":<13} {shown}')
        print(
            f'   finished registry: {default.finished_job_registry.count + high.finished_job_registry.count} jobs;'
            f' failed registry: {default.failed_job_registry.count} (after its one retry)'
        )
        print(f'   still scheduled: {len(default.scheduled_job_registry)} job ({later.id[:8]}, due in 2 s)')

        print('\n4. A worker with the scheduler (rq-cron) moves the scheduled job once due, then runs it:')
        while default.scheduled_job_registry.get_scheduled_time(later) > datetime.now(timezone.utc):
            time.sleep(0.1)
        start_worker(url, 'demo-scheduler', 'Worker', '--with-scheduler').wait(60)
        fetched = Job.fetch(later.id, connection=connection)
        status, worker_name = fetched.get_status(), fetched.worker_name or '-'
        print(f'   {later.id[:8]}  {status:<9} by {worker_name:<13} {fetched.return_value()!r}')


if __name__ == '__main__':
    main()
