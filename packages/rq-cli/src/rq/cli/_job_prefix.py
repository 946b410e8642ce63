"""Naming a job by the start of its id (``rq job 5a5b0c1e``, the 8 characters the demo prints).

An id that names a job exactly always means that job. Otherwise the jobs whose ids start with it
are looked up: Redis keeps no index of ids by prefix, so ``rq job`` walks the keyspace with SCAN
(``ZSCAN`` over the failed-job registry for ``rq requeue``), in batches of ``SCAN_COUNT`` keys, with
a MATCH pattern made of the literal prefix (Redis's glob characters escaped) and ``*``. Unlike KEYS,
SCAN never blocks the server for long, and the walk stops as soon as more ids have matched than an
error message would list. One match is the job; several are an error that lists them; none leaves
the id as it was typed, so the command reports a missing job as it always has.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from redis import Redis

from rq.job import Job, validate_job_id

from ._errors import UsageError

#: Keys (or members) asked for per SCAN round trip.
SCAN_COUNT = 1000
#: How many matching ids an ambiguity error lists.
LISTED = 5
#: What stands for something else in a Redis MATCH pattern: ``*``, ``?``, ``[...]`` and ``\\``.
GLOB_CHARACTERS = re.compile(r'([\\*?\[\]])')


def match_pattern(literal_prefix: str) -> str:
    """The MATCH pattern of every string that starts with ``literal_prefix``."""
    return GLOB_CHARACTERS.sub(r'\\\1', literal_prefix) + '*'


def _text(value: bytes | str) -> str:
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else value


def _first_distinct(ids: Iterable[str], limit: int) -> list[str]:
    """Up to ``limit`` distinct ids, in the order met (SCAN may return a key twice)."""
    found: dict[str, None] = {}
    for job_id in ids:
        found[job_id] = None
        if len(found) >= limit:
            break
    return list(found)


def job_ids_starting_with(connection: Redis, namespace: str, prefix: str, limit: int) -> list[str]:
    """Up to ``limit`` ids of jobs (keys ``namespace + id``) that start with ``prefix``.

    Keys below a job's own (``rq:job:<id>:dependents``) are not jobs: ids never hold a colon.
    """
    keys = connection.scan_iter(match=match_pattern(namespace + prefix), count=SCAN_COUNT)
    ids = (_text(key)[len(namespace) :] for key in keys)
    return _first_distinct((job_id for job_id in ids if ':' not in job_id), limit)


def members_starting_with(connection: Redis, key: str, prefix: str, limit: int) -> list[str]:
    """Up to ``limit`` members of the sorted set ``key`` that start with ``prefix``."""
    members = connection.zscan_iter(key, match=match_pattern(prefix), count=SCAN_COUNT)
    return _first_distinct((_text(member) for member, _score in members), limit)


def _could_start_an_id(given: str) -> bool:
    """Whether ``given`` is the start of some valid job id (so it is worth a scan)."""
    try:
        validate_job_id(given)
    except (TypeError, ValueError):
        return False
    return True


def _choose(given: str, matches: list[str]) -> str:
    if not matches:
        return given
    if len(matches) == 1:
        return matches[0]
    shown = sorted(matches)[:LISTED]
    count = f'more than {LISTED}' if len(matches) > LISTED else str(len(matches))
    more = ', ...' if len(matches) > LISTED else ''
    raise UsageError(
        f'{given!r} is the start of {count} job ids: {", ".join(shown)}{more}; give more of the id', 'JOB_ID'
    )


def longer_job_ids(connection: Redis, namespace: str, given: str) -> list[str]:
    """The ids (up to ``LISTED + 1``) that ``given`` is the start of, when no job has the id ``given``."""
    if not _could_start_an_id(given) or connection.exists(namespace + given):
        return []
    return job_ids_starting_with(connection, namespace, given, LISTED + 1)


def resolve_job_id(connection: Redis, namespace: str, given: str) -> str:
    """The id of the job that ``given`` names: itself when such a job exists, else the one job id that
    starts with it, else ``given`` unchanged. Raises :class:`UsageError` when several ids start with it."""
    return _choose(given, longer_job_ids(connection, namespace, given))


def resolve_member(connection: Redis, key: str, namespace: str, given: str) -> str:
    """Like :func:`resolve_job_id`, but among the ids in the sorted set ``key`` (a registry)."""
    if not _could_start_an_id(given):
        return given
    with connection.pipeline(transaction=False) as pipe:
        pipe.exists(namespace + given)
        pipe.zscore(key, given)
        job_exists, score = pipe.execute()
    if job_exists or score is not None:
        return given
    return _choose(given, members_starting_with(connection, key, given, LISTED + 1))


def job_namespace(job_class: type[Job]) -> str:
    """The part of a job's key before its id (``rq:job:``), as ``job_class`` spells it (upstream's
    ``key_for`` returns bytes)."""
    key: bytes | str = job_class.key_for('')
    return _text(key)
