"""A comparable snapshot of a Redis database, for checking our writes against upstream rq's."""

from __future__ import annotations

import re
from typing import Any

import redis

#: Hash fields whose values are times (compared by format, not value).
TIMESTAMP_FIELDS = {'created_at', 'enqueued_at', 'started_at', 'ended_at', 'last_heartbeat', 'birth', 'death'}
_TIMESTAMP = re.compile(rb'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$')
_EPOCH = re.compile(rb'^\d{10}(\.\d+)?$')
#: Stream/execution fields holding float epochs or random ids.
VOLATILE_FIELDS = {'execution_id', 'execution_started_at', 'execution_ended_at', 'id'}
#: Keys rq writes for itself and upstream never reads: the call tokens that make an enqueue sent
#: twice by redis-py queue its job once (they expire within minutes). Left out of snapshots.
OWN_KEY_PATTERNS = (re.compile(rb'^rq:enqueue-token:[0-9a-f]+$'),)


def normalize_hash(raw: dict[bytes, bytes]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, value in raw.items():
        name = field.decode()
        if name in TIMESTAMP_FIELDS:
            out[name] = '<timestamp>' if _TIMESTAMP.match(value) else ('' if value == b'' else value)
        elif name in VOLATILE_FIELDS:
            out[name] = '<volatile>' if value else ''
        else:
            out[name] = value
    return out


def snapshot(client: redis.Redis) -> dict[str, Any]:
    """Every key with its type, TTL class and normalized content."""
    result: dict[str, Any] = {}
    for key in sorted(client.keys('*')):
        if any(pattern.match(key) for pattern in OWN_KEY_PATTERNS):
            continue
        kind = client.type(key).decode()
        ttl = client.ttl(key)
        entry: dict[str, Any] = {'type': kind, 'ttl': 'none' if ttl == -1 else ttl}
        if kind == 'hash':
            entry['value'] = normalize_hash(client.hgetall(key))
        elif kind == 'list':
            entry['value'] = client.lrange(key, 0, -1)
        elif kind == 'set':
            entry['value'] = sorted(client.smembers(key))
        elif kind == 'zset':
            entry['value'] = client.zrange(key, 0, -1, withscores=True)
        elif kind == 'stream':
            entry['value'] = [normalize_hash(fields) for _, fields in client.xrange(key)]
        elif kind == 'string':
            entry['value'] = client.get(key)
        result[key.decode()] = entry
    return result


def _same_zset(a: list[tuple[bytes, float]], b: list[tuple[bytes, float]], tolerance: float) -> bool:
    """Same members; scores equal, or both times ("now + ttl") within ``tolerance`` seconds."""
    if sorted(m for m, _ in a) != sorted(m for m, _ in b):
        return False
    scores = dict(b)
    return all(s == scores[m] or (s > 1e9 and abs(s - scores[m]) <= tolerance) for m, s in a)


def _same_ttl(a: Any, b: Any, tolerance: float) -> bool:
    """Equal TTLs, up to the time between the two runs' snapshots (``tolerance``, at least 10 s)."""
    if a == b:
        return True
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= max(10.0, tolerance)


def diff(ours: dict[str, Any], theirs: dict[str, Any], tolerance: float = 5.0) -> list[str]:
    problems = []
    for key in sorted(set(ours) | set(theirs)):
        if key not in ours:
            problems.append(f'{key}: only upstream writes it: {theirs[key]}')
        elif key not in theirs:
            problems.append(f'{key}: only we write it: {ours[key]}')
        elif ours[key] != theirs[key]:
            mine, other = ours[key], theirs[key]
            if mine['type'] == other['type'] and _same_ttl(mine['ttl'], other['ttl'], tolerance):
                if mine['type'] == 'zset' and _same_zset(mine['value'], other['value'], tolerance):
                    continue
                if mine['value'] == other['value']:
                    continue
            if mine.get('type') == 'hash' and other.get('type') == 'hash':
                fields = set(mine['value']) | set(other['value'])
                for field in sorted(fields):
                    a, b = mine['value'].get(field), other['value'].get(field)
                    if a != b:
                        problems.append(f'{key} field {field}: ours {a!r} upstream {b!r}')
                if not _same_ttl(mine['ttl'], other['ttl'], tolerance):
                    problems.append(f'{key} ttl: ours {mine["ttl"]} upstream {other["ttl"]}')
            else:
                problems.append(f'{key}: ours {mine} upstream {other}')
    return problems
