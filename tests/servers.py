"""Helpers for tests that start a demoforge server as a real process: a free port, the process with its output
in a file (a pipe nobody reads while the server runs would block it once full), and waiting until it listens."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path



def _system_has(*libraries: str) -> bool:
    found = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    return all(lib in found for lib in libraries)


# Headless Chromium drawing WebGL with Mesa's llvmpipe through EGL (ANGLE's gl-egl backend): the CPU renderer
# MuJoCo uses here, faster per frame than Chromium's own SwiftShader on the teleop page (which stays the
# fallback where Mesa's GLES library is missing).
CHROMIUM_ARGS = (["--no-sandbox", "--use-angle=gl-egl", "--ignore-gpu-blocklist"]
                 if _system_has("libEGL.so.1", "libGLESv2.so.2")
                 else ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``python -m demoforge.cli ARGS`` with stdout and stderr going to ``log``."""

    def __init__(self, args: list[str], log: Path, env: dict, cwd: Path | None = None) -> None:
        self.log = log
        with log.open("w") as sink:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen([sys.executable, "-m", "demoforge.cli", *args], stdout=sink,
                                         stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int, timeout: float = 60) -> tuple[int, str]:
        """Send ``sig``, wait for the exit (killing it after ``timeout``): the exit code and all it printed."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            raise AssertionError(f"no exit {timeout} s after signal {sig}: {self.output()}") from None
        return self.proc.returncode, self.output()


def wait_until_listening(server: ServerProcess, port: int, timeout: float = 120) -> None:
    """Return once ``port`` accepts connections; fail with the process's output if it exits first or does not
    listen within ``timeout`` seconds (generous: a busy machine is slow to import and build the world)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if server.proc.poll() is not None:
                raise AssertionError(f"the server exited ({server.proc.returncode}): {server.output()}") from None
            if time.monotonic() > deadline:
                server.proc.kill()
                raise AssertionError(f"nothing listens on port {port} after {timeout} s: {server.output()}") from None
            time.sleep(0.2)
