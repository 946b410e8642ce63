"""Jobs enqueued by upstream rq 2.12.0 are run by our workers and read back by upstream.

The same enqueue code runs twice under upstream (its own virtualenv, ``tests/support/upstream.py``),
on two databases of one Redis: one is drained by our ``Worker``, ``SimpleWorker`` or ``SpawnWorker``
(``work(burst=True)``, in this process), the other by upstream's own ``SimpleWorker``. Then upstream
reads both databases with the same helpers (``rqtest_introspect``): statuses, return values,
traceback tails, Result types, job fields, registry contents, and the raw Redis data must agree,
with timestamps, random ids and per-process worker fields tolerated. Both sides' workers have the
same names, so worker names are compared exactly.
"""

from __future__ import annotations

import base64
import copy
import os
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from scenarios import PRELUDE

from file_lock import exclusive
from redis_dump import diff, snapshot
from redis_server import RedisServer
from rq.results import Result
from rq.serializers import JSONSerializer
from rq.worker import BaseWorker, SimpleWorker, SpawnWorker, Worker
from rqtest_introspect import all_job_fields, all_outcome_fields, as_json, differences, queue_contents
from upstream import burst_worker_code, run_upstream

pytestmark = [
    pytest.mark.upstream,
    # rqtest_introspect.outcome_fields reads job.exc_info on purpose (both implementations have it).
    pytest.mark.filterwarnings('ignore:job.exc_info is deprecated:DeprecationWarning'),
    # The first test of each worker class also runs both sides (a few seconds; SpawnWorker ~10 s).
    pytest.mark.timeout(120),
]

OUR_DB, UPSTREAM_DB = 3, 4
WORKER = 'interop-worker'
JSON_WORKER = 'interop-json-worker'

#: Enqueued by upstream (``PRELUDE`` gives ``conn``, ``q``, ``add``, ``echo``, ``fail``, ``Retry``,
#: ``Repeat``, ``Callback``, ``Dependency``). Nothing is scheduled in the future and every retry has
#: interval 0, so no scheduler is needed on either side.
ENQUEUE = """
import rqtest_jobs_interop as interop
from rqtest_introspect import retry_by_return
jq = Queue('jq', connection=conn, serializer='json')
q.enqueue(add, 1, b=2, job_id='plain')
q.enqueue(add, 2, job_id='with_meta', meta={'owner': 'me', 'n': 3})
q.enqueue(echo, 'x', [1, 2], key={'a': None}, job_id='echo', description='custom text')
q.enqueue(rqtest_jobs.return_none, job_id='none')
q.enqueue(rqtest_jobs.Calculator(2).add, 3, job_id='bound')
q.enqueue(rqtest_jobs.async_add, 2, 3, job_id='coroutine')
q.enqueue(interop.async_echo, 'hi', job_id='coroutine_echo')
q.enqueue(rqtest_jobs.unpicklable_return, job_id='unpicklable')
q.enqueue(interop.whoami, job_id='whoami')
parent = q.enqueue(add, 10, job_id='parent')
q.enqueue(add, 20, job_id='child', depends_on=parent)
q.enqueue(add, 25, job_id='grandchild', depends_on='child')
bad = q.enqueue(fail, 'parent failed', job_id='bad_parent')
q.enqueue(add, 30, job_id='tolerant_child', depends_on=Dependency(jobs=[bad], allow_failure=True))
q.enqueue(add, 40, job_id='blocked_child', depends_on=bad)
q.enqueue(fail, 'bad input', job_id='failing')
q.enqueue(rqtest_jobs.div_by_zero, job_id='zero_div', failure_ttl=300)
q.enqueue(fail, 'twice', job_id='retried', retry=Retry(max=2))
q.enqueue(interop.flaky, 2, job_id='flaky', retry=Retry(max=3, interval=0))
q.enqueue(retry_by_return, 2, 0, job_id='retry_rv')
q.enqueue(add, 5, job_id='keep', result_ttl=-1)
q.enqueue(add, 6, job_id='gone', result_ttl=0, on_success=Callback(rqtest_jobs.record_success))
q.enqueue(add, 7, job_id='short', result_ttl=100, ttl=600)
q.enqueue(add, 8, job_id='repeated', repeat=Repeat(times=2))
q.enqueue(add, 9, job_id='cb', on_success=Callback(rqtest_jobs.record_success), on_failure=rqtest_jobs.record_failure)
q.enqueue(fail, 'in cbf', job_id='cbf', on_failure=Callback(rqtest_jobs.record_failure, timeout=5))
q.enqueue(add, 11, job_id='cb_raises', on_success=Callback(rqtest_jobs.failing_callback))
q.enqueue(fail, 'x', job_id='cbf_raises', on_failure=Callback(rqtest_jobs.failing_callback))
q.enqueue(rqtest_jobs.sleep, 3, job_id='timeout', job_timeout=1)
q.enqueue(rqtest_jobs.set_meta, 'progress', 100, job_id='meta_job', meta={'owner': 'me'})
q.enqueue(interop.save_meta_then_fail, 'x', job_id='meta_fail', meta={'owner': 'you'})
jq.enqueue(add, 1, b=2, job_id='json_ok', meta={'k': 'v'})
jq.enqueue(fail, 'json bad', job_id='json_fail')
jq.enqueue(rqtest_jobs.set_meta, 'p', [1], job_id='json_meta')
"""

TIMEOUT_TEXT = 'Task exceeded maximum timeout value (1 seconds)'
S, F, R, M = (
    t.value for t in (Result.Type.SUCCESSFUL, Result.Type.FAILED, Result.Type.RETRIED, Result.Type.MAX_RETRIES_EXCEEDED)
)
#: What upstream's own SimpleWorker leaves, per job: (status, repr of return_value(), last traceback
#: line, result types newest first). ``gone`` (result_ttl=0) is deleted after its run.
EXPECTED_OUTCOMES = {
    'plain': ('finished', '3', None, [S]),
    'with_meta': ('finished', '3', None, [S]),
    'echo': ('finished', "[['x', [1, 2]], {'key': {'a': None}}]", None, [S]),
    'none': ('finished', 'None', None, [S]),
    'bound': ('finished', '5', None, [S]),
    'coroutine': ('finished', '5', None, [S]),
    'coroutine_echo': ('finished', "{'echo': 'hi'}", None, [S]),
    'unpicklable': ('finished', "'Unserializable return value'", None, [S]),
    'whoami': ('finished', f"['whoami', 'default', '{WORKER}', 'started']", None, [S]),
    'parent': ('finished', '11', None, [S]),
    'child': ('finished', '21', None, [S]),
    'grandchild': ('finished', '26', None, [S]),
    'bad_parent': ('failed', 'None', 'ValueError: parent failed', [F]),
    'tolerant_child': ('finished', '31', None, [S]),
    'blocked_child': ('deferred', 'None', None, []),
    'failing': ('failed', 'None', 'ValueError: bad input', [F]),
    'zero_div': ('failed', 'None', 'ZeroDivisionError: division by zero', [F]),
    'retried': ('failed', 'None', 'ValueError: twice', [F]),
    'flaky': ('finished', '3', None, [S]),
    'retry_rv': ('failed', 'None', None, [M, R, R]),
    'keep': ('finished', '6', None, [S]),
    'short': ('finished', '8', None, [S]),
    'repeated': ('finished', '9', None, [S, S, S]),
    'cb': ('finished', '10', None, [S]),
    'cbf': ('failed', 'None', 'ValueError: in cbf', [F]),
    # A success callback that raises fails the job; a failure callback that raises replaces the traceback.
    'cb_raises': ('failed', 'None', 'RuntimeError: callback failed', [F]),
    'cbf_raises': ('failed', 'None', 'RuntimeError: callback failed', [F]),
    'timeout': ('failed', 'None', f'rq.timeouts.JobTimeoutException: {TIMEOUT_TEXT}', [F]),
    'meta_job': ('finished', '100', None, [S]),
    'meta_fail': ('failed', 'None', "LookupError: failed after saving 'x'", [F]),
    'json_ok': ('finished', '3', None, [S]),
    'json_fail': ('failed', 'None', 'ValueError: json bad', [F]),
    'json_meta': ('finished', '[1]', None, [S]),
}

#: Upstream reads a database: every job's outcome and public fields, and every queue's registries.
READ = """
from rqtest_introspect import all_job_fields, all_outcome_fields, queue_contents
def view(client):
    return {'outcomes': all_outcome_fields(client), 'jobs': all_job_fields(client), 'queues': queue_contents(client)}
print(json.dumps({'ours': view(redis.Redis(port=PORT, db=OUR_DB)), 'theirs': view(redis.Redis(port=PORT, db=UP_DB))}))
"""

#: Job fields that are times (compared by presence: the two runs happen at different moments).
TIME_FIELDS = ('created_at', 'enqueued_at', 'started_at', 'ended_at')
#: Worker hash fields that belong to a process or a moment (or to an implementation: its version).
VOLATILE_WORKER_FIELDS = {
    'pid',
    'ip_address',
    'hostname',
    'total_working_time',
    'current_job_working_time',
    'version',
    'python_version',
}


@dataclass
class Runs:
    """Everything captured after both runs (the databases are flushed by later tests)."""

    worker_class: str
    read_by_upstream: dict[str, Any]
    read_by_us: dict[str, Any]
    ours_raw: dict[str, Any]
    theirs_raw: dict[str, Any]
    #: Children of this process left as zombies by our worker's run (reaped by the fixture).
    zombies: int


def reap_zombie_children() -> int:
    """Reap this process's children that have exited but were never waited for; return how many.
    Only dead children are touched (live ones, such as the Redis server, are left alone)."""
    reaped = 0
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / 'stat').read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(')', 1)[1].split()[:2]
        if state == 'Z' and int(ppid) == os.getpid():
            try:
                os.waitpid(int(entry.name), 0)
                reaped += 1
            except ChildProcessError:
                pass
    return reaped


def run_our_workers(client: redis.Redis, worker_class: type[BaseWorker]) -> None:
    """Our workers drain the database like upstream's: one per serializer, same names."""
    worker_class(['default'], connection=client, name=WORKER).work(burst=True)
    worker_class(['jq'], connection=client, name=JSON_WORKER, serializer=JSONSerializer).work(burst=True)


@pytest.fixture(scope='module', params=['Worker', 'SimpleWorker', 'SpawnWorker'])
def captured(
    request: pytest.FixtureRequest, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Runs:
    """Both runs for one of our worker classes, once per module (a few seconds each; SpawnWorker
    ~20 s). Under pytest-xdist the module's tests are spread over the workers: the first one to need
    a worker class runs it, the others wait for its result (in the run's shared temporary
    directory) rather than run it again."""
    if 'PYTEST_XDIST_WORKER' not in os.environ:
        return capture(request.param, redis_server)
    shared = tmp_path_factory.getbasetemp().parent / f'worker-interop-{request.param}.pickle'
    with exclusive(shared.with_suffix('.lock')):
        if shared.exists():
            runs: Runs = pickle.loads(shared.read_bytes())
            return runs
        runs = capture(request.param, redis_server)
        shared.write_bytes(pickle.dumps(runs))
        return runs


def capture(worker_class_name: str, redis_server: RedisServer) -> Runs:
    classes: dict[str, type[BaseWorker]] = {'Worker': Worker, 'SimpleWorker': SimpleWorker, 'SpawnWorker': SpawnWorker}
    worker_class = classes[worker_class_name]
    ours = redis.Redis(port=redis_server.port, db=OUR_DB)
    theirs = redis.Redis(port=redis_server.port, db=UPSTREAM_DB)
    try:
        ours.flushdb()
        theirs.flushdb()
        upstream_workers = burst_worker_code(WORKER, with_scheduler=False) + burst_worker_code(
            JSON_WORKER, ('jq',), serializer='json', with_scheduler=False
        )
        # Enqueue into both databases first, so that times written at enqueue (deferred scores)
        # are seconds apart at most whatever the worker classes' speeds.
        run_upstream(PRELUDE + ENQUEUE + 'print("null")', redis_server.port, db=OUR_DB)
        run_upstream(PRELUDE + ENQUEUE + 'print("null")', redis_server.port, db=UPSTREAM_DB)
        run_our_workers(ours, worker_class)
        zombies = reap_zombie_children()
        run_upstream(PRELUDE + upstream_workers + 'print("null")', redis_server.port, db=UPSTREAM_DB)
        read = READ.replace('PORT', str(redis_server.port)).replace('OUR_DB', str(OUR_DB))
        read = read.replace('UP_DB', str(UPSTREAM_DB))
        view = run_upstream(read, redis_server.port)
        ours_view = as_json(
            {'outcomes': all_outcome_fields(ours), 'jobs': all_job_fields(ours), 'queues': queue_contents(ours)}
        )
        return Runs(worker_class_name, view, ours_view, snapshot(ours), snapshot(theirs), zombies)
    finally:
        ours.flushdb()
        theirs.flushdb()
        ours.close()
        theirs.close()


@pytest.fixture
def runs(captured: Runs) -> Runs:
    """``captured``, for the tests that compare our worker's run with upstream's."""
    return captured


def outcome_summary(outcomes: dict[str, Any]) -> dict[str, Any]:
    return {
        job_id: (o['status'], o['return_value'], o['exc_tail'], o['result_types']) for job_id, o in outcomes.items()
    }


def timeless(jobs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        job_id: {k: (v is not None if k in TIME_FIELDS else v) for k, v in fields.items()}
        for job_id, fields in jobs.items()
    }


def test_upstream_reads_the_outcomes_its_own_worker_leaves(runs: Runs) -> None:
    ours, theirs = runs.read_by_upstream['ours'], runs.read_by_upstream['theirs']
    assert outcome_summary(theirs['outcomes']) == EXPECTED_OUTCOMES  # the reference is what we think it is
    assert differences(ours['outcomes'], theirs['outcomes']) == []


def test_upstream_reads_the_same_job_fields(runs: Runs) -> None:
    ours, theirs = runs.read_by_upstream['ours'], runs.read_by_upstream['theirs']
    assert differences(timeless(ours['jobs']), timeless(theirs['jobs'])) == []


def memberships(queues: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
    """Queue contents with each registry's ids sorted: registries are scored by whole seconds, so two
    runs order ids that finished in the same second differently. Queues keep their order."""
    return {
        name: {kind: ids if kind in ('queued', 'jobs') else sorted(ids) for kind, ids in view.items()}
        for name, view in queues.items()
    }


def test_upstream_reads_the_same_registries(runs: Runs) -> None:
    ours, theirs = runs.read_by_upstream['ours'], runs.read_by_upstream['theirs']
    assert memberships(ours['queues']) == memberships(theirs['queues'])
    default = theirs['queues']['default']
    assert default['queued'] == default['jobs'] == default['started'] == default['scheduled'] == []
    assert default['deferred'] == ['blocked_child']


def test_we_read_what_upstream_reads_after_our_run(captured: Runs) -> None:
    """rq-core reading our worker's database sees exactly what upstream sees there."""
    ours, theirs = captured.read_by_us, captured.read_by_upstream['ours']
    assert differences(ours['outcomes'], theirs['outcomes']) == []
    assert differences(ours['jobs'], theirs['jobs']) == []
    assert ours['queues'] == theirs['queues']


# -- raw data ---------------------------------------------------------------------------------


def _last_line(text: bytes) -> bytes:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else b''


def _traceback_tail(value: Any, encoded: bool) -> Any:
    """A stored traceback (zlib, and base64 in result streams) reduced to its last line: the frames
    name each implementation's own files."""
    if not isinstance(value, bytes) or not value:
        return value
    data = base64.b64decode(value) if encoded else value
    try:
        data = zlib.decompress(data)
    except zlib.error:
        pass
    return b'<traceback ending ' + _last_line(data) + b'>'


def comparable(raw: dict[str, Any]) -> dict[str, Any]:
    """A copy of a snapshot with per-process worker fields dropped and tracebacks cut to their last line."""
    data = copy.deepcopy(raw)
    for key, entry in data.items():
        if entry['type'] == 'hash' and key.startswith('rq:worker:'):
            entry['value'] = {k: v for k, v in entry['value'].items() if k not in VOLATILE_WORKER_FIELDS}
        elif entry['type'] == 'hash' and key.startswith('rq:job:') and 'exc_info' in entry['value']:
            entry['value']['exc_info'] = _traceback_tail(entry['value']['exc_info'], encoded=False)
        elif entry['type'] == 'stream':
            for fields in entry['value']:
                if 'exc_string' in fields:
                    fields['exc_string'] = _traceback_tail(fields['exc_string'], encoded=True)
    # Checked on its own by test_a_returned_retry_stays_in_the_job_hash_like_upstream.
    data['rq:job:retry_rv']['value'].pop('result', None)
    return data


def test_raw_data_is_what_upstream_writes(runs: Runs) -> None:
    """Every key, type, TTL, hash field, stream entry and registry score (times by format, scores
    within a few seconds), including the callbacks' keys and the workers' counters."""
    ours, theirs = comparable(runs.ours_raw), comparable(runs.theirs_raw)
    assert 'rq:results:retry_rv' in theirs and f'rq:worker:{WORKER}' in theirs and 'callback:success:cb' in theirs
    # Scores are "now + ttl" at the end of each job: the two runs are up to a minute apart
    # (SpawnWorker starts an interpreter per job), far less than any ttl compared here.
    assert diff(ours, theirs, tolerance=60.0) == []


def test_a_returned_retry_stays_in_the_job_hash_like_upstream(captured: Runs) -> None:
    theirs = captured.theirs_raw['rq:job:retry_rv']['value'].get('result')
    assert theirs is not None and b'rq.job' in theirs and b'Retry' in theirs  # upstream's own behaviour
    assert captured.ours_raw['rq:job:retry_rv']['value'].get('result') == theirs


def test_spot_checks(runs: Runs) -> None:
    """Values, not only agreement: callbacks ran, meta saved by the jobs survived."""
    raw = runs.ours_raw
    assert raw['callback:success:cb']['value'] == b'10'
    assert raw['callback:success:gone']['value'] == b'7'
    assert raw['callback:failure:cbf']['value'] == b'ValueError: in cbf'
    assert 'rq:job:gone' not in raw and 'rq:results:gone' not in raw
    assert raw['flaky:flaky']['value'] == b'3'
    jobs = runs.read_by_upstream['ours']['jobs']
    assert jobs['meta_job']['meta'] == repr(sorted({'owner': 'me', 'progress': 100}.items()))
    assert jobs['meta_fail']['meta'] == repr(sorted({'owner': 'you', 'seen': 'x'}.items()))
    assert jobs['json_meta']['meta'] == repr([('p', [1])])
    assert raw['rq:job:retry_rv']['value']['number_of_retries'] == b'2'
    assert raw['rq:job:retried']['value']['retries_left'] == b'0'


def test_no_process_is_left_behind(captured: Runs) -> None:
    """Every horse the worker started was waited for: none is left as a zombie of the worker's process."""
    assert captured.zombies == 0
