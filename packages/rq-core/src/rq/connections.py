"""Rebuilding a Redis connection elsewhere (upstream's ``rq.connections``): its class, its pool's
connection class and the keyword arguments of its pool, without the pool's runtime state."""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.connection import AbstractConnection

__all__ = ['REDIS_RUNTIME_CONNECTION_KWARGS', 'NoRedisConnectionException', 'get_connection_kwargs', 'parse_connection']


class NoRedisConnectionException(Exception):
    """Raised when an operation needs a Redis connection and none was given."""


#: Pool keyword arguments that describe one pool's live state (redis-py >= 8 adds some, and some
#: hold locks): they are dropped before a connection is rebuilt in another process.
REDIS_RUNTIME_CONNECTION_KWARGS = (
    'maint_notifications_config',
    'maint_notifications_pool_handler',
    'himport_registry',
    'event_dispatcher',
    'orig_host_address',
    'orig_socket_timeout',
    'orig_socket_connect_timeout',
)


def get_connection_kwargs(connection: Redis) -> dict[str, Any]:
    """The keyword arguments of ``connection``'s pool that rebuild an equivalent connection.

    Runtime entries (:data:`REDIS_RUNTIME_CONNECTION_KWARGS`) are left out, and so are values that are
    a bare ``object()``: redis-py marks "not given" with such a sentinel, recognised by identity,
    which a copy in another process would no longer be.
    """
    kwargs: dict[str, Any] = dict(connection.connection_pool.connection_kwargs)
    for key in REDIS_RUNTIME_CONNECTION_KWARGS:
        kwargs.pop(key, None)
    return {key: value for key, value in kwargs.items() if type(value) is not object}


def parse_connection(connection: Redis) -> tuple[type[Redis], type[AbstractConnection], dict[str, Any]]:
    """``(connection class, its pool's connection class, pool keyword arguments)`` for rebuilding it."""
    return type(connection), connection.connection_pool.connection_class, get_connection_kwargs(connection)
