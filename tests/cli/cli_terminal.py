"""Run the ``rq`` command under a pseudo-terminal and replay what it drew on a small screen model.

The screen understands what rich emits: text, CR, LF, cursor up/down/column (CSI A/B/C/D/G/H),
erase in line and display (CSI K/J), and ignores colours (SGR) and mode switches (``CSI ? ... h/l``).
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable

from cli_helpers import process_env

CSI = re.compile(r'\x1b\[([?0-9;]*)([A-Za-z])')


class Screen:
    """A ``rows`` x ``columns`` character grid fed with terminal output."""

    def __init__(self, rows: int, columns: int) -> None:
        self.rows, self.columns = rows, columns
        self.grid = [[' '] * columns for _ in range(rows)]
        self.row = self.column = 0
        self.scrolled = 0  # lines that left the screen at the top

    def feed(self, text: str) -> None:
        position = 0
        for match in CSI.finditer(text):
            self._write(text[position : match.start()])
            self._control(match.group(1), match.group(2))
            position = match.end()
        self._write(text[position:])

    def lines(self) -> list[str]:
        return [''.join(cells).rstrip() for cells in self.grid]

    def text(self) -> str:
        return '\n'.join(self.lines()).rstrip('\n')

    def _write(self, text: str) -> None:
        for char in text:
            if char == '\r':
                self.column = 0
            elif char == '\n':
                self._line_feed()
            elif char == '\x1b' or ord(char) < 32:
                continue
            else:
                if self.column >= self.columns:
                    self.column = 0
                    self._line_feed()
                self.grid[self.row][self.column] = char
                self.column += 1

    def _line_feed(self) -> None:
        if self.row == self.rows - 1:
            self.grid.pop(0)
            self.grid.append([' '] * self.columns)
            self.scrolled += 1
        else:
            self.row += 1

    def _control(self, parameters: str, command: str) -> None:
        if parameters.startswith('?') or command == 'm':
            return
        numbers = [int(n) if n else 0 for n in parameters.split(';')] if parameters else []
        count = max(1, numbers[0]) if numbers else 1
        if command == 'A':
            self.row = max(0, self.row - count)
        elif command == 'B':
            self.row = min(self.rows - 1, self.row + count)
        elif command == 'C':
            self.column = min(self.columns - 1, self.column + count)
        elif command == 'D':
            self.column = max(0, self.column - count)
        elif command == 'G':
            self.column = min(self.columns - 1, count - 1)
        elif command == 'H':
            self.row = min(self.rows - 1, count - 1)
            self.column = min(self.columns - 1, (numbers[1] if len(numbers) > 1 else 1) - 1)
        elif command == 'K':
            mode = numbers[0] if numbers else 0
            start, end = {0: (self.column, self.columns), 1: (0, self.column + 1), 2: (0, self.columns)}[mode]
            for index in range(start, end):
                self.grid[self.row][index] = ' '
        elif command == 'J':
            mode = numbers[0] if numbers else 0
            if mode in (2, 3):
                self.grid = [[' '] * self.columns for _ in range(self.rows)]


class TerminalProcess:
    """``python -m rq.cli ARGS`` with a pseudo-terminal as its stdin, stdout and stderr."""

    def __init__(self, *args: str, rows: int = 40, columns: int = 120, env: dict[str, str] | None = None) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', rows, columns, 0, 0))
        environment = process_env(TERM='xterm-256color', **(env or {}))
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'rq.cli', *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=environment,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.rows, self.columns = rows, columns

    def _read(self) -> None:
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                if self.process.poll() is not None:
                    return
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO: the other side is closed
                return
            if not chunk:
                return
            with self._lock:
                self.output += chunk

    def text(self) -> str:
        with self._lock:
            return self.output.decode('utf-8', 'replace')

    def screen(self) -> Screen:
        screen = Screen(self.rows, self.columns)
        screen.feed(self.text())
        return screen

    def wait_for(self, predicate: Callable[[Screen], bool], timeout: float = 15) -> Screen:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f'screen never matched; it shows:\n{screen.text()}\n--- raw: {self.text()!r}')
            time.sleep(0.05)

    def interrupt(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)

    def finish(self, timeout: float = 15) -> int:
        """Wait for the process to end (killing it if it does not); return its exit code."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
            raise
        finally:
            self._reader.join(5)
            os.close(self.master)
        return code
