"""Running ``rq`` commands and workers as real processes for the TLS and ACL tests, and checking
what became of the jobs (through a connection with full rights)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from rq.job import Job, JobStatus
from signal_support import Launched, launched
from worker_process import wait_until, worker_env

#: Seconds a command or a burst worker may take: only a guard against a hang.
COMMAND_TIMEOUT = 120.0
#: What a worker logs when the server refuses CLIENT SETNAME or CLIENT INFO.
UNNAMED_WARNING = 'could not name its Redis connection'


def rq_command(*args: str) -> list[str]:
    return [sys.executable, '-m', 'rq.cli', *args]


def run_rq(*args: str) -> subprocess.CompletedProcess[str]:
    """``rq ARGS`` to its end; stdout and stderr captured."""
    return subprocess.run(rq_command(*args), env=worker_env(), capture_output=True, text=True, timeout=COMMAND_TIMEOUT)


def rq_ok(*args: str) -> str:
    """``rq ARGS``, which must exit 0; its standard output."""
    done = run_rq(*args)
    assert done.returncode == 0, f'rq {" ".join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}'
    return done.stdout


@contextmanager
def launch_rq(*args: str) -> Iterator[Launched]:
    """``rq ARGS`` running in its own session, killed with all its children at the end."""
    with launched(rq_command(*args)) as process:
        yield process


def stop_gently(process: Launched, timeout: float = 60.0) -> int:
    """SIGTERM (a warm shutdown); the exit code. The process must be gone within ``timeout``."""
    process.send(signal.SIGTERM)
    code = process.wait(timeout)
    assert code is not None, f'still running {timeout} s after SIGTERM:\n{process.output()}'
    return code


def wait_for_worker(connection: redis.Redis, name: str, process: Launched, timeout: float = 60.0) -> None:
    """Wait until worker ``name`` waits for work (its hash says ``idle``)."""

    def ready() -> bool:
        return connection.hget(f'rq:worker:{name}', 'state') == b'idle' or process.wait(0) is not None

    assert wait_until(ready, timeout), f'worker {name} did not start:\n{process.output()}'
    assert process.wait(0) is None, f'worker {name} exited at start:\n{process.output()}'


def statuses(jobs: Iterable[Job]) -> dict[str, JobStatus]:
    return {job.id: job.get_status(refresh=True) for job in jobs}


def all_finished(jobs: Iterable[Job]) -> bool:
    return all(status == JobStatus.FINISHED for status in statuses(jobs).values())


def cron_config(directory: Path, queue_name: str, name: str) -> Path:
    """A cron configuration that enqueues ``rqtest_jobs_cron.tick(name)`` on ``queue_name`` every
    second, and has an entry with a cron string too (which first records the time it counts from,
    then waits: it is due on January 1st only)."""
    path = directory / f'{name}_cron_config.py'
    path.write_text(
        textwrap.dedent(
            f"""\
            from rq import cron

            import rqtest_jobs_cron

            cron.register(rqtest_jobs_cron.tick, {queue_name!r}, args=[{name!r}], interval=1, name={name!r})
            cron.register(rqtest_jobs_cron.tick, {queue_name!r}, args=['yearly'], cron='0 0 1 1 *', name='yearly')
            """
        )
    )
    return path
