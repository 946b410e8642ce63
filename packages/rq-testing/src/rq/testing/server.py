"""A throwaway ``redis-server``: a private process on a free loopback port, persistence off.

Used by the pytest plugin's real mode when no URL is given; usable on its own::

    with RedisServerProcess() as server:
        connection = redis.Redis.from_url(server.url)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ['RedisServerNotFoundError', 'RedisServerProcess', 'find_redis_server', 'free_port']

_WELL_KNOWN_PATHS = ('/usr/bin/redis-server', '/usr/sbin/redis-server', '/usr/local/bin/redis-server')
BINARY_ENV = 'RQ_TESTING_REDIS_SERVER'


class RedisServerNotFoundError(RuntimeError):
    """Raised when no ``redis-server`` executable can be found to start a throwaway server."""


def find_redis_server() -> str:
    """The ``redis-server`` executable: ``$RQ_TESTING_REDIS_SERVER``, the PATH, or a usual place."""
    configured = os.environ.get(BINARY_ENV)
    if configured:
        if not os.access(configured, os.X_OK):
            raise RedisServerNotFoundError(f'{BINARY_ENV}={configured!r} is not an executable file')
        return configured
    found = shutil.which('redis-server') or next((p for p in _WELL_KNOWN_PATHS if os.access(p, os.X_OK)), None)
    if found is None:
        raise RedisServerNotFoundError(
            'A throwaway Redis needs the redis-server program, which was not found. Install it '
            '(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis), point '
            f'{BINARY_ENV} at it, or give the URL of a running Redis: --rq-real-redis=redis://HOST:PORT/DB.'
        )
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def _tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, encoding='utf-8', errors='replace') as log:
            return ''.join(log.readlines()[-lines:])
    except OSError:
        return '(no log)'


class RedisServerProcess:
    """Start and stop a private ``redis-server`` (no RDB, no AOF, its files in a temporary directory)."""

    def __init__(self, binary: str | None = None, start_timeout: float = 10.0) -> None:
        self.binary = binary or find_redis_server()
        self.start_timeout = start_timeout
        self.port = 0
        self.workdir = ''
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f'redis://127.0.0.1:{self.port}/0'

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> RedisServerProcess:
        """Start the server and wait until it answers PING. Raises RuntimeError if it does not."""
        if self.running:
            return self
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix='rq-testing-redis-')
        log_file = os.path.join(self.workdir, 'redis.log')
        command = [self.binary, '--port', str(self.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
        command += ['--dir', self.workdir, '--logfile', log_file]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # no retries of its own: the loop below is the retry, and it watches the process meanwhile
        client = redis.Redis(port=self.port, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
        deadline = time.monotonic() + self.start_timeout
        try:
            while True:
                try:
                    client.ping()
                    return self
                except redis.exceptions.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        log_tail = _tail(log_file)
                        self.stop()
                        raise RuntimeError(
                            f'redis-server ({self.binary}) did not start on port {self.port}. Its log:\n{log_tail}'
                        ) from None
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and remove its directory."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> RedisServerProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
