"""Serializers: how job payloads, meta and return values become bytes.

Pickle is the default, unless ``RQ_SERIALIZER`` names another (``json``: a whole deployment switches
to JSON without code changes). ``'json'`` and ``'pickle'`` are accepted as aliases; any other string is
imported as a dotted path. RQ stores no serializer tag in Redis: producers and workers must agree.
"""

from __future__ import annotations

import json
import os
import pickle
from typing import Any, Protocol, runtime_checkable

from ._importing import import_attribute

__all__ = [
    'SERIALIZER_ALIASES',
    'SERIALIZER_ENV',
    'DefaultSerializer',
    'JSONSerializer',
    'PickleSerializer',
    'Serializer',
    'default_serializer',
    'resolve_serializer',
]


@runtime_checkable
class Serializer(Protocol):
    """Anything with ``dumps(obj) -> bytes`` and ``loads(bytes) -> obj``."""

    def dumps(self, obj: Any, /) -> bytes: ...

    def loads(self, data: bytes, /) -> Any: ...


class DefaultSerializer:
    """Pickle with the highest protocol (RQ's default)."""

    @staticmethod
    def dumps(obj: Any) -> bytes:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def loads(data: bytes) -> Any:
        return pickle.loads(data)


PickleSerializer = DefaultSerializer


class JSONSerializer:
    """JSON encoded as UTF-8 bytes. Tuples come back as lists."""

    @staticmethod
    def dumps(obj: Any, *args: Any, **kwargs: Any) -> bytes:
        """``json.dumps`` (further arguments passed on to it) as UTF-8."""
        return json.dumps(obj, *args, **kwargs).encode('utf-8')

    @staticmethod
    def loads(s: bytes | str, *args: Any, **kwargs: Any) -> Any:
        """``json.loads`` of UTF-8 bytes or a str (further arguments passed on to it)."""
        if isinstance(s, bytes):
            s = s.decode('utf-8')
        return json.loads(s, *args, **kwargs)


#: Serializer names accepted wherever a serializer is (``'json'``, ``'pickle'``).
SERIALIZER_ALIASES: dict[str, Any] = {'json': JSONSerializer, 'pickle': DefaultSerializer}


#: The environment variable that names the default serializer (``json``, ``pickle`` or a dotted path)
#: of everything created without one: queues, jobs, workers and the ``rq`` command. Unset: pickle.
SERIALIZER_ENV = 'RQ_SERIALIZER'


def default_serializer() -> Serializer:
    """The serializer of what is created without one: ``$RQ_SERIALIZER``'s, else pickle.

    Raises:
        ValueError: ``$RQ_SERIALIZER`` names nothing that can be imported.
    """
    name = os.environ.get(SERIALIZER_ENV, '').strip()
    if not name:
        return DefaultSerializer
    try:
        return resolve_serializer(name)
    except (ValueError, NotImplementedError) as exc:
        raise ValueError(f'{SERIALIZER_ENV}={name!r} is not a serializer: {exc}') from exc


def serializer_hint(serializer: Any) -> str:
    """Where ``serializer`` came from, when the environment made it the default (for error messages)."""
    name = os.environ.get(SERIALIZER_ENV, '').strip()
    if name and serializer is default_serializer():
        return f' ({SERIALIZER_ENV}={name} makes it the default serializer here)'
    return ''


def resolve_serializer(serializer: Any = None) -> Serializer:
    """Return a serializer for ``serializer``: None, an alias, a dotted path, a class or an instance.

    Raises:
        ValueError: the dotted path cannot be imported.
        NotImplementedError: the object has no ``dumps``/``loads``.
    """
    if not serializer:
        return default_serializer()
    if serializer is DefaultSerializer:
        return DefaultSerializer
    if serializer is JSONSerializer:
        return JSONSerializer
    if isinstance(serializer, str):
        alias = SERIALIZER_ALIASES.get(serializer.lower())
        if alias is not None:
            return alias  # type: ignore[no-any-return]
        try:
            serializer = import_attribute(serializer)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ValueError(f'Unknown serializer {serializer!r}: {exc}') from exc
    if not (callable(getattr(serializer, 'dumps', None)) and callable(getattr(serializer, 'loads', None))):
        raise NotImplementedError(f'Serializer {serializer!r} must provide dumps() and loads()')
    resolved: Serializer = serializer
    return resolved
