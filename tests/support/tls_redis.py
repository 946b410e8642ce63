"""A throwaway redis-server that speaks TLS only, with certificates made for the test.

:func:`make_certificates` writes, with the ``openssl`` command line, a private certificate
authority, a server certificate for ``127.0.0.1`` and a client certificate, both signed by that
authority. :class:`TlsRedisServer` listens on its TLS port only (``--port 0``), trusts that
authority and refuses a client without a certificate it signed (``--tls-auth-clients yes``).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import redis

from redis_server import RedisServer

#: Days the certificates are valid: they live as long as one test run.
VALID_DAYS = '2'
#: Elliptic-curve keys: made in milliseconds (an RSA key takes much longer on a slow machine).
KEY_OPTIONS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']


def find_openssl() -> str:
    found = shutil.which('openssl')
    if not found:
        raise RuntimeError('openssl not found: install it (Debian: apt-get install openssl)')
    return found


@dataclass(frozen=True)
class Certificates:
    """The files :func:`make_certificates` wrote (PEM)."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run([find_openssl(), *map(str, args)], check=True, capture_output=True, timeout=60)


def _signed(directory: Path, name: str, subject: str, extensions: str, ca: Path, ca_key: Path) -> tuple[Path, Path]:
    """A key and a certificate for ``subject``, signed by the authority; ``extensions`` in
    openssl's configuration syntax, one per line."""
    key, request, cert = directory / f'{name}.key', directory / f'{name}.csr', directory / f'{name}.crt'
    extfile = directory / f'{name}.ext'
    extfile.write_text(extensions)
    _openssl('req', '-new', *KEY_OPTIONS, '-keyout', key, '-out', request, '-subj', subject)
    _openssl(
        'x509', '-req', '-in', request, '-CA', ca, '-CAkey', ca_key,
        '-CAcreateserial', '-CAserial', directory / 'ca.srl',
        '-out', cert, '-days', VALID_DAYS, '-extfile', extfile,
    )  # fmt: skip
    return cert, key


def make_certificates(directory: Path) -> Certificates:
    """A private authority and a server and a client certificate it signed, in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / 'ca.crt', directory / 'ca.key'
    _openssl(
        'req', '-x509', *KEY_OPTIONS, '-keyout', ca_key, '-out', ca, '-days', VALID_DAYS,
        '-subj', '/CN=rq test authority',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    )  # fmt: skip
    server_cert, server_key = _signed(
        directory,
        'server',
        '/CN=127.0.0.1',
        'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n',
        ca,
        ca_key,
    )
    client_cert, client_key = _signed(
        directory, 'client', '/CN=rq test client', 'extendedKeyUsage = clientAuth\n', ca, ca_key
    )
    return Certificates(ca, server_cert, server_key, client_cert, client_key)


class TlsRedisServer(RedisServer):
    """A private redis-server on a TLS port only, requiring client certificates."""

    def __init__(self, certificates: Certificates) -> None:
        super().__init__()
        self.certificates = certificates

    def listen_options(self) -> list[str]:
        files = self.certificates
        return [
            '--port', '0', '--tls-port', str(self.port), '--bind', '127.0.0.1',
            '--tls-cert-file', str(files.server_cert), '--tls-key-file', str(files.server_key),
            '--tls-ca-cert-file', str(files.ca), '--tls-auth-clients', 'yes',
        ]  # fmt: skip

    def tls_options(self, client_certificate: bool = True) -> dict[str, Any]:
        """redis-py's options for this server: trust the private authority only, and show the
        client certificate (unless ``client_certificate`` is false)."""
        options: dict[str, Any] = {'ssl': True, 'ssl_ca_certs': str(self.certificates.ca)}
        if client_certificate:
            options['ssl_certfile'] = str(self.certificates.client_cert)
            options['ssl_keyfile'] = str(self.certificates.client_key)
        return options

    def client(self, **options: Any) -> redis.Redis:
        return redis.Redis(host='127.0.0.1', port=self.port, **self.tls_options(), **options)

    @property
    def url(self) -> str:
        """``rediss://127.0.0.1:PORT/0?ssl_ca_certs=...&ssl_certfile=...&ssl_keyfile=...``: redis-py's
        URL form of :meth:`tls_options`."""
        query = {name: value for name, value in self.tls_options().items() if name != 'ssl'}
        return f'rediss://127.0.0.1:{self.port}/0?{urlencode(query, safe="/")}'
