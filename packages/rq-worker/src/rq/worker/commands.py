"""Listening for commands (shutdown, kill-horse, stop-job) on ``rq:pubsub:<worker name>``."""

from __future__ import annotations

import logging
import time
from typing import Any

from rq.command import handle_command, parse_payload

logger = logging.getLogger('rq.worker')


class CommandListener:
    """A pub/sub thread that hands each command to :func:`rq.command.handle_command`."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self._pubsub: Any = None
        self._thread: Any = None
        self._stopping = False

    def start(self) -> None:
        self._pubsub = self.worker.connection.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(**{self.worker.pubsub_channel_name: self._on_message})
        self._thread = self._pubsub.run_in_thread(sleep_time=1.0, daemon=True, exception_handler=self._on_error)

    def _on_message(self, message: dict[str, Any]) -> None:
        try:
            payload = parse_payload(message)
        except Exception:
            logger.warning('Worker %s: ignoring a malformed command: %r', self.worker.name, message.get('data'))
            return
        handle_command(self.worker, payload)

    def _on_error(self, exc: BaseException, pubsub: Any, thread: Any) -> None:
        if self._stopping:
            return
        logger.warning('Worker %s: command channel error (%s); retrying in 2 s', self.worker.name, exc)
        time.sleep(2)

    def stop(self) -> None:
        """Stop listening; the daemon thread ends on its own within a second."""
        self._stopping = True
        try:
            if self._thread is not None:
                self._thread.stop()
        except Exception:
            pass
