"""Run under either implementation (ours, or upstream rq in its own virtualenv): enqueue N trivial
jobs, then time one worker draining them in burst mode. Prints one JSON line.

Round trips are counted on the client (each ``send_packed_command`` is one request/response
exchange: a pipeline or a script call counts once); connections on the server
(``total_connections_received``), so that connections opened by work horses count too.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

import redis
import redis.connection

import bench_jobs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--worker-class', default='Worker')
    parser.add_argument('--jobs', type=int, default=1000)
    args = parser.parse_args()

    import rq
    from rq import Queue

    worker_class = getattr(rq, args.worker_class)
    connection = redis.Redis(port=args.port)
    connection.flushall()
    queue = Queue('bench', connection=connection)
    with connection.pipeline() as pipe:
        queue.enqueue_many([Queue.prepare_data(bench_jobs.noop) for _ in range(args.jobs)], pipeline=pipe)
        pipe.execute()
    worker = worker_class([queue], connection=connection)
    logging.getLogger('rq').setLevel(logging.WARNING)

    round_trips = [0]
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):  # type: ignore[no-untyped-def]
        round_trips[0] += 1
        return original(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
    connections_before = int(connection.info('stats')['total_connections_received'])
    round_trips[0] = 0
    start = time.perf_counter()
    worker.work(burst=True, logging_level='WARNING')
    seconds = time.perf_counter() - start
    trips = round_trips[0]
    redis.connection.AbstractConnection.send_packed_command = original  # type: ignore[method-assign]
    connections = int(connection.info('stats')['total_connections_received']) - connections_before
    finished = queue.finished_job_registry.get_job_count()
    print(
        json.dumps(
            {
                'rq': rq.VERSION,
                'worker_class': args.worker_class,
                'jobs': args.jobs,
                'finished': finished,
                'seconds': seconds,
                'round_trips': trips,
                'connections': connections,
            }
        )
    )
    sys.stdout.flush()


if __name__ == '__main__':
    main()
