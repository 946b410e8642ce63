"""I/O-bound jobs drained by ONE worker process running many at once: ours (``python -m rq.worker
--concurrency N``, a ConcurrentWorker) against SAQ, arq, Celery (threads pool) and Dramatiq (threads),
in the same run and on the same private Redis.

    hatch run bench-io [--jobs 2000] [--quick]

Job kinds: ``sleep_sync`` (``time.sleep(0.05)``), ``sleep_async`` (``await asyncio.sleep(0.05)``) and
``noop`` (a trivial job). For each kind, concurrency (10, 50) and implementation: Redis is flushed, N
jobs are enqueued, then one worker process starts with that concurrency. Time runs from the first
job's start to the last job's end, as the jobs themselves record them (``_io_jobs.py``), so that
interpreter start-up is left out alike for all. Prints jobs/s, % of the ideal rate (concurrency / 0.05 s
for the sleeping jobs) and the ratios ours/peer.

Each peer runs in its own virtualenv, ``.cache/bench-<peer>-<pin hash>/``, built on first use from
``constraints/bench-<peer>.txt``; how each is driven is told in its module (``_io_<peer>.py``). Ours
also runs its ``SimpleWorker`` (one job at a time) as the baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / 'tests' / 'support'))

from pinned_venv import file_digest, pinned_python  # noqa: E402
from redis_server import RedisServer  # noqa: E402

KINDS = ('sleep_sync', 'sleep_async', 'noop')
SLEEP = 0.05
OURS_UNAVAILABLE = 'ours: not available (python -m rq.worker --concurrency refused the option)'
_FOREIGN = ('PYTHONPATH', 'PYTHONHOME', 'PIP_CONSTRAINT', 'PIP_BUILD_CONSTRAINT', 'PIP_REQUIREMENT')


def ours_worker_command(python: str, url: str, concurrency: int | None) -> list[str]:
    """Our worker: ``python -m rq.worker --burst --concurrency N``; with ``concurrency`` None, the
    ``SimpleWorker``, one job at a time."""
    command = [python, '-m', 'rq.worker', '--burst', '--url', url, '--logging-level', 'WARNING']
    if concurrency is None:
        command += ['--worker-class', 'SimpleWorker']
    else:
        command += ['--concurrency', str(concurrency)]
    return [*command, 'bench']


def celery_worker(python: str, concurrency: int) -> list[str]:
    command = [python, '-m', 'celery', '-A', '_io_celery', 'worker', '--pool', 'threads']
    command += ['--concurrency', str(concurrency), '--without-gossip', '--without-mingle', '--without-heartbeat']
    return [*command, '--loglevel', 'WARNING', '-Q', 'bench']


def dramatiq_worker(python: str, concurrency: int) -> list[str]:
    return [python, '-m', 'dramatiq', '_io_dramatiq', '--processes', '1', '--threads', str(concurrency), '-Q', 'bench']


@dataclass(frozen=True)
class Peer:
    name: str
    requirements: tuple[str, ...]
    #: The worker's command, from the venv's python and the concurrency.
    worker: Callable[[str, int], list[str]]
    #: How the peer runs each job kind, printed under the table.
    note: str

    #: The virtualenv, constraints file and driver module (``_io_<venv>.py``) it uses.
    venv: str

    def constraints(self) -> Path:
        return ROOT / 'constraints' / f'bench-{self.venv}.txt'

    def python(self) -> str:
        digest = file_digest(self.constraints(), f'{self.requirements[0]} and its dependencies')
        directory = ROOT / '.cache' / f'bench-{self.venv}-{digest}'
        if not (directory / '.installed').exists():
            print(f'building {directory.relative_to(ROOT)} ({self.requirements[0]}, first use)...', flush=True)
        return str(pinned_python(directory, self.constraints(), self.requirements))


PEERS = (
    Peer(
        'saq',
        ('saq[redis]==0.26.4', 'typing_extensions'),
        lambda python, n: [python, '_io_saq.py', 'work', str(n)],
        'saq: Worker(concurrency=N); coroutine jobs on its loop; the time.sleep job is a plain function, '
        'which SAQ runs on its own ThreadPoolExecutor() of min(32, CPUs + 4) threads whatever N',
        'saq',
    ),
    Peer(
        'arq',
        ('arq==0.28.0',),
        lambda python, n: [python, '_io_arq.py', 'work', str(n)],
        'arq: Worker(max_jobs=N), defaults otherwise: it polls every 0.5 s (poll_delay) and starts at most '
        'max_jobs per poll; arq runs coroutines only: the time.sleep job awaits run_in_executor on a '
        'ThreadPoolExecutor(N), as arq documents',
        'arq',
    ),
    Peer(
        'arq-poll5ms',
        ('arq==0.28.0',),
        lambda python, n: [python, '_io_arq.py', 'work', str(n), '0.005'],
        'arq-poll5ms: the same with poll_delay=0.005 s, arq tuned for throughput',
        'arq',
    ),
    Peer(
        'celery',
        ('celery[redis]==5.7.0',),
        celery_worker,
        'celery: worker --pool threads --concurrency N; the asyncio job runs asyncio.run() inside the task',
        'celery',
    ),
    Peer(
        'dramatiq',
        ('dramatiq[redis]==2.2.1',),
        dramatiq_worker,
        'dramatiq: --processes 1 --threads N; the async def actor runs through its AsyncIO middleware',
        'dramatiq',
    ),
)


@dataclass(frozen=True)
class Result:
    """One run: a rate, or why there is none (``missing``)."""

    jobs: int = 0
    seconds: float = 0.0
    missing: str = ''
    #: Said after the rate (a job that ran twice).
    note: str = ''

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds if self.seconds > 0 else 0.0


def environment(url: str, records: Path, concurrency: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN}
    env.update(
        PYTHONPATH=str(HERE),
        BENCH_REDIS_URL=url,
        BENCH_IO_RECORDS=str(records),
        BENCH_IO_CONCURRENCY=str(concurrency),
    )
    return env


def count_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b'\n')
    except FileNotFoundError:
        return 0


def stop(process: subprocess.Popen[bytes], burst: bool) -> None:
    """Let a burst worker exit by itself; ask the others to stop (SIGTERM), then kill what is left."""
    if burst:
        try:
            process.wait(timeout=30)
            return
        except subprocess.TimeoutExpired:
            pass
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)  # its own session (start_new_session): the worker and its children
        process.wait()


def run_one(
    producer: list[str], worker: list[str], env: dict[str, str], jobs: int, concurrency: int, burst: bool
) -> Result:
    """Enqueue ``jobs`` jobs with ``producer``, start ``worker``, wait until every job has recorded its
    end (or the worker exits before), stop the worker and read the records."""
    records = Path(env['BENCH_IO_RECORDS'])
    enqueued = subprocess.run(producer, env=env, cwd=HERE, capture_output=True, text=True, timeout=600)
    if enqueued.returncode != 0:
        return Result(missing=f'enqueueing failed: {(enqueued.stdout + enqueued.stderr).strip()[-2000:]}')
    log_path = records.with_suffix('.log')
    with open(log_path, 'wb') as log:
        process = subprocess.Popen(worker, env=env, cwd=HERE, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 120 + 3 * jobs * SLEEP / concurrency + 0.02 * jobs
    try:
        while count_lines(records) < jobs and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop(process, burst)
    log_text = log_path.read_text(errors='replace')
    done = count_lines(records)
    if done < jobs:
        if '--concurrency' in log_text and ('unrecognized arguments' in log_text or 'usage:' in log_text):
            return Result(missing=OURS_UNAVAILABLE)
        why = 'timed out' if process.returncode in (-signal.SIGTERM, -signal.SIGKILL) else f'exit {process.returncode}'
        return Result(missing=f'only {done} of {jobs} jobs done ({why}): {log_text.strip()[-1500:]}')
    pairs = [line.split() for line in records.read_text().splitlines()]
    first_start = min(float(start) for start, _ in pairs)
    last_end = max(float(end) for _, end in pairs)
    twice = f'  ({done - jobs} more runs than jobs: some job ran twice)' if done > jobs else ''
    return Result(jobs=jobs, seconds=last_end - first_start, note=twice)


def ideal(kind: str, concurrency: int) -> float | None:
    return concurrency / SLEEP if kind != 'noop' else None


def describe(result: Result, kind: str, concurrency: int) -> str:
    if result.missing:
        return result.missing.strip().splitlines()[-1][:110]  # (the full message was printed as the run ended)
    best = ideal(kind, concurrency)
    share = f'{100 * result.rate / best:>7.1f}%' if best else f'{"-":>8}'
    return f'{result.rate:>9.0f}{share}{result.note}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--jobs', type=int, help='jobs per run (default 2000; 200 with --quick)')
    parser.add_argument('--quick', action='store_true', help='a smoke run: 200 jobs, concurrency 10 only')
    parser.add_argument(
        '--baseline-jobs',
        type=int,
        help='sleeping jobs for the SimpleWorker baseline, which runs them one by one (default: jobs / 10)',
    )
    parser.add_argument('--peers', default=','.join(p.name for p in PEERS), help='comma-separated subset of peers')
    args = parser.parse_args()
    jobs = args.jobs or (200 if args.quick else 2000)
    concurrencies = (10,) if args.quick else (10, 50)
    baseline_jobs = args.baseline_jobs or max(1, jobs // 10)
    peers = [p for p in PEERS if p.name in args.peers.split(',')]
    pythons = {peer.name: peer.python() for peer in peers}  # (built before the clock matters)

    server = RedisServer()
    server.start()
    url = server.url
    connection = redis.Redis.from_url(url)
    workdir = Path(tempfile.mkdtemp(prefix='bench-io-'))
    results: dict[tuple[str, int, str], Result] = {}

    def measure(name: str, kind: str, concurrency: int, n: int, producer: list[str], worker: list[str]) -> None:
        connection.flushall()
        env = environment(url, workdir / f'{name}-{kind}-{concurrency}.txt', concurrency)
        result = run_one(producer, worker, env, n, concurrency, burst=name.startswith('ours'))
        results[(name, concurrency, kind)] = result
        shown = result.missing if result.missing else describe(result, kind, concurrency)
        print(f'  {kind:<12}{concurrency:>4}  {name:<14}{shown}', flush=True)

    try:
        print('runs as they finish:', flush=True)
        for kind in KINDS:
            n = baseline_jobs if kind != 'noop' else jobs
            ours_producer = [sys.executable, '_io_rq.py', 'enqueue', kind, str(n)]
            measure('ours-simple', kind, 1, n, ours_producer, ours_worker_command(sys.executable, url, None))
            for concurrency in concurrencies:
                ours_producer = [sys.executable, '_io_rq.py', 'enqueue', kind, str(jobs)]
                ours = ours_worker_command(sys.executable, url, concurrency)
                measure('ours', kind, concurrency, jobs, ours_producer, ours)
                for peer in peers:
                    python = pythons[peer.name]
                    producer = [python, f'_io_{peer.venv}.py', 'enqueue', kind, str(jobs)]
                    measure(peer.name, kind, concurrency, jobs, producer, peer.worker(python, concurrency))
    finally:
        connection.close()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    report(results, peers, jobs, baseline_jobs, concurrencies)


def report(
    results: dict[tuple[str, int, str], Result],
    peers: list[Peer],
    jobs: int,
    baseline_jobs: int,
    concurrencies: tuple[int, ...],
) -> None:
    print()
    print(
        f'{jobs} jobs per run, one worker process each, same Redis; time from the first job start to the last '
        f'job end (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)'
    )
    print(f'{"kind":<12}{"conc":>5}  {"impl":<14}{"jobs/s":>9}{"% ideal":>8}')
    for kind in KINDS:
        for concurrency in concurrencies:
            for name in ('ours', *(p.name for p in peers)):
                result = results[(name, concurrency, kind)]
                print(f'{kind:<12}{concurrency:>5}  {name:<14}{describe(result, kind, concurrency)}')
            ours = results[('ours', concurrency, kind)]
            if not ours.missing:
                ratios = []
                for peer in peers:
                    theirs = results[(peer.name, concurrency, kind)]
                    ratios.append(
                        f'{peer.name} {ours.rate / theirs.rate:.2f}x' if not theirs.missing else f'{peer.name} -'
                    )
                print(f'{"":<19}ours/peer: {", ".join(ratios)}')
    print(f'baseline, ours SimpleWorker (concurrency 1; {baseline_jobs} sleeping jobs, {jobs} noop):')
    for kind in KINDS:
        print(f'{kind:<12}{1:>5}  {"ours-simple":<14}{describe(results[("ours-simple", 1, kind)], kind, 1)}')
    print('targets (issue 16):')
    top = max(concurrencies)
    for kind in ('sleep_sync', 'sleep_async'):
        ours = results[('ours', top, kind)]
        if ours.missing:
            print(f'  {kind} at concurrency {top}: n/a ({OURS_UNAVAILABLE})')
            continue
        share = ours.rate / (top / SLEEP)
        beaten = [p.name for p in peers if not results[(p.name, top, kind)].missing]
        ahead = all(ours.rate > results[(name, top, kind)].rate for name in beaten)
        verdict = 'met' if share >= 0.9 and ahead else 'MISSED'
        peers_text = ', '.join(beaten)
        print(f'  {kind} at concurrency {top}: {100 * share:.1f}% of ideal (>= 90%), ahead of {peers_text}: {verdict}')
    ours_noop, simple_noop = results[('ours', 10, 'noop')], results[('ours-simple', 1, 'noop')]
    if ours_noop.missing or simple_noop.missing:
        print(f'  noop at concurrency 10 vs SimpleWorker: n/a ({ours_noop.missing or simple_noop.missing})')
    else:
        ratio = ours_noop.rate / simple_noop.rate
        print(f'  noop at concurrency 10 vs SimpleWorker: {ratio:.2f}x (>= 1): {"met" if ratio >= 1 else "MISSED"}')
    print('how each peer runs (see bench/_io_<peer>.py):')
    for peer in peers:
        print(f'  {peer.note}')


if __name__ == '__main__':
    main()
