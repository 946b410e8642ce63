"""How long a burst worker on an empty queue takes to start and stop: ours against upstream rq
2.12.0, each with the redis-py of the pinned environment (8.2) and with the oldest one our packages
declare, in the same run and on the same Redis.

    hatch run bench-stop [--rounds 7]

redis-py 8.2 made ``PubSubWorkerThread.stop()`` join its thread, which can sit in a read for its
whole poll interval: a worker that stops its command listener that way waits for it. Each round
starts a fresh process per implementation, redis-py version and worker class (see ``_stop.py``),
alternating the order; the figures are the median and the worst time of ``work(burst=True)`` from
call to return.

Ours runs in the Hatch environments ``default`` (constraints/pinned.txt) and ``oldest``
(constraints/oldest.txt); upstream in virtualenvs under ``.cache/`` built from
constraints/upstream-rq-2.12.0.txt with only redis-py changed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / 'tests' / 'support'))

from redis_server import RedisServer  # noqa: E402

CLASSES = ('Worker', 'SimpleWorker')
UPSTREAM_CONSTRAINTS = ROOT / 'constraints' / 'upstream-rq-2.12.0.txt'


def pinned_version(constraints: Path, package: str) -> str:
    for line in constraints.read_text().splitlines():
        if line.lower().startswith(f'{package}=='):
            return line.split('==', 1)[1].strip()
    raise SystemExit(f'{constraints} pins no {package}')


def clean_env() -> dict[str, str]:
    dropped = ('PYTHONPATH', 'PYTHONHOME', 'PIP_CONSTRAINT', 'PIP_BUILD_CONSTRAINT')
    return {k: v for k, v in os.environ.items() if k not in dropped}


def hatch_python(env: str) -> str:
    found = subprocess.run(['hatch', 'env', 'find', env], capture_output=True, text=True, check=True, cwd=ROOT)
    python = Path(found.stdout.strip()) / 'bin' / 'python'
    if not python.exists():
        subprocess.run(['hatch', 'env', 'create', env], check=True, cwd=ROOT, env=clean_env())
    return str(python)


def upstream_python(redis_version: str) -> str:
    """Upstream rq 2.12.0 with ``redis==redis_version``, in its own virtualenv under .cache/."""
    directory = ROOT / '.cache' / f'bench-upstream-rq-2.12.0-redis-{redis_version}'
    python = directory / 'bin' / 'python'
    marker = directory / '.installed'
    constraints = [
        line for line in UPSTREAM_CONSTRAINTS.read_text().splitlines() if not line.lower().startswith('redis==')
    ]
    wanted = '\n'.join([*constraints, f'redis=={redis_version}'])
    if marker.exists() and marker.read_text() == wanted:
        return str(python)
    venv.EnvBuilder(with_pip=True, clear=True).create(directory)
    (directory / 'constraints.txt').write_text(wanted + '\n')
    pip = [str(python), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check']
    subprocess.run(
        [*pip, '-c', str(directory / 'constraints.txt'), 'rq', 'redis'],
        check=True,
        env=clean_env(),
    )
    marker.write_text(wanted)
    return str(python)


def stop_time(python: str, port: int, worker_class: str) -> dict[str, object]:
    env = clean_env()
    env['PYTHONPATH'] = str(HERE)
    completed = subprocess.run(
        [python, str(HERE / '_stop.py'), '--port', str(port), '--worker-class', worker_class],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(HERE),
        timeout=300,
    )
    if completed.returncode != 0:
        raise SystemExit(f'{python} failed:\n{completed.stdout}\n{completed.stderr}')
    result: dict[str, object] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--rounds', type=int, default=7)
    args = parser.parse_args()
    newest = pinned_version(ROOT / 'constraints' / 'pinned.txt', 'redis')
    oldest = pinned_version(ROOT / 'constraints' / 'oldest.txt', 'redis')
    pythons = {
        ('ours', newest): hatch_python('default'),
        ('ours', oldest): hatch_python('oldest'),
        ('upstream', newest): upstream_python(newest),
        ('upstream', oldest): upstream_python(oldest),
    }
    server = RedisServer()
    server.start()
    seconds: dict[tuple[str, str, str], list[float]] = {}
    try:
        for round_number in range(args.rounds):
            order = list(pythons.items())
            if round_number % 2:
                order.reverse()
            for worker_class in CLASSES:
                for (implementation, redis_version), python in order:
                    result = stop_time(python, server.port, worker_class)
                    if result['redis_py'] != redis_version:
                        raise SystemExit(f'{python} has redis-py {result["redis_py"]}, not {redis_version}')
                    key = (implementation, redis_version, worker_class)
                    seconds.setdefault(key, []).append(float(str(result['seconds'])))
    finally:
        server.stop()

    print(
        f'work(burst=True) on an empty queue, from call to return: median of {args.rounds} rounds '
        f'(Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)'
    )
    print(
        f'{"worker class":<14}{"redis-py":<10}{"upstream median":>16}{"ours median":>13}'
        f'{"upstream worst":>16}{"ours worst":>12}'
    )
    for worker_class in CLASSES:
        for redis_version in (newest, oldest):
            theirs = seconds[('upstream', redis_version, worker_class)]
            ours = seconds[('ours', redis_version, worker_class)]
            print(
                f'{worker_class:<14}{redis_version:<10}{statistics.median(theirs):>15.3f}s'
                f'{statistics.median(ours):>12.3f}s{max(theirs):>15.3f}s{max(ours):>11.3f}s'
            )
        for implementation in ('upstream', 'ours'):
            for redis_version in (newest, oldest):
                listed = ' '.join(f'{s:.2f}' for s in seconds[(implementation, redis_version, worker_class)])
                print(f'{"":<14}{implementation} {redis_version}: {listed}')


if __name__ == '__main__':
    main()
