"""A slot's own connection to Redis, read in blocking mode, with the connection's socket timeout kept
by the worker's monitor instead of by the socket.

A socket with a timeout makes every send and every read two system calls (a poll, then the call),
each of which lets go of the interpreter lock and has to take it back: with many slots finishing jobs
at once, each of those takes waits behind the other slots' work. The slot's exchanges are made on a
blocking socket instead, and the monitor (see :mod:`~rq.worker.slot_monitor`), which looks at the
slots ten times a second, cuts off an exchange that has waited longer than the socket timeout (it
shuts the socket down, which ends the wait): the slot then meets a ``TimeoutError``, as it would
have with the timeout on the socket, and records its job again (see ``SlotRecorder.record``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis

from rq._redis import scripts

_T = TypeVar('_T')


class SlotLink:
    def __init__(self, client: Any) -> None:
        #: None for a client whose calls go through its own command path (see ``scripts.direct``).
        self.connection = scripts.own_connection(client)
        #: Seconds an exchange may wait for Redis (the connection's socket timeout); None: no limit.
        self.reply_limit: float | None = None
        if self.connection is not None:
            limit = getattr(self.connection, 'socket_timeout', None)  # (a connection class of a user's own may lack it)
            if limit is not None and limit > 0:
                self.reply_limit = float(limit)
                self.connection.socket_timeout = None
        self._lock = threading.Lock()
        self._since: float | None = None  # (monotonic) when the exchange in progress began
        self._cut = False

    def connect(self) -> None:
        """Open the connection (it is opened with the first exchange otherwise)."""
        if self.connection is not None:
            self._watched(self.connection.connect)

    def call_many(self, client: Any, calls: list[scripts.ScriptCall]) -> list[Any]:
        """``scripts.call_many`` on this connection (through ``client``'s own path without one)."""
        if self.connection is None:
            return scripts.call_many(client, calls)
        return self._watched(scripts.call_many, client, calls, self.connection)

    def cut_if_stuck(self, moment: float) -> bool:
        """(From the monitor's thread.) End an exchange that has waited longer than the reply limit
        at ``moment`` (monotonic); True when one was cut off."""
        limit = self.reply_limit
        if limit is None or self.connection is None:
            return False
        with self._lock:
            since = self._since
            if since is None or self._cut or moment - since < limit:
                return False
            self._cut = True
            sock = getattr(self.connection, '_sock', None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        return True

    def close(self) -> None:
        if self.connection is not None:
            self.connection.disconnect()

    def _watched(self, exchange: Callable[..., _T], *args: Any) -> _T:
        with self._lock:
            self._since = time.monotonic()
            self._cut = False
        try:
            return exchange(*args)
        except (redis.exceptions.ConnectionError, OSError) as exc:
            if self._cut:
                raise redis.exceptions.TimeoutError(
                    f'Timeout reading from socket: no reply within {self.reply_limit:g} s (the socket timeout)'
                ) from exc
            raise
        finally:
            with self._lock:
                self._since = None
