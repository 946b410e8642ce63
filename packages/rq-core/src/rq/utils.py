"""Small helpers with RQ 2.x's public names (``parse_timeout``, ``import_attribute``, ``import_job_class``, ...).

rq's own modules import them from :mod:`rq._utils` (and :mod:`rq._class_lookup`, which needs the Job
and Queue classes); this module gathers them where RQ code looks for them.
"""

from __future__ import annotations

from ._class_lookup import (
    get_connection_from_queues,
    import_job_class,
    import_queue_class,
    import_worker_class,
    parse_names,
)
from ._importing import ImportAttributeError as ImportAttributeError
from ._importing import ImportAttributeModuleError as ImportAttributeModuleError
from ._utils import (
    NOT_JSON_SERIALIZABLE,
    Platform,
    as_text,
    backend_class,
    ceildiv,
    compact,
    current_timestamp,
    decode_redis_hash,
    ensure_job_list,
    get_call_string,
    get_platform,
    get_version,
    import_attribute,
    is_nonstring_iterable,
    logger,
    missing_keys,
    normalize_config_path,
    now,
    parse_composite_key,
    parse_timeout,
    resolve_function_reference,
    safe_json_dumps,
    split_list,
    str_to_date,
    truncate_long_string,
    utcformat,
    utcparse,
    validate_absolute_path,
)

__all__ = [
    'NOT_JSON_SERIALIZABLE',
    'Platform',
    'as_text',
    'backend_class',
    'ceildiv',
    'compact',
    'current_timestamp',
    'decode_redis_hash',
    'ensure_job_list',
    'get_call_string',
    'get_connection_from_queues',
    'get_platform',
    'get_version',
    'import_attribute',
    'import_job_class',
    'import_queue_class',
    'import_worker_class',
    'is_nonstring_iterable',
    'logger',
    'missing_keys',
    'normalize_config_path',
    'now',
    'parse_composite_key',
    'parse_names',
    'parse_timeout',
    'resolve_function_reference',
    'safe_json_dumps',
    'split_list',
    'str_to_date',
    'truncate_long_string',
    'utcformat',
    'utcparse',
    'validate_absolute_path',
]
