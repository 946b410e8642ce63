"""Reading script replies straight from a ``redis.asyncio`` connection's stream.

redis-py's asyncio reader costs about 40 us a reply more than reading the same bytes from the
connection's ``asyncio.StreamReader`` (measured with PING: 90 against 51 us a round trip); for a
single ``await queue.enqueue()`` that is a sixth of its time. :func:`stream_of` tells whether a
connection's replies can be read here, :func:`exchange` writes requests and reads their replies.
RESP2 and RESP3 replies, not decoded (a decoding connection's replies are read by redis-py), under
the connection's socket timeout (see :class:`Watch`).
A RESP3 push message that comes before a reply goes to the connection's own push handling, as
redis-py's reader hands it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis._parsers.base import BaseParser
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError, NoScriptError, ResponseError, TimeoutError

_CLOSED = 'Connection closed by server.'

_SEND = AbstractConnection.send_packed_command
_READ = AbstractConnection.read_response


def stream_of(connection: Any) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    """The connected ``connection``'s reader and writer when :func:`exchange` can use them, else
    None: also for a connection class that sends or reads in its own way (it overrides redis-py's
    ``send_packed_command`` or ``read_response``, to count or log them say)."""
    kind = type(connection)
    if kind.send_packed_command is not _SEND or kind.read_response is not _READ:
        return None
    reader = getattr(connection, '_reader', None)
    writer = getattr(connection, '_writer', None)
    if type(reader) is not asyncio.StreamReader or writer is None:
        return None
    encoder = getattr(connection, 'encoder', None)
    if encoder is None or encoder.decode_responses:
        return None
    return reader, writer


def is_stale(stream: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> bool:
    """Whether a connection kept between exchanges has something unread, or was closed by the
    server meanwhile (it must be connected afresh)."""
    reader = stream[0]
    return bool(reader.at_eof() or reader.exception() is not None or len(reader._buffer))  # type: ignore[attr-defined]


async def exchange(
    connection: Any,
    stream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    packed: bytes,
    counts: list[int],
    not_loaded: Any,
    watch: Watch | None = None,
) -> list[list[Any]]:
    """Write ``packed`` on ``connection`` (``stream``: its :func:`stream_of`) and read the
    replies, ``counts[i]`` for the i-th group of requests: ``not_loaded`` for NOSCRIPT, the
    exception for another error reply (as a value, as ``scripts.read_replies`` gives them). An
    error that belongs to the connection (LOADING, NOAUTH ...) is raised, as is the server closing
    the connection or a reply that does not come within the socket timeout. ``watch``: the
    connection's own :class:`Watch`, for a connection used again and again (else one for this
    exchange alone)."""
    reader, writer = stream
    seconds = connection.socket_timeout
    on_push = getattr(connection._parser, 'handle_push_response', None)
    total = sum(counts)
    if seconds is None:
        watch = None
    else:
        watch = watch or Watch()
        watch.start(seconds, writer.transport)
    try:
        await _send(writer, packed)
        replies = []
        for _ in range(total):
            replies.append(await _reply(reader, on_push, not_loaded))
            if watch is not None:
                watch.step()
    except (ConnectionError, OSError):
        if watch is not None and watch.expired:
            raise TimeoutError(
                f'Timeout reading from socket: no reply within {seconds} s (the socket timeout)'
            ) from None
        raise
    finally:
        if watch is not None:
            watch.busy = False
    groups, start = [], 0
    for count in counts:
        groups.append(replies[start : start + count])
        start += count
    return groups


class Watch:
    """Keeps a connection's socket timeout over its exchanges: the write and each reply must come
    within ``seconds`` of the step before (as redis-py times each read); past that the connection
    is cut (its transport aborted), which ends the wait at once. One timer, set again when it
    fires while an exchange is under way (``asyncio.timeout`` around each step, or a timer for each
    exchange, cost 13-15 us an enqueue)."""

    __slots__ = ('busy', 'expired', 'handle', 'loop', 'progress', 'seconds', 'transport')

    def __init__(self) -> None:
        self.busy = self.expired = False
        self.handle: asyncio.TimerHandle | None = None
        self.seconds = self.progress = 0.0
        self.transport: Any = None

    def start(self, seconds: float, transport: asyncio.BaseTransport) -> None:
        self.loop = asyncio.get_running_loop()
        self.seconds, self.transport = seconds, transport
        self.busy, self.expired = True, False
        self.progress = self.loop.time()
        if self.handle is None:
            self.handle = self.loop.call_at(self.progress + seconds, self._check)

    def step(self) -> None:
        self.progress = self.loop.time()

    def _check(self) -> None:
        self.handle = None
        if not self.busy:
            return
        due = self.progress + self.seconds
        if self.loop.time() < due:
            self.handle = self.loop.call_at(due, self._check)
            return
        self.expired = True
        self.transport.abort()


async def _send(writer: asyncio.StreamWriter, packed: bytes) -> None:
    writer.write(packed)
    await writer.drain()


async def _reply(reader: asyncio.StreamReader, on_push: Any, not_loaded: Any) -> Any:
    while True:
        reply = await _read(reader)
        if not isinstance(reply, _Push):
            break
        if on_push is not None:
            await on_push(reply.items)
    if isinstance(reply, _ErrorReply):
        error = _parse_error(reply.text)
        if isinstance(error, NoScriptError):
            return not_loaded
        if isinstance(error, ResponseError):
            return error
        raise error
    return reply


class _ErrorReply:
    __slots__ = ('text',)

    def __init__(self, text: str) -> None:
        self.text = text


class _Push:
    __slots__ = ('items',)

    def __init__(self, items: list[Any]) -> None:
        self.items = items


def _parse_error(text: str) -> Exception:
    error: Exception = BaseParser.parse_error(text)  # type: ignore[no-untyped-call]
    return error


async def _exactly(reader: asyncio.StreamReader, length: int) -> bytes:
    try:
        return (await reader.readexactly(length + 2))[:-2]
    except asyncio.IncompleteReadError:
        raise ConnectionError(_CLOSED) from None


async def _read(reader: asyncio.StreamReader) -> Any:
    try:
        line = await reader.readuntil(b'\r\n')
    except asyncio.IncompleteReadError:
        raise ConnectionError(_CLOSED) from None
    kind, rest = line[:1], line[1:-2]
    if kind == b':' or kind == b'(':
        return int(rest)
    if kind == b'$':
        length = int(rest)
        return None if length < 0 else await _exactly(reader, length)
    if kind in _AGGREGATES:
        count = int(rest)
        if count < 0:
            return None
        items = [_as_value(await _read(reader)) for _ in range(count * (2 if kind == b'%' else 1))]
        if kind == b'%':
            return dict(zip(items[::2], items[1::2], strict=True))
        return _Push(items) if kind == b'>' else items
    if kind == b'+':
        return bytes(rest)
    if kind == b'-':
        return _ErrorReply(rest.decode('utf-8', errors='replace'))
    if kind == b'_':
        return None
    if kind == b',':
        return float(rest)
    if kind == b'#':
        return rest == b't'
    if kind == b'=':
        return (await _exactly(reader, int(rest)))[4:]
    if kind == b'!':
        return _ErrorReply((await _exactly(reader, int(rest))).decode('utf-8', errors='replace'))
    raise ConnectionError(f'Protocol error: unexpected reply {line[:40]!r}')


#: Aggregate replies: arrays, sets (read as lists, as redis-py reads them), maps and pushes.
_AGGREGATES = (b'*', b'~', b'%', b'>')


def _as_value(item: Any) -> Any:
    """An error inside an aggregate is an exception instance among its items, as redis-py gives it."""
    return _parse_error(item.text) if isinstance(item, _ErrorReply) else item
