"""Helpers for tests that start a demoforge server as a real process: a free port, and waiting until it listens."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_listening(proc: subprocess.Popen, port: int, timeout: float | None = None) -> None:
    """Return once ``port`` accepts connections; fail with the process's output if it exits first (or, with a
    ``timeout``, if it does not listen in time: no timeout by default, a busy machine is slow)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(proc.communicate()) from None
            if deadline is not None and time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on port {port} after {timeout} s") from None
            time.sleep(0.2)
