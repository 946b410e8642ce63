"""Taking a connection out of a redis-py connection pool, with every supported redis-py; making a
new pool like another one.

Before redis-py 5.3, ``ConnectionPool.get_connection(command_name, *keys, **options)`` requires a
command name (which it ignores); from 5.3 on, passing one is deprecated. The pool class decides,
so the answer is kept per class.
"""

from __future__ import annotations

import inspect
from typing import Any

from redis.sentinel import SentinelConnectionPool

_needs_command_name: dict[type[Any], bool] = {}


def _requires_command_name(pool_class: type[Any]) -> bool:
    parameters = inspect.signature(pool_class.get_connection).parameters
    command_name = parameters.get('command_name')
    return command_name is not None and command_name.default is inspect.Parameter.empty


def checkout(pool: Any, command: str) -> Any:
    """A connection from ``pool`` for ``command`` (give it back with ``pool.release``)."""
    pool_class = type(pool)
    needs_name = _needs_command_name.get(pool_class)
    if needs_name is None:
        needs_name = _needs_command_name[pool_class] = _requires_command_name(pool_class)
    if needs_name:
        return pool.get_connection(command)
    return pool.get_connection()


def pool_settings(pool: Any) -> dict[str, Any]:
    """Keyword arguments that build a new, empty pool like ``pool``: ``type(pool)(**settings)``,
    here or in a forked child (its connections are never shared with ``pool``'s).

    A connection pool is rebuilt from its connection class and connection settings; redis-py's
    Sentinel pool (``Sentinel.master_for``) also needs its service name and its ``Sentinel``, and
    keeps a handle on itself among its connection settings (each connection asks it where the master
    is), which the new pool replaces with its own."""
    settings: dict[str, Any] = {'connection_class': pool.connection_class, **pool.connection_kwargs}
    if isinstance(pool, SentinelConnectionPool):
        settings.pop('connection_pool', None)
        settings.update(
            service_name=pool.service_name,
            sentinel_manager=pool.sentinel_manager,
            is_master=pool.is_master,
            check_connection=pool.check_connection,
        )
    return settings
