"""Enqueue-to-start latency of an idle forking Worker, ours against upstream rq 2.12.0.

    hatch run bench-latency [--samples 200]

One worker waits on an empty queue; jobs are enqueued one at a time and each returns the time it
started. Prints p50/p90/p99 in milliseconds for both implementations (same run, same Redis).
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


def measure(python: str, port: int, samples: int) -> list[float]:
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME')}
    env['PYTHONPATH'] = str(HERE)
    completed = subprocess.run(
        [python, str(HERE / '_latency.py'), '--port', str(port), '--samples', str(samples)],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(HERE),
        timeout=600,
    )
    if completed.returncode != 0:
        raise SystemExit(f'{python} failed:\n{completed.stdout}\n{completed.stderr}')
    return list(json.loads(completed.stdout.strip().splitlines()[-1])['samples_ms'])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--samples', type=int, default=200)
    args = parser.parse_args()
    server = RedisServer()
    server.start()
    try:
        results = {
            'upstream': measure(str(upstream_python()), server.port, args.samples),
            'ours': measure(sys.executable, server.port, args.samples),
        }
    finally:
        server.stop()
    print(f'enqueue-to-start latency of an idle forking Worker, {args.samples} jobs (ms)')
    print(f'{"impl":<10}{"p50":>8}{"p90":>8}{"p99":>8}{"mean":>8}')
    for name, values in results.items():
        print(
            f'{name:<10}{percentile(values, 0.5):>8.2f}{percentile(values, 0.9):>8.2f}'
            f'{percentile(values, 0.99):>8.2f}{statistics.mean(values):>8.2f}'
        )
    print(f'p50 ratio upstream/ours: {percentile(results["upstream"], 0.5) / percentile(results["ours"], 0.5):.1f}x')


if __name__ == '__main__':
    main()
