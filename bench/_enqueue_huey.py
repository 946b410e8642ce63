"""Producer driver of bench/enqueue_speed.py for Huey, run with the interpreter of Huey's own
virtualenv (constraints/bench-huey.txt).

    python _enqueue_huey.py single JOBS   # JOBS calls of a RedisHuey task: each call enqueues it

A ``RedisHuey`` with its defaults (not ``immediate``): calling the task serializes a message and
pushes it on the queue's Redis list, returning a result handle.
"""

from __future__ import annotations

from importlib.metadata import version

from huey import RedisHuey

from _enqueue_common import URL, Figures, figures, run, timed

VERSION = f'huey {version("huey")}, redis-py {version("redis")}'

huey = RedisHuey('bench', url=URL)


@huey.task()
def noop() -> int:
    return 1


def single(jobs: int) -> Figures:
    seconds = timed(noop, jobs)
    return figures(jobs, seconds, VERSION, huey.pending_count())


if __name__ == '__main__':
    run({'single': single})
