"""The Redis the demo runs on, and leaving it as the demo found it.

By default the demo starts a private ``redis-server`` on a free loopback port and removes it at the
end. With ``$REDIS_URL`` it uses that database instead, which may be someone's real data: it refuses
a database that holds keys unless told otherwise (``--use-non-empty-db``), never flushes anything,
and at the end deletes exactly the keys it created (their names contain its token, used in every
queue and worker name, or one of its job ids) and removes its own members from rq's shared sets
(``rq:queues``, ``rq:workers``), leaving the other members in place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

import redis


@dataclass
class DemoRedis:
    connection: redis.Redis
    url: str  #: for the worker processes (with any credentials of $REDIS_URL)
    shown: str  #: for messages (without them)
    private: bool  #: a redis-server of the demo's own


class NonEmptyDatabase(SystemExit):
    """$REDIS_URL's database holds keys and the demo was not allowed to run next to them."""


def describe(connection: redis.Redis) -> str:
    """``redis://host:port/db`` of a connection, without credentials."""
    kwargs = connection.connection_pool.connection_kwargs
    if kwargs.get('path'):
        return f'unix://{kwargs["path"]}?db={kwargs.get("db", 0)}'
    return f'redis://{kwargs.get("host", "localhost")}:{kwargs.get("port", 6379)}/{kwargs.get("db", 0)}'


@contextlib.contextmanager
def demo_redis(allow_non_empty: bool) -> Iterator[DemoRedis]:
    """$REDIS_URL's database (checked as described above), or a private redis-server."""
    url = os.environ.get('REDIS_URL')
    if not url:
        with private_redis() as target:
            yield target
        return
    connection = redis.Redis.from_url(url)
    target = DemoRedis(connection=connection, url=url, shown=describe(connection), private=False)
    try:
        keys = connection.dbsize()
    except redis.RedisError as exc:
        raise SystemExit(f'cannot reach the Redis of $REDIS_URL ({target.shown}): {exc}') from None
    if keys and not allow_non_empty:
        raise NonEmptyDatabase(
            f'The database of $REDIS_URL ({target.shown}) holds {keys} key(s), and the demo does not run next to '
            'data it did not create unless asked. Unset REDIS_URL to let it start a private redis-server, point '
            'REDIS_URL at an empty database (e.g. redis://localhost:6379/15), or pass --use-non-empty-db: the demo '
            'then uses queues and workers of its own and, at the end, deletes only the keys it created.'
        )
    try:
        yield target
    finally:
        connection.close()


@contextlib.contextmanager
def private_redis() -> Iterator[DemoRedis]:
    """A redis-server on a free loopback port, without persistence, stopped and removed at the end."""
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
        url = f'redis://127.0.0.1:{port}/0'
        yield DemoRedis(connection=client, url=url, shown=url, private=True)
    finally:
        client.close()
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def remove_created_keys(connection: redis.Redis, markers: Collection[str]) -> int:
    """Delete the keys whose name contains one of ``markers``; from rq's shared sets and sorted sets
    (``rq:<name>``), remove the members that contain one. Returns the number of keys deleted."""
    wanted = [marker.encode() for marker in markers]

    def ours(name: bytes) -> bool:
        return any(marker in name for marker in wanted)

    deleted = 0
    for key in connection.scan_iter(count=1000):
        if ours(key):
            deleted += int(connection.delete(key))
        elif key.startswith(b'rq:') and key.count(b':') == 1:  # rq:queues, rq:workers, ...: shared by all
            remove_members(connection, key, ours)
    return deleted


def remove_members(connection: redis.Redis, key: bytes, ours: Callable[[bytes], bool]) -> None:
    """Remove the members ``ours`` picks from a shared set or sorted set (``rq:queues``, ``rq:workers``)."""
    kind = connection.type(key)
    if kind == b'set':
        members = [member for member in connection.sscan_iter(key) if ours(member)]
        if members:
            connection.srem(key, *members)
    elif kind == b'zset':
        members = [member for member, _ in connection.zscan_iter(key) if ours(member)]
        if members:
            connection.zrem(key, *members)
