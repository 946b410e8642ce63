"""Waiting for work without taking it, so a worker killed while waiting leaves every job queued.

A queue with an id is noticed by ``BLMOVE q q RIGHT RIGHT``, which moves the tail onto itself
(a no-op) and returns at once when the list is not empty. One queue is watched by the worker's
own connection; several are watched by one thread each (Redis has no multi-list BLMOVE), which
wake the worker; it then claims from the first non-empty queue in priority order. Redis before
6.2 has no BLMOVE: the worker polls instead.

A stop request interrupts :meth:`QueueWaiter.wait` with an exception raised by the signal handler,
wherever the main thread is: so the watcher threads are started beforehand (:meth:`QueueWaiter.watch`,
outside the interruptible wait), and :meth:`QueueWaiter.close` joins only threads that run.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from rq._redis import keys, worker_ops
from rq._redis.pool import checkout, pool_settings

logger = logging.getLogger('rq.worker')

_POLL_SECONDS = 0.1
_WATCH_SECONDS = 5


class QueueWaiter:
    def __init__(self, connection: Any, can_block: bool, log: logging.Logger = logger) -> None:
        self.connection = connection
        self.log = log
        self.can_block = can_block
        self._ready = threading.Event()
        self._armed = threading.Event()
        self._closed = False
        self._watched: dict[str, threading.Thread] = {}

    def watch(self, queue_names: list[str]) -> None:
        """Start the watcher threads that :meth:`wait` needs for ``queue_names`` (when there are
        several), if they do not run yet. The worker calls it before it marks itself waiting: a stop
        request interrupting the start of a thread would leave that thread half-started."""
        if not self.can_block or len(queue_names) == 1 or self._closed:
            return
        self._watch_connection()
        for name in queue_names:
            if name not in self._watched:
                thread = threading.Thread(target=self._watch, args=(name,), name=f'rq-wait-{name}', daemon=True)
                thread.start()
                self._watched[name] = thread

    def wait(self, queue_names: list[str], timeout: float) -> None:
        """Return when one of ``queue_names`` may hold a job, or after ``timeout`` seconds (or
        sooner: a blocking command must return before the connection's socket timeout)."""
        if not self.can_block:
            time.sleep(min(timeout, _POLL_SECONDS))
        elif len(queue_names) == 1:
            worker_ops.wait_for_job(self.connection, queue_names[0], self._blocking(timeout))
        else:
            self.watch(queue_names)
            self._wait_many(timeout)

    def _blocking(self, timeout: float) -> float:
        """``timeout`` for a blocking command, shortened to end a second before the socket timeout
        of the connection (redis-py 6+ defaults to 5 s: a longer BLMOVE would end in TimeoutError,
        which stops a worker)."""
        socket_timeout = self._socket_timeout()
        if isinstance(socket_timeout, (int, float)) and socket_timeout > 0:
            return max(0.01, min(timeout, socket_timeout - 1 if socket_timeout > 2 else socket_timeout / 2))
        return timeout

    def _socket_timeout(self) -> Any:
        """The read timeout of the connection's sockets: the pool's setting, or else what its
        connections actually use (``Redis.from_url`` in redis-py 8 leaves the setting out of the
        pool's keyword arguments, while its connections still time out after 5 s)."""
        if not hasattr(self, '_cached_socket_timeout'):
            pool = getattr(_pool_owner(self.connection), 'connection_pool', None)
            kwargs = getattr(pool, 'connection_kwargs', {})
            timeout = kwargs.get('socket_timeout')
            if 'socket_timeout' not in kwargs and pool is not None:
                connection = checkout(pool, 'PING')
                try:
                    timeout = getattr(connection, 'socket_timeout', None)
                finally:
                    pool.release(connection)
            self._cached_socket_timeout = timeout
        return self._cached_socket_timeout

    def _watch_connection(self) -> Any:
        """The watcher threads' own client (a pool of their own), so that closing can cut their
        blocking commands short without touching the worker's connections."""
        client = getattr(self, '_watch_client', None)
        if client is None:
            owner = _pool_owner(self.connection)
            pool = owner.connection_pool
            # No retries: when close() disconnects a watcher's socket, its BLMOVE must end with the
            # error at once, not be sent again on a new connection (redis-py 6+ retries three times
            # by default, which kept a stopping worker waiting for one more blocking command).
            watch_pool = type(pool)(**{**pool_settings(pool), 'retry': Retry(NoBackoff(), 0)})
            client = self._watch_client = type(owner)(connection_pool=watch_pool)
        return client

    def _wait_many(self, timeout: float) -> None:
        self._ready.clear()
        self._armed.set()
        try:
            self._ready.wait(timeout)
        finally:
            self._armed.clear()

    def _watch(self, name: str) -> None:
        while not self._closed:
            if not self._armed.wait(1.0) or self._closed:
                continue
            try:
                if (
                    worker_ops.wait_for_job(self._watch_connection(), name, self._blocking(_WATCH_SECONDS))
                    and self._armed.is_set()
                ):
                    self._ready.set()
                    time.sleep(0.001)  # let the worker claim before looking again
            except Exception as exc:
                if self._closed:
                    return  # (the worker is done; its connection may be closed under this thread)
                if not isinstance(exc, redis.exceptions.RedisError):
                    self.log.warning('waiting for jobs on %s failed: %r', name, exc)
                self._ready.set()  # let the worker loop see the error and back off
                time.sleep(1.0)

    def close(self) -> None:
        """Stop the watcher threads now (their blocking commands are cut short) and wait for those
        running (never joining one whose start an exception interrupted: it ends as it sees
        ``_closed``)."""
        self._closed = True
        self._armed.set()
        client = getattr(self, '_watch_client', None)
        if client is not None:
            try:
                client.connection_pool.disconnect()
            except Exception:
                pass
        for thread in list(self._watched.values()):
            if thread.is_alive():
                thread.join(timeout=2.0)


def _pool_owner(connection: Any) -> Any:
    """The client whose connection pool the waiting copies: the worker's connection, or for
    redis-py's cluster client (no single pool: one per node) the client of the node that serves
    rq's keys (a cluster needs a hash-tag prefix such as ``RQ_KEY_PREFIX={rq}``, which puts every
    key, and so every queue, in one slot)."""
    if hasattr(connection, 'connection_pool') or not hasattr(connection, 'get_node_from_key'):
        return connection
    return connection.get_redis_connection(connection.get_node_from_key(keys.QUEUES))
