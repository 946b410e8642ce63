"""Job functions and the connection class for the Redis Cluster tests (imported by their child processes)."""

from __future__ import annotations

from typing import Any

from redis.cluster import ClusterPipeline, RedisCluster

from rq import get_current_job


class TransactionalRedisCluster(RedisCluster):  # type: ignore[misc]
    """redis-py's cluster client whose ``pipeline()`` is a MULTI/EXEC transaction by default, as
    ``Redis.pipeline()`` is (``RedisCluster.pipeline()`` buffers without MULTI unless told
    ``transaction=True``; rq's transactions, and their WATCHes, call ``pipeline()`` without the
    argument). Needs redis-py 6.1+, the first with transactions on a cluster."""

    def pipeline(self, transaction: bool | None = True, shard_hint: Any = None) -> ClusterPipeline:
        return super().pipeline(transaction=transaction, shard_hint=shard_hint)


def add(a: int, b: int) -> int:
    return a + b


def fail_then_succeed(value: str) -> str:
    """Fail while the job has retries left, then return ``value`` (one Retry(max=1) run: fails, then succeeds)."""
    job = get_current_job()
    assert job is not None
    if job.retries_left:
        raise RuntimeError(f'failing while {job.retries_left} retries are left')
    return value


def tick(label: str) -> str:
    return f'tick {label}'
