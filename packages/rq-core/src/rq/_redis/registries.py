"""Sorted-set registries ``rq:<kind>:<queue>``: raw reads and writes, scores in whole UTC seconds."""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.client import Pipeline

from . import codec


def add(client: Redis | Pipeline, key: str, member: str, score: float | int | str, xx: bool = False) -> Any:
    return client.zadd(key, {member: score}, xx=xx)


def remove(client: Redis | Pipeline, key: str, *members: str) -> Any:
    return client.zrem(key, *members) if members else 0


def score_of(connection: Redis, key: str, member: str) -> float | None:
    score = connection.zscore(key, member)
    return float(score) if score is not None else None


def count(connection: Redis, key: str) -> int:
    return int(connection.zcard(key))


def members(connection: Redis, key: str, start: int = 0, end: int = -1, desc: bool = False) -> list[str]:
    return codec.texts(connection.zrange(key, start, end, desc=desc))


def members_up_to(connection: Redis, key: str, max_score: float, limit: int | None = None) -> list[str]:
    """Members scored from 0 to ``max_score`` (oldest first), at most ``limit`` of them."""
    if limit is None:
        reply = connection.zrangebyscore(key, 0, max_score)
    else:
        reply = connection.zrangebyscore(key, 0, max_score, start=0, num=limit)
    return codec.texts(reply)


def remove_up_to(client: Redis | Pipeline, key: str, max_score: float) -> Any:
    """Drop the members scored 0..``max_score`` (negative scores, meaning "forever", survive)."""
    return client.zremrangebyscore(key, 0, max_score)


def has_member_with_prefix(connection: Redis, key: str, prefix: str) -> bool:
    """Whether some member starts with ``prefix`` (glob characters in it are matched literally)."""
    pattern = ''.join('\\' + c if c in '*?[]\\' else c for c in prefix) + '*'
    return any(True for _ in connection.zscan_iter(key, match=pattern, count=1000))
