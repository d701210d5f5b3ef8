"""User-facing errors: the CLI prints them without a traceback and exits with code 2."""

from __future__ import annotations


class DemoforgeError(Exception):
    """A mistake in user input (file, field, value) with a message that says how to fix it."""


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
