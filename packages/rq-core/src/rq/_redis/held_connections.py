"""Connections a process keeps out of a client's pool for its script calls.

Taking a connection out of a redis-py pool and giving it back costs a sixth of a small script
call's Python work (a lock each way, a look at the socket through redis-py's reader and, from
redis-py 8 on, its observability counters and events): 12 us of the 73 us an enqueue spends in
Python, measured alone, and 25-30 us of each call in a loop of enqueues. So :func:`take` hands out one
of a few connections that were taken out of the pool once and are kept: they stay the pool's
(counted as in use, closed by ``pool.disconnect()`` and connected again on their next call, as the
pool's own are), only they are not given back after each call.

Held from a plain ``ConnectionPool`` only, at most :data:`HELD_PER_POOL` per pool and process and
never more than a tenth of the pool's ``max_connections`` (none from a pool of fewer than ten):
connections held idle must not make another caller of the pool fail for want of one. A caller
finding every held connection busy uses the pool as before. A forked child forgets
its parent's (their sockets belong to the parent). Before a held connection is used again, its
socket is looked at: one the server closed meanwhile (a restart, the server's idle ``timeout``),
or one with anything unread, is connected afresh before the call is sent, as the pool would.
"""

from __future__ import annotations

import os
import select
import threading
import weakref
from typing import Any

from redis.connection import ConnectionPool

from .pool import checkout

#: The most connections held per pool and process (the callers that send script calls at once).
HELD_PER_POOL = 8


class _Held:
    __slots__ = ('count', 'idle', 'lock')

    def __init__(self) -> None:
        self.idle: list[Any] = []
        self.count = 0
        self.lock = threading.Lock()


#: The held connections of each pool (forgotten with the pool: its connections close with it).
_held: weakref.WeakKeyDictionary[Any, _Held] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _forget_all() -> None:
    global _lock
    _held.clear()
    _lock = threading.Lock()  # (another thread may have held it as this process forked)


os.register_at_fork(after_in_child=_forget_all)


def take(pool: Any) -> Any:
    """A connection of ``pool`` ready for a call, or None when the caller should check one out of
    the pool itself (see the module's docstring). Give it back with :func:`give_back`."""
    if type(pool) is not ConnectionPool:
        return None
    held = _held.get(pool) or _register(pool)
    try:
        connection = held.idle.pop()
    except IndexError:
        return _hold_another(pool, held)
    sock = connection._sock
    if sock is not None and _readable(sock):
        connection.disconnect()  # (closed by the server, or something unread: its next send connects)
    return connection


def _readable(sock: Any) -> bool:
    """Whether ``sock`` has something to read (or was closed by the other end), without waiting.
    ``poll`` where there is one: ``select`` refuses a descriptor past 1023, which a busy process has."""
    if _poll is None:
        return bool(select.select([sock], [], [], 0)[0])
    watch = _poll()
    watch.register(sock, select.POLLIN)
    return bool(watch.poll(0))


_poll = getattr(select, 'poll', None)


def give_back(pool: Any, connection: Any) -> None:
    """Give back a connection :func:`take` returned."""
    held = _held.get(pool)
    if held is not None:  # (None: this process forked meanwhile; the connection is the parent's)
        held.idle.append(connection)


def _register(pool: Any) -> _Held:
    with _lock:
        held = _held.get(pool)
        if held is None:
            held = _held[pool] = _Held()
        return held


def _hold_another(pool: Any, held: _Held) -> Any:
    with held.lock:
        if held.count >= min(HELD_PER_POOL, pool.max_connections // 10):
            return None
        held.count += 1
    try:
        return checkout(pool, 'EVALSHA')
    except BaseException:
        with held.lock:
            held.count -= 1
        raise
