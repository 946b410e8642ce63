"""Rules about our own sources that a reader could not see break: each test reads packages/."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_pipeline_says_whether_it_is_a_transaction() -> None:
    """``redis.Redis.pipeline()`` is a MULTI/EXEC transaction by default, ``RedisCluster.pipeline()``
    is not (and refuses WATCH): rq must say ``transaction=True`` (or ``False``) every time, or its
    transactions stop being transactions on Redis Cluster (tests/cluster)."""
    bare = re.compile(r'\.pipeline\(\s*\)')
    found = [
        f'{path.relative_to(ROOT)}:{number}'
        for path in sorted((ROOT / 'packages').rglob('*.py'))
        for number, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1)
        if bare.search(line)
    ]
    assert found == []
