"""Writes and reads of the results stream ``rq:results:<job_id>`` and the finished/failed outcome."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from redis import Redis
from redis.client import Pipeline

from ..defaults import RESULTS_STREAM_MAXLEN
from . import keys


def add_result(client: Redis | Pipeline, job_id: str, fields: Mapping[str, Any], ttl: int | None) -> Any:
    """XADD one result entry (``MAXLEN ~ 10``), then apply the stream TTL rule: a positive ttl
    expires the stream, -1 persists it, 0 deletes it, None leaves it alone."""
    key = keys.results_key(job_id)
    entry: dict[Any, Any] = dict(fields)
    reply = client.xadd(key, entry, maxlen=RESULTS_STREAM_MAXLEN, approximate=True)
    apply_stream_ttl(client, job_id, ttl)
    return reply


def apply_stream_ttl(client: Redis | Pipeline, job_id: str, ttl: int | None) -> None:
    key = keys.results_key(job_id)
    if ttl is None:
        return
    if ttl > 0:
        client.expire(key, ttl)
    elif ttl == -1:
        client.persist(key)
    elif ttl == 0:
        client.delete(key)


Entry = tuple[bytes, dict[bytes, bytes]]


def latest_entry(connection: Redis, job_id: str) -> Entry | None:
    entries = cast('list[Entry]', connection.xrevrange(keys.results_key(job_id), '+', '-', count=1))
    return entries[0] if entries else None


def wait_for_entry(connection: Redis, job_id: str, timeout: float) -> Entry | None:
    """Block up to ``timeout`` seconds until the stream has an entry; return the newest one."""
    # BLOCK 0 would wait forever: never round a short positive timeout down to it
    reply = connection.xread({keys.results_key(job_id): '0-0'}, block=max(1, int(timeout * 1000)))
    if not reply:
        return None
    entries = cast('list[Entry]', reply[0][1])  # type: ignore[index]
    return entries[-1] if entries else None


def all_entries(connection: Redis, job_id: str) -> list[Entry]:
    return cast('list[Entry]', connection.xrevrange(keys.results_key(job_id), '+', '-'))


def count_entries(connection: Redis, job_id: str) -> int:
    return int(connection.xlen(keys.results_key(job_id)))


def delete_entries(client: Redis | Pipeline, job_id: str) -> None:
    client.delete(keys.results_key(job_id))


def registry_score(now_score: int, ttl: int) -> float | int:
    """Score of a finished-registry entry: now + ttl, or +inf for ttl -1 (kept forever)."""
    if ttl == -1:
        return float('inf')
    return ttl if ttl < 0 else now_score + ttl


def failed_registry_score(now_score: int, ttl: int) -> int:
    """Score of a failed-registry entry: now + ttl; a negative ttl is stored raw (RQ 2.x)."""
    return ttl if ttl < 0 else now_score + ttl
