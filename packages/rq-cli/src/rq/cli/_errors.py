"""How the ``rq`` command reports failures: one line on stderr and a non-zero exit code.

A traceback is printed only when ``-v``/``--verbose`` is on the command line.
"""

from __future__ import annotations

import sys
import traceback

import click
import redis

#: What click raises for a bare ``rq`` (click >= 8.2), to show the help.
_NO_ARGS_IS_HELP: type[click.UsageError] | tuple[()] = getattr(click.exceptions, 'NoArgsIsHelpError', ())

#: Exit code of an error in what the user typed (click's convention).
USAGE_ERROR = 2
#: Exit code of any other failure.
FAILURE = 1


class CliError(click.ClickException):
    """Raised when a command cannot do what was asked; its message is shown as one line, after the
    ``option`` it is about. Exit code 1: upstream RQ's, too, for a value it cannot use (a Redis
    URL, a class path, a duration...), which it finds only when it uses it."""

    exit_code = FAILURE

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(f'{option}: {message}' if option else message)


class UsageError(CliError):
    """Raised when the command line itself is wrong (exit code 2, as click's own errors)."""

    exit_code = USAGE_ERROR


def one_line(text: object) -> str:
    """``text`` with its lines joined, so that an error never spans several lines."""
    return ' '.join(part.strip() for part in str(text).splitlines() if part.strip())


def wants_traceback(argv: list[str]) -> bool:
    """True when ``-v``/``--verbose`` appears among the options (before a ``--``)."""
    for argument in argv:
        if argument == '--':
            return False
        if argument in ('-v', '--verbose'):
            return True
    return False


def describe(exc: BaseException) -> tuple[str, int]:
    """The one-line message and exit code for ``exc``."""
    if isinstance(exc, click.UsageError):
        hint = ''
        if exc.ctx is not None:
            hint = f" (see '{exc.ctx.command_path} --help')"
        return f'{exc.format_message()}{hint}', USAGE_ERROR
    if isinstance(exc, click.ClickException):
        return exc.format_message(), exc.exit_code
    if isinstance(exc, click.Abort):
        return 'aborted', FAILURE
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return f'cannot reach Redis: {exc}', FAILURE
    if isinstance(exc, redis.exceptions.RedisError):
        return f'Redis replied with an error: {exc}', FAILURE
    return f'{type(exc).__name__}: {exc} (run with -v for the traceback)', FAILURE


def _has_a_useful_traceback(exc: BaseException) -> bool:
    """Anything but a plain user error (a wrong option, say) raised by the command itself."""
    if isinstance(exc, (click.UsageError, click.Abort)):
        return False
    return not isinstance(exc, click.ClickException) or exc.__cause__ is not None


def report(exc: BaseException, verbose: bool) -> int:
    """Print ``exc`` as one line on stderr (after its traceback when ``verbose``); return the exit code."""
    if isinstance(exc, _NO_ARGS_IS_HELP):  # plain ``rq``: the help, as click prints it
        exc.show()
        return exc.exit_code
    message, code = describe(exc)
    if verbose and _has_a_useful_traceback(exc):
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    from ._console import print_error  # deferred: rich only once there is an error to print

    print_error(one_line(message))
    return code
