"""Listening for commands (shutdown, kill-horse, stop-job) on ``rq:pubsub:<worker name>``.

The listener reads its channel from a thread of its own rather than redis-py's
``run_in_thread``: how ``PubSubWorkerThread.stop()`` behaves changed in redis-py 8.2 (it now joins
the thread, which may sit in a read for its whole poll interval). Here ``stop()`` raises a flag and
then unsubscribes: the server's reply to UNSUBSCRIBE ends the thread's read at once, whatever the
redis-py version, and the thread sees the flag before it reads again.

While Redis does not answer, the thread goes quiet: the outage is logged once for the worker (see
:class:`~rq.worker.reconnect.RedisLink`), and the thread tries again about every second; redis-py
reconnects and subscribes again on the read that finds Redis back.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from rq.command import handle_command, parse_payload

from .reconnect import RedisLink, describe, is_transient

logger = logging.getLogger('rq.worker')

#: The longest one read waits; it bounds how late the thread notices ``stop()`` when the
#: UNSUBSCRIBE cannot reach the server.
POLL_SECONDS = 1.0
#: After a connection error, the pause before the next read (redis-py reconnects and resubscribes).
RETRY_SECONDS = 1.0
#: ``stop()`` waits at most this long for the thread (a daemon: it cannot keep the process alive).
JOIN_SECONDS = 5.0


class CommandListener:
    """A thread that hands each command published to the worker to :func:`rq.command.handle_command`."""

    def __init__(self, worker: Any) -> None:
        self.worker = worker
        self._pubsub: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        link = getattr(worker, 'redis_link', None)
        self._link: RedisLink = link if isinstance(link, RedisLink) else RedisLink(logger)

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def start(self) -> None:
        self._pubsub = self.worker.connection.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(self.worker.pubsub_channel_name)
        self._thread = threading.Thread(target=self._listen, name=f'rq-commands:{self.worker.name}', daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        pubsub = self._pubsub
        while not self._stopping.is_set():
            try:
                message = pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_SECONDS)
            except Exception as exc:
                if self._stopping.is_set():
                    break
                if is_transient(exc):
                    self._link.failed('commands', exc)
                else:
                    logger.warning(
                        'Worker %s: command channel error (%s); retrying in %g s',
                        self.worker.name,
                        describe(exc),
                        RETRY_SECONDS,
                    )
                self._stopping.wait(RETRY_SECONDS)
                continue
            self._link.answered('commands', reads_only=True)
            if message is not None and message.get('type') == 'message':
                self._on_message(message)

    def _on_message(self, message: dict[str, Any]) -> None:
        try:
            payload = parse_payload(message)
        except Exception:
            logger.warning('Worker %s: ignoring a malformed command: %r', self.worker.name, message.get('data'))
            return
        try:
            handle_command(self.worker, payload)
        except Exception:
            logger.exception('Worker %s: command %r failed', self.worker.name, payload)

    def stop(self) -> None:
        """Stop listening: unsubscribe (which ends the thread's current read), wait for the thread
        and close the connection."""
        self._stopping.set()
        if self._pubsub is None:
            return
        try:
            self._pubsub.unsubscribe()
        except Exception:
            pass  # the server is away: the read ends by its own timeout
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(JOIN_SECONDS)
        try:
            self._pubsub.close()
        except Exception:
            pass
