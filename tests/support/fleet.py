"""The worker processes of one interop test, ours and upstream's, started and stopped together."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import Any

import redis

from rq.command import send_shutdown_command
from upstream import finish_upstream, start_upstream, worker_code
from worker_process import start_worker, stop, wait_until

#: Our workers check for abandoned jobs every 1.5 s (execution TTL 3 s), so that this check runs
#: against upstream's started entries while upstream works.
MONITORING_INTERVAL = 2


@dataclass
class Fleet:
    """The worker processes of one test, by worker name."""

    port: int
    ours: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    theirs: dict[str, subprocess.Popen[str]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [*self.ours, *self.theirs]

    def start_ours(
        self,
        name: str,
        queues: tuple[str, ...],
        worker_class: str = 'Worker',
        *options: str,
        monitoring_interval: int = MONITORING_INTERVAL,
    ) -> None:
        self.ours[name] = start_worker(
            self.port,
            *options,
            '--name',
            name,
            '--worker-class',
            worker_class,
            '--logging-level',
            'WARNING',
            '--job-monitoring-interval',
            str(monitoring_interval),
            *queues,
        )

    def start_theirs(self, name: str, queues: tuple[str, ...], worker_class: str = 'Worker', **work: Any) -> None:
        self.theirs[name] = start_upstream(worker_code(name, queues, worker_class, **work), self.port)

    def alive(self) -> list[str]:
        processes: dict[str, subprocess.Popen[bytes] | subprocess.Popen[str]] = {**self.ours, **self.theirs}
        return [name for name, process in processes.items() if process.poll() is None]

    def shut_down(self, connection: redis.Redis, timeout: float = 20.0) -> None:
        """Send every worker the shutdown command and wait for all of them to exit cleanly."""
        for name in self.names:
            send_shutdown_command(connection, name)
        self.wait_for_exit(timeout, 'after the shutdown command')

    def wait_for_exit(self, timeout: float, why: str = '') -> None:
        """Wait for every worker to exit on its own; each must exit with status 0."""
        exited = wait_until(lambda: not self.alive(), timeout=timeout, interval=0.05)
        assert exited, f'still running {timeout} s {why}: {self.alive()}'
        for name, ours in self.ours.items():
            self.outputs[name] = stop(ours)
            assert ours.returncode == 0, f'{name} exited with {ours.returncode}:\n{self.outputs[name]}'
        for theirs in self.theirs.values():
            finish_upstream(theirs, timeout=5)

    def kill_all(self) -> None:
        for ours in self.ours.values():
            if ours.poll() is None:
                stop(ours)
        for theirs in self.theirs.values():
            if theirs.poll() is None:
                theirs.kill()
                theirs.communicate(timeout=10)
