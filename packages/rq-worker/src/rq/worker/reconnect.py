"""How a worker rides out a Redis that is slow or away.

Three parts, used by the worker loop (``BaseWorker._with_reconnect``), its heartbeats and its
command listener:

- :func:`is_transient`: the errors that mean "Redis did not answer (yet)" rather than "Redis said
  no": a lost or refused connection, a socket timeout (a paused server, a long script), a server
  still loading its data or busy running a script. The step that met one is tried again; the worker
  never quits because of one.
- :class:`RedisLink`: whether the worker's Redis answers, shared by the worker's threads, so that
  an outage is logged once (a WARNING with the reason when it starts, an INFO with its length when
  it ends) however many threads notice it, and the threads can go quiet meanwhile.
- :class:`Probe`: a PING on a connection of its own, with a short timeout and no retries, that the
  loop sends about once a second while it backs off, so the wait ends as soon as Redis is back
  instead of at the end of a blind sleep.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from rq._redis.first_answer import SLOW_REPLIES

#: Seconds a probe waits for its PONG (and for its connection).
PROBE_TIMEOUT = 1.0
#: Seconds between two probes while the loop waits.
PROBE_INTERVAL = 1.0


class GaveUpOnRedis(redis.exceptions.ConnectionError):
    """The worker stops without having written what it holds, because Redis did not answer (a cold
    shutdown during an outage). Never retried (see :func:`is_transient`): it ends ``work()``, and
    the commands that start workers exit with a non-zero code and its message."""


def is_transient(exc: BaseException) -> bool:
    """True for an error that says Redis did not answer (yet), not that it refused the command."""
    if isinstance(exc, GaveUpOnRedis):
        return False
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return True  # (BusyLoadingError, the LOADING reply, is a ConnectionError)
    if isinstance(exc, redis.exceptions.ResponseError) and not isinstance(exc, redis.exceptions.ReadOnlyError):
        return str(exc).split(' ', 1)[0] in SLOW_REPLIES
    return False


def describe(exc: BaseException) -> str:
    """The reason for the log line: the error's text, or its class when it has none."""
    text = ' '.join(str(exc).split())
    return f'{type(exc).__name__}: {text}' if text else type(exc).__name__


class RedisLink:
    """Whether Redis answers the worker, as its threads find out.

    Each thread reports under its own name (``'loop'``, ``'heartbeat'``, ``'commands'``): a failure
    with :meth:`failed`, a success with :meth:`answered`. The first failure logs that the
    connection is lost; a success ends the outage and logs that Redis is back. Only a success that
    wrote counts when a writing step failed: Redis may serve reads and not writes (a ``CLIENT PAUSE
    WRITE`` lets PINGs and a subscription through while every write waits).
    """

    def __init__(self, log: logging.Logger, on_failure: Callable[[], None] | None = None) -> None:
        self.log = log
        self._on_failure = on_failure  # (told of every failure: the worker's outage bookkeeping)
        self._lock = threading.Lock()
        self._lost_since: float | None = None
        self._failed: set[str] = set()

    @property
    def away(self) -> bool:
        """Redis has not answered a thread that failed since the outage began."""
        return self._lost_since is not None

    def failed(self, who: str, exc: BaseException) -> None:
        if self._on_failure is not None:
            self._on_failure()
        with self._lock:
            self._failed.add(who)
            if self._lost_since is not None:
                return
            self._lost_since = time.monotonic()
        self.log.warning(
            'Redis connection lost (%s); retrying until Redis answers (no job is lost meanwhile)', describe(exc)
        )

    def answered(self, who: str, reads_only: bool = False) -> None:
        """``who`` got its answer; ``reads_only``: what it sent writes nothing (a subscription)."""
        if self._lost_since is None:  # (the common case: no lock)
            return
        with self._lock:
            if self._lost_since is None or (reads_only and not self._failed <= {who}):
                return
            away = time.monotonic() - self._lost_since
            self._lost_since = None
            self._failed.clear()
        self.log.info('Redis connection back after %.1f s', away)

    def report(self, who: str, exc: BaseException, what: str) -> None:
        """A failure of ``what`` in thread ``who``: an outage if ``exc`` is transient (logged once),
        else a warning of its own."""
        if is_transient(exc):
            self.failed(who, exc)
        else:
            self.log.warning('%s failed (%s)', what, describe(exc))


class Probe:
    """A cheap "is Redis back?": a PING with a short timeout on a connection of its own (the
    worker's connections keep their settings; redis-py's retries would stretch the answer over
    seconds). It is built from the settings of the worker's pool; where that cannot be done (a pool
    that needs more than its connection settings, such as Sentinel's), :meth:`answers` returns
    None and the loop waits its delay without probing."""

    def __init__(self, connection: Any, timeout: float = PROBE_TIMEOUT) -> None:
        self._connection = connection
        self._timeout = timeout
        self._client: Any = None
        self._unusable = False

    def answers(self) -> bool | None:
        """True when Redis answered the PING, False when it did not, None when it cannot be asked."""
        if self._unusable:
            return None
        try:
            if self._client is None:
                self._client = self._build()
            self._client.ping()
            return True
        except redis.exceptions.RedisError:
            return False
        except Exception:
            self._unusable = True
            return None

    def _build(self) -> redis.Redis:
        pool = self._connection.connection_pool
        kwargs = {
            **pool.connection_kwargs,
            'socket_timeout': self._timeout,
            'socket_connect_timeout': self._timeout,
            'retry': Retry(NoBackoff(), 0),
        }
        probe_pool = redis.ConnectionPool(connection_class=pool.connection_class, max_connections=1, **kwargs)
        return redis.Redis(connection_pool=probe_pool)

    def close(self) -> None:
        client = self._client
        self._client = None
        if client is not None:
            try:
                client.connection_pool.disconnect()
            except Exception:
                pass


class Recovery:
    """When to try a refused step again: after ``delay`` seconds (the loop's backoff), or sooner,
    as soon as a probe finds Redis answering again after it did not.

    A probe that answers right away, with the step still failing, says that Redis is up yet cannot
    serve the step (paused for writes, busy, loading): then the loop waits its whole delay, which
    grows. Once a probe has gone unanswered, the first PONG ends the wait."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self._unanswered = False

    def step_failed(self, exc: BaseException) -> None:
        """A refused connection says Redis is away (not merely slow): its return ends the wait."""
        if isinstance(exc, redis.exceptions.ConnectionError) and not isinstance(exc, redis.exceptions.BusyLoadingError):
            self._unanswered = True

    def back(self) -> bool:
        """Probe once: True when Redis answers after it did not (the wait ends)."""
        answered = self.probe.answers()
        if answered is None:
            return False
        if not answered:
            self._unanswered = True
            return False
        if self._unanswered:
            self._unanswered = False
            return True
        return False

    def step_answered(self) -> None:
        self._unanswered = False
