"""Every Redis key rq reads or writes, byte-identical to RQ 2.x.

Note the forward dependency set's double colon (``rq:job::<id>:dependencies``) against the
single-colon reverse set (``rq:job:<id>:dependents``): that is how RQ 2.x spells them.
"""

from __future__ import annotations

PREFIX = 'rq:'

QUEUES = 'rq:queues'
WORKERS = 'rq:workers'
SUSPENDED = 'rq:suspended'
GROUPS = 'rq:groups'
CRON_SCHEDULERS = 'rq:cron_schedulers'
CRON_JOBS = 'rq:cron_jobs'

JOB_PREFIX = 'rq:job:'
QUEUE_PREFIX = 'rq:queue:'
WORKER_PREFIX = 'rq:worker:'
PUBSUB_PREFIX = 'rq:pubsub:'
GROUP_PREFIX = 'rq:group:'
EXECUTION_PREFIX = 'rq:execution:'
EXECUTIONS_PREFIX = 'rq:executions:'

#: registry kind -> key prefix; the kinds are the names RQ uses for its registries.
REGISTRY_PREFIXES = {
    'started': 'rq:wip:',
    'finished': 'rq:finished:',
    'failed': 'rq:failed:',
    'deferred': 'rq:deferred:',
    'scheduled': 'rq:scheduled:',
    'canceled': 'rq:canceled:',
    'base': 'rq:registry:',
}


def job_key(job_id: str) -> str:
    return JOB_PREFIX + job_id


def dependents_key(job_id: str) -> str:
    return f'{JOB_PREFIX}{job_id}:dependents'


def dependencies_key(job_id: str) -> str:
    return f'{JOB_PREFIX}:{job_id}:dependencies'


def results_key(job_id: str) -> str:
    return f'rq:results:{job_id}'


def execution_key(job_id: str, execution_id: str) -> str:
    return f'{EXECUTION_PREFIX}{job_id}:{execution_id}'


def executions_key(job_id: str) -> str:
    return EXECUTIONS_PREFIX + job_id


def queue_key(name: str) -> str:
    return QUEUE_PREFIX + name


def queue_name_from_key(key: str) -> str:
    if not key.startswith(QUEUE_PREFIX):
        raise ValueError(f'Not a queue key: {key!r}')
    return key[len(QUEUE_PREFIX) :]


def intermediate_queue_key(name: str) -> str:
    return f'{QUEUE_PREFIX}{name}:intermediate'


def intermediate_first_seen_key(name: str, job_id: str) -> str:
    return f'{QUEUE_PREFIX}{name}:intermediate:first_seen:{job_id}'


def compact_temp_key(token: str) -> str:
    return f'{QUEUE_PREFIX}_compact:{token}'


def registry_key(kind: str, queue_name: str) -> str:
    return REGISTRY_PREFIXES[kind] + queue_name


def clean_registries_lock_key(queue_name: str) -> str:
    return f'rq:clean_registries:{queue_name}'


def worker_key(name: str) -> str:
    return WORKER_PREFIX + name


def worker_executions_key(name: str) -> str:
    """The set of ``<job_id>:<execution_id>`` a worker is running (rq 3.0's execution index; 2.x
    readers ignore it)."""
    return f'{WORKER_PREFIX}{name}:executions'


def workers_by_queue_key(queue_name: str) -> str:
    return f'rq:workers:{queue_name}'


def pubsub_channel(worker_name: str) -> str:
    return PUBSUB_PREFIX + worker_name


def scheduler_lock_key(queue_name: str) -> str:
    return f'rq:scheduler-lock:{queue_name}'


def scheduler_key(name: str) -> str:
    return f'rq:scheduler:{name}'


def group_key(name: str) -> str:
    return GROUP_PREFIX + name


def cron_scheduler_key(name: str) -> str:
    return f'rq:cron_scheduler:{name}'


def cron_job_history_key(name: str) -> str:
    return f'rq:cron_job:{name}:jobs'


def enqueue_token_key(token: str) -> str:
    """A call's token, kept a few minutes by the scripts that push ids onto queues, so that a copy
    of the call sent again by the client does nothing (see ``ops.ENQUEUE_TOKEN_TTL``). Only rq
    writes it; upstream rq never reads a key under this prefix."""
    return f'rq:enqueue-token:{token}'
