"""Whom the ``rq`` command writes for: a person at a terminal (rich tables, colour) or a script
(upstream RQ's text lines, which scripts written for upstream parse).

Standard output is taken for a terminal when it is one, or when the environment says so as rich
reads it: ``TTY_COMPATIBLE=1`` (``0``: never), else a non-empty ``FORCE_COLOR``. Decided here
without importing rich, so that piped commands do not pay for it.
"""

from __future__ import annotations

import os
import sys


def stdout_is_terminal() -> bool:
    tty_compatible = os.environ.get('TTY_COMPATIBLE', '')
    if tty_compatible in ('0', '1'):
        return tty_compatible == '1'
    force_color = os.environ.get('FORCE_COLOR')
    if force_color is not None:
        return force_color != ''
    try:
        return sys.stdout.isatty()
    except (ValueError, AttributeError):  # a closed or missing stream
        return False


def plain_output(plain: bool = False) -> bool:
    """True when upstream's text is wanted: ``--plain`` was given or standard output is no terminal."""
    return plain or not stdout_is_terminal()
