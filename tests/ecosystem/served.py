"""Start a client's web server (its console script, in the clients virtualenv) and read a page from it."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

#: How long a server may take to answer its first request (a guard against hangs, not a speed limit).
START_LIMIT = 60.0


def read_page(command: list[str], url: str, env: dict[str, str], log: Path) -> str:
    """Runs ``command`` (a server), reads ``url`` from it once it answers, stops it; returns the page. Fails
    when the server exits first or never answers; its output (in ``log``) goes into the message."""
    with open(log, 'w') as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        deadline = time.monotonic() + START_LIMIT
        while True:
            if process.poll() is not None:
                raise AssertionError(f'{command[0]} exited ({process.returncode}) before serving:\n{log.read_text()}')
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    return str(response.read().decode())
            except urllib.error.HTTPError as error:
                raise AssertionError(f'{url}: HTTP {error.code}\n{error.read().decode()}\n{log.read_text()}') from None
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise AssertionError(f'{url} did not answer within {START_LIMIT} s:\n{log.read_text()}') from None
                time.sleep(0.2)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
