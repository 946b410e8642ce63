"""What the install and wheel-check scripts both read: distribution names, requirement strings and
a wheel's ``METADATA``. Standard library only (``install.py`` runs before anything is installed)."""

from __future__ import annotations

import email.message
import email.parser
import re
import zipfile

#: ``name [extras] (specifier) ; marker`` of a requirement string (a ``Requires-Dist`` value).
REQUIREMENT = re.compile(
    r'^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*\(?(?P<spec>[^;)]*)\)?\s*(?:;(?P<marker>.*))?$'
)


def normalize(name: str) -> str:
    """PEP 503 normalized distribution name (``RQ_Core`` -> ``rq-core``)."""
    return re.sub(r'[-_.]+', '-', name).lower()


def specifier(match: re.Match[str]) -> str:
    """The version specifier of a :data:`REQUIREMENT` match, without blanks (``==0.1.0``)."""
    return re.sub(r'\s+', '', match['spec'])


def read_metadata(archive: zipfile.ZipFile) -> email.message.Message:
    """The wheel's top-level ``<name>.dist-info/METADATA``; ValueError unless there is exactly one."""
    names = [name for name in archive.namelist() if re.fullmatch(r'[^/]+\.dist-info/METADATA', name)]
    if len(names) != 1:
        raise ValueError(f'expected one .dist-info/METADATA, found {len(names)}')
    return email.parser.Parser().parsestr(archive.read(names[0]).decode('utf-8'))
