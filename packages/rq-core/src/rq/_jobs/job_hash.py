"""The job hash ``rq:job:<id>``: what the model writes (every field RQ 2.x writes, and RQ 3.0's rate
limit), and how it is read back.

Fields written even when empty: ``data``, ``created_at``, ``status``, the three callback names,
``started_at``, ``ended_at``, ``last_heartbeat``, ``worker_name``, ``group_id``. The rest only when
set (see the comments below for each rule).
"""

from __future__ import annotations

import logging
import zlib
from typing import TYPE_CHECKING, Any

from .. import trust
from .._redis import codec
from .._utils import now
from ..defaults import UNSERIALIZABLE_RETURN_VALUE_PAYLOAD
from ..exceptions import DeserializationError, NoSuchJobError
from ..webhook import Webhook
from .status import JobStatus, status_from_text

if TYPE_CHECKING:
    from .model import Job

FieldValue = 'str | bytes | int'

logger = logging.getLogger('rq.job')


def to_mapping(job: Job, include_meta: bool = True, include_result: bool = True) -> dict[str, Any]:
    """The HSET mapping for ``job`` (callers pass ``include_result=False`` on the normal paths)."""
    mapping: dict[str, Any] = {
        'data': job.data,
        'created_at': codec.format_timestamp(job.created_at),
        'status': job._status.value if job._status is not None else '',
        'success_callback_name': job._success_callback_name or '',
        'failure_callback_name': job._failure_callback_name or '',
        'stopped_callback_name': job._stopped_callback_name or '',
        'started_at': codec.format_optional_timestamp(job.started_at),
        'ended_at': codec.format_optional_timestamp(job.ended_at),
        'last_heartbeat': codec.format_optional_timestamp(job.last_heartbeat),
        'worker_name': job.worker_name or '',
        'group_id': job.group_id or '',
    }
    if job.origin:
        mapping['origin'] = job.origin
    if job.description is not None:
        mapping['description'] = job.description
    if job.enqueued_at is not None:
        mapping['enqueued_at'] = codec.format_timestamp(job.enqueued_at)
    for name in ('timeout', 'result_ttl', 'failure_ttl'):
        value = getattr(job, name)
        if value is not None:
            mapping[name] = value
    if job.ttl:
        mapping['ttl'] = job.ttl
    if include_meta and job.meta:
        mapping['meta'] = job.serializer.dumps(job.meta)
    if job.retries_left is not None:
        mapping['retries_left'] = job.retries_left
    if job.retry_intervals is not None:
        mapping['retry_intervals'] = codec.encode_json(job.retry_intervals)
    if job.enqueue_at_front_on_retry:
        mapping['enqueue_at_front_on_retry'] = '1'
    if job.number_of_retries is not None:
        mapping['number_of_retries'] = job.number_of_retries
    if job.repeats_left is not None:
        mapping['repeats_left'] = job.repeats_left
    if job.repeat_intervals is not None:
        mapping['repeat_intervals'] = codec.encode_json(job.repeat_intervals)
    if job._dependency_ids:
        mapping['dependency_ids'] = codec.encode_json(job._dependency_ids)
        mapping['dependency_id'] = job._dependency_ids[0]
    if job.allow_dependency_failures is not None:
        mapping['allow_dependency_failures'] = codec.encode_bool(job.allow_dependency_failures)
    if job.enqueue_at_front is not None:
        mapping['enqueue_at_front'] = codec.encode_bool(job.enqueue_at_front)
    for kind in ('success', 'failure', 'stopped'):
        timeout = getattr(job, f'_{kind}_callback_timeout')
        if timeout is not None:
            mapping[f'{kind}_callback_timeout'] = timeout
    if job.rate_limit_key:
        mapping['rate_limit_key'] = job.rate_limit_key  # RQ 3.0's rate limit: written only when set
    if job.rate_limit_concurrency:
        mapping['rate_limit_concurrency'] = job.rate_limit_concurrency
    if job.webhooks:
        mapping['webhooks'] = codec.encode_json([webhook.to_dict() for webhook in job.webhooks])
    keys = trust.signing_keys_of(job.signing_keys)
    if keys:
        mapping[trust.SIGNATURE_FIELD] = trust.sign(keys[0], job.id, mapping)
    if include_result:
        if job._result is not None:
            mapping['result'] = codec.encode_value(job.serializer, job._result)
        if job._exc_info is not None:
            mapping['exc_info'] = codec.encode_legacy_exc_info(job._exc_info)
    return mapping


def restore(job: Job, raw: dict[bytes, bytes]) -> None:
    """Load a raw HGETALL reply into ``job``.

    Raises:
        NoSuchJobError: the hash has no ``data`` field (it is not a job).
        DeserializationError: a field cannot be decoded; the message names the job and the field.
    """
    try:
        fields = {key.decode(): value for key, value in raw.items()}
    except AttributeError:  # (str keys: a client that decodes its replies)
        fields = {codec.text(key): value for key, value in raw.items()}
    if 'data' not in fields:
        raise NoSuchJobError(f'Job {job.id}: the hash {job.key} has no data field, so it is not a job')
    job.set_raw_data(fields['data'])
    current = ''
    try:
        current = 'status'
        status = fields.get('status')
        job._status = status_from_text(codec.text(status)) if status else JobStatus.CREATED
        for current in ('created_at', 'enqueued_at', 'started_at', 'ended_at', 'last_heartbeat'):
            setattr(job, current, codec.parse_timestamp(fields.get(current)))
        if job.created_at is None:
            job.created_at = now()
        current = 'text fields'
        job.origin = _optional_text(fields.get('origin')) or ''
        job.description = _optional_text(fields.get('description'))
        job.worker_name = _optional_text(fields.get('worker_name'))
        job.group_id = _optional_text(fields.get('group_id'))
        job.rate_limit_key = _optional_text(fields.get('rate_limit_key'))
        for current in (
            'timeout',
            'result_ttl',
            'failure_ttl',
            'ttl',
            'retries_left',
            'number_of_retries',
            'rate_limit_concurrency',
        ):
            setattr(job, current, codec.decode_int(fields.get(current)))
        current = 'repeats_left'
        job.repeats_left = codec.decode_int(fields.get('repeats_left'))
        for current in ('retry_intervals', 'repeat_intervals'):
            setattr(job, current, codec.decode_json(fields.get(current)))
        current = 'enqueue_at_front_on_retry'
        job.enqueue_at_front_on_retry = codec.decode_bool(fields.get(current))
        for current in ('allow_dependency_failures', 'enqueue_at_front'):
            value = fields.get(current)
            setattr(job, current, codec.decode_bool(value) if value not in (None, b'') else None)
        current = 'dependency_ids'
        dependency_ids = codec.decode_json(fields.get('dependency_ids'))
        legacy_id = _optional_text(fields.get('dependency_id'))
        job._dependency_ids = list(dependency_ids) if dependency_ids else ([legacy_id] if legacy_id else [])
        for kind in ('success', 'failure', 'stopped'):
            current = f'{kind}_callback_name'
            setattr(job, f'_{current}', _optional_text(fields.get(current)))
            current = f'{kind}_callback_timeout'
            setattr(job, f'_{current}', codec.decode_int(fields.get(current)))
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise DeserializationError(f'Job {job.id}: cannot decode field {current!r}: {exc}') from exc

    job.webhooks = _decode_webhooks(job, fields.get('webhooks'))
    job.meta = _decode_meta(job, fields.get('meta'))
    job._result = decode_legacy_result(job, fields.get('result'))
    exc_info = fields.get('exc_info')
    job._exc_info = codec.decode_legacy_exc_info(exc_info) if exc_info else None


def _optional_text(raw: bytes | None) -> str | None:
    return codec.text(raw) if raw else None


def _decode_meta(job: Job, raw: bytes | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        meta = job.serializer.loads(raw)
    except Exception:
        return {'unserialized': raw}
    return meta if isinstance(meta, dict) else {'unserialized': raw}


def decode_legacy_result(job: Job, raw: bytes | None) -> Any:
    if not raw:
        return None
    try:
        return job.serializer.loads(raw)
    except Exception:
        return UNSERIALIZABLE_RETURN_VALUE_PAYLOAD


def _decode_webhooks(job: Job, raw: bytes | None) -> list[Any]:
    """The ``webhooks`` field; one that cannot be read is logged and dropped (as RQ does), so the job
    still loads and runs."""
    if not raw:
        return []
    try:
        return [Webhook.from_dict(item) for item in codec.decode_json(raw)]
    except Exception:
        logger.warning('Job %s: failed to deserialize webhooks (%r); it sends none', job.id, raw[:200], exc_info=True)
        return []


def decompress_data(raw: bytes) -> bytes:
    try:
        return zlib.decompress(raw)
    except zlib.error:
        return raw
