"""Chaos with Redis itself in the mix: workers SIGKILLed, Redis restarted and paused, in a random
order, while three workers (forking and simple) drain a backlog.

Redis keeps its data across restarts (append-only file, fsynced on every write), as a production
Redis would. Afterwards nothing is lost or stuck: every job is finished, or failed as abandoned
because its worker was killed while holding it (jobs without retries); a job runs more than once
only where a kill made that unavoidable (it ran, or was running, when its worker was killed, and had
a retry left), and those duplicate runs are counted against the kills. The workers that were not
killed are still running at the end: neither an outage nor a pause stops a worker.

Each run is noted in a file by the job itself (``rqtest_jobs_crash.note_run``), not in Redis.
The random seed is printed; set ``RQ_CHAOS_SEED`` to replay a run's order of events.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from crash_support import ABANDONED_TEXT, PersistentRedisServer, ProcessGuard, census
from rq import Queue, Retry
from worker_process import wait_until, worker_env

pytestmark = pytest.mark.timeout(300)  # (a guard against hangs only)

QUEUES = ['high', 'default']
JOBS = 120
INTERVAL = 2  # heartbeat interval of the workers: a dead worker's job is noticed within 4 s
PATIENCE = 120.0
EVENTS = ('kill', 'restart', 'pause-all', 'pause-write', 'kill', 'restart', 'pause-all')


class Fleet:
    """The test's worker processes (``python -m rq.worker``), each logging to its own file."""

    def __init__(self, server: PersistentRedisServer, guard: ProcessGuard, logs: Path) -> None:
        self.server, self.guard, self.logs = server, guard, logs
        self.live: dict[str, subprocess.Popen[bytes]] = {}
        self.killed: list[str] = []
        self._started = 0

    def start(self, worker_class: str) -> str:
        name = f'chaos-{self._started}-{worker_class.lower()}'
        self._started += 1
        with open(self.logs / f'{name}.log', 'wb') as log:
            process = subprocess.Popen(
                [
                    *(sys.executable, '-m', 'rq.worker', '--url', self.server.url, '--name', name),
                    *('--worker-class', f'rq.worker.{worker_class}', '--job-monitoring-interval', str(INTERVAL)),
                    *QUEUES,
                ],
                env=worker_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.live[name] = self.guard.add(process)
        # (registered before the next event: one started while Redis restarts would exit at once,
        # as a worker that finds no Redis at start does)
        connection = redis.Redis(port=self.server.port)
        assert wait_until(lambda: connection.sismember('rq:workers', f'rq:worker:{name}'), PATIENCE), self.output(name)
        return name

    def kill_one(self, rng: random.Random) -> str:
        name = rng.choice(sorted(self.live))
        process = self.live.pop(name)
        self.guard.remember_tree(process)  # (a forking worker's horses die with it, or are reaped)
        process.kill()
        process.wait(30)
        self.killed.append(name)
        return name

    def output(self, name: str) -> str:
        return (self.logs / f'{name}.log').read_text(errors='replace')


def runs_by_index(path: Path) -> collections.Counter[int]:
    return (
        collections.Counter(int(line) for line in path.read_text().split()) if path.exists() else collections.Counter()
    )


def settled(connection: redis.Redis) -> int:
    """Jobs finished or failed so far (0 while Redis does not answer)."""
    try:
        return sum(int(connection.zcard(f'rq:{kind}:{name}')) for kind in ('finished', 'failed') for name in QUEUES)
    except redis.exceptions.RedisError:
        return 0


def test_kills_restarts_and_pauses_lose_nothing(
    persistent: PersistentRedisServer, guard: ProcessGuard, tmp_path: Path
) -> None:
    seed = int(os.environ.get('RQ_CHAOS_SEED', '0')) or random.SystemRandom().randrange(1, 2**31)
    print(f'chaos seed: {seed} (RQ_CHAOS_SEED={seed} replays the order of events)')
    rng = random.Random(seed)
    connection = redis.Redis(port=persistent.port, socket_timeout=30)
    runs_file = tmp_path / 'runs.txt'
    queues = [Queue(name, connection=connection) for name in QUEUES]
    jobs = [
        queues[index % 2].enqueue(
            'rqtest_jobs_crash.note_run',
            str(runs_file),
            index,
            rng.choice([0.0, 0.01, 0.05, 0.2]),
            retry=Retry(max=1) if index % 2 else None,
        )
        for index in range(JOBS)
    ]
    retried = {index for index in range(JOBS) if index % 2}
    fleet = Fleet(persistent, guard, tmp_path)
    for worker_class in ('Worker', 'SimpleWorker', 'Worker'):
        fleet.start(worker_class)

    events = list(EVENTS)
    rng.shuffle(events)
    for event in events:
        before = settled(connection)
        # (each event comes once the fleet has made progress since the last one)
        assert wait_until(lambda before=before: settled(connection) > before or settled(connection) == JOBS, PATIENCE)
        if event == 'kill':
            name = fleet.kill_one(rng)
            fleet.start('SimpleWorker' if 'simple' in name else 'Worker')
        elif event == 'restart':
            persistent.restart()
        else:
            seconds = rng.uniform(2.0, 8.0)
            connection.execute_command('CLIENT', 'PAUSE', int(seconds * 1000), event.split('-')[1].upper())
            time.sleep(seconds)

    assert wait_until(lambda: settled(connection) == JOBS, PATIENCE), {
        name: fleet.output(name)[-3000:] for name in fleet.live
    }
    survivors = {name: process.poll() for name, process in fleet.live.items()}
    assert all(code is None for code in survivors.values()), {
        name: fleet.output(name)[-3000:] for name, code in survivors.items() if code is not None
    }
    for process in fleet.live.values():
        process.send_signal(signal.SIGTERM)
    for name, process in fleet.live.items():
        assert process.wait(PATIENCE) == 0, fleet.output(name)[-3000:]

    found = census(connection, QUEUES, [job.id for job in jobs])
    assert found.problems == []
    assert found.count('finished') + found.count('failed') == JOBS, found.places
    index_of = {job.id: index for index, job in enumerate(jobs)}
    for job_id in found.ids('failed'):
        assert found.exc[job_id].startswith(ABANDONED_TEXT), found.exc[job_id]
        assert index_of[job_id] not in retried, f'job {index_of[job_id]} had a retry left, yet failed'
    runs = runs_by_index(runs_file)
    assert all(runs[index_of[job_id]] >= 1 for job_id in found.ids('finished'))
    duplicates = {index: count - 1 for index, count in runs.items() if count > 1}
    print(f'events: {events}; killed: {fleet.killed}; duplicate runs: {duplicates}')
    # A kill leaves at most one job with a run behind (the one its worker was running), which runs
    # again if it has a retry left; Redis restarts and pauses cause none.
    assert set(duplicates) <= retried, duplicates
    assert sum(duplicates.values()) <= len(fleet.killed), duplicates
    # A job failed as abandoned was held by a killed worker (never by a live one, however long a
    # pause or restart kept it from renewing its entries): the one it ran, or the next one it had
    # claimed ahead with the previous job's outcome.
    holders = {job_id: connection.hget(f'rq:job:{job_id}', 'worker_name') for job_id in found.ids('failed')}
    wrongly_failed = {
        job_id: [
            f'{log.stem}: {line}'
            for log in sorted(tmp_path.glob('*.log'))
            for line in log.read_text().splitlines()
            if job_id[:8] in line
        ][-12:]
        for job_id, holder in holders.items()
        if holder is None or holder.decode() not in fleet.killed
    }
    assert not wrongly_failed, (holders, wrongly_failed)
    assert len(holders) <= 2 * len(fleet.killed), holders
