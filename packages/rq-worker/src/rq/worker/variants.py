"""Upstream's other worker classes: deprecated dequeue-strategy subclasses and HerokuWorker."""

from __future__ import annotations

import os
import signal
import warnings
from types import FrameType
from typing import Any

from rq.exceptions import ShutDownImminentException

from .forking import Worker
from .identity import DequeueStrategy
from .signals import signal_name


class RoundRobinWorker(Worker):
    """Deprecated: use ``work(dequeue_strategy='round_robin')``."""

    def work(self, *args: Any, **kwargs: Any) -> bool:
        warnings.warn('RoundRobinWorker is deprecated; use dequeue_strategy="round_robin"', DeprecationWarning, 2)
        kwargs['dequeue_strategy'] = DequeueStrategy.ROUND_ROBIN
        return super().work(*args, **kwargs)


class RandomWorker(Worker):
    """Deprecated: use ``work(dequeue_strategy='random')``."""

    def work(self, *args: Any, **kwargs: Any) -> bool:
        warnings.warn('RandomWorker is deprecated; use dequeue_strategy="random"', DeprecationWarning, 2)
        kwargs['dequeue_strategy'] = DequeueStrategy.RANDOM
        return super().work(*args, **kwargs)


class HerokuWorker(Worker):
    """On a warm shutdown, warns the running job: its horse gets SIGRTMIN and raises
    ``ShutDownImminentException`` after ``imminent_shutdown_delay`` seconds (Heroku sends SIGKILL
    about 10 s after SIGTERM)."""

    imminent_shutdown_delay = 6
    frame_properties = ['f_code', 'f_lasti', 'f_lineno', 'f_locals', 'f_trace']

    def handle_warm_shutdown_request(self) -> None:
        """Send the horse SIGRTMIN: it raises ShutDownImminentException in the job after the delay."""
        if self._horse_pid:
            self.log.info('warm shut down requested, sending horse SIGRTMIN signal')
            try:
                os.kill(self._horse_pid, signal.SIGRTMIN)
            except ProcessLookupError:
                pass
        else:
            self.log.warning('warm shut down requested, no horse found')

    def prepare_horse(self) -> None:
        signal.signal(signal.SIGRTMIN, self.request_stop_sigrtmin)

    def setup_work_horse_signals(self) -> None:
        """In the horse: ignore SIGINT and SIGTERM, and answer SIGRTMIN (see above)."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.prepare_horse()

    def request_stop_sigrtmin(self, signum: int, frame: FrameType | None) -> None:
        """In the horse, on SIGRTMIN: raise ShutDownImminentException after the delay (at once without one)."""
        if self.imminent_shutdown_delay > 0:
            signal.signal(signal.SIGALRM, self.request_force_stop_sigrtmin)
            signal.alarm(self.imminent_shutdown_delay)
        else:
            self.request_force_stop_sigrtmin(signum, frame)

    def request_force_stop_sigrtmin(self, signum: int, frame: FrameType | None) -> None:
        info = {attr: getattr(frame, attr, None) for attr in self.frame_properties}
        raise ShutDownImminentException(f'shut down imminent (signal: {signal_name(signum)})', info)
