"""Taking a connection out of a redis-py connection pool, with every supported redis-py.

Before redis-py 5.3, ``ConnectionPool.get_connection(command_name, *keys, **options)`` requires a
command name (which it ignores); from 5.3 on, passing one is deprecated. The pool class decides,
so the answer is kept per class.
"""

from __future__ import annotations

import inspect
from typing import Any

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
