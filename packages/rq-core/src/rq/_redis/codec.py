"""Encodings of RQ 2.x values in Redis (one place knows them all).

- Hash timestamps: ``%Y-%m-%dT%H:%M:%S.%fZ`` in UTC (``...%SZ`` is also read).
- Execution and result timestamps: float Unix seconds as text.
- Registry scores: whole UTC seconds.
- ``data``: zlib over the serializer over ``(func_name, instance, args, kwargs)``; read back raw if
  it is not zlib data.
- ``meta`` and the legacy ``result`` field: the serializer alone (no zlib).
- Result stream ``return_value``: base64 over the serializer; ``exc_string``: base64 over zlib.
- Legacy hash ``exc_info``: zlib without base64.
- Booleans ``'0'``/``'1'``; interval and id lists as JSON.
"""

from __future__ import annotations

import base64
import calendar
import datetime
import json
import sys
import zlib
from typing import Any

from ..defaults import UNSERIALIZABLE_RETURN_VALUE_PAYLOAD
from ..serializers import Serializer

TIMESTAMP_FORMAT = '%Y-%m-%dT%H:%M:%S.%fZ'
_TIMESTAMP_FORMAT_NO_FRACTION = '%Y-%m-%dT%H:%M:%SZ'
_UTC = datetime.timezone.utc

#: Whether ``datetime.fromisoformat`` reads a trailing ``Z`` (as UTC: Python 3.11 and later).
_FROMISOFORMAT_READS_Z = sys.version_info >= (3, 11)

Payload = tuple[str, Any, Any, Any]


def text(value: bytes | str) -> str:
    return value.decode('utf-8') if isinstance(value, bytes) else value


def texts(values: Any) -> list[str]:
    """Decode a list reply of bytes (or str) members."""
    return [text(value) for value in values]


def to_utc(dt: datetime.datetime) -> datetime.datetime:
    """Aware UTC datetime; a naive value is taken to be UTC already."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=_UTC)
    return dt.astimezone(_UTC)


def local_to_utc(dt: datetime.datetime) -> datetime.datetime:
    """Aware UTC datetime; a naive value is taken to be the local time of this host (as RQ does)."""
    return dt.astimezone(_UTC)


def format_timestamp(dt: datetime.datetime) -> str:
    """``TIMESTAMP_FORMAT``, formatted field by field (several times faster than strftime) for an
    aware UTC time, the usual case; others are converted to UTC first."""
    if dt.tzinfo is _UTC:
        return '%04d-%02d-%02dT%02d:%02d:%02d.%06dZ' % (  # noqa: UP031 - twice as fast as an f-string
            dt.year,
            dt.month,
            dt.day,
            dt.hour,
            dt.minute,
            dt.second,
            dt.microsecond,
        )
    return to_utc(dt).replace(tzinfo=None).isoformat(timespec='microseconds') + 'Z'


def format_now() -> str:
    """The current time as a hash timestamp (``enqueued_at`` and the like)."""
    return format_timestamp(datetime.datetime.now(_UTC))


def format_optional_timestamp(dt: datetime.datetime | None) -> str:
    return format_timestamp(dt) if dt is not None else ''


def parse_timestamp(raw: bytes | str | None) -> datetime.datetime | None:
    """Aware UTC datetime from a hash timestamp; None for an empty or missing value."""
    if not raw:
        return None
    value = text(raw)
    if len(value) in (20, 27) and value[-1] == 'Z' and value[10] == 'T':
        try:  # the common case, several times faster than strptime (Python 3.11 reads the Z itself)
            if _FROMISOFORMAT_READS_Z:
                return datetime.datetime.fromisoformat(value)
            return datetime.datetime.fromisoformat(value[:-1]).replace(tzinfo=_UTC)
        except ValueError:
            pass
    for fmt in (TIMESTAMP_FORMAT, _TIMESTAMP_FORMAT_NO_FRACTION):
        try:
            return datetime.datetime.strptime(value, fmt).replace(tzinfo=_UTC)
        except ValueError:
            continue
    raise ValueError(f'Not an RQ timestamp: {value!r}')


def to_score(dt: datetime.datetime) -> int:
    """Registry score: whole UTC seconds (floored), as RQ computes it."""
    return calendar.timegm(to_utc(dt).utctimetuple())


def format_epoch(dt: datetime.datetime) -> str:
    """Float Unix seconds as text (execution and result timestamps); a naive value is UTC."""
    return repr(dt.timestamp() if dt.tzinfo is not None else dt.replace(tzinfo=_UTC).timestamp())


def parse_epoch(raw: bytes | str | None) -> datetime.datetime | None:
    if not raw:
        return None
    return datetime.datetime.fromtimestamp(float(text(raw)), tz=_UTC)


def encode_bool(value: bool) -> str:
    return '1' if value else '0'


def decode_bool(raw: bytes | str | None) -> bool:
    return bool(raw) and text(raw) == '1'  # type: ignore[arg-type]


def encode_json(value: Any) -> str:
    return json.dumps(value)


def decode_json(raw: bytes | str | None) -> Any:
    if raw is None or raw == b'' or raw == '':
        return None
    return json.loads(text(raw))


def decode_int(raw: bytes | str | None) -> int | None:
    if raw is None or raw == b'' or raw == '':
        return None
    return int(float(text(raw)))


def encode_payload(serializer: Serializer, payload: Payload) -> bytes:
    """The ``data`` field. Raises whatever the serializer raises for unencodable values."""
    return zlib.compress(serializer.dumps(payload))


def decode_payload(serializer: Serializer, raw: bytes) -> Payload:
    try:
        raw = zlib.decompress(raw)
    except zlib.error:
        pass  # RQ writers before 1.0 stored it uncompressed
    value = serializer.loads(raw)
    func_name, instance, args, kwargs = value
    return func_name, instance, args, kwargs


def encode_value(serializer: Serializer, value: Any) -> bytes:
    """Serializer output, or the serialized placeholder RQ uses for an unencodable return value."""
    try:
        return serializer.dumps(value)
    except Exception:
        return serializer.dumps(UNSERIALIZABLE_RETURN_VALUE_PAYLOAD)


def encode_return_value(serializer: Serializer, value: Any) -> str:
    return base64.b64encode(encode_value(serializer, value)).decode('ascii')


def decode_return_value(serializer: Serializer, raw: bytes | str) -> Any:
    return serializer.loads(base64.b64decode(raw))


def encode_exc_string(traceback_text: str) -> str:
    return base64.b64encode(zlib.compress(traceback_text.encode('utf-8'))).decode('ascii')


def decode_exc_string(raw: bytes | str) -> str:
    return zlib.decompress(base64.b64decode(raw)).decode('utf-8')


def encode_legacy_exc_info(traceback_text: str) -> bytes:
    return zlib.compress(traceback_text.encode('utf-8'))


def decode_legacy_exc_info(raw: bytes) -> str:
    try:
        return zlib.decompress(raw).decode('utf-8')
    except zlib.error:
        return text(raw)
