"""Every Redis key and pub/sub channel rq reads or writes, byte-identical to RQ 2.x by default.

Every name starts with one prefix, ``rq`` unless the environment variable ``RQ_KEY_PREFIX`` says
otherwise (RQ 3.0's setting): it is read once, when this module is imported, and checked there
(letters, digits and ``_ . : - { }`` only, so that it is safe inside ``%``- and ``str.format()``
templates and Lua; braces allow a Redis Cluster hash tag such as ``{rq}``). Lua scripts that build
names from ids they read get the prefixes below through ARGV.

Note the forward dependency set's double colon (``rq:job::<id>:dependencies``) against the
single-colon reverse set (``rq:job:<id>:dependents``): that is how RQ 2.x spells them.
"""

from __future__ import annotations

import os
import re

#: The first part of every key and channel name (RQ 3.0's ``rq.defaults.RQ_KEY_PREFIX``).
KEY_PREFIX = os.environ.get('RQ_KEY_PREFIX', 'rq')
if not re.fullmatch(r'[A-Za-z0-9_.:{}-]+', KEY_PREFIX):
    raise ValueError(f'Invalid RQ_KEY_PREFIX {KEY_PREFIX!r}: only letters, digits, and _ . : - {{ }} are allowed')

PREFIX = KEY_PREFIX + ':'

QUEUES = PREFIX + 'queues'
WORKERS = PREFIX + 'workers'
SUSPENDED = PREFIX + 'suspended'
GROUPS = PREFIX + 'groups'
CRON_SCHEDULERS = PREFIX + 'cron_schedulers'
CRON_JOBS = PREFIX + 'cron_jobs'

JOB_PREFIX = PREFIX + 'job:'
QUEUE_PREFIX = PREFIX + 'queue:'
WORKER_PREFIX = PREFIX + 'worker:'
PUBSUB_PREFIX = PREFIX + 'pubsub:'
GROUP_PREFIX = PREFIX + 'group:'
EXECUTION_PREFIX = PREFIX + 'execution:'
EXECUTIONS_PREFIX = PREFIX + 'executions:'
RESULTS_PREFIX = PREFIX + 'results:'
CRON_RUN_PREFIX = PREFIX + 'cron_run:'

#: RQ 3.0's rate limits: the set of every rate-limit key in use, and the prefix of each key's names
#: (``rq:rl:<key>`` config hash ``{concurrency}``, ``rq:rl:<key>:allowed`` the jobs holding a slot,
#: ``rq:rl:<key>:rate_limited`` the jobs waiting for one, oldest first).
RATE_LIMIT_KEYS = PREFIX + 'rl-keys'
RATE_LIMIT_PREFIX = PREFIX + 'rl:'

#: What every script that may queue a rate-limited job gets in ARGV, in this order (see
#: ``lua/lib_rate_limit.lua``): the names of the jobs and queues it promotes are only known once read.
RATE_LIMIT_CONTEXT = (RATE_LIMIT_PREFIX, RATE_LIMIT_KEYS, JOB_PREFIX, QUEUE_PREFIX)

#: registry kind -> key prefix; the kinds are the names RQ uses for its registries.
REGISTRY_PREFIXES = {
    'started': PREFIX + 'wip:',
    'finished': PREFIX + 'finished:',
    'failed': PREFIX + 'failed:',
    'deferred': PREFIX + 'deferred:',
    'scheduled': PREFIX + 'scheduled:',
    'canceled': PREFIX + 'canceled:',
    'base': PREFIX + 'registry:',
}


def format_escaped(name: str) -> str:
    """``name`` with its braces doubled, for a template that ``str.format()`` fills in (the
    ``key_template`` attributes): a hash-tag prefix such as ``{rq}`` must come out as it is."""
    return name.replace('{', '{{').replace('}', '}}')


#: The prefix as it is written into ``str.format()`` templates (RQ 3.0's ``FORMAT_KEY_PREFIX``).
FORMAT_KEY_PREFIX = format_escaped(KEY_PREFIX)


def job_key(job_id: str) -> str:
    return JOB_PREFIX + job_id


def dependents_key(job_id: str) -> str:
    return f'{JOB_PREFIX}{job_id}:dependents'


def dependencies_key(job_id: str) -> str:
    return f'{JOB_PREFIX}:{job_id}:dependencies'


def results_key(job_id: str) -> str:
    return RESULTS_PREFIX + job_id


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
    return f'{PREFIX}clean_registries:{queue_name}'


def worker_key(name: str) -> str:
    return WORKER_PREFIX + name


def worker_executions_key(name: str) -> str:
    """The set of ``<job_id>:<execution_id>`` a worker is running (rq 3.0's execution index; 2.x
    readers ignore it)."""
    return f'{WORKER_PREFIX}{name}:executions'


def workers_by_queue_key(queue_name: str) -> str:
    return f'{WORKERS}:{queue_name}'


def pubsub_channel(worker_name: str) -> str:
    return PUBSUB_PREFIX + worker_name


def scheduler_lock_key(queue_name: str) -> str:
    return f'{PREFIX}scheduler-lock:{queue_name}'


def scheduler_key(name: str) -> str:
    return f'{PREFIX}scheduler:{name}'


def group_key(name: str) -> str:
    return GROUP_PREFIX + name


def cron_scheduler_key(name: str) -> str:
    return f'{PREFIX}cron_scheduler:{name}'


def cron_job_history_key(name: str) -> str:
    return f'{PREFIX}cron_job:{name}:jobs'


def rate_limit_config_key(key: str) -> str:
    return RATE_LIMIT_PREFIX + key


def rate_limit_allowed_key(key: str) -> str:
    return f'{RATE_LIMIT_PREFIX}{key}:allowed'


def rate_limit_waiting_key(key: str) -> str:
    return f'{RATE_LIMIT_PREFIX}{key}:rate_limited'


def ready_registry_key(queue_name: str) -> str:
    """RQ 3.0's ``rq:ready:<queue>``: dependents whose parent's outcome is stored, to be queued."""
    return f'{PREFIX}ready:{queue_name}'


def enqueue_token_key(token: str) -> str:
    """A call's token, kept a few minutes by the scripts that push ids onto queues, so that a copy
    of the call sent again by the client does nothing (see ``ops.ENQUEUE_TOKEN_TTL``). Only rq
    writes it; upstream rq never reads a key under this prefix."""
    return f'{PREFIX}enqueue-token:{token}'
