"""A throwaway redis-server with ACL users, for the tests of the roles in :mod:`acl_roles`.

:class:`AclRedisServer` starts with the ``default`` user switched off and one ``admin`` user
allowed everything (the tests set up data and check outcomes through it). :func:`create_user`
adds a role's user with ``ACL SETUSER``, exactly as the README shows it.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import redis

from acl_roles import Role
from redis_server import RedisServer
from rq._redis import scripts

ADMIN = 'admin'
ADMIN_PASSWORD = 'admin-password'
#: The password the tests give every role's user.
ROLE_PASSWORD = 'role-password'
#: Every Lua script rq runs (``rq/_redis/lua``; the ``lib_`` files are only parts of others).
SCRIPT_NAMES = tuple(
    sorted(
        entry.name.removesuffix('.lua')
        for entry in resources.files('rq._redis').joinpath('lua').iterdir()
        if entry.name.endswith('.lua') and not entry.name.startswith('lib_')
    )
)


class AclRedisServer(RedisServer):
    """A private redis-server whose ``default`` user is off: every client logs in as a user."""

    def listen_options(self) -> list[str]:
        admin = ['--user', ADMIN, 'on', f'>{ADMIN_PASSWORD}', '~*', '&*', '+@all']
        return [*super().listen_options(), *admin, '--user', 'default', 'off']

    def client(self, **options: Any) -> redis.Redis:
        return redis.Redis(port=self.port, username=ADMIN, password=ADMIN_PASSWORD, **options)

    def url_for(self, user: str, password: str = ROLE_PASSWORD) -> str:
        return f'redis://{user}:{password}@127.0.0.1:{self.port}/0'


def create_user(admin: redis.Redis, role: Role, password: str = ROLE_PASSWORD) -> None:
    """``ACL SETUSER <user> reset on ><password> <rules>``, the README's line for ``role``."""
    admin.execute_command('ACL', 'SETUSER', role.user, *role.setuser_arguments(password))  # type: ignore[no-untyped-call]


def denials(admin: redis.Redis) -> list[str]:
    """What the server refused since the last :func:`forget_denials`, one line each (``ACL LOG``)."""
    entries: list[dict[str, Any]] = admin.acl_log()
    return [f'{entry["username"]}: {entry["reason"]} {entry["object"]!r} ({entry["context"]})' for entry in entries]


def forget_denials(admin: redis.Redis) -> None:
    admin.acl_log_reset()


def scripts_loaded(admin: redis.Redis) -> set[str]:
    """The names of rq's scripts the server has run since the last :func:`forget_scripts` (EVAL and
    the SCRIPT LOAD redis-py sends after a NOSCRIPT both put a script in the server's cache)."""
    shas = [scripts.sha(name) for name in SCRIPT_NAMES]
    known: list[bool] = admin.script_exists(*shas)
    return {name for name, loaded in zip(SCRIPT_NAMES, known, strict=True) if loaded}


def forget_scripts(admin: redis.Redis) -> None:
    admin.script_flush()
