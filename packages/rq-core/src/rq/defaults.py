"""Default values, named and valued as in RQ 2.x."""

from __future__ import annotations

from ._redis import keys

#: RQ 3.0's: the first part of every Redis key, from the environment variable ``RQ_KEY_PREFIX`` when rq
#: is imported (default ``'rq'``); ``FORMAT_KEY_PREFIX`` is it with braces doubled for ``str.format()``.
RQ_KEY_PREFIX = keys.KEY_PREFIX
FORMAT_KEY_PREFIX = keys.FORMAT_KEY_PREFIX

DEFAULT_JOB_CLASS = 'rq.job.Job'
DEFAULT_QUEUE_CLASS = 'rq.Queue'
DEFAULT_WORKER_CLASS = 'rq.Worker'
DEFAULT_SERIALIZER_CLASS = 'rq.serializers.DefaultSerializer'
DEFAULT_CONNECTION_CLASS = 'redis.Redis'
DEFAULT_DEATH_PENALTY_CLASS = 'rq.timeouts.UnixSignalDeathPenalty'

DEFAULT_WORKER_TTL = 420
DEFAULT_JOB_MONITORING_INTERVAL = 30
DEFAULT_RESULT_TTL = 500
DEFAULT_FAILURE_TTL = 31536000  # one year
DEFAULT_MAINTENANCE_TASK_INTERVAL = 10 * 60
DEFAULT_SCHEDULER_FALLBACK_PERIOD = 120
CALLBACK_TIMEOUT = 60
DEFAULT_JOB_TIMEOUT = 180

DEFAULT_CRON_JOB_HISTORY_LIMIT = 1000
DEFAULT_CRON_JOB_HISTORY_TTL = 31536000
DEFAULT_CRON_SCHEDULER_TTL = 120

DEFAULT_LOGGING_DATE_FORMAT = '%H:%M:%S'
DEFAULT_LOGGING_FORMAT = '%(asctime)s %(message)s'

UNSERIALIZABLE_RETURN_VALUE_PAYLOAD = 'Unserializable return value'

#: How many entries a job's results stream keeps (approximately, ``XADD MAXLEN ~``).
RESULTS_STREAM_MAXLEN = 10
