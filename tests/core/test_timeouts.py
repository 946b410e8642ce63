"""Death penalties: interrupting a block that runs past its timeout."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest

from rq.timeouts import (
    BaseDeathPenalty,
    BaseTimeoutException,
    HorseMonitorTimeoutException,
    JobTimeoutException,
    TimerDeathPenalty,
    UnixSignalDeathPenalty,
    get_default_death_penalty_class,
)

PENALTIES = [UnixSignalDeathPenalty, TimerDeathPenalty]
MESSAGE = 'Task exceeded maximum timeout value (1 seconds)'


def sleepy(seconds: float) -> None:
    """Sleep in short steps, so that an asynchronous exception can land between them."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)


def test_exception_hierarchy() -> None:
    assert issubclass(JobTimeoutException, BaseTimeoutException)
    assert issubclass(HorseMonitorTimeoutException, BaseTimeoutException)
    assert issubclass(BaseTimeoutException, Exception)


def test_default_class() -> None:
    assert get_default_death_penalty_class() is UnixSignalDeathPenalty


@pytest.mark.parametrize('penalty', PENALTIES)
def test_interrupts_after_timeout(penalty: type[BaseDeathPenalty]) -> None:
    start = time.monotonic()
    with pytest.raises(JobTimeoutException) as info, penalty(1, job_id='j1'):
        sleepy(5)
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 2
    assert str(info.value) == MESSAGE


@pytest.mark.parametrize('penalty', PENALTIES)
def test_custom_exception_class(penalty: type[BaseDeathPenalty]) -> None:
    with pytest.raises(HorseMonitorTimeoutException, match=r'\(1 seconds\)'), penalty(1, HorseMonitorTimeoutException):
        sleepy(5)


@pytest.mark.parametrize('penalty', PENALTIES)
@pytest.mark.parametrize('timeout', [-1, 0, None])
def test_no_limit_never_arms(penalty: type[BaseDeathPenalty], timeout: Any) -> None:
    # pytest-timeout may have its own SIGALRM armed: a no-limit penalty must leave it untouched
    handler_before = signal.getsignal(signal.SIGALRM)
    remaining_before = signal.getitimer(signal.ITIMER_REAL)[0]
    with penalty(timeout) as active:
        assert signal.getsignal(signal.SIGALRM) is handler_before
        assert abs(signal.getitimer(signal.ITIMER_REAL)[0] - remaining_before) < 0.5
        assert getattr(active, '_timer', None) is None
        sleepy(0.05)
    assert signal.getsignal(signal.SIGALRM) is handler_before
    assert abs(signal.getitimer(signal.ITIMER_REAL)[0] - remaining_before) < 0.5


def test_unix_signal_alarm_is_cancelled_on_exit() -> None:
    with UnixSignalDeathPenalty(1):
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 0
        assert signal.getsignal(signal.SIGALRM) not in (signal.SIG_DFL, signal.SIG_IGN, None)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
    sleepy(1.2)  # nothing fires


def test_unix_signal_alarm_is_cancelled_when_block_raises() -> None:
    with pytest.raises(KeyError), UnixSignalDeathPenalty(1):
        raise KeyError('inner')
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_unix_signal_rounds_fractions_up() -> None:
    with UnixSignalDeathPenalty(0.2):
        remaining = signal.getitimer(signal.ITIMER_REAL)[0]
    assert 0.5 < remaining <= 1.0


def test_timer_is_cancelled_on_exit() -> None:
    penalty = TimerDeathPenalty(1)
    with penalty:
        assert penalty._timer is not None and penalty._timer.is_alive()
        timer = penalty._timer
    assert penalty._timer is None
    timer.join(1)
    assert not timer.is_alive()
    sleepy(1.2)  # nothing fires


def test_timer_firing_after_exit_raises_nothing() -> None:
    penalty = TimerDeathPenalty(5)
    with penalty:
        pass
    # a timer thread that was already running when the block was left: it must not raise any more
    penalty._raise_in_target()
    sleepy(0.1)


def test_timer_works_off_the_main_thread() -> None:
    outcome: list[Any] = []

    def run() -> None:
        start = time.monotonic()
        try:
            with TimerDeathPenalty(1):
                sleepy(5)
        except JobTimeoutException as exc:
            outcome.append((str(exc), time.monotonic() - start))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(5)
    assert len(outcome) == 1
    message, elapsed = outcome[0]
    assert message == MESSAGE
    assert 0.9 <= elapsed < 2


def test_job_id_is_kept() -> None:
    assert UnixSignalDeathPenalty(5, job_id='abc').job_id == 'abc'


def test_base_class_is_abstract() -> None:
    with pytest.raises(NotImplementedError), BaseDeathPenalty(1):
        pass
