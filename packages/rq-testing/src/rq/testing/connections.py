"""The switch between the fake and a real Redis for a test run.

A setting says where test connections go:

- empty, ``None`` or ``'fake'``: a new in-memory fake server for every connection (the default);
- ``'spawn'``: a throwaway ``redis-server`` started on first use and stopped by :meth:`RedisTarget.close`;
- a URL (``redis://``, ``rediss://``, ``unix://``): that server. **Its database is emptied** each time
  a clean connection is made, so give it a database of its own (``redis://localhost:6379/15``).

The pytest plugin reads it from ``--rq-real-redis[=URL]`` or the ``RQ_TESTING_REDIS_URL`` environment
variable; other test runners can use :meth:`RedisTarget.from_environment`.
"""

from __future__ import annotations

import os
from types import TracebackType

import redis

from .fake import fake_connection
from .server import RedisServerProcess

__all__ = ['ENV_VAR', 'FAKE', 'SPAWN', 'RealRedisUnavailableError', 'RedisTarget', 'real_connection']

ENV_VAR = 'RQ_TESTING_REDIS_URL'
FAKE = 'fake'
SPAWN = 'spawn'
_URL_SCHEMES = ('redis://', 'rediss://', 'unix://')


class RealRedisUnavailableError(RuntimeError):
    """Raised when the real Redis chosen for the tests cannot be reached or the setting is malformed."""


def real_connection(url: str) -> redis.Redis:
    """A client of the Redis at ``url`` (binary replies, as rq needs), checked with PING."""
    connection = redis.Redis.from_url(url)
    try:
        connection.ping()
    except redis.exceptions.RedisError as exc:
        connection.close()
        raise RealRedisUnavailableError(
            f'Cannot reach the Redis chosen for the tests at {url} ({exc}). Start it or fix the URL '
            f'(--rq-real-redis=URL or {ENV_VAR}); --rq-real-redis alone starts a throwaway redis-server, '
            'and without either the tests use the in-memory fake.'
        ) from exc
    return connection


class RedisTarget:
    """Where test connections go (see the module docs for ``setting``)."""

    def __init__(self, setting: str | None = None) -> None:
        setting = (setting or '').strip()
        if setting and setting != FAKE and setting != SPAWN and not setting.startswith(_URL_SCHEMES):
            raise RealRedisUnavailableError(
                f'Unknown Redis setting {setting!r}: use a URL (redis://HOST:PORT/DB), {SPAWN!r} for a '
                f'throwaway redis-server, or {FAKE!r} (the default) for the in-memory fake.'
            )
        self.setting = setting or FAKE
        self._server: RedisServerProcess | None = None

    @classmethod
    def from_environment(cls) -> RedisTarget:
        """The target named by ``$RQ_TESTING_REDIS_URL`` (the fake when it is unset)."""
        return cls(os.environ.get(ENV_VAR))

    @property
    def is_fake(self) -> bool:
        return self.setting == FAKE

    @property
    def url(self) -> str | None:
        """The real server's URL (starting the throwaway server if that is the setting); None when fake."""
        if self.setting == FAKE:
            return None
        if self.setting == SPAWN:
            if self._server is None:
                self._server = RedisServerProcess().start()
            return self._server.url
        return self.setting

    def describe(self) -> str:
        if self.setting == FAKE:
            return 'fake (in-memory fakeredis)'
        return 'a throwaway redis-server' if self.setting == SPAWN else f'real Redis at {self.setting}'

    def connect(self, clean: bool = True) -> redis.Redis:
        """A connection: to a new fake server, or to the real one (its database emptied when ``clean``)."""
        url = self.url
        if url is None:
            return fake_connection()
        connection = real_connection(url)
        if clean:
            connection.flushdb()
        return connection

    def close(self) -> None:
        """Stop the throwaway server, if one was started."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> RedisTarget:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
