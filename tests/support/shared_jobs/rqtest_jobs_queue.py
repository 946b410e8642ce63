"""Job functions and helpers for the Queue / enqueue / bad-input tests (tests/core/test_queue.py,
test_enqueue.py, test_bad_input.py). Importable without rq."""

from __future__ import annotations

from typing import Any


def takes_timeout(timeout: Any = None, description: Any = None, ttl: Any = None) -> dict[str, Any]:
    """Has parameters named like RQ's reserved keywords, to check which ones reach the function."""
    return {'timeout': timeout, 'description': description, 'ttl': ttl}


def total(*args: int, **kwargs: int) -> int:
    return sum(args) + sum(kwargs.values())


def raise_import_error() -> None:
    import rqtest_no_such_module_anywhere  # type: ignore[import-not-found]  # noqa: F401


class Greeter:
    """A class with a bound method, a staticmethod, a classmethod and ``__call__``."""

    def __init__(self, greeting: str) -> None:
        self.greeting = greeting

    def greet(self, name: str) -> str:
        return f'{self.greeting}, {name}'

    def __call__(self, name: str) -> str:
        return f'{self.greeting.upper()} {name.upper()}'

    @staticmethod
    def shout(text: str) -> str:
        return text.upper()

    @classmethod
    def make(cls, greeting: str) -> str:
        return f'{cls.__name__}:{greeting}'


class CustomSerializer:
    """A JSON-like serializer found by dotted path (``rqtest_jobs_queue.CustomSerializer``)."""

    @staticmethod
    def dumps(obj: Any) -> bytes:
        import json

        return json.dumps(obj).encode('utf-8')

    @staticmethod
    def loads(data: bytes) -> Any:
        import json

        return json.loads(data)


NOT_CALLABLE = 42
