"""The minimal Redis ACL of each role (tests/support/acl_roles.py), enforced: each role's real
operations run under a user created with exactly its README line, on a private server whose
``default`` user is off, and their outcome is checked through an admin connection. The server
refuses nothing on the way (its ``ACL LOG`` stays empty, also for the refusals rq would survive),
and no role is allowed a dangerous command, another key or another channel."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from security_helpers import (
    UNNAMED_WARNING,
    all_finished,
    cron_config,
    launch_rq,
    rq_ok,
    run_rq,
    stop_gently,
    wait_for_worker,
)

import rqtest_jobs
from acl_redis import (
    SCRIPT_NAMES,
    AclRedisServer,
    create_user,
    denials,
    forget_denials,
    forget_scripts,
    scripts_loaded,
)
from acl_roles import CLI, CRON, PRODUCER, ROLES, WORKER, Role
from redis_server import running
from rq import Queue, RateLimit, Retry
from rq._redis import scripts
from rq.command import send_shutdown_command
from rq.dependency import Dependency
from rq.job import Job, JobStatus
from rq.registry import CanceledJobRegistry, DeferredJobRegistry, FailedJobRegistry, ScheduledJobRegistry
from rq.utils import now
from worker_process import wait_until

pytestmark = pytest.mark.timeout(180)

README = Path(__file__).resolve().parents[2] / 'README.md'
SECTION = '### TLS and ACL'

#: Commands no role may run: whole-keyspace reads and wipes, server configuration and
#: administration, replication, persistence, and spying on other clients.
DANGEROUS = (
    'keys',
    'flushdb',
    'flushall',
    'config',
    'debug',
    'shutdown',
    'monitor',
    'save',
    'bgsave',
    'bgrewriteaof',
    'replicaof',
    'slaveof',
    'sync',
    'psync',
    'failover',
    'acl',
    'module',
    'function',
    'cluster',
    'migrate',
    'restore',
    'swapdb',
    'sort',
    'memory',
    'latency',
    'slowlog',
    'lastsave',
    'role',
    'client|list',
    'client|kill',
    'client|pause',
    'script|flush',
    'script|kill',
)
#: Samples of each, as ``ACL DRYRUN`` takes them: the server must refuse every one to every role.
DANGEROUS_CALLS = (
    ('KEYS', '*'),
    ('FLUSHDB',),
    ('FLUSHALL',),
    ('CONFIG', 'GET', '*'),
    ('CONFIG', 'SET', 'save', ''),
    ('DEBUG', 'SLEEP', '0'),
    ('SHUTDOWN',),
    ('MONITOR',),
    ('SAVE',),
    ('BGSAVE',),
    ('REPLICAOF', '127.0.0.1', '1'),
    ('ACL', 'LIST'),
    ('ACL', 'SETUSER', 'someone'),
    ('CLIENT', 'LIST'),
    ('CLIENT', 'KILL', 'ID', '1'),
    ('SCRIPT', 'FLUSH'),
    ('FUNCTION', 'FLUSH'),
    ('MIGRATE', '127.0.0.1', '1', 'rq:x', '0', '1000'),
)


@pytest.fixture
def acl_server() -> Iterator[AclRedisServer]:
    with running(AclRedisServer()) as server:
        yield server


@pytest.fixture
def admin(acl_server: AclRedisServer) -> Iterator[redis.Redis]:
    client = acl_server.client()
    yield client
    client.close()


def login(server: AclRedisServer, admin: redis.Redis, role: Role) -> str:
    """Create the role's user with its README line; its URL."""
    create_user(admin, role)
    return server.url_for(role.user)


#: The one refusal rq expects: a worker asks for the server's version (INFO), which these rules do
#: not grant (INFO is among Redis's dangerous commands); refused, it assumes Redis 6.2 or later.
EXPECTED_REFUSAL = "rq-worker: command 'info' (toplevel)"


def assert_nothing_refused(admin: redis.Redis) -> None:
    refused = [line for line in denials(admin) if line != EXPECTED_REFUSAL]
    assert not refused, 'the server refused:\n' + '\n'.join(refused)


def assert_ran_own_scripts(admin: redis.Redis, role: Role) -> None:
    """The scripts run since the last ``forget_scripts`` are among the role's (whose commands the
    role is allowed: see ``test_every_script_of_a_role_runs_under_its_rules``)."""
    extra = scripts_loaded(admin) - set(role.scripts)
    assert not extra, f'{role.name} ran scripts not listed in acl_roles: {sorted(extra)}'


def fresh(admin: redis.Redis) -> None:
    forget_denials(admin)
    forget_scripts(admin)


def burst_worker(url: str, *args: str) -> str:
    """``rq worker --burst --with-scheduler ARGS`` to its end; what it logged (it must exit 0)."""
    done = run_rq('worker', '--burst', '--with-scheduler', '--url', url, *args)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert UNNAMED_WARNING not in output, output
    return output


# -- the rules themselves ----------------------------------------------------------------------


@pytest.mark.parametrize('role', ROLES, ids=lambda role: role.name)
def test_a_role_names_its_commands_and_nothing_dangerous(role: Role) -> None:
    assert not [rule for rule in role.rules() if '@' in rule], 'commands by name, not by category'
    assert len(set(role.commands)) == len(role.commands)
    granted = set(role.commands)
    bases = {command.split('|')[0] for command in granted}
    assert not granted & set(DANGEROUS), sorted(granted & set(DANGEROUS))
    assert not bases & {name for name in DANGEROUS if '|' not in name}
    assert role.keys == ('~rq:*',)
    assert all(channel.startswith('&rq:pubsub:') for channel in role.channels)


@pytest.mark.parametrize('role', ROLES, ids=lambda role: role.name)
def test_the_server_refuses_dangerous_commands_other_keys_and_channels(
    acl_server: AclRedisServer, admin: redis.Redis, role: Role
) -> None:
    create_user(admin, role)
    # every command of the server's own @dangerous category, whatever DANGEROUS forgot
    arities = command_arities(admin)
    dangerous = [as_text(name) for name in admin.command_list(category='dangerous')]
    allowed = [name for name in dangerous if not refused(admin, role, *sample_call(name, arities[name]))]
    assert not allowed, f'{role.name} may run {sorted(allowed)}'
    for call in DANGEROUS_CALLS:
        assert refused(admin, role, *call), (role.name, call)
    # INFO: no role (a worker that may not read the server's version assumes 6.2 or later)
    for call in (('INFO',), ('INFO', 'server'), ('INFO', 'clients'), ('INFO', 'all'), ('INFO', 'everything')):
        assert refused(admin, role, *call), (role.name, call)
    # SCAN: only the rq command, to find a job by the start of its id
    assert refused(admin, role, 'SCAN', '0', 'MATCH', 'rq:job:*') is (role is not CLI)
    # keys and channels other than rq's, also from a script
    assert refused(admin, role, 'GET', 'other:key')
    assert refused(admin, role, 'EVALSHA', scripts.sha('enqueue'), '1', 'other:key')
    assert not refused(admin, role, 'EVALSHA', scripts.sha('enqueue'), '1', 'rq:job:x')
    assert refused(admin, role, 'PUBLISH', 'other', 'x')
    assert refused(admin, role, 'SUBSCRIBE', 'other')
    assert refused(admin, role, 'SUBSCRIBE', 'rq:pubsub:w') is (role is not WORKER)


def as_text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def command_arities(admin: redis.Redis) -> dict[str, int]:
    """The arity of every command and subcommand (``COMMAND``): negative means "at least"."""
    arities: dict[str, int] = {}
    for name, details in admin.command().items():
        arities[as_text(name)] = int(details['arity'])
        for sub in details.get('subcommands') or []:
            arities[as_text(sub[0])] = int(sub[1])
    return arities


def sample_call(name: str, arity: int) -> list[str]:
    """A call of ``name`` (``container|sub`` for a subcommand) with as many arguments as it takes,
    each an rq key (so that a refusal is about the command, not a key)."""
    words = name.upper().split('|')
    return [*words, *(['rq:x'] * (abs(arity) - len(words)))]


def refused(admin: redis.Redis, role: Role, *call: str) -> bool:
    """Whether the role's user may not run ``call`` (``ACL DRYRUN``: nothing is run)."""
    answer = admin.execute_command('ACL', 'DRYRUN', role.user, *call)  # type: ignore[no-untyped-call]
    return as_text(answer) != 'OK'


def lua_commands(name: str) -> set[str]:
    """The commands script ``name`` can send (``redis.call``/``redis.pcall``), libraries included."""
    return {match.lower() for match in re.findall(r"redis\.p?call\(\s*'([A-Za-z]+)'", scripts.source(name))}


@pytest.mark.parametrize('role', ROLES, ids=lambda role: role.name)
def test_every_script_of_a_role_runs_under_its_rules(role: Role) -> None:
    """Redis checks every command a script sends against the caller's ACL: a role is allowed all
    the commands of its scripts, also those of branches its tests did not take."""
    assert set(role.scripts) <= set(SCRIPT_NAMES)
    for name in role.scripts:
        missing = lua_commands(name) - set(role.commands)
        assert not missing, f'{role.name} runs {name}.lua, which sends {sorted(missing)}'
        dynamic = re.search(r'redis\.p?call\(\s*[^\'\s]', scripts.source(name))
        assert not dynamic, f'{name}.lua names a command in a variable: {dynamic}'


# -- the README shows the same rules ---------------------------------------------------------


def readme_section() -> str:
    text = README.read_text(encoding='utf-8')
    start = text.index(SECTION + '\n')
    following = [text.find(heading, start + len(SECTION)) for heading in ('\n## ', '\n### ')]
    end = min(position for position in following if position != -1)
    assert text.count(SECTION) == 1
    return text[start:end]


def test_the_readme_shows_exactly_these_rules() -> None:
    lines = [line.strip() for line in readme_section().splitlines() if line.strip().startswith('ACL SETUSER ')]
    shown: dict[str, list[str]] = {}
    for line in lines:
        _, _, user, *arguments = line.split()
        assert arguments[:2] == ['reset', 'on'] and arguments[2].startswith('>'), line
        shown[user] = arguments[3:]
    assert shown == {role.user: role.rules() for role in ROLES}
    assert len(lines) == len(ROLES)


# -- each role at work, under exactly its rules ----------------------------------------------


def test_producer(acl_server: AclRedisServer, admin: redis.Redis) -> None:
    producer = redis.Redis.from_url(login(acl_server, admin, PRODUCER))
    worker_url = login(acl_server, admin, WORKER)
    fresh(admin)
    queue = Queue('produced', connection=producer)
    first = queue.enqueue(rqtest_jobs.add, 1, 2)
    dependent = queue.enqueue(rqtest_jobs.say_hello, 'dependent', depends_on=first)
    many = queue.enqueue_many([Queue.prepare_data(rqtest_jobs.add, (n, n)) for n in range(3)])
    failing = queue.enqueue(rqtest_jobs.fail, 'on purpose', retry=Retry(max=1))
    due = queue.enqueue_at(now() - timedelta(seconds=1), rqtest_jobs.say_hello, 'due')
    later = queue.enqueue_in(timedelta(hours=1), rqtest_jobs.say_hello, 'later')
    canceled = queue.enqueue(rqtest_jobs.say_hello, 'canceled')
    canceled.cancel()
    limit = RateLimit('acl-limit', concurrency=1)
    limited = queue.enqueue(rqtest_jobs.say_hello, 'limited', rate_limit=limit)
    waiting = queue.enqueue(rqtest_jobs.say_hello, 'waiting', rate_limit=limit)  # (waits for limited's slot)
    waiting.cancel()
    gate = queue.enqueue_in(timedelta(hours=1), rqtest_jobs.say_hello, 'gate')
    freed = queue.enqueue(rqtest_jobs.say_hello, 'freed', depends_on=gate)
    gate.cancel(enqueue_dependents=True)
    assert Job.fetch(first.id, connection=producer).get_status() == JobStatus.QUEUED
    assert queue.get_job_position(failing) == 4
    assert_nothing_refused(admin)
    assert_ran_own_scripts(admin, PRODUCER)

    admin_queue = Queue('produced', connection=admin)
    assert admin_queue.get_job_ids() == [first.id, *(job.id for job in many), failing.id, limited.id, freed.id]
    assert DeferredJobRegistry('produced', connection=admin).get_job_ids() == [dependent.id]
    assert set(ScheduledJobRegistry('produced', connection=admin).get_job_ids()) == {due.id, later.id}
    assert set(CanceledJobRegistry('produced', connection=admin).get_job_ids()) == {canceled.id, waiting.id, gate.id}

    burst_worker(worker_url, 'produced')
    fresh(admin)
    for job in (first, dependent, due, limited, freed, *many):
        fetched = Job.fetch(job.id, connection=producer)
        assert fetched.get_status() == JobStatus.FINISHED, job.id
        result = fetched.latest_result(timeout=5)  # (XREAD: the stream has an entry, no wait)
        assert result is not None and result.type == result.Type.SUCCESSFUL
    assert first.return_value(refresh=True) == 3
    assert dependent.return_value(refresh=True) == 'Hi there, dependent!'
    assert [job.return_value(refresh=True) for job in many] == [0, 2, 4]
    assert len(first.results()) == 1
    fetched_many = Job.fetch_many([due.id, later.id], connection=producer)
    assert [job.get_status(refresh=False) for job in fetched_many if job] == [JobStatus.FINISHED, JobStatus.SCHEDULED]
    assert failing.get_status(refresh=True) == JobStatus.FAILED
    failed_result = failing.latest_result()
    assert failed_result is not None and 'on purpose' in (failed_result.exc_string or '')
    later.cancel()
    assert later.get_status(refresh=True) == JobStatus.CANCELED
    assert queue.count == 0
    assert_nothing_refused(admin)
    assert_ran_own_scripts(admin, PRODUCER)
    producer.close()


def enqueue_work(admin: redis.Redis, queue_name: str) -> dict[str, Job]:
    """Jobs that take each of a worker's paths: success, async, failure, retry, a dependency, a
    scheduled job that is due."""
    queue = Queue(queue_name, connection=admin)
    jobs = {
        'ok': queue.enqueue(rqtest_jobs.say_hello, 'worker'),
        'async': queue.enqueue(rqtest_jobs.async_add, 2, 3),
        'failing': queue.enqueue(rqtest_jobs.fail, 'on purpose'),
        'retried': queue.enqueue(rqtest_jobs.fail, 'twice', retry=Retry(max=1)),
        'due': queue.enqueue_at(now() - timedelta(seconds=1), rqtest_jobs.add, 20, 1),
    }
    jobs['dependent'] = queue.enqueue(rqtest_jobs.add, 1, 1, depends_on=jobs['ok'])
    return jobs


def assert_work_done(admin: redis.Redis, queue_name: str, jobs: dict[str, Job]) -> None:
    assert all_finished([jobs['ok'], jobs['async'], jobs['due'], jobs['dependent']])
    assert jobs['async'].return_value(refresh=True) == 5
    assert jobs['due'].return_value(refresh=True) == 21
    assert jobs['dependent'].return_value(refresh=True) == 2
    assert set(FailedJobRegistry(queue_name, connection=admin).get_job_ids()) == {
        jobs['failing'].id,
        jobs['retried'].id,
    }
    jobs['retried'].refresh()
    assert jobs['retried'].retries_left == 0  # (it failed twice: the retry went back on the queue)
    assert Queue(queue_name, connection=admin).count == 0
    assert admin.scard('rq:workers') == 0  # (every worker registered its death)


WORKER_KINDS = {
    'Worker': (),
    'SimpleWorker': ('--worker-class', 'SimpleWorker'),
    'SpawnWorker': ('--worker-class', 'SpawnWorker'),
    'concurrency': ('--concurrency', '4'),
}


@pytest.mark.parametrize('kind', WORKER_KINDS)
def test_burst_worker(acl_server: AclRedisServer, admin: redis.Redis, kind: str) -> None:
    url = login(acl_server, admin, WORKER)
    jobs = enqueue_work(admin, 'work')
    fresh(admin)
    burst_worker(url, 'work', *WORKER_KINDS[kind])
    assert_nothing_refused(admin)
    assert_ran_own_scripts(admin, WORKER)
    assert_work_done(admin, 'work', jobs)


def test_worker_pool(acl_server: AclRedisServer, admin: redis.Redis) -> None:
    url = login(acl_server, admin, WORKER)
    jobs = enqueue_work(admin, 'pooled')
    fresh(admin)
    rq_ok('worker-pool', '--burst', '--num-workers', '2', '--url', url, 'pooled')
    assert_nothing_refused(admin)
    assert_ran_own_scripts(admin, WORKER)
    assert_work_done(admin, 'pooled', jobs)


def test_running_worker_with_scheduler_and_commands(acl_server: AclRedisServer, admin: redis.Redis) -> None:
    """A worker that waits for work (blocking), runs its scheduler, a job enqueued with a delay,
    and stops on a shutdown command published to it."""
    url = login(acl_server, admin, WORKER)
    fresh(admin)
    with launch_rq('worker', '--with-scheduler', '--name', 'acl-worker', '--url', url, 'waiting') as worker:
        wait_for_worker(admin, 'acl-worker', worker)
        delayed = Queue('waiting', connection=admin).enqueue_in(timedelta(seconds=1), rqtest_jobs.add, 4, 4)
        assert wait_until(lambda: delayed.get_status(refresh=True) == JobStatus.FINISHED, 60), worker.output()
        assert delayed.return_value() == 8
        assert wait_until(lambda: send_shutdown_command(admin, 'acl-worker') == 1, 30), worker.output()
        assert worker.wait(60) == 0, worker.output()
        output = worker.output()
    assert UNNAMED_WARNING not in output, output
    assert 'Received shutdown command' in output, output
    assert admin.scard('rq:workers') == 0
    assert_nothing_refused(admin)
    assert_ran_own_scripts(admin, WORKER)


def abandon_a_job(admin: redis.Redis, worker_url: str, queue_name: str) -> tuple[Job, Job]:
    """A job whose worker died while running it (SIGKILLed, its started entry expired since), and a
    dependent that may run after it whatever its outcome."""
    queue = Queue(queue_name, connection=admin)
    victim = queue.enqueue(rqtest_jobs.sleep, 600)
    dependent = queue.enqueue(rqtest_jobs.add, 7, 7, depends_on=Dependency(jobs=[victim], allow_failure=True))
    name = f'victim-{queue_name}'
    with launch_rq(
        'worker', '--worker-class', 'SimpleWorker', '--job-monitoring-interval', '1', '--name', name,
        '--url', worker_url, queue_name,
    ) as worker:  # fmt: skip
        started = wait_until(lambda: victim.get_status(refresh=True) == JobStatus.STARTED or worker.wait(0) is not None)
        assert started and worker.wait(0) is None, worker.output()
        worker.kill()
    # (a heartbeat of the worker itself may land after its last one for the job on a loaded machine,
    # and would keep it alive for a heartbeat lifetime: its hash goes, as it does once it expires)
    admin.delete(f'rq:worker:{name}')
    # (and its started entry expires, as time makes it: a whole second back, as registry scores
    # are compared with the current whole second)
    key = f'rq:wip:{queue_name}'
    admin.zadd(key, dict.fromkeys(admin.zrange(key, 0, -1), int(time.time()) - 1), xx=True)
    return victim, dependent


def assert_abandoned(victim: Job) -> None:
    assert victim.get_status(refresh=True) == JobStatus.FAILED
    result = victim.latest_result()
    assert result is not None and 'AbandonedJobError' in (result.exc_string or ''), result


def test_worker_fails_an_abandoned_job(acl_server: AclRedisServer, admin: redis.Redis) -> None:
    url = login(acl_server, admin, WORKER)
    victim, dependent = abandon_a_job(admin, url, 'abandoned')
    fresh(admin)
    burst_worker(url, 'abandoned')
    assert_abandoned(victim)
    assert dependent.get_status(refresh=True) == JobStatus.FINISHED
    assert_nothing_refused(admin)
    assert_ran_own_scripts(admin, WORKER)


def test_cli_fails_an_abandoned_job(acl_server: AclRedisServer, admin: redis.Redis) -> None:
    url = login(acl_server, admin, CLI)
    victim, dependent = abandon_a_job(admin, login(acl_server, admin, WORKER), 'abandoned')
    fresh(admin)
    rq_ok('info', '--clean', '--url', url, 'abandoned')
    assert_abandoned(victim)
    assert Queue('abandoned', connection=admin).get_job_ids() == [dependent.id]
    assert_nothing_refused(admin)
    assert_ran_own_scripts(admin, CLI)


def test_cli(acl_server: AclRedisServer, admin: redis.Redis) -> None:
    url = login(acl_server, admin, CLI)
    worker_url = login(acl_server, admin, WORKER)
    queue = Queue('default', connection=admin)
    done = queue.enqueue(rqtest_jobs.say_hello, 'cli')
    failed = [queue.enqueue(rqtest_jobs.fail, f'failure {n}') for n in range(2)]
    burst_worker(worker_url, 'default')
    with launch_rq('worker', '--name', 'watched', '--url', worker_url, 'elsewhere') as worker:
        wait_for_worker(admin, 'watched', worker)
        fresh(admin)
        text = rq_ok('info', '--url', url)
        assert 'default' in text and 'watched' in text, text
        assert '1 workers' in rq_ok('info', '--by-queue', '--clean', '--url', url)
        document = json.loads(rq_ok('info', '--json', '--url', url))
        (listed,) = [entry for entry in document['queues'] if entry['name'] == 'default']
        assert (listed['finished'], listed['failed'], listed['queued']) == (1, 2, 0), listed
        assert [entry['name'] for entry in document['workers']] == ['watched'], document['workers']
        assert worker.wait(0) is None
    assert 'finished' in rq_ok('job', done.id, '--url', url)
    assert done.id in rq_ok('job', done.id[:8], '--url', url)  # (a prefix: SCAN MATCH rq:job:<prefix>*)
    assert json.loads(rq_ok('job', '--json', done.id, '--url', url))['status'] == 'finished'
    listing = rq_ok('failed', 'default', '--url', url)
    assert all(job.id in listing for job in failed), listing
    rq_ok('requeue', '--queue', 'default', failed[0].id[:8], '--url', url)
    assert queue.get_job_ids() == [failed[0].id]
    rq_ok('requeue', '--queue', 'default', '--all', '--url', url)
    assert queue.get_job_ids() == [failed[0].id, failed[1].id]
    enqueued = rq_ok('enqueue', '--queue', 'default', 'rqtest_jobs.say_hello', 'shell', '--url', url)
    assert queue.count == 3, enqueued
    rq_ok('suspend', '--url', url)
    assert admin.exists('rq:suspended')
    rq_ok('resume', '--url', url)
    assert not admin.exists('rq:suspended')
    assert '3 jobs removed from default queue' in rq_ok('empty', 'default', '--url', url)
    assert queue.count == 0
    assert_nothing_refused(admin)
    assert_ran_own_scripts(admin, CLI)


def test_cron(acl_server: AclRedisServer, admin: redis.Redis, tmp_path: Path) -> None:
    url = login(acl_server, admin, CRON)
    config = cron_config(tmp_path, 'cron-queue', 'acl')
    fresh(admin)
    with launch_rq('cron', str(config), '--name', 'acl-cron', '--url', url) as cron:
        assert wait_until(lambda: admin.llen('rq:queue:cron-queue') >= 2 or cron.wait(0) is not None, 60)
        assert admin.zscore('rq:cron_schedulers', 'acl-cron') is not None, cron.output()
        assert stop_gently(cron) == 0, cron.output()
        output = cron.output()
    assert 'Traceback' not in output, output
    assert_nothing_refused(admin)
    assert admin.zscore('rq:cron_schedulers', 'acl-cron') is None  # (its death registered)
    jobs = Queue('cron-queue', connection=admin).get_jobs()
    assert [job.func_name for job in jobs if list(job.args) == ['acl']][:2] == ['rqtest_jobs_cron.tick'] * 2, jobs
    runs = [admin.hgetall(key) for key in admin.scan_iter('rq:cron_run:*')]
    assert any(run.get(b'name') == b'yearly' and b'slot' in run for run in runs), runs  # (its baseline)
    assert_ran_own_scripts(admin, CRON)
