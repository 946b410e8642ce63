"""The argument syntax of ``rq enqueue FUNCTION [ARGUMENTS]...``.

=============  ==============  ==============  ==============
               plain text      JSON            literal_eval
=============  ==============  ==============  ==============
keyword        ``key=value``   ``key:=value``  ``key%=value``
positional     ``value``       ``:value``      ``%value``
=============  ==============  ==============  ==============

A value that starts with ``@`` is the contents of the file named after it (``@data.json``,
``key:=@data.json``), then parsed as its form says.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any

from ._errors import CliError, UsageError

LITERAL_EVAL_DOCS = 'https://docs.python.org/3/library/ast.html#ast.literal_eval'


class Form(Enum):
    PLAIN = 'text'
    JSON = 'JSON'
    LITERAL = 'a Python literal'


def split_argument(argument: str) -> tuple[str | None, Form, str]:
    """``(keyword or None, form, raw value)`` for one command-line argument."""
    if argument.startswith(':'):
        return None, Form.JSON, argument[1:]
    if argument.startswith('%'):
        return None, Form.LITERAL, argument[1:]
    keyword, equals, value = argument.partition('=')
    if not equals or not keyword:
        return None, Form.PLAIN, argument
    if keyword.endswith(':') and len(keyword) > 1:
        return keyword[:-1], Form.JSON, value
    if keyword.endswith('%') and len(keyword) > 1:
        return keyword[:-1], Form.LITERAL, value
    return keyword, Form.PLAIN, value


def parse_argument(argument: str, position: int) -> tuple[str | None, Any]:
    """``(keyword or None, value)`` for the ``position``-th argument (1-based, for messages).

    The messages start with upstream's sentences (``Unable to parse 1. non keyword argument as
    JSON.``, ...), which its users may look for, and go on with what was wrong."""
    keyword, form, text = split_argument(argument)
    where = keyword if keyword is not None else f'{position}. non keyword argument'
    if text.startswith('@'):
        text = _read_file(text[1:], where)
    if form is Form.JSON:
        try:
            return keyword, json.loads(text)
        except ValueError as exc:
            raise UsageError(f'Unable to parse {where} as JSON. ({exc}: {_shorten(text)!r})') from exc
    if form is Form.LITERAL:
        try:
            return keyword, ast.literal_eval(text)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
            raise UsageError(
                f'Unable to eval {where} as Python object. See {LITERAL_EVAL_DOCS} '
                f'({type(exc).__name__}: {_shorten(text)!r})'
            ) from exc
    return keyword, text


def parse_arguments(arguments: Iterable[str]) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments of the job's function call."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for position, argument in enumerate(arguments, start=1):
        keyword, value = parse_argument(argument, position)
        if keyword is None:
            args.append(value)
        elif keyword in kwargs:
            raise UsageError(f"You can't specify multiple values for the same keyword. ({keyword!r} is given twice)")
        else:
            kwargs[keyword] = value
    return args, kwargs


def _read_file(name: str, where: str) -> str:
    """The file's text; a file that cannot be read is exit code 1 (as upstream's ``click.FileError``,
    whose message this is)."""
    if not name:
        raise CliError(f'{where}: "@" must be followed by a file name')
    try:
        return Path(name).expanduser().read_text()
    except FileNotFoundError:
        raise CliError(f'Could not open file {name!r}: Not found (the value of {where})') from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f'Could not open file {name!r}: {exc} (the value of {where})') from exc


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + '...'
