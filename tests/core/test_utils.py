"""rq.utils helpers."""

from __future__ import annotations

import datetime
import os.path
import time
from typing import Any

import pytest
import redis

import rqtest_jobs
from rq.exceptions import TimeoutFormatError
from rq.utils import (
    as_text,
    backend_class,
    ceildiv,
    compact,
    current_timestamp,
    decode_redis_hash,
    get_version,
    import_attribute,
    now,
    parse_composite_key,
    parse_timeout,
    split_list,
    str_to_date,
    truncate_long_string,
    utcformat,
    utcparse,
)

UTC = datetime.timezone.utc

# -- parse_timeout -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('value', 'expected'),
    [
        (10, 10),
        (0, 0),
        (-1, -1),
        (10.9, 10),
        (-1.5, -1),
        ('10', 10),
        (' 10 ', 10),
        ('-1', -1),
        ('10s', 10),
        ('10S', 10),
        ('5m', 300),
        ('1h', 3600),
        ('1H', 3600),
        ('2d', 172800),
        ('2D', 172800),
        ('0s', 0),
        ('-1s', -1),
        (b'15', 15),
        (None, None),
    ],
)
def test_parse_timeout(value: Any, expected: int | None) -> None:
    assert parse_timeout(value) == expected


@pytest.mark.parametrize('value', ['1.5h', 'ten', True, False, '', 'h', '10x', '10 minutes', '1e3', [10], '1h30m'])
def test_parse_timeout_rejects(value: Any) -> None:
    with pytest.raises(TimeoutFormatError):
        parse_timeout(value)


# -- import_attribute -----------------------------------------------------------------------------


def test_import_attribute() -> None:
    assert import_attribute('rqtest_jobs.add') is rqtest_jobs.add
    assert import_attribute('rqtest_jobs.Calculator') is rqtest_jobs.Calculator
    assert import_attribute('rqtest_jobs.Calculator.static_double') is rqtest_jobs.Calculator.static_double
    assert import_attribute('os.path.join') is os.path.join
    assert import_attribute('rq.job.Job.fetch') == __import__('rq.job').job.Job.fetch
    assert import_attribute('len') is len


def test_import_attribute_missing_module() -> None:
    with pytest.raises(ImportError) as info:
        import_attribute('no_such_module_xyz.func')
    assert isinstance(info.value, ValueError)  # RQ raises ValueError here
    assert 'no_such_module_xyz' in str(info.value)


@pytest.mark.parametrize('name', ['rqtest_jobs.no_such_func', 'rqtest_jobs.Calculator.nope', 'os.path.nope.deeper'])
def test_import_attribute_missing_attribute(name: str) -> None:
    with pytest.raises(AttributeError) as info:
        import_attribute(name)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize('name', ['', 'no_such_builtin_xyz', '.rqtest_jobs', 'rqtest_jobs.', 'a..b'])
def test_import_attribute_invalid_names(name: str) -> None:
    with pytest.raises(ValueError):
        import_attribute(name)


def test_import_attribute_real_import_error_propagates(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / 'rqtest_broken_mod.py').write_text('import rqtest_dependency_that_is_missing\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as info:
        import_attribute('rqtest_broken_mod.func')
    assert info.value.name == 'rqtest_dependency_that_is_missing'


def test_backend_class() -> None:
    class Holder:
        job_class = int

    assert backend_class(Holder, 'job_class') is int
    assert backend_class(Holder, 'job_class', override=str) is str
    assert backend_class(Holder, 'job_class', override='rq.job.Job').__name__ == 'Job'


# -- time helpers ------------------------------------------------------------------------------


def test_utcformat() -> None:
    assert utcformat(datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == '2026-01-02T03:04:05.000006Z'
    # naive datetimes are taken as UTC
    assert utcformat(datetime.datetime(2026, 1, 2, 3, 4, 5)) == '2026-01-02T03:04:05.000000Z'
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    assert utcformat(datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=plus_two)) == '2026-01-02T01:04:05.000000Z'


def test_utcparse_both_formats() -> None:
    assert utcparse('2026-01-02T03:04:05.000006Z') == datetime.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert utcparse('2026-01-02T03:04:05Z') == datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert utcparse(b'2026-01-02T03:04:05Z').tzinfo == UTC
    for bad in ('2026-01-02 03:04:05', 'yesterday', ''):
        with pytest.raises(ValueError):
            utcparse(bad)


def test_utcformat_utcparse_round_trip() -> None:
    moment = now()
    assert moment.tzinfo is not None
    assert utcparse(utcformat(moment)) == moment


def test_str_to_date() -> None:
    assert str_to_date('') is None
    assert str_to_date(b'2026-01-02T03:04:05Z') == datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_current_timestamp() -> None:
    before = int(time.time())
    value = current_timestamp()
    assert isinstance(value, int)
    assert before <= value <= time.time()


# -- text and misc -----------------------------------------------------------------------------


def test_as_text() -> None:
    assert as_text(b'caf\xc3\xa9') == 'caf\u00e9'
    assert as_text('x') == 'x'
    with pytest.raises(ValueError):
        as_text(5)  # type: ignore[arg-type]


def test_decode_redis_hash() -> None:
    assert decode_redis_hash({b'a': b'1', 'b': b'2'}) == {'a': b'1', 'b': b'2'}
    assert decode_redis_hash({b'a': b'1'}, decode_values=True) == {'a': '1'}


def test_get_version(connection: redis.Redis) -> None:
    version = get_version(connection)
    assert isinstance(version, tuple) and len(version) == 3
    assert all(isinstance(part, int) for part in version)
    expected = tuple(int(p) for p in str(connection.info('server')['redis_version']).split('.')[:3])
    assert version == expected
    assert version >= (5, 0, 0)


def test_parse_composite_key() -> None:
    assert parse_composite_key('job:exec') == ('job', 'exec')
    assert parse_composite_key(b'job:exec') == ('job', 'exec')
    assert parse_composite_key('job') == ('job', '')


def test_truncate_long_string() -> None:
    assert truncate_long_string('abcdef', 3) == 'abc...'
    assert truncate_long_string('abc', 3) == 'abc'
    assert truncate_long_string('abcdef') == 'abcdef'
    assert truncate_long_string('', 0) == ''


def test_small_helpers() -> None:
    assert compact([1, None, 0, None, 'a']) == [1, 0, 'a']
    assert ceildiv(7, 2) == 4
    assert ceildiv(6, 2) == 3
    assert [list(chunk) for chunk in split_list([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
