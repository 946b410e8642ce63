"""What signed jobs (rq.trust) cost: enqueue and in-process drain, unsigned against signed, in the
same run and on the same private Redis.

    hatch run bench-signing [--jobs 3000] [--rounds 5]

Each round enqueues ``--jobs`` no-op jobs one call at a time through a ``Queue`` without keys, then
through one with a signing key, and drains each batch with a ``SimpleWorker`` in this process: one
without keys, one that requires signatures (it checks each job's HMAC before decoding it). The two
run back to back in each round, in alternating order, so that a busy moment of the machine weighs
on both. Prints the median jobs/s of each and the ratio signed/unsigned; the target (issue 17) is a
cost under 10%, a ratio of at least 0.90.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / 'tests' / 'support'))
sys.path.insert(0, str(HERE))

from bench_jobs import noop  # noqa: E402
from redis_server import RedisServer  # noqa: E402
from rq import Queue  # noqa: E402
from rq.worker import SimpleWorker  # noqa: E402

KEY = 'bench-signing-key'
TARGET = 0.90


def enqueue_rate(connection: redis.Redis, keys: str, jobs: int) -> float:
    queue = Queue('signing', connection=connection, signing_keys=keys)
    started = time.perf_counter()
    for _ in range(jobs):
        queue.enqueue(noop)
    return jobs / (time.perf_counter() - started)


def drain_rate(connection: redis.Redis, keys: str, jobs: int) -> float:
    worker = SimpleWorker([Queue('signing', connection=connection)], connection=connection, signing_keys=keys)
    started = time.perf_counter()
    worker.work(burst=True, logging_level='WARNING')
    elapsed = time.perf_counter() - started
    assert worker.successful_job_count == jobs, f'{worker.successful_job_count} of {jobs} jobs finished'
    return jobs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--jobs', type=int, default=3000)
    parser.add_argument('--rounds', type=int, default=5)
    args = parser.parse_args()
    server = RedisServer()
    server.start()
    rates: dict[tuple[str, str], list[float]] = {}
    try:
        connection = redis.Redis.from_url(server.url)
        for round_number in range(args.rounds):
            order = ('unsigned', 'signed') if round_number % 2 == 0 else ('signed', 'unsigned')
            for kind in order:
                keys = KEY if kind == 'signed' else ''
                connection.flushdb()
                rates.setdefault(('enqueue', kind), []).append(enqueue_rate(connection, keys, args.jobs))
                rates.setdefault(('drain', kind), []).append(drain_rate(connection, keys, args.jobs))
        connection.close()
    finally:
        server.stop()
    print(f'{args.jobs} no-op jobs, {args.rounds} rounds, medians (Python {sys.version.split()[0]})')
    print(f'{"":<10}{"unsigned/s":>12}{"signed/s":>12}{"ratio":>8}')
    for step in ('enqueue', 'drain'):
        unsigned = statistics.median(rates[(step, 'unsigned')])
        signed = statistics.median(rates[(step, 'signed')])
        ratio = signed / unsigned
        verdict = 'met' if ratio >= TARGET else 'MISSED'
        print(f'{step:<10}{unsigned:>12.0f}{signed:>12.0f}{ratio:>8.2f}  (target >= {TARGET:.2f}: {verdict})')
    for (step, kind), values in rates.items():
        print(f'  {step} {kind}, round by round: {", ".join(f"{value:.0f}" for value in values)}')


if __name__ == '__main__':
    main()
