"""Run under either implementation (ours, or upstream rq in its own virtualenv): start one burst
worker on an empty queue and time ``work(burst=True)``, from the call to its return (start-up,
registration, the empty check, and the whole stop: its pub/sub listener, scheduler, death
registration). Prints one JSON line with the seconds and the redis-py version.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import uuid

import redis


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--worker-class', default='Worker')
    args = parser.parse_args()

    import rq
    from rq import Queue

    logging.getLogger('rq').setLevel(logging.WARNING)
    connection = redis.Redis(port=args.port)
    queue = Queue(f'empty-{uuid.uuid4().hex[:8]}', connection=connection)
    worker = getattr(rq, args.worker_class)([queue], connection=connection)
    started = time.perf_counter()
    worker.work(burst=True)
    seconds = time.perf_counter() - started
    print(json.dumps({'seconds': seconds, 'redis_py': redis.__version__}))


if __name__ == '__main__':
    main()
