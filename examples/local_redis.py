"""Use ``$REDIS_URL`` if set, else start a private redis-server on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import redis


@contextlib.contextmanager
def local_redis() -> Iterator[redis.Redis]:
    url = os.environ.get('REDIS_URL')
    if url:
        yield redis.Redis.from_url(url)
        return
    binary = shutil.which('redis-server') or '/usr/bin/redis-server'
    if not os.path.exists(binary):
        raise SystemExit('redis-server not found: install it (apt-get install redis-server) or set REDIS_URL')
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix='rq-demo-')
    process = subprocess.Popen(
        [binary, '--port', str(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', workdir],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    try:
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        print(f'(started a private redis-server on 127.0.0.1:{port}; set REDIS_URL to use your own)')
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
