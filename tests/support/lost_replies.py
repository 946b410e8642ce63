"""A Redis connection that loses the replies of chosen commands: the command runs in Redis, but the
client sees a ConnectionError (the tests of workers that must record, or claim, exactly once)."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry as RedisRetry


class LoseReply(redis.connection.Connection):
    """Sends a command, then drops the connection instead of reading the reply, for the next
    ``plan['times']`` commands that contain every one of ``plan['needles']``: the command ran in
    Redis, but the client sees a ConnectionError (and redis-py may send it again)."""

    plan: ClassVar[dict[str, Any]] = {'needles': [], 'times': 0, 'lost': 0}

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        super().send_packed_command(command, check_health)
        plan = LoseReply.plan
        if not plan['times']:
            return
        chunks = [command] if isinstance(command, (bytes, str, memoryview)) else list(command)
        data = b''.join(c.encode() if isinstance(c, str) else bytes(c) for c in chunks)
        if all(needle in data for needle in plan['needles']):
            plan['times'] -= 1
            plan['lost'] += 1
            time.sleep(0.05)  # it reaches Redis and runs
            self.disconnect()
            raise redis.ConnectionError('reply lost (test)')


def losing_connection(port: int, needles: list[bytes], times: int = 1, retries: bool = True) -> redis.Redis:
    LoseReply.plan = {'needles': needles, 'times': times, 'lost': 0}
    kwargs: dict[str, Any] = {'retry': RedisRetry(NoBackoff(), 3 if retries else 0)}
    pool = redis.ConnectionPool(host='127.0.0.1', port=port, connection_class=LoseReply, **kwargs)
    return redis.Redis(connection_pool=pool)
