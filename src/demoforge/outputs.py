"""Where demoforge writes: checked before any work, never over what it did not make, one writer at a time.

- Every output is checked up front: writable (a file is really created there), of the right kind
  (a file for a file, a folder for a folder), and not replacing anything without ``--overwrite``.
- Folders demoforge makes carry a marker, ``.demoforge.json`` (what kind of folder, which version
  wrote it); ``--overwrite`` replaces only such a folder (or one of an earlier version that holds
  nothing but the files demoforge writes), never the current folder, a parent of it, or one
  holding an input.
- While a command writes a folder it holds ``.demoforge.lock`` (an ``flock``: the kernel drops it
  when the process dies, so a killed run never leaves the folder stuck); a second writer is told
  which process has it.
- ``--overwrite`` builds the new folder beside the old one (``.<name>.new``) and swaps it in only
  when it is complete, so a failed or interrupted overwrite leaves the old folder as it was.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from demoforge.errors import DemoforgeError, OutputError

try:  # POSIX; elsewhere there is no lock (documented in docs/reliability.md)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MARKER = ".demoforge.json"
LOCK = ".demoforge.lock"
OWN_FILES = frozenset({MARKER, LOCK})
STAGING_SUFFIX = ".new"  # ``.<name>.new``: the folder an overwrite builds before it is swapped in

# Names each kind of folder held before markers existed: such a folder counts as demoforge's.
LEGACY_NAMES: dict[str, frozenset[str]] = {
    "run": frozenset({"demos.hdf5", "failed.hdf5", "config.json", "stats.json", ".shards", "report.html"}),
    "policy": frozenset({"policy.pt", "policy.json", "train.json", "curve.json", "curve.png", "checkpoint.pt",
                         "eval_D0.json", "eval_D1.json", "eval_D2.json"}),
    "lerobot": frozenset({"meta", "data", "videos"}),
    "demo": frozenset({"source.hdf5", "generated", "generated.mp4", "report.html"}),
    "study": frozenset({"source.hdf5", "policies", "seconds.json", "results.json", "study.md", "study.png"}),
}
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)


# ---- errors of the disk ---------------------------------------------------------------------------
def is_disk_full(exc: BaseException) -> bool:
    """True for "no space left" (or quota / file-size limit), also when h5py only names it in its text."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return True
    text = str(exc)
    return "No space left on device" in text or "errno = 28" in text or "File too large" in text


def _problem(exc: OSError) -> str:
    return exc.strerror or str(exc).split("(")[0].strip() or type(exc).__name__


SPACE_MARGIN = 1 << 20  # bytes kept free beyond an estimate: HDF5's metadata, written when a file closes


def ensure_space(folder: Path, needed: int) -> None:
    """Refuse a write that would fill the disk, before HDF5 starts it.

    HDF5 (1.14, through h5py) does not survive a full disk: a failed write leaves its cache broken
    and closing the file then crashes the process (SIGSEGV). So writers ask first, with a margin.
    """
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < needed + SPACE_MARGIN + needed // 50:
        raise OutputError(
            folder, f"the disk is full: {needed / 1e6:.1f} MB to write and {free / 1e6:.1f} MB free; free some space "
            "and run the same command again", disk_full=True,
        )


def array_bytes(arrays: Iterable[object]) -> int:
    """Bytes of the arrays (numpy or h5py datasets) plus HDF5's per-dataset overhead."""
    return sum(int(getattr(a, "nbytes", 0)) + 4096 for a in arrays)


# ---- files ----------------------------------------------------------------------------------------
def _existing_ancestor(path: Path) -> Path:
    for parent in (path, *path.parents):
        if parent.exists():
            return parent
    return Path("/")


def check_writable(folder: Path, what: str) -> None:
    """Create and remove a file in ``folder`` (or, if it does not exist yet, its nearest existing parent).

    Asking the file system beats ``os.access``: root passes every permission check but not a
    read-only mount, and only a real create sees a full disk's inode table.
    """
    where = _existing_ancestor(Path(os.path.abspath(folder)))
    if not where.is_dir():
        raise OutputError(where, f"is a file, so {what} cannot be created under it")
    try:
        fd, probe = tempfile.mkstemp(prefix=".demoforge-probe-", dir=where)
    except OSError as exc:
        if is_disk_full(exc):
            raise OutputError(where, f"the disk is full; {what} cannot be written there", disk_full=True) from None
        raise OutputError(where, f"cannot write {what} there ({_problem(exc)})") from None
    os.close(fd)
    os.unlink(probe)


def check_output_file(
    path: str | Path, overwrite: bool, option: str = "--out", suffixes: Iterable[str] = (), replaces_input: bool = False
) -> Path:
    """Check an output file before any work: a file path, of a known type, writable, and new unless ``overwrite``.

    ``replaces_input`` marks a command that rewrites its own input in place (``render``, ``annotate``),
    which is what the user asked for and needs no ``--overwrite``.
    """
    path = Path(path)
    suffixes = tuple(suffixes)
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(path, f"{option} needs one of the extensions {', '.join(suffixes)}")
    if path.is_dir():
        raise OutputError(path, f"is a folder; {option} expects a file name")
    if (path.exists() or path.is_symlink()) and not (overwrite or replaces_input):
        raise OutputError(path, f"already exists; pass --overwrite to replace it, or choose another {option}")
    check_writable(path.parent, f"{option} {path.name}")
    return path


def remove_quietly(path: Path) -> None:
    """Remove a temporary file or folder; never raise (used while another error is on its way up)."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


def partial_path(path: Path) -> Path:
    """Where ``path`` is written before it is published: named by this process, so writers never collide."""
    return path.with_name(f"{path.name}.{os.getpid()}.partial")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(path: Path) -> None:
    """Remove what killed writers of ``path`` left (``<name>.<pid>.partial`` of processes that are gone)."""
    if not path.parent.is_dir():
        return
    for leftover in path.parent.glob(f"{path.name}.*.partial"):
        pid = leftover.name[len(path.name) + 1 : -len(".partial")]
        if pid.isdigit() and not _alive(int(pid)):
            remove_quietly(leftover)
    remove_quietly(path.with_name(path.name + ".partial"))  # the name versions before 0.2 used


def publish(tmp: Path, path: Path, replace: bool = True) -> Path:
    """Move the finished ``tmp`` to ``path`` in one step; without ``replace``, never over a file that appeared meanwhile."""
    if replace:
        os.replace(tmp, path)
        return path
    try:
        os.link(tmp, path)  # fails if path exists: no check-then-write race with another writer
    except FileExistsError:
        remove_quietly(tmp)
        raise OutputError(path, "appeared while this command was writing it (another process?); pass --overwrite "
                                "to replace it") from None
    except OSError:  # a file system without hard links
        if path.exists():
            remove_quietly(tmp)
            raise OutputError(path, "appeared while this command was writing it; pass --overwrite to replace it") from None
        os.replace(tmp, path)
        return path
    os.unlink(tmp)
    return path


# ---- the lock -------------------------------------------------------------------------------------
class FolderLock:
    """``flock`` on ``<folder>/.demoforge.lock``, holding this process's PID and command for others to read."""

    def __init__(self, folder: Path, command: str) -> None:
        self.folder = folder
        self.command = command
        self.fd: int | None = None

    def acquire(self) -> FolderLock:
        path = self.folder / LOCK
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
                os.close(fd)
                raise OutputError(
                    self.folder, f"is in use by PID {holder}; wait for it to finish or stop it, then run this again"
                ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} (demoforge {self.command})\n".encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None


def holder(folder: Path) -> str | None:
    """Who holds ``folder``'s lock right now (None when free, or when there is no lock)."""
    path = folder / LOCK
    if fcntl is None or not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return os.read(fd, 200).decode(errors="replace").strip() or "another process"
    finally:
        os.close(fd)
    return None


# ---- folders --------------------------------------------------------------------------------------
def marker_kind(folder: Path) -> str | None:
    """The kind of demoforge folder ``folder`` is (from its marker, or its files for older versions)."""
    try:
        kind = json.loads((folder / MARKER).read_text()).get("kind")
        return kind if isinstance(kind, str) else None
    except (OSError, ValueError, AttributeError):
        pass
    names = {p.name for p in folder.iterdir()} - OWN_FILES
    for kind, known in LEGACY_NAMES.items():
        if names and all(n in known or n.endswith(".partial") for n in names):
            return kind
    return None


def user_entries(folder: Path) -> list[str]:
    """What is in ``folder`` besides demoforge's own marker and lock."""
    return sorted(p.name for p in folder.iterdir() if p.name not in OWN_FILES)


def write_marker(folder: Path, kind: str, command: str) -> None:
    from demoforge import __version__

    tmp = folder / (MARKER + ".partial")
    tmp.write_text(json.dumps({"kind": kind, "command": command, "demoforge_version": __version__}) + "\n")
    os.replace(tmp, folder / MARKER)


def check_replaceable(folder: Path, kind: str, inputs: Iterable[str | Path] = ()) -> None:
    """Refuse to replace anything but a ``kind`` folder demoforge made, away from the inputs and the user's cwd."""
    folder = Path(os.path.abspath(folder))
    real = folder.resolve()
    cwd = Path.cwd().resolve()
    if real == cwd or cwd.is_relative_to(real):
        raise OutputError(folder, "is the current folder or holds it; refusing to replace it. Choose another --out")
    if real == Path.home().resolve() or real.parent == real:
        raise OutputError(folder, "is your home or the root folder; refusing to replace it. Choose another --out")
    for item in inputs:
        if Path(item).resolve().is_relative_to(real):
            raise OutputError(folder, f"holds the input {item}; replacing it would delete that. Choose another --out")
    if not folder.is_dir():
        raise OutputError(folder, "exists and is not a folder")
    found = marker_kind(folder)
    if found != kind:
        made = f"holds a demoforge {found} folder, not a {kind} folder" if found else "was not made by demoforge"
        raise OutputError(
            folder, f"{made}; --overwrite only replaces a {kind} folder demoforge wrote. Choose another --out "
            "or remove it yourself"
        )


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0


def swap_in(staging: Path, folder: Path) -> None:
    """Put the finished ``staging`` folder at ``folder``; the replaced one ends at ``staging`` and is removed."""
    if folder.is_dir() and _exchange(staging, folder):
        shutil.rmtree(staging, ignore_errors=True)
        return
    old = folder.with_name(f".{folder.name}.replaced")
    remove_quietly(old)
    if folder.exists():
        os.replace(folder, old)
    os.replace(staging, folder)
    remove_quietly(old)


def staging_path(folder: str | Path) -> Path:
    """Where ``--overwrite`` builds the replacement of ``folder``, beside it on the same file system."""
    folder = Path(os.path.abspath(folder))
    return folder.with_name(f".{folder.name}{STAGING_SUFFIX}")


class OutputFolder:
    """A folder one command writes, checked and locked; with ``overwrite`` built beside and swapped in.

    ``with OutputFolder(out, "run", ...) as work:`` yields the folder to write into (``out`` itself,
    or its staging sibling; always the sibling when ``atomic``). On success a staging folder replaces
    ``out``; on failure it is kept only when ``keep(work)`` says it holds finished work that
    ``resume`` can continue, else removed, and a folder this command created is removed too.
    """

    def __init__(
        self,
        path: str | Path,
        kind: str,
        command: str,
        *,
        overwrite: bool = False,
        resume: bool = False,
        inputs: Iterable[str | Path] = (),
        keep: Callable[[Path], bool] = lambda work: False,
        atomic: bool = False,
    ) -> None:
        if overwrite and resume:
            raise DemoforgeError("--resume and --overwrite contradict each other; pick one")
        self.path = Path(os.path.abspath(path))
        self.shown = Path(path)
        self.kind, self.command = kind, command
        self.overwrite, self.resume = overwrite, resume
        self.inputs = [Path(p) for p in inputs]
        self.keep = keep
        self.atomic = atomic  # also a new folder is built beside and appears only when complete
        self.staging = staging_path(self.path)
        self.work = self.path
        self.locks: list[FolderLock] = []
        self.created: list[Path] = []

    # -- checks, before anything is written --
    def check(self) -> None:
        """Everything that can be said about the output before any work is done."""
        path = self.path
        if path.exists() and not path.is_dir():
            raise OutputError(self.shown, "exists and is not a folder; --out expects a folder")
        for item in self.inputs:
            if Path(os.path.abspath(item)) == path:
                raise OutputError(self.shown, "is also an input; choose another --out")
        check_writable(path, f"the {self.kind} folder")
        if not path.is_dir() or not user_entries(path):
            return
        if self.resume:
            if marker_kind(path) != self.kind:
                check_replaceable(path, self.kind, self.inputs)  # says what the folder is instead
            return
        if not self.overwrite:
            hint = ""
            if self.staging.is_dir() and holder(self.staging) is None:
                hint = f" (an interrupted --overwrite left its work in {self.staging}: --resume continues it)"
            raise OutputError(
                self.shown, f"folder is not empty; pick another --out, pass --resume to continue it, or --overwrite{hint}"
            )
        check_replaceable(path, self.kind, self.inputs)

    # -- the context --
    def __enter__(self) -> Path:
        self.check()
        path = self.path
        if not path.exists():
            path.mkdir(parents=True)
            self.created.append(path)
        self.locks.append(FolderLock(path, self.command).acquire())
        try:
            staged = self.resume and self.staging.is_dir()
            if (self.overwrite and user_entries(path)) or staged or self.atomic:
                if holder(self.staging) is not None:
                    raise OutputError(self.staging, f"is in use by PID {holder(self.staging)}")
                if not staged:
                    remove_quietly(self.staging)
                self.staging.mkdir(exist_ok=True)
                self.locks.append(FolderLock(self.staging, self.command).acquire())
                self.work = self.staging
            write_marker(self.work, self.kind, self.command)
        except BaseException:
            self._release()
            raise
        return self.work

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                if self.work != self.path:
                    swap_in(self.staging, self.path)
                return
            kept = self._keeps(self.work)
            if not kept and self.work != self.path:
                remove_quietly(self.staging)
            if self.path in self.created and not kept and (self.work == self.path or not user_entries(self.path)):
                remove_quietly(self.path)  # a folder this command made holds nothing worth keeping
        finally:
            self._release()

    def _keeps(self, work: Path) -> bool:
        try:
            return work.is_dir() and self.keep(work)
        except OSError:
            return False

    def _release(self) -> None:
        for lock in reversed(self.locks):
            lock.release()
        self.locks = []
