"""The same enqueue code, run by rq-core and by upstream rq (2.12.0, then 3.0.0) on separate databases of one
Redis, must leave byte-identical data: every key, type, TTL, hash field and value (timestamps by
format, time-based scores within a few seconds)."""

from __future__ import annotations

import pytest
import redis
from scenarios import PRELUDE, SCENARIOS

from redis_dump import diff, snapshot
from redis_server import RedisServer
from upstream import run_upstream

pytestmark = pytest.mark.upstream

OUR_DB, UPSTREAM_DB = 1, 2


def run_ours(code: str, port: int, db: int) -> None:
    conn = redis.Redis(port=port, db=db)
    exec(compile(PRELUDE + code, '<scenario>', 'exec'), {'conn': conn})


@pytest.mark.parametrize('name', sorted(SCENARIOS))
def test_same_redis_data_as_upstream(name: str, redis_server: RedisServer, connection: redis.Redis) -> None:
    code = SCENARIOS[name]
    run_upstream(PRELUDE + code + '\nprint("null")', redis_server.port, db=UPSTREAM_DB)
    run_ours(code, redis_server.port, OUR_DB)
    ours = snapshot(redis.Redis(port=redis_server.port, db=OUR_DB))
    theirs = snapshot(redis.Redis(port=redis_server.port, db=UPSTREAM_DB))
    assert ours, 'the scenario wrote nothing'
    assert diff(ours, theirs) == []
