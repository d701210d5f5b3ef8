"""Real file-system limits for tests: a small tmpfs (a full disk) and a read-only mount.

Mounting needs root with CAP_SYS_ADMIN (CI runs as root in a container that allows it). Where it is
not allowed, a full disk falls back to a per-process file-size limit (RLIMIT_FSIZE: writes fail
with EFBIG, the same path through the code as ENOSPC) and a read-only folder to ``chmod`` for a
non-root user; otherwise the test is skipped with the reason.
"""

from __future__ import annotations

import os
import resource
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _mount(folder: Path, options: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    return result.returncode == 0


def _umount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


@contextmanager
def small_disk(folder: Path, size_kb: int) -> Iterator[Callable[[], None] | None]:
    """A folder on a ``size_kb`` tmpfs; yields None, or a ``preexec_fn`` that limits file size instead."""
    if _mount(folder, f"size={size_kb}k"):
        try:
            yield None
        finally:
            _umount(folder)
        return
    folder.mkdir(parents=True, exist_ok=True)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size_kb * 1024, size_kb * 1024))

    yield limit


def grow(folder: Path, size_kb: int) -> None:
    """Give a small tmpfs more room (what a user does by freeing space)."""
    subprocess.run(["mount", "-o", f"remount,size={size_kb}k", str(folder)], check=True, capture_output=True)


@contextmanager
def read_only(folder: Path, content: Callable[[Path], None] = lambda p: None) -> Iterator[Path]:
    """A read-only folder holding what ``content`` put in it."""
    folder.mkdir(parents=True, exist_ok=True)
    if _mount(folder, "size=64m"):
        try:
            content(folder)
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)
            yield folder
        finally:
            _umount(folder)
        return
    if os.geteuid() == 0:
        pytest.skip("no read-only folder possible here: root ignores permissions and mount is not allowed")
    content(folder)
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)
