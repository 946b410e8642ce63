"""Log handlers for worker entry points (libraries never configure logging themselves)."""

from __future__ import annotations

import logging
import sys

from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT


def setup_loghandlers(
    level: str | int = 'INFO',
    date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
    log_format: str = DEFAULT_LOGGING_FORMAT,
    name: str = 'rq',
) -> None:
    """Send the ``rq`` loggers to stderr at ``level`` (once; existing handlers are kept)."""
    logger = logging.getLogger(name)
    logger.setLevel(level if isinstance(level, int) else level.upper())
    if not any(getattr(handler, '_rq_handler', False) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(fmt=log_format, datefmt=date_format))
        handler._rq_handler = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
