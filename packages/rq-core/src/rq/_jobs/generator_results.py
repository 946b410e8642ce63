"""A job function that returns a generator fails the job, saying so.

Calling a generator function runs none of its body: the work happens only as the generator is
iterated, which no worker does. Storing the placeholder ``'Unserializable return value'`` as a
successful result (what RQ 2.12 does on Python 3.12 and later) would report as done work that never
ran; RQ 2.12 on Python 3.11 fails such a job, but with asyncio's ``Task got bad yield`` (it takes a
generator for an old-style coroutine). Here every worker class and ``Queue(is_async=False)`` fail
it with :class:`~rq.exceptions.SerializationError` naming the function, the type and the
serializer's own error. Other values the serializer cannot encode keep upstream's placeholder.
"""

from __future__ import annotations

import types
from typing import Any

from ..exceptions import SerializationError
from ..serializers import Serializer


def _serializer_error(serializer: Serializer, value: Any) -> str:
    """What the serializer says of ``value`` (it raises for a generator; neither pickle nor json
    iterates one to find out)."""
    try:
        serializer.dumps(value)
    except Exception as exc:  # any serializer's error is reported, not handled
        return f'{type(exc).__name__}: {exc}'
    return 'it was encoded, but a generator holds no values until it is iterated'


def _serializer_name(serializer: Serializer) -> str:
    named = serializer if isinstance(serializer, type) else type(serializer)
    return f'{named.__module__}.{named.__qualname__}'


def refuse_generator(func_name: str, serializer: Serializer, value: Any) -> None:
    """Raise :class:`SerializationError` when ``value`` is a generator (closing it first)."""
    if not isinstance(value, types.GeneratorType):
        return
    error = _serializer_error(serializer, value)
    value.close()
    raise SerializationError(
        f'{func_name} returned a generator ({type(value).__name__} object), whose body runs only when it is '
        f'iterated, so none of it ran, and which cannot be stored as the result '
        f'({_serializer_name(serializer)}: {error}); return a list (for example list(...)) instead'
    )
