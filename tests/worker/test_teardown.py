"""A stopping worker always deregisters: whatever its helpers do as it stops, it leaves
``rq:workers`` (else ``rq info`` lists a ghost, as a pool's worker once did).

The worker runs in the test's process; a stop request is delivered as Python delivers a signal, by
running the worker's handler in the main thread at the chosen point.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from typing import Any

import pytest
import redis

from rq import Queue
from rq.worker import SimpleWorker, Worker
from rq.worker.commands import CommandListener
from signal_support import registered_workers, worker_hash
from worker_process import wait_until

CLASSES = [Worker, SimpleWorker]


def _watchers_alive() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith('rq-wait-')]


@pytest.mark.parametrize('worker_class', CLASSES, ids=lambda cls: cls.__name__)
def test_a_stop_signal_as_the_queue_watchers_start_still_deregisters(
    connection: redis.Redis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, worker_class: type[Any]
) -> None:
    """A worker of several queues starts one watcher thread per queue as it first waits for work.
    The stop signal (the pool's SIGINT, under load) lands as the first of them starts: the worker
    stops as asked, deregisters and leaves no watcher running. (It once interrupted the thread's
    start, then failed to join the unstarted thread, and exited still registered.)"""
    worker = worker_class([Queue('high', connection=connection), Queue('low', connection=connection)], name='ghost')
    signalled = []

    class SignalledAsItStarts(threading.Thread):
        def start(self) -> None:
            if self.name.startswith('rq-wait-') and not signalled:
                signalled.append(self.name)
                worker._on_signal(signal.SIGINT, sys._getframe())  # as Python runs the handler here
            super().start()

    monkeypatch.setattr(threading, 'Thread', SignalledAsItStarts)
    with caplog.at_level(logging.WARNING, logger='rq.worker'):
        assert worker.work() is False
    assert signalled
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING] == []
    assert registered_workers(connection) == set()
    assert 'death' in worker_hash(connection, 'ghost')
    assert wait_until(lambda: not _watchers_alive(), 60), _watchers_alive()


@pytest.mark.parametrize('worker_class', CLASSES, ids=lambda cls: cls.__name__)
def test_a_helper_that_fails_to_stop_does_not_keep_the_worker_registered(
    connection: redis.Redis, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, worker_class: type[Any]
) -> None:
    """An error while the worker stops one of its helpers is logged, and the worker still
    deregisters and stops the others."""
    stop = CommandListener.stop

    def stop_then_fail(listener: CommandListener) -> None:
        stop(listener)
        raise RuntimeError('the listener would not stop')

    monkeypatch.setattr(CommandListener, 'stop', stop_then_fail)
    worker = worker_class([Queue('high', connection=connection), Queue('low', connection=connection)], name='stuck')
    with caplog.at_level(logging.ERROR, logger='rq.worker'):
        assert worker.work(burst=True) is False
    assert registered_workers(connection) == set()
    assert 'death' in worker_hash(connection, 'stuck')
    assert 'could not stop its command listener' in caplog.text
    assert 'the listener would not stop' in caplog.text
