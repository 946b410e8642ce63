"""Run under either implementation: start one idle forking worker in a subprocess, then enqueue
jobs one at a time and measure enqueue-to-start latency (the job returns the time it started).
Prints one JSON line with the samples in milliseconds."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

import redis

import bench_jobs

WORKER = """
import sys, redis, logging
from rq import Worker
connection = redis.Redis(port=int(sys.argv[1]))
Worker(['latency'], connection=connection, name=sys.argv[2]).work(logging_level='WARNING')
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--samples', type=int, default=200)
    args = parser.parse_args()

    from rq import Queue

    connection = redis.Redis(port=args.port)
    connection.flushall()
    queue = Queue('latency', connection=connection)
    name = f'latency-{os.getpid()}'
    worker = subprocess.Popen([sys.executable, '-c', WORKER, str(args.port), name])
    try:
        deadline = time.monotonic() + 30
        while not connection.exists(f'rq:worker:{name}'):
            if time.monotonic() > deadline:
                raise SystemExit('the worker did not start')
            time.sleep(0.05)
        for _ in range(5):  # warm up: first jobs import the job module
            queue.enqueue(bench_jobs.started_at).latest_result(timeout=10)
        samples = []
        for _ in range(args.samples):
            time.sleep(0.02)  # the worker is idle, waiting, when the job arrives
            enqueued = time.time()
            job = queue.enqueue(bench_jobs.started_at)
            result = job.latest_result(timeout=10)
            if result is None or result.return_value is None:
                raise SystemExit(f'job {job.id} did not finish')
            samples.append((result.return_value - enqueued) * 1000)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
    print(json.dumps({'samples_ms': samples}))


if __name__ == '__main__':
    main()
