"""An in-memory Redis for tests: fakeredis, with its Lua support, made to fit rq.

``fake_connection()`` returns a client of a private in-memory server that runs rq's Lua scripts
(fakeredis's ``lua`` extra, backed by ``lupa``). What fakeredis does not do is reported by
:class:`FakeRedisUnsupportedError`, whose message names the fix (a real Redis):

- commands it does not implement (``DEBUG``, ``OBJECT``, ``WAIT``, ``MONITOR``, ...), called
  directly, in a pipeline or from a Lua script;
- sharing data with another process: the data lives in the memory of the process that created
  the server, so a forked child (a forking ``Worker``'s work horse) sees a copy that nobody else
  reads. Any command sent from a child process is refused instead of being silently lost.

``INFO`` is the one command rq needs that fakeredis lacks (workers read the server version
from it): this client answers it itself with the fake server's version.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from typing import Any

import fakeredis
import redis
from redis.client import Pipeline

__all__ = [
    'FAKE_REDIS_VERSION',
    'FakeRedisConnection',
    'FakeRedisUnsupportedError',
    'fake_connection',
    'is_fake',
]

#: The Redis version the fake server claims to be (it decides which commands it accepts).
FAKE_REDIS_VERSION = (7, 4, 0)

REAL_REDIS_FIX = (
    'Run the test against a real Redis: mark it with @pytest.mark.rq_real_redis, or run pytest with '
    '--rq-real-redis (a throwaway redis-server) or --rq-real-redis=redis://HOST:PORT/DB (or set '
    'RQ_TESTING_REDIS_URL).'
)
_SCRIPT_COMMANDS = ('eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'script', 'fcall', 'function')
LUA_FIX = "rq's Lua scripts need fakeredis's Lua support: pip install 'fakeredis[lua]' (it installs lupa)."


class FakeRedisUnsupportedError(redis.exceptions.ResponseError):
    """Raised when a fake connection is asked for something fakeredis cannot do; the message names the fix."""


def is_fake(connection: Any) -> bool:
    """Whether ``connection`` (a client or a pipeline) talks to a fakeredis server."""
    pool = getattr(connection, 'connection_pool', None)
    connection_class = getattr(pool, 'connection_class', None)
    return isinstance(connection, fakeredis.FakeRedis) or (
        isinstance(connection_class, type) and issubclass(connection_class, fakeredis.FakeRedisConnection)
    )


def lua_support_missing() -> bool:
    """Whether fakeredis's Lua support (the ``lupa`` package) is missing."""
    try:
        return importlib.util.find_spec('lupa') is None
    except (ImportError, ValueError):
        return True


def fake_connection(server: fakeredis.FakeServer | None = None) -> FakeRedisConnection:
    """A client of a new private fake server (or of ``server``, to share its data between clients).

    Raises:
        FakeRedisUnsupportedError: fakeredis was installed without its Lua support.
    """
    if lua_support_missing():
        raise FakeRedisUnsupportedError(LUA_FIX)
    return FakeRedisConnection(server=server or fakeredis.FakeServer(version=FAKE_REDIS_VERSION))


def _unknown_command(exc: redis.exceptions.ResponseError) -> str | None:
    """The command named by fakeredis's "unknown command 'x'" error, if that is what ``exc`` is."""
    message = str(exc)
    marker = "unknown command '"
    start = message.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = message.find("'", start)
    return message[start:end] if end > start else None


def translate(exc: BaseException) -> BaseException:
    """``exc``, or a :class:`FakeRedisUnsupportedError` explaining it when fakeredis lacks a command."""
    if isinstance(exc, FakeRedisUnsupportedError) or not isinstance(exc, redis.exceptions.ResponseError):
        return exc
    command = _unknown_command(exc)
    if command is None:
        return exc
    if command.lower() in _SCRIPT_COMMANDS and lua_support_missing():
        return FakeRedisUnsupportedError(LUA_FIX)
    return FakeRedisUnsupportedError(
        f'fakeredis {fakeredis.__version__} does not implement the Redis command {command.upper()!r} '
        f'(the fake connection from rq-testing said: {exc}). {REAL_REDIS_FIX}'
    )


@contextlib.contextmanager
def _explained_errors() -> Iterator[None]:
    """Re-raise an error reply about something fakeredis cannot do with the explanation (see
    :func:`translate`); other errors pass unchanged."""
    try:
        yield
    except redis.exceptions.ResponseError as exc:
        translated = translate(exc)
        if translated is exc:
            raise
        raise translated from exc


def _forked_error(created_in: int) -> FakeRedisUnsupportedError:
    return FakeRedisUnsupportedError(
        f'This fake Redis connection was created in process {created_in} and is used in process '
        f'{os.getpid()}: fakeredis keeps its data in the memory of one process, so what a child process '
        'writes is never seen by the others. Run jobs in the test process (SimpleWorker, the rq_worker '
        f'fixture, or the eager runner), or use a real Redis. {REAL_REDIS_FIX}'
    )


class FakeRedisConnection(fakeredis.FakeRedis):
    """A fakeredis client that answers ``INFO`` and explains what fakeredis cannot do."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.created_in_pid = os.getpid()

    def check_process(self) -> None:
        if os.getpid() != self.created_in_pid:
            raise _forked_error(self.created_in_pid)

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self.check_process()
        with _explained_errors():
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def info(self, section: str | None = None, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """What rq reads from ``INFO`` (fakeredis has no such command): the server's identity."""
        self.check_process()
        version = tuple(self.connection_pool.connection_kwargs['server'].version)
        padded = (*version, 0, 0, 0)[:3]
        return {
            'redis_version': '.'.join(str(part) for part in padded),
            'redis_mode': 'standalone',
            'fakeredis_version': fakeredis.__version__,
        }

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        return _FakePipeline(self, transaction, shard_hint)


class _FakePipeline(Pipeline):
    """A pipeline whose errors from unimplemented commands carry the explanation."""

    def __init__(self, client: FakeRedisConnection, transaction: bool, shard_hint: Any) -> None:
        super().__init__(client.connection_pool, client.response_callbacks, transaction, shard_hint)
        self._client = client

    def execute_command(self, *args: Any, **options: Any) -> Any:
        self._client.check_process()
        with _explained_errors():
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        self._client.check_process()
        with _explained_errors():
            replies = super().execute(raise_on_error=raise_on_error)
        return [translate(reply) if isinstance(reply, BaseException) else reply for reply in replies]
