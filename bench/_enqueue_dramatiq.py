"""Producer driver of bench/enqueue_speed.py for Dramatiq, run with the interpreter of Dramatiq's own
virtualenv (constraints/bench-dramatiq.txt).

    python _enqueue_dramatiq.py single JOBS   # JOBS calls of actor.send()

A ``RedisBroker`` with its default middleware; each ``send()`` builds a message, runs the middleware's
enqueue hooks and dispatches it to Redis with one script call.
"""

from __future__ import annotations

from importlib.metadata import version

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from _enqueue_common import URL, Figures, figures, run, timed

VERSION = f'dramatiq {version("dramatiq")}, redis-py {version("redis")}'

broker = RedisBroker(url=URL)
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name='bench', max_retries=0)
def noop() -> int:
    return 1


def single(jobs: int) -> Figures:
    seconds = timed(noop.send, jobs)
    queued = broker.client.llen(f'{broker.namespace}:bench')
    return figures(jobs, seconds, VERSION, int(queued))


if __name__ == '__main__':
    run({'single': single})
