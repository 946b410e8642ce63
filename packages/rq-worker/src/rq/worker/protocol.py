"""How a work horse sends its :class:`~rq.worker.run.RunResult` to the worker: one message on a
pipe, preceded by its length (8 bytes, big-endian). Anything shorter means the horse died before
it could finish sending. The message is a ``marshal``-ed tuple of plain values (cheap to build in a
freshly forked process); a returned :class:`~rq.job.Retry` travels pickled inside it."""

from __future__ import annotations

import marshal
import os
import pickle
import struct
from datetime import datetime, timezone

from .run import RunResult

_HEADER = struct.Struct('>Q')


def encode(result: RunResult) -> bytes:
    retry = pickle.dumps(result.retry, protocol=pickle.HIGHEST_PROTOCOL) if result.retry is not None else None
    message = (
        result.status,
        result.started_at.timestamp(),
        result.ended_at.timestamp(),
        result.return_payload,
        result.exc_string,
        retry,
    )
    data = marshal.dumps(message)
    return _HEADER.pack(len(data)) + data


def decode(data: bytes) -> RunResult:
    status, started, ended, payload, exc_string, retry = marshal.loads(data)
    return RunResult(
        status,
        datetime.fromtimestamp(started, tz=timezone.utc),
        datetime.fromtimestamp(ended, tz=timezone.utc),
        return_payload=payload,
        exc_string=exc_string,
        retry=pickle.loads(retry) if retry is not None else None,
    )


def send(fd: int, result: RunResult) -> None:
    view = memoryview(encode(result))
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.close(fd)


class Reader:
    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> bool:
        """Add what was read; False at end of file (an empty chunk)."""
        if not chunk:
            return False
        self._buffer += chunk
        return True

    def complete(self) -> bool:
        """The whole message has arrived."""
        if len(self._buffer) < _HEADER.size:
            return False
        (length,) = _HEADER.unpack_from(self._buffer)
        return bool(len(self._buffer) >= _HEADER.size + length)

    def result(self) -> RunResult | None:
        """The message, if it arrived whole."""
        if len(self._buffer) < _HEADER.size:
            return None
        (length,) = _HEADER.unpack_from(self._buffer)
        if len(self._buffer) != _HEADER.size + length:
            return None
        try:
            return decode(bytes(self._buffer[_HEADER.size :]))
        except Exception:
            return None
