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

    def request_stop(self, signum: int | None = None, frame: FrameType | None = None) -> None:
        if self._horse_pid:
            try:
                os.kill(self._horse_pid, signal.SIGRTMIN)
            except ProcessLookupError:
                pass
        super().request_stop(signum, frame)

    def prepare_horse(self) -> None:
        delay = self.imminent_shutdown_delay

        def imminent(signum: int, frame: FrameType | None) -> None:
            if delay > 0:
                signal.signal(signal.SIGALRM, _raise_imminent)
                signal.alarm(delay)
            else:
                _raise_imminent(signum, frame)

        signal.signal(signal.SIGRTMIN, imminent)


def _raise_imminent(signum: int, frame: FrameType | None) -> None:
    raise ShutDownImminentException(f'shut down imminent (signal: {signal.Signals(signum).name})', {})
