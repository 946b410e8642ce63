"""Who may make a worker run what: signed jobs and an allowlist of callables.

Anyone who can write to the Redis a worker reads can write a job hash. With the default (pickle)
serializer, decoding a crafted ``data`` field runs code; with any serializer, a job may name any
importable callable (``os.system``). Two defences, each opt-in, stronger together:

**Signed jobs.** A producer with signing keys (``RQ_SIGNING_KEYS``, comma-separated, newest first;
or ``Queue(signing_keys=...)``) writes an HMAC-SHA256 of what decides what runs (the job id, its
queue, its ``data`` field as stored, its three callback names) into the job hash's ``signature``
field: ``v1:<key id>:<hex digest>``, the key id being the first 8 hex digits of the key's SHA-256.
Other readers ignore the field (upstream workers run signed jobs unchanged). A worker with keys
requires a signature made with one of them and checks it **before decoding anything**: an unsigned
or forged job is failed with the cause and never runs. Signing uses the first key, checking accepts
any: keys rotate without downtime (add the new key first everywhere, then drop the old one once the
jobs signed with it are gone). ``RQ_ACCEPT_UNSIGNED=1`` (migration) lets unsigned jobs run with a
warning, counted in ``rq info``.

**Allowlist.** A worker with ``RQ_ALLOWED_FUNCTIONS`` (comma-separated dotted prefixes: ``myapp.tasks``
allows ``myapp.tasks.send`` and ``myapp.tasks.mail.send``, not ``myapp.tasksx``) imports job
functions and callbacks from there only: any other name fails the job with the cause before it is
imported. A job that no signature vouches for is decoded, on such a worker, by an unpickler that
builds only plain data (numbers, strings, containers, dates, decimals, UUIDs) and objects of the
allowed modules, so that a crafted pickle cannot run code while it is decoded.

A worker with either defence decodes every job's ``meta`` that way too (``meta`` is not signed: job
code changes it while the job runs).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .exceptions import DeserializationError
from .serializers import DefaultSerializer, Serializer

__all__ = [
    'ACCEPT_UNSIGNED_ENV',
    'ALLOWED_FUNCTIONS_ENV',
    'FORGED',
    'SIGNATURE_FIELD',
    'SIGNED',
    'SIGNING_KEYS_ENV',
    'UNSIGNED',
    'GuardedSerializer',
    'NotAllowedError',
    'TrustPolicy',
    'UntrustedJobError',
    'current_policy',
    'parse_keys',
    'parse_prefixes',
    'sign',
    'use_policy',
]

SIGNING_KEYS_ENV = 'RQ_SIGNING_KEYS'
ACCEPT_UNSIGNED_ENV = 'RQ_ACCEPT_UNSIGNED'
ALLOWED_FUNCTIONS_ENV = 'RQ_ALLOWED_FUNCTIONS'

#: The job-hash field that holds the signature.
SIGNATURE_FIELD = 'signature'
_VERSION = 'v1'
#: The fields a signature covers, after the job id (their raw bytes as stored; absent is empty).
SIGNED_FIELDS = ('origin', 'data', 'success_callback_name', 'failure_callback_name', 'stopped_callback_name')

SIGNED, UNSIGNED, FORGED = 'signed', 'unsigned', 'forged'


class UntrustedJobError(DeserializationError):
    """A worker that requires signed jobs met an unsigned or forged one (it does not run)."""


class NotAllowedError(Exception):
    """A job names a callable (or its data a class) outside the worker's allowed functions."""


def parse_keys(value: str | bytes | Iterable[str | bytes] | None) -> tuple[bytes, ...]:
    """Signing keys from a comma-separated string (or a list), newest first; blanks dropped."""
    if value is None:
        return ()
    if isinstance(value, bytes):
        value = value.decode('utf-8')
    items = value.split(',') if isinstance(value, str) else list(value)
    keys = []
    for item in items:
        key = item.encode('utf-8') if isinstance(item, str) else bytes(item)
        key = key.strip()
        if key:
            keys.append(key)
    return tuple(keys)


def parse_prefixes(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Allowed dotted prefixes from a comma-separated string (or a list); blanks dropped."""
    if value is None:
        return ()
    items = value.split(',') if isinstance(value, str) else list(value)
    return tuple(item.strip().rstrip('.') for item in items if item.strip().rstrip('.'))


_env_keys: tuple[str | None, tuple[bytes, ...]] = (None, ())


def signing_keys_of(keys: tuple[bytes, ...] | None) -> tuple[bytes, ...]:
    """``keys``, or when None those of ``RQ_SIGNING_KEYS`` (read again when it changes)."""
    global _env_keys
    if keys is not None:
        return keys
    value = os.environ.get(SIGNING_KEYS_ENV)
    if value != _env_keys[0]:
        _env_keys = (value, parse_keys(value))
    return _env_keys[1]


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def _message(job_id: str, fields: Mapping[str, Any]) -> bytes:
    """What is signed: the job id and :data:`SIGNED_FIELDS`, each length-prefixed (no two jobs
    share a message)."""
    parts = [_VERSION.encode(), job_id.encode('utf-8')]
    for name in SIGNED_FIELDS:
        value = fields.get(name)
        if value is None:
            value = b''
        elif isinstance(value, str):
            value = value.encode('utf-8')
        parts.append(bytes(value))
    return b''.join(b'%d:%s;' % (len(part), part) for part in parts)


def sign(key: bytes, job_id: str, fields: Mapping[str, Any]) -> str:
    """The ``signature`` field of job ``job_id`` whose hash holds ``fields`` (str or bytes values)."""
    digest = hmac.new(key, _message(job_id, fields), hashlib.sha256).hexdigest()
    return f'{_VERSION}:{key_id(key)}:{digest}'


def verify(keys: Iterable[bytes], job_id: str, fields: Mapping[Any, Any]) -> str:
    """:data:`SIGNED` when ``fields`` (a raw job hash, str or bytes keys) carries a signature made
    with one of ``keys``; :data:`UNSIGNED` without one; :data:`FORGED` otherwise."""
    raw = fields.get(SIGNATURE_FIELD, fields.get(SIGNATURE_FIELD.encode()))
    if not raw:
        return UNSIGNED
    text = raw.decode('ascii', 'replace') if isinstance(raw, bytes) else str(raw)
    named = {name: fields.get(name, fields.get(name.encode())) for name in SIGNED_FIELDS}
    message = _message(job_id, named)
    for key in keys:
        expected = f'{_VERSION}:{key_id(key)}:' + hmac.new(key, message, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, text):
            return SIGNED
    return FORGED


def is_allowed(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == prefix or name.startswith(prefix + '.') for prefix in prefixes)


#: What the guarded unpickler builds besides the allowed modules' objects: plain data only.
SAFE_GLOBALS = frozenset(
    {
        ('builtins', name)
        for name in ('set', 'frozenset', 'bytearray', 'complex', 'range', 'slice', 'list', 'dict', 'tuple')
    }
    | {('datetime', name) for name in ('datetime', 'date', 'time', 'timedelta', 'timezone')}
    | {
        ('decimal', 'Decimal'),
        ('uuid', 'UUID'),
        ('fractions', 'Fraction'),
        ('collections', 'OrderedDict'),
        ('collections', 'deque'),
        ('collections', 'Counter'),
        ('zoneinfo', 'ZoneInfo'),
        ('copyreg', '_reconstructor'),  # (these three build an instance of a class that passed too)
        ('copyreg', '__newobj__'),
        ('copyreg', '__newobj_ex__'),
        ('builtins', 'object'),
    }
)


class _GuardedUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, prefixes: tuple[str, ...]) -> None:
        super().__init__(io.BytesIO(data))
        self._prefixes = prefixes

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in SAFE_GLOBALS or is_allowed(f'{module}.{name}', self._prefixes):
            return super().find_class(module, name)
        raise NotAllowedError(
            f'the data refers to {module}.{name}, which this worker does not build from a job no signature '
            'vouches for (plain data, and the modules of RQ_ALLOWED_FUNCTIONS, only)'
        )


class GuardedSerializer:
    """The serializer of a worker with a trust policy: ``inner``'s, except that pickle is decoded
    by the guarded unpickler (see the module's documentation)."""

    def __init__(self, inner: Serializer, prefixes: tuple[str, ...]) -> None:
        self.inner = inner
        self._prefixes = prefixes
        self._pickle = inner is DefaultSerializer or isinstance(inner, DefaultSerializer)

    def dumps(self, obj: Any) -> bytes:
        return self.inner.dumps(obj)

    def loads(self, data: bytes) -> Any:
        if self._pickle:
            return _GuardedUnpickler(data, self._prefixes).load()
        return self.inner.loads(data)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, '').strip().lower() in ('1', 'true', 'yes', 'on')


@dataclass(frozen=True)
class TrustPolicy:
    """A worker's defences (see the module's documentation); empty: none."""

    keys: tuple[bytes, ...] = ()
    accept_unsigned: bool = False
    allowed_functions: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        signing_keys: str | Iterable[str | bytes] | None = None,
        accept_unsigned: bool | None = None,
        allowed_functions: str | Iterable[str] | None = None,
    ) -> TrustPolicy:
        """From the given settings, each taken from its environment variable when None."""
        keys = parse_keys(os.environ.get(SIGNING_KEYS_ENV) if signing_keys is None else signing_keys)
        accept = _env_flag(ACCEPT_UNSIGNED_ENV) if accept_unsigned is None else bool(accept_unsigned)
        prefixes = parse_prefixes(
            os.environ.get(ALLOWED_FUNCTIONS_ENV) if allowed_functions is None else allowed_functions
        )
        return cls(keys, accept, prefixes)

    @property
    def active(self) -> bool:
        return bool(self.keys or self.allowed_functions)

    def guard(self, serializer: Serializer) -> Serializer:
        """The serializer to decode jobs with under this policy."""
        if not self.active or isinstance(serializer, GuardedSerializer):
            return serializer
        return GuardedSerializer(serializer, self.allowed_functions)

    def check_name(self, name: str, what: str = 'function') -> None:
        """Raise :class:`NotAllowedError` if ``name`` may not be imported under this policy."""
        if self.allowed_functions and not is_allowed(name, self.allowed_functions):
            raise NotAllowedError(
                f'{what} {name!r} is not among the functions this worker may run '
                f'({ALLOWED_FUNCTIONS_ENV}={",".join(self.allowed_functions)})'
            )

    def verdict(self, job_id: str, fields: Mapping[Any, Any]) -> str:
        """:data:`SIGNED`, :data:`UNSIGNED` or :data:`FORGED` (SIGNED when no key is required)."""
        if not self.keys:
            return SIGNED
        return verify(self.keys, job_id, fields)

    def refusal(self, job_id: str, verdict: str) -> str | None:
        """Why a job with ``verdict`` may not run (None when it may)."""
        if verdict == FORGED:
            return (
                f"job {job_id} was refused: its signature does not match any of this worker's signing keys "
                f'({SIGNING_KEYS_ENV}); its function, arguments, callbacks or queue were changed after it was '
                'signed, or it was signed with a key this worker no longer has. It was not run.'
            )
        if verdict == UNSIGNED and not self.accept_unsigned:
            return (
                f'job {job_id} was refused: it is not signed, and this worker requires signed jobs '
                f'({SIGNING_KEYS_ENV} is set; {ACCEPT_UNSIGNED_ENV}=1 lets unsigned jobs run while producers '
                'are being given the keys). It was not run.'
            )
        return None


_policy = TrustPolicy()


def current_policy() -> TrustPolicy:
    """The policy of the worker running in this process (empty outside workers)."""
    return _policy


def use_policy(policy: TrustPolicy) -> TrustPolicy:
    """Make ``policy`` this process's (a worker does, as it starts); returns the previous one."""
    global _policy
    previous, _policy = _policy, policy
    return previous
