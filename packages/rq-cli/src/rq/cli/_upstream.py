"""Warn when upstream RQ (the ``rq`` distribution) is installed next to ours.

Upstream installs into the same ``site-packages/rq/`` directory as rq-core and silently replaces our
files, so whatever runs afterwards is a mix of both. The check looks for an ``rq-<version>.dist-info``
(or ``.egg-info``) directory on ``sys.path`` directly: ``importlib.metadata`` would cost more start-up
time than the rest of ``rq info --raw``.
"""

from __future__ import annotations

import os
import re
import sys

from rq._install_hint import install_advice

#: The metadata directory of a distribution named ``rq`` (ours are ``rq_core-...`` and so on).
METADATA_DIRECTORY = re.compile(r'^rq-([^-]+)\.(?:dist|egg)-info$', re.IGNORECASE)


def upstream_version(paths: list[str] | None = None) -> str | None:
    """The version of an installed upstream ``rq`` distribution, or None when there is none."""
    for entry in sys.path if paths is None else paths:
        try:
            names = os.listdir(entry or '.')
        except OSError:
            continue
        for name in names:
            match = METADATA_DIRECTORY.match(name)
            if match:
                return match.group(1)
    return None


def upstream_warning() -> str | None:
    """The warning to print, or None when upstream RQ is not installed."""
    version = upstream_version()
    if version is None:
        return None
    return (
        f'the upstream "rq" distribution ({version}) is installed in this environment; it writes into the same '
        f'rq/ package as rq-core and may have replaced its files: run "pip uninstall rq", then reinstall ours; '
        f'{install_advice("rq-cli")}'
    )
