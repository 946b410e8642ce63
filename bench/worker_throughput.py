"""Worker throughput, ours against upstream rq 2.12.0, in the same run and on the same Redis.

    hatch run bench-workers [--jobs 1000] [--rounds 3]

For each round and worker class, each implementation enqueues the same trivial jobs and one
worker drains them in burst mode (see ``_drain.py``); the implementations alternate so that
machine noise hits both alike. Prints jobs/s (median over rounds), Redis round trips and new
connections per job, and the ratios ours/upstream: of the medians, and round by round (each round
runs both back to back, so that a busy moment of the machine weighs on both).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / 'tests' / 'support'))

from redis_server import RedisServer  # noqa: E402
from upstream import upstream_python  # noqa: E402

CLASSES = ('Worker', 'SimpleWorker')


def drain(python: str, port: int, worker_class: str, jobs: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME')}
    env['PYTHONPATH'] = str(HERE)
    completed = subprocess.run(
        [python, str(HERE / '_drain.py'), '--port', str(port), '--worker-class', worker_class, '--jobs', str(jobs)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(HERE),
        timeout=900,
    )
    if completed.returncode != 0:
        raise SystemExit(f'{python} failed:\n{completed.stdout}\n{completed.stderr}')
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    if result['finished'] != jobs:
        raise SystemExit(f'{python} {worker_class}: only {result["finished"]} of {jobs} jobs finished')
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--jobs', type=int, default=1000)
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args()
    pythons = {'ours': sys.executable, 'upstream': str(upstream_python())}
    server = RedisServer()
    server.start()
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    try:
        for round_number in range(args.rounds):
            for worker_class in CLASSES:
                order = ('ours', 'upstream') if round_number % 2 == 0 else ('upstream', 'ours')
                for implementation in order:
                    result = drain(pythons[implementation], server.port, worker_class, args.jobs)
                    runs.setdefault((implementation, worker_class), []).append(result)
    finally:
        server.stop()

    print(
        f'{args.jobs} trivial jobs drained by one worker, median of {args.rounds} rounds '
        f'(Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)'
    )
    print(f'{"worker class":<14}{"impl":<10}{"jobs/s":>9}{"round trips/job":>17}{"new conns/job":>15}')
    for worker_class in CLASSES:
        rates = {}
        for implementation in ('upstream', 'ours'):
            results = runs[(implementation, worker_class)]
            rate = statistics.median(r['jobs'] / r['seconds'] for r in results)
            trips = statistics.median(r['round_trips'] / r['jobs'] for r in results)
            conns = statistics.median(r['connections'] / r['jobs'] for r in results)
            rates[implementation] = rate
            print(f'{worker_class:<14}{implementation:<10}{rate:>9.0f}{trips:>17.2f}{conns:>15.3f}')
        print(f'{worker_class:<14}{"ratio":<10}{rates["ours"] / rates["upstream"]:>8.2f}x')
        paired = [
            ours['jobs'] / ours['seconds'] / (theirs['jobs'] / theirs['seconds'])
            for ours, theirs in zip(runs[('ours', worker_class)], runs[('upstream', worker_class)], strict=True)
        ]
        listed = ' '.join(f'{ratio:.2f}' for ratio in paired)
        summary = f'median {statistics.median(paired):.2f}x, lowest {min(paired):.2f}x'
        print(f'{"":<14}{"per round":<10} {listed} ({summary})')


if __name__ == '__main__':
    main()
