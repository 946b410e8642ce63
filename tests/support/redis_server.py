"""A throwaway redis-server on a free loopback port, for tests (persistence off)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time

import redis

_CANDIDATES = ('/usr/bin/redis-server', '/usr/sbin/redis-server', '/usr/local/bin/redis-server')


def find_redis_server() -> str:
    found = shutil.which('redis-server') or next((p for p in _CANDIDATES if os.path.exists(p)), None)
    if not found:
        raise RuntimeError('redis-server not found: install it (Debian: apt-get install redis-server)')
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """Start, stop and restart a private redis-server."""

    def __init__(self) -> None:
        self.binary = find_redis_server()
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix='rq-test-redis-')
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f'redis://127.0.0.1:{self.port}/0'

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                '--port',
                str(self.port),
                '--bind',
                '127.0.0.1',
                '--save',
                '',
                '--appendonly',
                'no',
                '--dir',
                self.workdir,
                '--logfile',
                os.path.join(self.workdir, 'redis.log'),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f'redis-server did not start on port {self.port}') from None
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()
