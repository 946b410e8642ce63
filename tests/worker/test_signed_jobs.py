"""Signed jobs and the allowlist of callables (rq.trust): a job written straight into Redis by someone
with write access (a crafted pickle, a JSON job naming ``os.system``) does not run on a worker that
requires signatures or has an allowlist; signed jobs survive key rotation; migration mode runs
unsigned jobs and counts them."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import redis

import rqtest_jobs
from redis_server import RedisServer
from rq import Queue
from rq.job import Job
from rq.trust import TrustPolicy, sign, verify
from signal_support import launched, worker_command
from worker_process import wait_until, worker_env

WORKERS = {
    'Worker': ('--worker-class', 'Worker'),
    'SimpleWorker': ('--worker-class', 'SimpleWorker'),
    'ConcurrentWorker': ('--concurrency', '2', '--no-supervisor'),
}
DEFENCES = {
    'signatures': {'RQ_SIGNING_KEYS': 'current-key'},
    'allowlist': {'RQ_ALLOWED_FUNCTIONS': 'rqtest_jobs'},
}


class Exploit:
    """Unpickling this runs a shell command (what an attacker's crafted ``data`` field does)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (self.command,)


def plant(connection: redis.Redis, job_id: str, data: bytes, queue: str = 'default') -> None:
    """Write a job hash and queue it, as anyone with write access to Redis can."""
    connection.hset(
        f'rq:job:{job_id}',
        mapping={'data': data, 'status': 'queued', 'origin': queue, 'created_at': '2026-12-07T00:00:00.000000Z'},
    )
    connection.sadd('rq:queues', f'rq:queue:{queue}')
    connection.rpush(f'rq:queue:{queue}', job_id)


def crafted_pickle(marker: Path) -> bytes:
    return zlib.compress(pickle.dumps(Exploit(f'touch {marker}')))


def json_naming_os_system(marker: Path) -> bytes:
    return zlib.compress(json.dumps(['os.system', None, [f'touch {marker}'], {}]).encode())


def run_burst(port: int, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = worker_command(port, '--burst', '--name', 'guarded', *args)
    return subprocess.run(command, env=worker_env(**env), capture_output=True, text=True, timeout=120)


def exc_text(connection: redis.Redis, job_id: str) -> str:
    result = Job.fetch(job_id, connection=connection).latest_result()
    assert result is not None
    return result.exc_string or ''


@pytest.mark.parametrize('defence', list(DEFENCES))
@pytest.mark.parametrize('worker_class', list(WORKERS))
def test_a_forged_job_does_not_run_and_the_worker_goes_on(
    connection: redis.Redis, redis_server: RedisServer, tmp_path: Path, worker_class: str, defence: str
) -> None:
    pickled_marker, json_marker = tmp_path / 'pickle-ran', tmp_path / 'json-ran'
    plant(connection, 'forged-pickle', crafted_pickle(pickled_marker))
    plant(connection, 'forged-json', json_naming_os_system(json_marker), queue='json')
    keys = DEFENCES['signatures']['RQ_SIGNING_KEYS'] if defence == 'signatures' else ''
    honest = Queue(connection=connection, signing_keys=keys).enqueue('rqtest_jobs.add', 2, b=3)
    honest_json = Queue('json', connection=connection, serializer='json', signing_keys=keys).enqueue(
        'rqtest_jobs.add', 4, b=5
    )
    env = DEFENCES[defence]
    done = run_burst(redis_server.port, env, *WORKERS[worker_class], 'default')
    assert done.returncode == 0, done.stdout + done.stderr
    json_done = run_burst(redis_server.port, env, *WORKERS[worker_class], '--serializer', 'json', 'json')
    assert json_done.returncode == 0, json_done.stdout + json_done.stderr
    assert not pickled_marker.exists() and not json_marker.exists()
    assert connection.hget('rq:job:forged-pickle', 'status') == b'failed'
    assert connection.hget('rq:job:forged-json', 'status') == b'failed'
    if defence == 'signatures':
        assert 'UntrustedJobError' in exc_text(connection, 'forged-pickle')
        assert 'it is not signed, and this worker requires signed jobs' in exc_text(connection, 'forged-pickle')
        assert 'it is not signed' in exc_text(connection, 'forged-json')
    else:
        assert 'posix.system' in exc_text(connection, 'forged-pickle')  # (the guarded unpickler's refusal)
        assert "function 'os.system' is not among the functions this worker may run" in exc_text(
            connection, 'forged-json'
        )
    assert honest.get_status(refresh=True) == 'finished' and honest.return_value() == 5
    assert honest_json.get_status(refresh=True) == 'finished' and honest_json.return_value() == 9


def test_a_job_changed_after_it_was_signed_is_refused(
    connection: redis.Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    job = Queue(connection=connection, signing_keys='k1').enqueue('rqtest_jobs.add', 1)
    marker = tmp_path / 'ran'
    connection.hset(job.key, 'data', crafted_pickle(marker))  # (the signature is the original's)
    callback = Queue(connection=connection, signing_keys='k1').enqueue('rqtest_jobs.add', 2)
    connection.hset(callback.key, 'success_callback_name', 'os.system')
    done = run_burst(redis_server.port, {'RQ_SIGNING_KEYS': 'k1'}, '--worker-class', 'SimpleWorker')
    assert done.returncode == 0, done.stdout + done.stderr
    assert not marker.exists()
    for forged in (job, callback):
        assert forged.get_status(refresh=True) == 'failed'
        assert 'its signature does not match' in exc_text(connection, forged.id)


def test_keys_rotate_without_downtime(connection: redis.Redis, redis_server: RedisServer) -> None:
    old = Queue(connection=connection, signing_keys='old-key').enqueue('rqtest_jobs.add', 1)
    new = Queue(connection=connection, signing_keys='new-key,old-key').enqueue('rqtest_jobs.add', 2)
    # the workers have the new key first and still accept the old one: both run
    done = run_burst(redis_server.port, {'RQ_SIGNING_KEYS': 'new-key, old-key'}, '--worker-class', 'SimpleWorker')
    assert done.returncode == 0, done.stdout + done.stderr
    assert [old.get_status(refresh=True), new.get_status(refresh=True)] == ['finished', 'finished']
    # the old key is then removed: a job still signed with it is refused
    late = Queue(connection=connection, signing_keys='old-key').enqueue('rqtest_jobs.add', 3)
    done = run_burst(redis_server.port, {'RQ_SIGNING_KEYS': 'new-key'}, '--worker-class', 'SimpleWorker')
    assert done.returncode == 0, done.stdout + done.stderr
    assert late.get_status(refresh=True) == 'failed'
    assert 'signed with a key this worker no longer has' in exc_text(connection, late.id)


def test_migration_mode_runs_unsigned_jobs_with_a_warning_and_counts_them(
    connection: redis.Redis, redis_server: RedisServer
) -> None:
    # (an unsigned job's arguments are decoded as they always were: an object of any class)
    unsigned = Queue(connection=connection, signing_keys='').enqueue(rqtest_jobs.Calculator(1).add, 1)
    signed = Queue(connection=connection, signing_keys='k1').enqueue('rqtest_jobs.add', 2)
    env = {'RQ_SIGNING_KEYS': 'k1', 'RQ_ACCEPT_UNSIGNED': '1'}
    command = worker_command(redis_server.port, '--name', 'migrating', '--worker-class', 'SimpleWorker')
    with launched(command, env) as worker:
        jobs = [unsigned, signed]
        assert wait_until(lambda: [job.get_status(refresh=True) for job in jobs] == ['finished'] * 2), worker.output()
        assert wait_until(lambda: connection.hget('rq:worker:migrating', 'unsigned_job_count') == b'1')
        # rq info (piped text and --json) shows the count
        assert 'jobs: 2 finished, 0 failed, 1 unsigned accepted' in rq_info(redis_server.port)
        [found] = json.loads(rq_info(redis_server.port, '--json'))['workers']
        assert found['unsigned_job_count'] == 1
        worker.send(signal.SIGTERM)
        assert worker.wait(30) == 0, worker.output()
        assert f'job {unsigned.id} is not signed: run all the same (RQ_ACCEPT_UNSIGNED=1)' in worker.output()


def rq_info(port: int, *args: str) -> str:
    url = f'redis://127.0.0.1:{port}/0'
    command = [sys.executable, '-m', 'rq.cli', 'info', '--url', url, '--only-workers', *args]
    done = subprocess.run(command, env=worker_env(), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_without_a_defence_a_crafted_pickle_runs_code(
    connection: redis.Redis, redis_server: RedisServer, tmp_path: Path
) -> None:
    # (the threat the defences answer: any worker that unpickles a planted job runs its code)
    marker = tmp_path / 'ran'
    plant(connection, 'forged', crafted_pickle(marker))
    done = run_burst(redis_server.port, {}, '--worker-class', 'SimpleWorker')
    assert done.returncode == 0, done.stdout + done.stderr
    assert marker.exists()


def test_what_a_signature_covers() -> None:
    fields = {
        'origin': 'default',
        'data': b'payload',
        'success_callback_name': 'a.b',
        'failure_callback_name': '',
        'stopped_callback_name': '',
        'meta': b'not covered',
    }
    signed = {**fields, 'signature': sign(b'key', 'job-1', fields)}
    assert verify([b'other', b'key'], 'job-1', signed) == 'signed'
    assert verify([b'key'], 'job-2', signed) == 'forged'  # (the id is covered)
    for name in ('origin', 'data', 'success_callback_name', 'failure_callback_name', 'stopped_callback_name'):
        assert verify([b'key'], 'job-1', {**signed, name: b'changed'}) == 'forged', name
    assert verify([b'key'], 'job-1', {**signed, 'meta': b'changed'}) == 'signed'
    assert verify([b'key'], 'job-1', fields) == 'unsigned'


def test_the_allowlist_matches_dotted_prefixes() -> None:
    policy = TrustPolicy(allowed_functions=('myapp.tasks',))
    policy.check_name('myapp.tasks.send')
    policy.check_name('myapp.tasks')
    for name in ('myapp.tasksx.send', 'os.system', 'myapp'):
        with pytest.raises(Exception, match='is not among the functions this worker may run'):
            policy.check_name(name)


@pytest.mark.parametrize('where', ['option', 'config module'])
def test_rq_worker_takes_its_keys_and_allowlist_from_an_option_or_its_config_module(
    connection: redis.Redis, redis_server: RedisServer, tmp_path: Path, where: str
) -> None:
    unsigned = Queue(connection=connection, signing_keys='').enqueue('rqtest_jobs.add', 1)
    signed = Queue(connection=connection, signing_keys='k9').enqueue('rqtest_jobs.add', 2)
    elsewhere = Queue(connection=connection, signing_keys='k9').enqueue('rqtest_jobs_concurrent.double', 3)
    url = f'redis://127.0.0.1:{redis_server.port}/0'
    command = [sys.executable, '-m', 'rq.cli', 'worker', '--burst', '--url', url, '--worker-class', 'SimpleWorker']
    if where == 'option':
        command += ['--signing-keys', 'k9', '--allowed-functions', 'rqtest_jobs']
    else:
        (tmp_path / 'trusted_settings.py').write_text("SIGNING_KEYS = ['k9']\nALLOWED_FUNCTIONS = 'rqtest_jobs'\n")
        command += ['--config', 'trusted_settings', '--path', str(tmp_path)]
    done = subprocess.run(command, env=worker_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [job.get_status(refresh=True) for job in (unsigned, signed, elsewhere)] == ['failed', 'finished', 'failed']
    assert 'it is not signed' in exc_text(connection, unsigned.id)
    assert "'rqtest_jobs_concurrent.double' is not among the functions" in exc_text(connection, elsewhere.id)
