"""A throwaway redis-server on a free loopback port, for tests (persistence off).

Several test processes (pytest-xdist workers, other checkouts) start servers at the same time, so
a port found free may be taken before the server binds it. A server is therefore accepted only when
the process answering on the port is the one just started; otherwise another free port is tried.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import redis

_CANDIDATES = ('/usr/bin/redis-server', '/usr/sbin/redis-server', '/usr/local/bin/redis-server')
START_TIMEOUT = 30.0
PORT_ATTEMPTS = 5


def find_redis_server() -> str:
    found = shutil.which('redis-server') or next((p for p in _CANDIDATES if os.path.exists(p)), None)
    if not found:
        raise RuntimeError('redis-server not found: install it (Debian: apt-get install redis-server)')
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


class PortTaken(RuntimeError):
    """Another process listens on the port this server was to use."""


class RedisServer:
    """Start, stop and restart a private redis-server."""

    def __init__(self) -> None:
        self.binary = find_redis_server()
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix='rq-test-redis-')
        self.process: subprocess.Popen[bytes] | None = None
        self._started_once = False

    @property
    def url(self) -> str:
        return f'redis://127.0.0.1:{self.port}/0'

    def persistence_options(self) -> list[str]:
        return ['--save', '', '--appendonly', 'no']

    def listen_options(self) -> list[str]:
        """Where the server listens, and anything else it needs on its command line (a subclass
        may listen on a TLS port instead, or create users)."""
        return ['--port', str(self.port), '--bind', '127.0.0.1']

    def client(self, **options: Any) -> redis.Redis:
        """A client of this server with full rights (the readiness check uses one)."""
        return redis.Redis(port=self.port, **options)

    def start(self) -> None:
        """Start the server. The first start moves to another free port if this one is taken; a
        restart keeps the port (clients reconnect to it)."""
        attempts = 1 if self._started_once else PORT_ATTEMPTS
        for attempt in range(attempts):
            try:
                self._launch()
                self._started_once = True
                return
            except PortTaken:
                if attempt + 1 == attempts:
                    raise
                self.port = free_port()

    def _launch(self) -> None:
        log = os.path.join(self.workdir, 'redis.log')
        command = [self.binary, *self.listen_options(), *self.persistence_options()]
        command += ['--dir', self.workdir, '--logfile', log]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = self.client(socket_connect_timeout=2, socket_timeout=5)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while True:
                try:
                    answered = int(client.info('server')['process_id'])
                    break
                except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError):
                    if self.process.poll() is not None:
                        self.process = None
                        if _log_says_port_in_use(log):
                            raise PortTaken(f'port {self.port} is in use') from None
                        raise RuntimeError(f'redis-server exited at start on port {self.port}:\n{_tail(log)}') from None
                    if time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(f'redis-server did not start on port {self.port}:\n{_tail(log)}') from None
                    time.sleep(0.02)
        finally:
            client.close()
        if answered != self.process.pid:  # someone else's server: ours cannot bind, or will not
            self.stop()
            raise PortTaken(f'port {self.port} is served by another redis-server (pid {answered})')

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def _tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, errors='replace') as stream:
            return ''.join(stream.readlines()[-lines:])
    except OSError:
        return '(no log)'


def _log_says_port_in_use(path: str) -> bool:
    return 'Address already in use' in _tail(path)


Server = TypeVar('Server', bound=RedisServer)


@contextmanager
def running(server: Server) -> Iterator[Server]:
    """``server`` started, then stopped and its working directory removed (a fixture's body)."""
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.workdir, ignore_errors=True)
