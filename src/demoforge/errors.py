"""User-facing errors and the exit codes the CLI gives them (docs/reliability.md lists them all).

0 done; 1 ``replay --check`` found demos that do not reproduce; 2 a user mistake (input, option,
output location); 3 ``generate`` stopped short of the demos asked for (what it made is kept);
4 the disk is full (finished work is kept where a rerun continues it); 130 Ctrl-C; 143 SIGTERM.
"""

from __future__ import annotations

EXIT_MISMATCH = 1
EXIT_USER = 2
EXIT_SHORT = 3
EXIT_DISK_FULL = 4
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class DemoforgeError(Exception):
    """A mistake in user input (file, field, value) with a message that says how to fix it."""

    exit_code = EXIT_USER


class SceneUnsupported(DemoforgeError):
    """A sampled scene the task cannot be built in (a sink in a round table): resampled, not failed."""


class InputFileError(DemoforgeError):
    """A file the user gave is missing, unreadable, or does not hold what was expected."""

    def __init__(self, path: object, problem: str, field: str | None = None) -> None:
        where = f"{path}" + (f" [{field}]" if field else "")
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.problem = problem
        self.field = field

    def __reduce__(self) -> tuple:  # picklable, so errors raised in worker processes reach the caller intact
        return (type(self), (self.path, self.problem, self.field))


class OutputError(DemoforgeError):
    """An output cannot go where the user asked: it exists, is in use, is read-only, or the disk is full."""

    def __init__(self, path: object, problem: str, disk_full: bool = False) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem
        self.disk_full = disk_full
        if disk_full:
            self.exit_code = EXIT_DISK_FULL

    def __reduce__(self) -> tuple:
        return (type(self), (self.path, self.problem, self.disk_full))


class Terminated(BaseException):
    """SIGTERM arrived: unwind like Ctrl-C so finished work is kept and temporary files are removed."""
