"""Events seen from the Redis server's side, for tests that must know another client's state
rather than guess it from elapsed time."""

from __future__ import annotations

import redis

from worker_process import wait_until


def blocked_clients(connection: redis.Redis, command: str) -> int:
    """How many clients of the server are blocked in ``command`` (``'xread'``, ``'blmove'``, ...)."""
    return sum(
        1 for client in connection.client_list() if client.get('cmd') == command and 'b' in client.get('flags', '')
    )


def wait_blocked(connection: redis.Redis, command: str, timeout: float = 30.0) -> None:
    """Wait until some client of the server is blocked in ``command``."""
    if not wait_until(lambda: blocked_clients(connection, command) > 0, timeout, 0.01):
        raise AssertionError(f'no client blocked in {command.upper()} within {timeout} s')
