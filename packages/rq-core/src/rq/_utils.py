"""Small helpers that rq's modules share (``rq.utils`` publishes them under RQ 2.x's names)."""

from __future__ import annotations

import datetime
import inspect
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar, overload

from redis.exceptions import NoPermissionError

from ._importing import import_attribute
from ._redis.codec import format_timestamp as utcformat
from ._redis.codec import parse_timestamp
from .exceptions import TimeoutFormatError

if TYPE_CHECKING:
    from redis import Redis


__all__ = [
    'NOT_JSON_SERIALIZABLE',
    'Platform',
    'as_text',
    'backend_class',
    'ceildiv',
    'compact',
    'current_timestamp',
    'decode_redis_hash',
    'ensure_job_list',
    'get_call_string',
    'get_platform',
    'get_version',
    'import_attribute',
    'is_nonstring_iterable',
    'logger',
    'missing_keys',
    'normalize_config_path',
    'now',
    'parse_composite_key',
    'parse_timeout',
    'resolve_function_reference',
    'safe_json_dumps',
    'split_list',
    'str_to_date',
    'truncate_long_string',
    'utcformat',
    'utcparse',
    'validate_absolute_path',
]

logger = logging.getLogger('rq.utils')

_T = TypeVar('_T')

_TIMEOUT_PATTERN = re.compile(r'^\s*(-?\d+)\s*([dhms]?)\s*$', re.IGNORECASE)
_UNIT_SECONDS = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400}


def now() -> datetime.datetime:
    """The current time as an aware UTC datetime."""
    return datetime.datetime.now(datetime.timezone.utc)


def utcparse(string: str | bytes) -> datetime.datetime:
    """Parse an RQ hash timestamp (``...%fZ`` or ``...%SZ``) into an aware UTC datetime."""
    parsed = parse_timestamp(string)
    if parsed is None:
        raise ValueError(f'Not an RQ timestamp: {string!r}')
    return parsed


def str_to_date(date_str: bytes | str) -> datetime.datetime | None:
    """Like :func:`utcparse`, but an empty value gives None."""
    return parse_timestamp(date_str)


def current_timestamp() -> int:
    """The current UTC time in whole seconds (the unit of registry scores)."""
    return int(time.time())


def as_text(v: bytes | str) -> str:
    """Decode bytes as UTF-8; return str unchanged."""
    if isinstance(v, bytes):
        return v.decode('utf-8')
    if isinstance(v, str):
        return v
    raise ValueError(f'Unknown type {type(v)!r}')


def decode_redis_hash(h: dict[Any, Any], *, decode_values: bool = False) -> dict[str, Any]:
    """Decode the keys (and optionally the values) of a raw HGETALL reply."""
    return {as_text(k): (as_text(v) if decode_values else v) for k, v in h.items()}


def parse_timeout(timeout: int | float | str | bytes | None) -> int | None:
    """Turn ``10``, ``'10'``, ``'10s'``, ``'5m'``, ``'1h'`` or ``'2D'`` into whole seconds.

    Floats are truncated. None stays None.

    Raises:
        TimeoutFormatError: anything else, such as ``'1.5h'`` or ``'ten'``.
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool):
        raise TimeoutFormatError(f'Timeout must be an integer or a string like "1h", not {timeout!r}')
    if isinstance(timeout, (int, float)):
        return int(timeout)
    if isinstance(timeout, bytes):
        timeout = timeout.decode()
    if isinstance(timeout, str):
        match = _TIMEOUT_PATTERN.match(timeout)
        if match:
            return int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    raise TimeoutFormatError(
        f'Timeout must be an integer or a string of an integer followed by d, h, m or s '
        f'(e.g. "90", "5m", "1h"), not {timeout!r}'
    )


def backend_class(holder: object, default_name: str, override: type[_T] | str | None = None) -> type[_T]:
    """Pick a class: ``override`` (a class or dotted path), else ``getattr(holder, default_name)``."""
    if override is None:
        return getattr(holder, default_name)  # type: ignore[no-any-return]
    if isinstance(override, str):
        return import_attribute(override)  # type: ignore[no-any-return]
    return override


def get_version(connection: Redis) -> tuple[int, int, int]:
    """The Redis server version as a 3-tuple (``(7, 0, 15)``); Valkey reports its Redis-compatible one."""
    info = connection.info('server')
    raw = str(info.get('redis_version', '0.0.0'))
    numbers = ([*raw.split('.'), '0', '0', '0'])[:3]
    return tuple(int(re.sub(r'\D.*', '', n) or 0) for n in numbers)  # type: ignore[return-value]


#: The server version a worker assumes when it may not read it (an ACL user without ``INFO``, which
#: Redis counts among its dangerous commands): Redis 6.2, the first with BLMOVE, is older than any
#: release still supported.
ASSUMED_VERSION = (6, 2, 0)


def readable_version(connection: Redis) -> tuple[int, int, int] | None:
    """:func:`get_version`, or None when the server refuses ``INFO`` to this user."""
    try:
        return get_version(connection)
    except NoPermissionError:
        return None


def compact(lst: Iterable[_T | None]) -> list[_T]:
    """The items of ``lst`` that are not None."""
    return [item for item in lst if item is not None]


def ceildiv(a: int, b: int) -> int:
    """Integer division rounding up."""
    return -(-a // b)


def split_list(a_list: Sequence[_T], segment_size: int) -> Iterator[Sequence[_T]]:
    """Consecutive slices of ``a_list`` of at most ``segment_size`` items."""
    for start in range(0, len(a_list), segment_size):
        yield a_list[start : start + segment_size]


def missing_keys(connection: Redis, keys: Sequence[str]) -> list[str]:
    """The ``keys`` that do not exist. One multi-key EXISTS answers when all exist (the usual
    case); otherwise each key is checked on its own, in one pipeline."""
    if not keys or connection.exists(*keys) == len(keys):
        return []
    with connection.pipeline(transaction=True) as pipeline:
        for key in keys:
            pipeline.exists(key)
        found = pipeline.execute()
    return [key for key, exists in zip(keys, found, strict=True) if not exists]


def truncate_long_string(data: str, max_length: int | None = None) -> str:
    """Cut ``data`` to ``max_length`` characters and add ``...`` when it was longer."""
    if max_length is None or len(data) <= max_length:
        return data
    return data[:max_length] + '...'


def parse_composite_key(composite_key: str | bytes) -> tuple[str, str]:
    """Split a started-registry member ``'<job_id>:<execution_id>'``."""
    job_id, _, execution_id = as_text(composite_key).partition(':')
    return job_id, execution_id


def get_call_string(func_name: str | None, args: Any, kwargs: Any, max_length: int | None = None) -> str | None:
    """``func_name(arg_reprs..., key=value_repr...)``, or None when ``func_name`` is None.

    Each repr is cut to ``max_length`` characters plus ``...`` (no cut when None). The
    ``key=value`` strings come after the positional ones, sorted as strings (so ``a1=...`` comes
    before ``a=...``), as RQ sorts them.
    """
    if func_name is None:
        return None
    parts = [truncate_long_string(repr(arg), max_length) for arg in args or ()]
    parts += sorted(f'{key}={truncate_long_string(repr(value), max_length)}' for key, value in (kwargs or {}).items())
    return f'{func_name}({", ".join(parts)})'


def resolve_function_reference(func: Any) -> tuple[Any, str]:
    """Split a job function into ``(instance, func_name)``.

    A bound method gives ``(its object, method name)``; a function or builtin ``(None,
    'module.qualname')``; a string ``(None, the string)``; a callable instance ``(it, '__call__')``.

    Raises:
        TypeError: ``func`` is a class, or neither callable nor a string.
    """
    if inspect.ismethod(func):
        return func.__self__, func.__name__
    if inspect.isfunction(func) or inspect.isbuiltin(func):
        return None, f'{func.__module__}.{func.__qualname__}'
    if isinstance(func, (str, bytes)):
        return None, as_text(func)
    if not inspect.isclass(func) and callable(func):
        return func, '__call__'
    raise TypeError(f'Expected a callable or a string, but got: {func}')


def is_nonstring_iterable(obj: Any) -> bool:
    """Whether ``obj`` is iterable and not a ``str``."""
    return isinstance(obj, Iterable) and not isinstance(obj, str)


@overload
def ensure_job_list(obj: str) -> list[str]: ...
@overload
def ensure_job_list(obj: Iterable[_T]) -> list[_T]: ...
@overload
def ensure_job_list(obj: _T) -> list[_T]: ...
def ensure_job_list(obj: Any) -> list[Any]:
    """``list(obj)`` for an iterable other than a ``str``; ``[obj]`` for anything else (a Job, a job id)."""
    return list(obj) if is_nonstring_iterable(obj) else [obj]


#: What :func:`safe_json_dumps` returns for a value JSON cannot encode.
NOT_JSON_SERIALIZABLE = '<not JSON serializable>'


def safe_json_dumps(value: Any) -> str:
    """``json.dumps(value)``, or :data:`NOT_JSON_SERIALIZABLE` when it cannot be encoded."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return NOT_JSON_SERIALIZABLE


class Platform(Enum):
    """The operating system family this process runs on."""

    WINDOWS = 'windows'
    MAC = 'mac'
    LINUX = 'linux'
    OTHERS = 'others'


def get_platform() -> Platform:
    """The :class:`Platform` of ``sys.platform``."""
    name = sys.platform.lower()
    if name.startswith('win'):
        return Platform.WINDOWS
    if name == 'darwin':
        return Platform.MAC
    if name.startswith('linux'):
        return Platform.LINUX
    return Platform.OTHERS


def normalize_config_path(config_path: str) -> str:
    """A module path for ``importlib``: ``'app/cron_config.py'`` and ``'app/cron_config'`` become
    ``'app.cron_config'``; a leading separator is dropped; a dotted path (no separator, no ``.py``)
    is returned unchanged."""
    if os.path.sep not in config_path and not config_path.endswith('.py'):
        return config_path
    path = config_path.removesuffix('.py')
    path = path.removeprefix(os.path.sep)
    return path.replace(os.path.sep, '.')


def validate_absolute_path(file_path: str) -> str:
    """Return ``file_path`` when it names an existing file.

    Raises:
        FileNotFoundError: nothing exists there.
        IsADirectoryError: it is a directory.
    """
    if not os.path.exists(file_path):
        raise FileNotFoundError(f"Configuration file not found at '{file_path}'")
    if not os.path.isfile(file_path):
        raise IsADirectoryError(f"Configuration path points to a directory, not a file: '{file_path}'")
    return file_path
