"""Every encoding in rq._redis.codec, checked against the RQ 2.x wire format built by hand."""

from __future__ import annotations

import base64
import datetime
import json
import pickle
import threading
import time
import zlib

import pytest

from rq._redis import codec
from rq.serializers import DefaultSerializer, JSONSerializer

UTC = datetime.timezone.utc


def test_text() -> None:
    assert codec.text(b'caf\xc3\xa9') == 'caf\u00e9'
    assert codec.text('x') == 'x'
    assert codec.texts([b'a', 'b']) == ['a', 'b']


def test_to_utc() -> None:
    naive = datetime.datetime(2026, 1, 1, 12, 0)
    assert codec.to_utc(naive) == datetime.datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    minus_five = datetime.timezone(datetime.timedelta(hours=-5))
    assert codec.to_utc(datetime.datetime(2026, 1, 1, 7, 0, tzinfo=minus_five)) == datetime.datetime(
        2026, 1, 1, 12, 0, tzinfo=UTC
    )


def test_local_to_utc_treats_naive_as_local() -> None:
    naive = datetime.datetime(2026, 6, 1, 12, 0)
    assert codec.local_to_utc(naive) == naive.astimezone().astimezone(UTC)
    aware = datetime.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert codec.local_to_utc(aware) == aware


def test_hash_timestamps() -> None:
    moment = datetime.datetime(2026, 11, 24, 1, 4, 15, 329927, tzinfo=UTC)
    assert codec.TIMESTAMP_FORMAT == '%Y-%m-%dT%H:%M:%S.%fZ'
    assert codec.format_timestamp(moment) == '2026-11-24T01:04:15.329927Z'
    assert codec.format_optional_timestamp(moment) == '2026-11-24T01:04:15.329927Z'
    assert codec.format_optional_timestamp(None) == ''
    assert codec.parse_timestamp(b'2026-11-24T01:04:15.329927Z') == moment
    assert codec.parse_timestamp('2026-11-24T01:04:15Z') == moment.replace(microsecond=0)
    assert codec.parse_timestamp(None) is None
    assert codec.parse_timestamp(b'') is None
    with pytest.raises(ValueError):
        codec.parse_timestamp('2026-11-24 01:04:15')


def test_registry_scores_are_floored_utc_seconds() -> None:
    moment = datetime.datetime(2026, 11, 24, 1, 4, 15, 999999, tzinfo=UTC)
    assert codec.to_score(moment) == int(moment.timestamp())
    assert isinstance(codec.to_score(moment), int)
    plus_one = datetime.timezone(datetime.timedelta(hours=1))
    assert codec.to_score(moment.astimezone(plus_one)) == int(moment.timestamp())


def test_epoch_floats() -> None:
    moment = datetime.datetime.fromtimestamp(1795482262.538182, tz=UTC)
    assert codec.format_epoch(moment) == repr(moment.timestamp())
    assert float(codec.format_epoch(moment)) == moment.timestamp()
    assert codec.parse_epoch(b'1795482262.538182') == moment
    assert codec.parse_epoch('1795482262') == datetime.datetime.fromtimestamp(1795482262, tz=UTC)
    assert codec.parse_epoch(None) is None
    assert codec.parse_epoch(b'') is None
    before = time.time()
    formatted = float(codec.format_epoch(datetime.datetime.now(UTC)))
    assert before - 1e-5 <= formatted <= time.time() + 1e-5


def test_bools() -> None:
    assert codec.encode_bool(True) == '1'
    assert codec.encode_bool(False) == '0'
    assert codec.decode_bool(b'1') is True
    assert codec.decode_bool('1') is True
    assert codec.decode_bool(b'0') is False
    assert codec.decode_bool(b'') is False
    assert codec.decode_bool(None) is False


def test_json_lists() -> None:
    assert codec.encode_json([1, 2]) == '[1, 2]'
    assert codec.encode_json(['a', 'b']) == json.dumps(['a', 'b'])
    assert codec.decode_json(b'[1, 2]') == [1, 2]
    assert codec.decode_json(None) is None
    assert codec.decode_json(b'') is None
    assert codec.decode_json('') is None
    with pytest.raises(ValueError):
        codec.decode_json(b'[1,')


def test_ints() -> None:
    assert codec.decode_int(b'180') == 180
    assert codec.decode_int('-1') == -1
    assert codec.decode_int(b'10.0') == 10
    assert codec.decode_int(None) is None
    assert codec.decode_int(b'') is None
    with pytest.raises(ValueError):
        codec.decode_int(b'abc')


def test_payload_pickle() -> None:
    payload = ('mod.func', None, (1, 2), {'k': 'v'})
    encoded = codec.encode_payload(DefaultSerializer, payload)
    assert encoded == zlib.compress(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
    assert codec.decode_payload(DefaultSerializer, encoded) == payload


def test_payload_json() -> None:
    encoded = codec.encode_payload(JSONSerializer, ('mod.func', None, (1,), {'k': (2,)}))
    assert json.loads(zlib.decompress(encoded)) == ['mod.func', None, [1], {'k': [2]}]
    assert codec.decode_payload(JSONSerializer, encoded) == ('mod.func', None, [1], {'k': [2]})


def test_payload_uncompressed_is_read() -> None:
    payload = ('mod.func', None, (), {})
    assert codec.decode_payload(DefaultSerializer, pickle.dumps(payload)) == payload


def test_payload_errors() -> None:
    with pytest.raises(TypeError):
        codec.encode_payload(JSONSerializer, ('mod.func', None, ({1},), {}))
    with pytest.raises(ValueError):  # not a 4-tuple
        codec.decode_payload(DefaultSerializer, zlib.compress(pickle.dumps(('a', 'b'))))
    with pytest.raises(pickle.UnpicklingError):
        codec.decode_payload(DefaultSerializer, b'\x80\x05garbage')


def test_values_meta_and_legacy_result() -> None:
    assert codec.encode_value(DefaultSerializer, {'a': 1}) == pickle.dumps({'a': 1}, protocol=pickle.HIGHEST_PROTOCOL)
    assert codec.encode_value(DefaultSerializer, threading.Lock()) == pickle.dumps(
        'Unserializable return value', protocol=pickle.HIGHEST_PROTOCOL
    )
    assert codec.encode_value(JSONSerializer, {1, 2}) == b'"Unserializable return value"'


def test_result_return_value() -> None:
    assert codec.encode_return_value(DefaultSerializer, 3) == 'gAVLAy4='  # as RQ 2.x writes it
    assert codec.decode_return_value(DefaultSerializer, b'gAVLAy4=') == 3
    assert codec.decode_return_value(DefaultSerializer, 'gAVLAy4=') == 3
    encoded = codec.encode_return_value(JSONSerializer, {'a': (1,)})
    assert base64.b64decode(encoded) == b'{"a": [1]}'
    assert codec.decode_return_value(JSONSerializer, encoded) == {'a': [1]}
    assert codec.encode_return_value(DefaultSerializer, threading.Lock()) == base64.b64encode(
        pickle.dumps('Unserializable return value', protocol=pickle.HIGHEST_PROTOCOL)
    ).decode('ascii')


def test_result_exc_string() -> None:
    text = 'Traceback (most recent call last):\n  caf\u00e9\nValueError: x\n'
    encoded = codec.encode_exc_string(text)
    assert encoded == base64.b64encode(zlib.compress(text.encode('utf-8'))).decode('ascii')
    assert codec.decode_exc_string(encoded) == text
    assert codec.decode_exc_string(encoded.encode()) == text


def test_legacy_exc_info() -> None:
    assert codec.encode_legacy_exc_info('tb') == zlib.compress(b'tb')
    assert codec.encode_legacy_exc_info('') == zlib.compress(b'')
    assert codec.decode_legacy_exc_info(zlib.compress('t\u00e9'.encode())) == 't\u00e9'
    assert codec.decode_legacy_exc_info(b'not compressed') == 'not compressed'
