"""Producers side by side: how fast ours enqueues no-op jobs against upstream rq 2.12.0, Huey, SAQ,
Dramatiq and arq, in the same run and on the same private Redis.

    hatch run bench-enqueue [--jobs 5000] [--rounds 5] [--no-memory]
    hatch run bench-enqueue --quick    # a smoke run: 500 jobs, 1 round, memory at 1,000 and 10,000

Every figure comes from a fresh process running one driver, ``_enqueue_<impl>.py`` (the same shape
for all, told in ``_enqueue_common.py``): it connects, warms up with 200 enqueues done the same way,
then times N enqueues and prints its figures as JSON. Ours runs with this environment's python;
upstream in the virtualenv of the interop tests (constraints/upstream-rq-2.12.0.txt, built by
tests/support/upstream.py); each peer in its own, ``.cache/bench-<peer>-<pin hash>/``, built on first
use from ``constraints/bench-<peer>.txt``. Redis is flushed before every run.

1. single: N jobs enqueued one call at a time (``queue.enqueue(noop)``; Huey: calling a task;
   Dramatiq: ``actor.send()``; SAQ and arq, asyncio only: one coroutine awaiting each enqueue).
2. bulk: N jobs in one ``enqueue_many([Queue.prepare_data(noop), ...])`` call, ours and upstream
   (target: ours >= 3x upstream). SAQ has no bulk enqueue (see ``_enqueue_saq.py``).
3. bulk memory: the peak traced memory (tracemalloc) during one ``enqueue_many`` call of 10,000 and of
   100,000 jobs, in bytes per job, once per implementation (target: flat, at most 1.25x the 10,000
   figure at 100,000).
4. asyncio single: ours through ``rq.asyncio.Queue``, one coroutine awaiting each enqueue (target:
   at least 0.8 of our synchronous rate). While ``rq.asyncio`` cannot be imported, the rows of ours
   async say so and everything else runs.
5. asyncio concurrent: 100 coroutines (``asyncio.gather``) sharing one client, N / 100 enqueues each:
   ours (``rq.asyncio``), arq (one ``ArqRedis`` pool), SAQ (one ``Queue``); target: ours ahead of both.

Measurements 1, 2, 4 and 5 repeat for ``--rounds`` rounds, the implementations in an order rotated
each round, so that a busy moment of the machine weighs on all; the tables give medians and each
round's rate. Ratios are ours/peer of the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / 'tests' / 'support'))
sys.path.insert(0, str(HERE))

from _enqueue_common import WARMUP  # noqa: E402
from _enqueue_report import Result, report  # noqa: E402
from pinned_venv import file_digest, pinned_python  # noqa: E402
from redis_server import RedisServer  # noqa: E402
from upstream import upstream_python  # noqa: E402

_FOREIGN = ('PYTHONPATH', 'PYTHONHOME', 'PIP_CONSTRAINT', 'PIP_BUILD_CONSTRAINT', 'PIP_REQUIREMENT')
#: Jobs per ``enqueue_many`` call in the memory measurement (tenfold fewer with --quick).
MEMORY_SIZES = (10_000, 100_000)
RUN_TIMEOUT = 900


@dataclass(frozen=True)
class Impl:
    """One implementation: its label, driver module and where its interpreter comes from."""

    label: str
    driver: str
    #: ``'ours'``: this interpreter; ``'upstream'``: the interop tests' virtualenv; else the peer's
    #: virtualenv, built from ``constraints/bench-<venv>.txt`` with ``requirements``.
    venv: str
    requirements: tuple[str, ...] = ()

    def python(self) -> str:
        if self.venv == 'ours':
            return sys.executable
        if self.venv == 'upstream':
            return str(upstream_python())
        constraints = ROOT / 'constraints' / f'bench-{self.venv}.txt'
        digest = file_digest(constraints, f'{self.requirements[0]} and its dependencies')
        directory = ROOT / '.cache' / f'bench-{self.venv}-{digest}'
        if not (directory / '.installed').exists():
            print(f'building {directory.relative_to(ROOT)} ({self.requirements[0]}, first use)...', flush=True)
        return str(pinned_python(directory, constraints, self.requirements))


OURS = Impl('ours', '_enqueue_rq.py', 'ours')
OURS_ASYNC = Impl('ours async', '_enqueue_rq_async.py', 'ours')
UPSTREAM = Impl('upstream', '_enqueue_rq.py', 'upstream')
HUEY = Impl('huey', '_enqueue_huey.py', 'huey', ('huey[redis]==3.5.4',))
SAQ = Impl('saq', '_enqueue_saq.py', 'saq', ('saq[redis]==0.26.4', 'typing_extensions'))
DRAMATIQ = Impl('dramatiq', '_enqueue_dramatiq.py', 'dramatiq', ('dramatiq[redis]==2.2.1',))
ARQ = Impl('arq', '_enqueue_arq.py', 'arq', ('arq==0.28.0',))

#: The repeated measurements: name -> (implementation, driver mode) in the order of the first round.
MEASUREMENTS: dict[str, tuple[tuple[Impl, str], ...]] = {
    'single': (
        (OURS, 'single'),
        (UPSTREAM, 'single'),
        (HUEY, 'single'),
        (SAQ, 'single'),
        (DRAMATIQ, 'single'),
        (ARQ, 'single'),
        (OURS_ASYNC, 'single'),
    ),
    'bulk': ((OURS, 'bulk'), (UPSTREAM, 'bulk')),
    'concurrent': ((OURS_ASYNC, 'concurrent'), (ARQ, 'concurrent'), (SAQ, 'concurrent')),
}


def environment(url: str) -> dict[str, str]:
    """The drivers' environment: ours without hatch's pip and path settings, the bench folder on the
    path (for ``_enqueue_common`` and ``bench_jobs``) and the Redis URL."""
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN}
    env.update(PYTHONPATH=str(HERE), BENCH_REDIS_URL=url)
    return env


def drive(python: str, impl: Impl, mode: str, jobs: int, env: dict[str, str]) -> Result:
    """Run ``impl``'s driver once in a fresh process and read the JSON it printed; a failure becomes a
    Result that says why (``missing``)."""
    command = [python, impl.driver, mode, str(jobs)]
    try:
        completed = subprocess.run(command, env=env, cwd=HERE, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return Result(missing=f'timed out after {RUN_TIMEOUT} s')
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    if completed.returncode != 0 or not lines:
        output = (completed.stdout + completed.stderr).strip()[-2000:]
        return Result(missing=f'failed (exit {completed.returncode}): {output}')
    try:
        document = json.loads(lines[-1])
    except json.JSONDecodeError:
        return Result(missing=f'printed no JSON: {completed.stdout.strip()[-2000:]}')
    if 'missing' in document:
        return Result(missing=f'not available ({document["missing"]})')
    expected = jobs + WARMUP
    queued = document.get('queued')
    note = f' (queue holds {queued}, {expected} expected)' if queued is not None and queued != expected else ''
    return Result(
        jobs=jobs,
        seconds=document['seconds'],
        version=document['version'],
        peak_bytes=document.get('peak_bytes', 0),
        note=note,
    )


def rotated(items: tuple[tuple[Impl, str], ...], turn: int) -> tuple[tuple[Impl, str], ...]:
    shift = turn % len(items)
    return items[shift:] + items[:shift]


def show(measurement: str, label: str, result: Result, round_text: str) -> None:
    """One run's outcome, as it finishes (a failure in full, once)."""
    figure = f'{result.bytes_per_job:>9,.0f} B/job' if measurement == 'memory' else f'{result.rate:>9.0f} jobs/s'
    shown = result.missing if result.missing else f'{figure}{result.note}'
    print(f'  {round_text:<12}{measurement:<12}{label:<12}{shown}', flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--jobs', type=int, help='jobs per run (default 5000; 500 with --quick)')
    parser.add_argument('--rounds', type=int, help='rounds of measurements 1, 2, 4, 5 (default 5; 1 with --quick)')
    parser.add_argument('--no-memory', action='store_true', help='skip the bulk memory measurement (3)')
    parser.add_argument(
        '--quick', action='store_true', help='a smoke run: 500 jobs, 1 round, memory at 1,000 and 10,000 jobs'
    )
    args = parser.parse_args()
    jobs = args.jobs or (500 if args.quick else 5000)
    rounds = args.rounds or (1 if args.quick else 5)
    sizes = tuple(size // 10 for size in MEMORY_SIZES) if args.quick else MEMORY_SIZES
    impls = {impl.label: impl for runs in MEASUREMENTS.values() for impl, _ in runs}
    pythons = {label: impl.python() for label, impl in impls.items()}  # (built before the clock matters)

    server = RedisServer()
    server.start()
    connection = redis.Redis.from_url(server.url)
    env = environment(server.url)
    results: dict[tuple[str, str], list[Result]] = {}
    memory: dict[tuple[str, int], Result] = {}
    try:
        print('runs as they finish:', flush=True)
        for turn in range(rounds):
            for measurement, runs in MEASUREMENTS.items():
                for impl, mode in rotated(runs, turn):
                    earlier = results.setdefault((measurement, impl.label), [])
                    if earlier and earlier[0].missing:  # not available or failed: said once
                        continue
                    connection.flushall()
                    result = drive(pythons[impl.label], impl, mode, jobs, env)
                    earlier.append(result)
                    show(measurement, impl.label, result, f'round {turn + 1}')
        if not args.no_memory:
            for size in sizes:
                for impl in (OURS, UPSTREAM):
                    connection.flushall()
                    memory[(impl.label, size)] = result = drive(pythons[impl.label], impl, 'memory', size, env)
                    show('memory', impl.label, result, f'{size} jobs')
    finally:
        connection.close()
        server.stop()

    report(results, memory, jobs, rounds, sizes)


if __name__ == '__main__':
    main()
