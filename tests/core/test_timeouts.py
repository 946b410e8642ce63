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
        sleepy(60)  # (ends with the exception: not interrupted, the block would end without it)
    assert time.monotonic() - start >= 0.9
    assert str(info.value) == MESSAGE


@pytest.mark.parametrize('penalty', PENALTIES)
def test_custom_exception_class(penalty: type[BaseDeathPenalty]) -> None:
    with pytest.raises(HorseMonitorTimeoutException, match=r'\(1 seconds\)'), penalty(1, HorseMonitorTimeoutException):
        sleepy(60)


def assert_alarm_untouched(remaining_before: float, read_at: float) -> None:
    """The real-time alarm is as it was when ``remaining_before`` was read at ``read_at``: still off,
    or counting down from there (neither cancelled nor armed anew, however long ago that was)."""
    remaining = signal.getitimer(signal.ITIMER_REAL)[0]
    if remaining_before == 0:
        assert remaining == 0
    else:
        assert 0 < remaining <= remaining_before
        assert remaining >= remaining_before - (time.monotonic() - read_at) - 0.05


@pytest.mark.parametrize('penalty', PENALTIES)
@pytest.mark.parametrize('timeout', [-1, 0, None])
def test_no_limit_never_arms(penalty: type[BaseDeathPenalty], timeout: Any) -> None:
    # pytest-timeout may have its own SIGALRM armed: a no-limit penalty must leave it untouched
    handler_before = signal.getsignal(signal.SIGALRM)
    read_at = time.monotonic()
    remaining_before = signal.getitimer(signal.ITIMER_REAL)[0]
    with penalty(timeout) as active:
        assert signal.getsignal(signal.SIGALRM) is handler_before
        assert_alarm_untouched(remaining_before, read_at)
        assert getattr(active, '_timer', None) is None
        sleepy(0.05)
    assert signal.getsignal(signal.SIGALRM) is handler_before
    assert_alarm_untouched(remaining_before, read_at)


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
    armed_at = time.monotonic()
    with UnixSignalDeathPenalty(0.2):
        remaining = signal.getitimer(signal.ITIMER_REAL)[0]
        elapsed = time.monotonic() - armed_at
    assert 1.0 - elapsed - 0.01 <= remaining <= 1.0  # a whole second, less what passed since


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
    penalty.handle_death_penalty()
    sleepy(0.1)


def test_timer_works_off_the_main_thread() -> None:
    outcome: list[Any] = []

    def run() -> None:
        start = time.monotonic()
        try:
            with TimerDeathPenalty(1):
                sleepy(60)
        except JobTimeoutException as exc:
            outcome.append((str(exc), time.monotonic() - start))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert len(outcome) == 1
    message, elapsed = outcome[0]
    assert message == MESSAGE
    assert elapsed >= 0.9


def test_job_id_is_kept() -> None:
    assert UnixSignalDeathPenalty(5, job_id='abc').job_id == 'abc'


def test_base_class_is_abstract() -> None:
    with pytest.raises(NotImplementedError), BaseDeathPenalty(1):
        pass
