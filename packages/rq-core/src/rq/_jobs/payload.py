"""The function call a job stores: ``(func_name, instance, args, kwargs)`` in its ``data`` field."""

from __future__ import annotations

from typing import Any

from .._redis import codec
from ..exceptions import DeserializationError, SerializationError
from ..serializers import Serializer, serializer_hint
from .callable import describe_callable, get_call_string, resolve_callable, unimportable_reason


class _Unset:
    def __repr__(self) -> str:
        return '<unset>'


UNSET: Any = _Unset()

#: Decoding errors that mean "a class or function the payload names is not importable here"
#: (the payload is fine; a worker may still run it), as opposed to corrupt data.
_NOT_IMPORTABLE_HERE = (ImportError, AttributeError)


class JobPayloadMixin:
    """Lazy encoding and decoding of the call, as RQ does: a job whose ``data`` cannot be decoded
    still loads (its status, description, registries are readable); reading the call (``func_name``,
    ``instance``, ``args``, ``kwargs``, ``func``, ``get_call_string()``) raises
    :class:`~rq.exceptions.DeserializationError` naming the job."""

    _id: str | None
    serializer: Serializer
    _data: Any
    _func_name: Any
    _instance: Any
    _args: Any
    _kwargs: Any

    def _ensure_payload(self) -> None:
        if self._func_name is not UNSET:
            return
        if self._data is UNSET:
            raise DeserializationError(f'Job {self._id} has no function data')
        try:
            self._func_name, self._instance, self._args, self._kwargs = codec.decode_payload(
                self.serializer, self._data
            )
        except Exception as exc:
            self._func_name = self._instance = self._args = self._kwargs = UNSET
            if isinstance(exc, _NOT_IMPORTABLE_HERE):
                problem = f'cannot decode its data here (a worker that can import what it names may): {exc!r}'
            else:
                problem = f'its data field cannot be decoded: {exc!r}'
            raise DeserializationError(f'Job {self._id}: {problem}') from exc

    def set_raw_data(self, raw: bytes) -> None:
        """Take ``data`` as stored; it is decoded when the call is first read."""
        self._data = raw
        self.__dict__.pop('_resolved_func', None)
        self._func_name = self._instance = self._args = self._kwargs = UNSET

    def _set_payload_part(self, name: str, value: Any) -> None:
        self._ensure_payload()
        if name in ('_func_name', '_instance'):
            self.__dict__.pop('_resolved_func', None)
        setattr(self, name, value)
        self._data = UNSET

    @property
    def data(self) -> bytes:
        """The ``data`` field: zlib over the serializer over ``(func_name, instance, args, kwargs)``."""
        if self._data is UNSET:
            payload = (self._func_name, self._instance, self._args, self._kwargs)
            if self._func_name is UNSET:
                raise DeserializationError(f'Job {self._id} has no function set')
            try:
                self._data = codec.encode_payload(self.serializer, payload)
            except Exception as exc:
                raise SerializationError(
                    f'Cannot serialize the call of job {self._id} ({self._func_name}) with '
                    f'{getattr(self.serializer, "__name__", type(self.serializer).__name__)}: {exc}'
                    f'{serializer_hint(self.serializer)}'
                ) from exc
        return self._data  # type: ignore[no-any-return]

    @data.setter
    def data(self, value: bytes) -> None:
        self.set_raw_data(value)

    @property
    def func_name(self) -> str:
        self._ensure_payload()
        return self._func_name  # type: ignore[no-any-return]

    @func_name.setter
    def func_name(self, value: str) -> None:
        self._set_payload_part('_func_name', value)

    @property
    def instance(self) -> Any:
        self._ensure_payload()
        return self._instance

    @instance.setter
    def instance(self, value: Any) -> None:
        self._set_payload_part('_instance', value)

    @property
    def args(self) -> Any:
        self._ensure_payload()
        return self._args

    @args.setter
    def args(self, value: Any) -> None:
        self._set_payload_part('_args', value)

    @property
    def kwargs(self) -> Any:
        self._ensure_payload()
        return self._kwargs

    @kwargs.setter
    def kwargs(self, value: Any) -> None:
        self._set_payload_part('_kwargs', value)

    def _set_call(self, func: Any, args: Any, kwargs: Any) -> None:
        self.__dict__.pop('_resolved_func', None)
        self._func_name, self._instance = describe_callable(func)
        self._args, self._kwargs = args, kwargs
        self._data = UNSET
        if self._instance is None and not isinstance(func, str) and unimportable_reason(self._func_name):
            # (a lambda or nested function: no process can import it by name, but this one holds it,
            # so that Queue(is_async=False) runs it; workers fail it with the reason)
            self.__dict__['_resolved_func'] = func

    @property
    def func(self) -> Any:
        """The callable to run (imports its module the first time)."""
        resolved = self.__dict__.get('_resolved_func')
        if resolved is None:
            resolved = self.__dict__['_resolved_func'] = resolve_callable(self.func_name, self.instance)
        return resolved

    def get_call_string(self) -> str | None:
        return get_call_string(self.func_name, self.args, self.kwargs, max_length=75)
