"""Run the test suite against the newest releases and against the oldest declared versions.

Usage: ``python scripts/dependency_envs.py [--env newest|oldest] [--strict] [pytest args...]``
or ``python scripts/dependency_envs.py --check-pinned`` (inside an environment: does it hold exactly
what ``constraints/pinned.txt`` pins?).

The pinned environments (``constraints/pinned.txt``) decide whether CI is green; this script tells
what a new release elsewhere would change, and whether the lower bounds the packages declare
(``redis>=``, ``click>=``, ``rich>=``, ``croniter>=``, ``fakeredis>=``) are true:

- ``oldest`` (``constraints/oldest.txt``, pinned too): a failure is ours and fails the run.
- ``newest``: created afresh on every run, so it holds whatever PyPI offers today. A failure is
  reported by name, with the versions that differ from the pins, and does not fail the run unless
  ``--strict`` is given: a release elsewhere must not turn main red overnight; the next session
  sees the report and moves the pins (``scripts/pin_dependencies.py``) once the code copes.

Both run :data:`SELECTION`: the tests that exercise each runtime dependency, about three quarters
of the suite in half its time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / 'constraints'
#: What the newest and oldest environments run: the tests that exercise each runtime dependency
#: (redis-py everywhere, click and rich in tests/cli, croniter in the cron runs and time zones,
#: fakeredis in tests/testing), without the slowest worker-process files (crashes, callbacks,
#: signals, pools), the ones that test rq's own rules rather than a dependency (work options, retry
#: and repeat), packaging and interop (whose virtualenvs do not change with ours).
SELECTION = [
    'tests/core',
    'tests/cli',
    'tests/testing',
    'tests/cron/test_cron_runs.py',
    'tests/cron/test_cron_timezones.py',
    'tests/cron/test_scheduler_moves.py',
    'tests/worker/test_command_listener.py',
    'tests/worker/test_commands.py',
    'tests/worker/test_resilience.py',
    'tests/worker/test_worker_lifecycle.py',
    '-m',
    'not upstream and not install',
]


@dataclass
class Outcome:
    env: str
    passed: bool
    seconds: float
    changed: list[str]


def hatch(*args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ('PIP_CONSTRAINT', 'PIP_BUILD_CONSTRAINT')}
    return subprocess.run(['hatch', *args], cwd=ROOT, env=environment, capture_output=capture, text=True)


def versions(lines: list[str]) -> dict[str, str]:
    pairs = (line.split('==', 1) for line in lines if '==' in line and not line.startswith('#'))
    return {name.lower(): version.strip() for name, version in pairs}


def differences(python: list[str]) -> list[str]:
    """``name pinned -> installed`` for every package whose version in the environment of ``python``
    differs from constraints/pinned.txt."""
    pinned = versions((CONSTRAINTS / 'pinned.txt').read_text().splitlines())
    freeze = subprocess.run([*python, '-m', 'pip', 'freeze', '--exclude-editable'], capture_output=True, text=True)
    installed = versions(freeze.stdout.splitlines())
    return [
        f'{name} {pinned.get(name, "(not pinned)")} -> {version}'
        for name, version in sorted(installed.items())
        if pinned.get(name) != version
    ]


def prepare(env: str) -> list[str] | None:
    """Create the environment (``newest`` afresh); the versions that differ from the pins, or None
    when it could not be created."""
    if env == 'newest':
        hatch('env', 'remove', env)
    created = hatch('env', 'create', env, capture=True)
    if created.returncode != 0:
        print(f'=== dependency env {env!r} could not be created ===', created.stdout, created.stderr, sep='\n')
        return None
    return differences(['hatch', 'run', f'{env}:python'])


def start_tests(env: str, pytest_args: list[str], log: Path) -> subprocess.Popen[bytes]:
    environment = {k: v for k, v in os.environ.items() if k not in ('PIP_CONSTRAINT', 'PIP_BUILD_CONSTRAINT')}
    with log.open('wb') as output:
        return subprocess.Popen(
            ['hatch', 'run', f'{env}:pytest', *SELECTION, *pytest_args],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def run_all(envs: list[str], pytest_args: list[str]) -> list[Outcome]:
    """Each environment's tests start as soon as it exists, while the next one is being created
    (creating one is mostly waiting for pip); the outputs are printed one after the other."""
    started: list[tuple[str, list[str], float, subprocess.Popen[bytes] | None, Path]] = []
    with tempfile.TemporaryDirectory() as directory:
        for env in envs:
            changed = prepare(env)
            log = Path(directory) / f'{env}.log'
            process = None if changed is None else start_tests(env, pytest_args, log)
            started.append((env, changed or [], time.monotonic(), process, log))
        outcomes = []
        for env, changed, began, process, log in started:
            passed = process is not None and process.wait() == 0
            print(f'\n=== dependency env {env!r} ===')
            print('versions that differ from constraints/pinned.txt:', *(changed or ['none']), sep='\n  ')
            if process is not None:
                print(log.read_text(errors='replace'), flush=True)
            outcomes.append(Outcome(env, passed, time.monotonic() - began, changed))
    return outcomes


def check_pinned() -> int:
    changed = differences([sys.executable])
    if not changed:
        return 0
    print(
        'This environment does not hold what constraints/pinned.txt pins (it was created before the pins\n'
        'changed): run `hatch env prune`, then the command again. Differences:',
        *changed,
        sep='\n  ',
    )
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument('--env', choices=('newest', 'oldest'), action='append', help='run only this one')
    parser.add_argument('--strict', action='store_true', help='a failure in newest fails the run too')
    parser.add_argument('--check-pinned', action='store_true', help='check this environment against the pins')
    options, pytest_args = parser.parse_known_args(argv)
    if options.check_pinned:
        return check_pinned()
    outcomes = run_all(options.env or ['oldest', 'newest'], pytest_args)

    print('\n=== dependency envs ===')
    failed = False
    for outcome in outcomes:
        verdict = 'passed' if outcome.passed else 'FAILED'
        print(f'{outcome.env}: {verdict} ({outcome.seconds:.0f} s)')
        if outcome.passed:
            continue
        if outcome.env == 'newest' and not options.strict and not outcome.changed:
            print('  Not drift: the newest releases are the pinned ones, so this is a failure of ours (a flaky test?).')
        elif outcome.env == 'newest' and not options.strict:
            print(
                '  DEPENDENCY DRIFT: the newest releases break tests that pass with the pins. Main stays\n'
                '  green (the pinned environments decide); fix the code, then move the pins with\n'
                '  scripts/pin_dependencies.py. Releases that differ from the pins:'
            )
            print(*(f'    {line}' for line in outcome.changed), sep='\n')
        else:
            failed = True
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
