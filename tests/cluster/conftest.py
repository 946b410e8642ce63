"""Fixtures for the Redis Cluster tests: one three-master cluster per test process, emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from redis_cluster import RedisCluster


@pytest.fixture(scope='session')
def redis_cluster_nodes() -> Iterator[RedisCluster]:
    cluster = RedisCluster()
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def redis_cluster(redis_cluster_nodes: RedisCluster) -> RedisCluster:
    redis_cluster_nodes.flushall()
    return redis_cluster_nodes
