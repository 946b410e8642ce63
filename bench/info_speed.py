"""``rq info`` with a million jobs in queues and registries: ours against upstream rq 2.12.0's.

    hatch run bench-info [--jobs 1000000] [--queues 4] [--workers 10] [--rounds 5]

Both commands run as real processes (interpreter start-up included) on the same Redis and the same
data (``_info_fill.py``), alternating, in table mode and with ``--raw``, in two situations:

- ``live``: every registry entry is current;
- ``expired``: the finished and failed entries have expired but nobody has cleaned them up yet (as
  between two maintenance passes). Upstream deletes them before counting, ours counts around them;
  they are written again before every run, so each run meets the same data.

Prints the median and best wall time of each, the Redis commands one run sends and the time Redis
spent on them, and the ratio upstream/ours. The ``--raw`` queue lines of the two must agree.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / 'tests' / 'support'))

from _info_fill import fill, set_expired  # noqa: E402
from redis_server import RedisServer  # noqa: E402
from upstream import upstream_python  # noqa: E402

MODES = {'tables': [], 'raw': ['--raw']}
SITUATIONS = ('live', 'expired')
IMPLEMENTATIONS = ('upstream', 'ours')


def rq_command(python: Path) -> list[str]:
    script = python.parent / 'rq'
    return [str(script)] if script.exists() else [str(python), '-m', 'rq.cli']


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(('RQ_', 'REDIS_')) and k != 'PYTHONPATH'}
    env.update(COLUMNS='120', NO_COLOR='1')
    return env


def run_info(command: list[str], url: str, extra: list[str], workdir: str) -> tuple[float, str]:
    started = time.perf_counter()
    completed = subprocess.run(
        [*command, 'info', '-u', url, *extra], capture_output=True, text=True, env=clean_env(), cwd=workdir, timeout=600
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f'{" ".join(command)} info failed:\n{completed.stdout}\n{completed.stderr}')
    return elapsed, completed.stdout


def redis_cost(connection: redis.Redis, run: Callable[[], object]) -> tuple[int, float]:
    """Commands sent and milliseconds Redis spent on them while ``run()`` ran."""
    connection.config_resetstat()
    run()
    stats = connection.info('commandstats')
    own = ('cmdstat_config', 'cmdstat_info')
    relevant = [value for name, value in stats.items() if not name.startswith(own)]
    return sum(int(v['calls']) for v in relevant), sum(float(v['usec']) for v in relevant) / 1000


def queue_lines(raw_output: str) -> list[str]:
    return sorted(line for line in raw_output.splitlines() if line.startswith('queue '))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--jobs', type=int, default=1_000_000)
    parser.add_argument('--queues', type=int, default=4)
    parser.add_argument('--workers', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=5)
    args = parser.parse_args()
    commands = {'ours': rq_command(Path(sys.executable)), 'upstream': rq_command(upstream_python())}
    server = RedisServer()
    server.start()
    connection = redis.Redis(port=server.port)
    times: dict[tuple[str, str, str], list[float]] = {}
    costs: dict[tuple[str, str, str], tuple[int, float]] = {}
    try:
        started = time.perf_counter()
        fill(connection, args.jobs, args.queues, args.workers)
        print(f'filled {args.jobs:,} job ids in {time.perf_counter() - started:.1f} s', flush=True)
        with tempfile.TemporaryDirectory() as workdir:
            for situation in SITUATIONS:

                def prepare(situation: str = situation) -> None:
                    set_expired(connection, args.jobs, args.queues, expired=situation == 'expired')

                prepare()
                raw = {name: run_info(commands[name], server.url, ['--raw'], workdir)[1] for name in IMPLEMENTATIONS}
                if queue_lines(raw['ours']) != queue_lines(raw['upstream']):
                    raise SystemExit(f'the two disagree ({situation}):\n{raw["ours"]}\n---\n{raw["upstream"]}')
                print(f'{situation}: {queue_lines(raw["ours"])[0]} ...', flush=True)
                for name in IMPLEMENTATIONS:
                    for mode, extra in MODES.items():
                        prepare()
                        costs[(situation, name, mode)] = redis_cost(
                            connection, lambda c=commands[name], e=extra: run_info(c, server.url, e, workdir)
                        )
                for round_number in range(args.rounds):
                    order = IMPLEMENTATIONS if round_number % 2 == 0 else IMPLEMENTATIONS[::-1]
                    for mode, extra in MODES.items():
                        for name in order:
                            prepare()
                            elapsed, _ = run_info(commands[name], server.url, extra, workdir)
                            times.setdefault((situation, name, mode), []).append(elapsed)
    finally:
        connection.close()
        server.stop()
    report(args, times, costs)


def report(
    args: argparse.Namespace,
    times: dict[tuple[str, str, str], list[float]],
    costs: dict[tuple[str, str, str], tuple[int, float]],
) -> None:
    print(
        f'\nrq info, {args.jobs:,} job ids over {args.queues} queues (list + 6 registries each), '
        f'{args.workers} workers,'
        f' {args.rounds} rounds (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs); wall time includes start-up'
    )
    print(f'{"situation":<11}{"mode":<8}{"impl":<10}{"median s":>10}{"best s":>9}{"commands":>10}{"redis ms":>10}')
    for situation in SITUATIONS:
        for mode in MODES:
            medians = {}
            for name in IMPLEMENTATIONS:
                runs = times[(situation, name, mode)]
                medians[name] = statistics.median(runs)
                calls, milliseconds = costs[(situation, name, mode)]
                print(
                    f'{situation:<11}{mode:<8}{name:<10}{medians[name]:>10.3f}{min(runs):>9.3f}'
                    f'{calls:>10}{milliseconds:>10.1f}'
                )
            ratio = medians['upstream'] / medians['ours']
            print(f'{situation:<11}{mode:<8}{"ratio":<10}{ratio:>9.2f}x  (upstream time / ours)')


if __name__ == '__main__':
    main()
