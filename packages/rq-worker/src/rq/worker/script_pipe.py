"""Script calls sent from an event loop's thread on a connection of its own, whose replies are read
as they come: the loop watches the socket, so it never waits for Redis, and each sender's replies
are handed over as soon as they are read (in the order sent). Used by the event loop's async jobs
(see :mod:`rq.worker.loop_jobs`)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from rq._redis import scripts

#: Called with a sender's token and its replies, or the exception that kept them.
OnReplies = Callable[[Any, 'list[Any] | BaseException'], None]


class ScriptPipe:
    def __init__(self, client: Any, loop: asyncio.AbstractEventLoop, on_replies: OnReplies) -> None:
        self._client = client
        self._loop = loop
        self._on_replies = on_replies
        self._connection = scripts.own_connection(client)
        self._in_flight: deque[tuple[Any, int]] = deque()  # (token, number of replies), in the order sent
        self._watched: int | None = None  # the socket's file descriptor the loop watches

    def send(self, token: Any, calls: list[scripts.ScriptCall]) -> None:
        """Send ``calls``; their replies go to ``on_replies`` with ``token`` (on the loop's thread)."""
        if self._connection is None:  # (a client whose calls take its own path: one after the other, here)
            try:
                replies: list[Any] | BaseException = scripts.call_many(self._client, calls)
            except Exception as exc:
                replies = exc
            self._on_replies(token, replies)
            return
        try:
            scripts.send_calls(self._connection, calls)
        except Exception as exc:
            self._broken(exc)  # (the replies of those sent before are lost with the connection)
            self._on_replies(token, exc)
            return
        self._in_flight.append((token, len(calls)))
        self._watch()
        self._readable()  # (replies that came meanwhile are handed over now, not after the loop's other callbacks)

    def close(self) -> None:
        self._unwatch()
        if self._connection is not None:
            self._connection.disconnect()

    def _watch(self) -> None:
        socket = getattr(self._connection, '_sock', None)
        descriptor = socket.fileno() if socket is not None else None
        if descriptor != self._watched:
            self._unwatch()
            if descriptor is not None:
                self._loop.add_reader(descriptor, self._readable)
                self._watched = descriptor

    def _unwatch(self) -> None:
        if self._watched is not None:
            self._loop.remove_reader(self._watched)
            self._watched = None

    def _readable(self) -> None:
        connection = self._connection
        try:
            while self._in_flight and connection.can_read(timeout=0):
                token, count = self._in_flight[0]
                replies = scripts.read_replies(connection, count)
                self._in_flight.popleft()
                self._on_replies(token, replies)
        except Exception as exc:
            self._broken(exc)
        if not self._in_flight:
            self._unwatch()

    def _broken(self, exc: BaseException) -> None:
        """The connection failed: it is dropped (the next send connects again), and the calls in
        flight get ``exc`` (what they did is unknown)."""
        self._unwatch()
        self._connection.disconnect()
        in_flight, self._in_flight = list(self._in_flight), deque()
        for token, _ in in_flight:
            self._on_replies(token, exc)
