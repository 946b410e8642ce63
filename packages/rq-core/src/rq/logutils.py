"""Log handlers for entry points (upstream's ``rq.logutils``; libraries never configure logging), with colour.

Messages mark their parts (worker name, queue, job description, outcome) with :func:`styled`; a
:class:`ColorizingStreamHandler` colours those parts when its stream is a terminal, and writes them
as plain text otherwise. Any other handler (a file, a ``DICT_CONFIG`` handler, pytest's capture)
gets plain text, since a styled part is a ``str``.

Colour is used only when the stream is a terminal (``isatty``) whose ``TERM`` is not ``dumb``, or
when ``FORCE_COLOR`` is set; never when ``NO_COLOR`` is set (https://no-color.org).
"""

from __future__ import annotations

import copy
import logging
import os
import sys
import zlib
from collections.abc import Callable
from typing import IO, Any

from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT

_RESET = '\x1b[0m'
#: SGR codes of the named styles.
STYLES = {
    'queue': '\x1b[32m',  # green
    'job': '\x1b[34m',  # blue
    'ok': '\x1b[1;32m',  # bold green
    'warning': '\x1b[1;33m',  # bold yellow
    'failed': '\x1b[1;31m',  # bold red
    'error': '\x1b[31m',  # red
    'faint': '\x1b[2m',
}
#: Worker names get one of these colours (none of the outcomes' green, yellow and red), the same
#: for the same name, so that the lines of the workers of a pool are told apart at a glance.
WORKER_COLOURS = ('\x1b[1;36m', '\x1b[1;35m', '\x1b[1;34m', '\x1b[36m', '\x1b[35m', '\x1b[94m')
_LEVEL_STYLES = {logging.WARNING: 'warning', logging.ERROR: 'error', logging.CRITICAL: 'error'}


class Colorizer:
    """ANSI colour codes by name (upstream's palette), applied only when stdout was a terminal
    when this object was made."""

    _DARK = ('black', 'darkred', 'darkgreen', 'brown', 'darkblue', 'purple', 'teal', 'lightgray')
    _LIGHT = ('darkgray', 'red', 'green', 'yellow', 'blue', 'fuchsia', 'turquoise', 'white')

    def __init__(self) -> None:
        codes = {'': '', 'reset': '\x1b[39;49;00m', 'bold': '\x1b[01m', 'faint': '\x1b[02m'}
        codes.update({'standout': '\x1b[03m', 'underline': '\x1b[04m', 'blink': '\x1b[05m', 'overline': '\x1b[06m'})
        for number, (dark, light) in enumerate(zip(self._DARK, self._LIGHT, strict=True), start=30):
            codes[dark] = f'\x1b[{number}m'
            codes[light] = f'\x1b[{number};01m'
        codes.update(darkteal=codes['turquoise'], darkyellow=codes['brown'], fuscia=codes['fuchsia'])
        codes['white'] = codes['bold']
        self.codes = codes
        isatty = getattr(sys.stdout, 'isatty', None)
        self.notty = not (isatty is not None and isatty())

    def colorize(self, color_key: str, text: str) -> str:
        """``text`` in colour ``color_key`` (a key of :attr:`codes`), or unchanged off a terminal."""
        if self.notty:
            return text
        return f'{self.codes[color_key]}{text}{self.codes["reset"]}'


colorizer = Colorizer()


def make_colorizer(color: str) -> Callable[[str], str]:
    """A function that shows its text in ``color`` (see :class:`Colorizer`): ``make_colorizer('darkgreen')('OK')``."""

    def colorize(text: str) -> str:
        return colorizer.colorize(color, text)

    return colorize


green = make_colorizer('darkgreen')
yellow = make_colorizer('darkyellow')
blue = make_colorizer('darkblue')
red = make_colorizer('darkred')


class Styled(str):
    """A part of a log message to be shown in ``style`` on a terminal (a plain ``str`` elsewhere)."""

    style: str

    def __new__(cls, text: object, style: str) -> Styled:
        value = super().__new__(cls, text)
        value.style = style
        return value


def styled(text: object, style: str) -> Styled:
    """``text`` marked for ``style``: a name of :data:`STYLES`, or ``'worker'``."""
    return Styled(text, style)


def colour_code(part: Styled) -> str:
    if part.style == 'worker':
        return WORKER_COLOURS[zlib.crc32(part.encode('utf-8', 'replace')) % len(WORKER_COLOURS)]
    return STYLES.get(part.style, '')


def colour_wanted(stream: IO[str] | Any, environ: Any = None) -> bool:
    """Whether text written to ``stream`` should carry colour codes."""
    environ = os.environ if environ is None else environ
    if environ.get('NO_COLOR'):
        return False
    if environ.get('FORCE_COLOR'):
        return True
    isatty = getattr(stream, 'isatty', None)
    try:
        terminal = bool(isatty()) if isatty is not None else False
    except (ValueError, OSError):  # a closed stream
        return False
    return terminal and environ.get('TERM') != 'dumb'


class ColorizingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that colours the styled parts of each message when its stream is a
    terminal (worker names, queues, jobs, outcomes), and the first line of a warning (yellow) or
    an error (red) around them. Tracebacks are never coloured.

    Takes upstream's arguments: ``exclude`` (kept as an attribute), then those of
    :class:`logging.StreamHandler` (``stream``).
    """

    #: Level -> colorizer, as upstream exposes it.
    levels: dict[int, Callable[[str], str]] = {
        logging.WARNING: yellow,
        logging.ERROR: red,
        logging.CRITICAL: red,
    }

    def __init__(self, exclude: Any = None, *args: Any, **kwargs: Any) -> None:
        self.exclude = exclude
        super().__init__(*args, **kwargs)

    @property
    def is_tty(self) -> bool:
        return colour_wanted(self.stream)

    def format(self, record: logging.LogRecord) -> str:
        if not self.is_tty:
            return super().format(record)
        level_code = STYLES.get(_LEVEL_STYLES.get(record.levelno, ''), '')
        args = record.args
        if isinstance(args, tuple) and any(isinstance(arg, Styled) for arg in args):
            record = copy.copy(record)
            record.args = tuple(_coloured(arg, level_code) if isinstance(arg, Styled) else arg for arg in args)
        message = super().format(record)
        if not level_code:
            return message
        first, newline, rest = message.partition('\n')
        return f'{level_code}{first}{_RESET}{newline}{rest}'


def _coloured(part: Styled, then: str) -> str:
    """``part`` in its colour, followed by the code of the colour around it (``then``)."""
    code = colour_code(part)
    return f'{code}{part}{_RESET}{then}' if code else str(part)


def _below_error(record: logging.LogRecord) -> bool:
    return record.levelno < logging.ERROR


def _error_or_above(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR


def setup_loghandlers(
    level: str | int | None = None,
    date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
    log_format: str = DEFAULT_LOGGING_FORMAT,
    name: str = 'rq.worker',
) -> None:
    """Show the ``name`` logger's records at ``level`` and above (upstream's defaults: the
    ``rq.worker`` logger, level unchanged; rq's entry points pass ``name='rq'``, every rq logger).

    As upstream RQ does: unless the logger or one of its ancestors has a handler already (logging
    configured by the application, ``DICT_CONFIG``, or an earlier call), records below ERROR go to
    stdout and the others to stderr, formatted with ``log_format`` and ``date_format``, coloured
    on a terminal. ``level=None`` leaves the level as it is.
    """
    logger = logging.getLogger(name)
    if not has_effective_handler(logger):
        formatter = logging.Formatter(fmt=log_format, datefmt=date_format)
        for stream, wanted in ((sys.stdout, _below_error), (sys.stderr, _error_or_above)):
            handler = ColorizingStreamHandler(stream=stream)
            handler.setFormatter(formatter)
            handler.addFilter(wanted)
            logger.addHandler(handler)
        # (records then reach these handlers only, not also handlers an application adds to the
        # root logger later on)
        logger.propagate = False
    if level is not None:
        logger.setLevel(level if isinstance(level, int) else level.upper())


def has_effective_handler(logger: logging.Logger) -> bool:
    """Whether a record of ``logger`` reaches a handler: its own, or an ancestor's it propagates to."""
    current: logging.Logger | None = logger
    while current is not None:
        if current.handlers:
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False
