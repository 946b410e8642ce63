"""A worker's first PING: a Redis that is there but slow is waited for, one that is absent is an error.

Upstream's ``rq worker`` exits with an error when Redis cannot be reached at start, and so does
ours (a supervisor restarts it). A server that accepts the connection but answers late (a long
script, a ``CLIENT PAUSE``, an fsync on a slow disk, a dataset still loading) is not absent: the
worker waits for its answer, saying so once, as it would once running.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

#: Error replies (their first word) of a server that cannot serve the command now but will soon: a
#: script or function running past its time limit, a cluster slot moving, a replica without its
#: primary.
SLOW_REPLIES = ('BUSY', 'TRYAGAIN', 'MASTERDOWN')


def is_slow_answer(exc: BaseException) -> bool:
    """True when ``exc`` says Redis is there but did not answer yet (timeout, loading, busy)."""
    if isinstance(exc, (redis.exceptions.TimeoutError, redis.exceptions.BusyLoadingError)):
        return True
    return isinstance(exc, redis.exceptions.ResponseError) and str(exc).split(' ', 1)[0] in SLOW_REPLIES


def wait_for_first_answer(client: redis.Redis, on_wait: Callable[[BaseException], None], pause: float = 1.0) -> None:
    """PING until Redis answers. ``on_wait`` is called once, with the first slow answer's error;
    any other error (the connection refused, bad credentials) is raised at once."""
    announced = False
    while True:
        try:
            client.ping()
            return
        except redis.exceptions.RedisError as exc:
            if not is_slow_answer(exc):
                raise
            if not announced:
                on_wait(exc)
                announced = True
            time.sleep(pause)
