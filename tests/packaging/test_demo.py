"""``examples/demo.py`` with ``$REDIS_URL``: it never touches data it did not create.

The database holds a user's key and a user's rq queue (listed in ``rq:queues``, with a worker in
``rq:workers``). Without ``--use-non-empty-db`` the demo refuses to start; with it, it runs, and
afterwards the database holds exactly what it held before.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis

from rq._redis.ops import ENQUEUE_TOKEN_TTL

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'examples' / 'demo.py'


def snapshot(connection: redis.Redis) -> dict[bytes, object]:
    """Every key with its type, value and time to live."""
    contents: dict[bytes, object] = {}
    for key in connection.scan_iter():
        kind = connection.type(key)
        if kind == b'string':
            value: object = connection.get(key)
        elif kind == b'list':
            value = connection.lrange(key, 0, -1)
        elif kind == b'set':
            value = sorted(connection.smembers(key))
        elif kind == b'zset':
            value = connection.zrange(key, 0, -1, withscores=True)
        elif kind == b'hash':
            value = connection.hgetall(key)
        else:
            value = connection.dump(key)
        contents[key] = (kind, value, connection.ttl(key))
    return contents


def run_demo(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, 'REDIS_URL': url}
    return subprocess.run(
        [sys.executable, str(DEMO), *args], env=environment, cwd=str(ROOT), capture_output=True, text=True, timeout=240
    )


def test_the_demo_leaves_a_database_in_use_as_it_found_it(connection: redis.Redis) -> None:
    connection.set('user:precious', 'mine')
    connection.sadd('rq:queues', 'rq:queue:orders')
    connection.rpush('rq:queue:orders', 'order-1')
    connection.sadd('rq:workers', 'rq:worker:orders-1')
    before = snapshot(connection)
    port = connection.connection_pool.connection_kwargs['port']
    url = f'redis://127.0.0.1:{port}/0'

    refused = run_demo(url)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert 'holds 4 key(s)' in refused.stderr and '--use-non-empty-db' in refused.stderr
    assert snapshot(connection) == before

    allowed = run_demo(url, '--use-non-empty-db')
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "'RUNS AFTER THE FIRST JOB!'" in allowed.stdout  # the workers ran the demo's jobs
    removed = int(allowed.stdout.split('(removed the ', 1)[1].split(' ', 1)[0])
    assert removed > 20  # jobs, results, queues, registries, workers
    after = snapshot(connection)
    # (each enqueue leaves a token that expires on its own within a minute: see ENQUEUE_TOKEN_TTL)
    tokens = {key: after.pop(key) for key in list(after) if key.startswith(b'rq:enqueue-token:')}
    assert after == before
    assert all(0 < ttl <= ENQUEUE_TOKEN_TTL for *_, ttl in tokens.values()), tokens
