"""Where demoforge writes: checked before any work, never over what it did not make, one writer at a time.

- Every output is checked up front: writable (a file is really created there), of the right kind
  (a file for a file, a folder for a folder), and not replacing anything without ``--overwrite``.
- Folders demoforge makes carry a marker, ``.demoforge.json`` (what kind of folder, which version
  wrote it). ``--overwrite`` replaces only such a folder, and only while it holds nothing but what
  demoforge writes there (a folder of an earlier version counts when its owner recognises it);
  never the current folder, a parent of it, or one holding an input.
- While a command writes a folder it holds ``.demoforge.lock`` (an ``flock``: the kernel drops it
  when the process dies, so a killed run never leaves the folder stuck); a second writer is told
  which process has it.
- ``--overwrite`` builds the new folder beside the old one (``.<name>.new``) and swaps it in only
  when it is complete, so a failed or interrupted overwrite leaves the old folder as it was.
- Files are written to a temporary name beside the target (``.<stem>.<pid>.partial<suffix>``) and
  published by one rename (``atomic_file``); without ``--overwrite`` by a hard link, so a file that
  appeared meanwhile is never replaced.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

from demoforge.errors import DemoforgeError, OutputError

try:  # POSIX; elsewhere there is no lock (documented in docs/reliability.md)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

MARKER = ".demoforge.json"
LOCK = ".demoforge.lock"
OWN_FILES = frozenset({MARKER, LOCK})
STAGING_SUFFIX = ".new"  # ``.<name>.new``: the folder an overwrite builds before it is swapped in
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
NOT_WRITABLE = (errno.EROFS, errno.EACCES, errno.EPERM)
NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL)  # file systems without flock (some FUSE, old NFS)
SPACE_MARGIN = 1 << 20  # bytes kept free beyond an estimate: HDF5's metadata, written when a file closes


# ---- errors of the disk ---------------------------------------------------------------------------
def is_disk_full(exc: BaseException) -> bool:
    """True for "no space left" (or quota / file-size limit), also when h5py only names it in its text."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        return True
    text = str(exc)
    return "No space left on device" in text or "errno = 28" in text or "File too large" in text


def output_error(path: object, exc: OSError) -> OutputError | None:
    """The user's view of a failed write: a full disk (exit 4) or a place that cannot be written (exit 2)."""
    if is_disk_full(exc):
        return OutputError(path, "the disk is full; free some space and run the same command again", disk_full=True)
    if exc.errno in NOT_WRITABLE:
        return OutputError(path, f"cannot write there ({exc.strerror})")
    return None


def ensure_space(folder: Path, needed: int, growing: Path | None = None) -> None:
    """Refuse a write that would fill the disk (or pass the file-size limit of ``growing``), before HDF5 starts it.

    HDF5 (1.14, through h5py) does not survive a full disk: a failed write leaves its cache broken
    and closing the file then crashes the process (SIGSEGV). So writers ask first, with a margin.
    """
    want = needed + SPACE_MARGIN + needed // 50
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if free is not None and free < want:
        raise OutputError(folder, f"the disk is full: {needed / 1e6:.1f} MB to write and {free / 1e6:.1f} MB free; "
                                  "free some space and run the same command again", disk_full=True)
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if growing is not None and limit != resource.RLIM_INFINITY:
        size = growing.stat().st_size if growing.exists() else 0
        if size + want > limit:
            raise OutputError(growing, f"would pass this process's file-size limit ({limit / 1e6:.1f} MB, ulimit -f)",
                              disk_full=True)


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
        raise OutputError(where, f"cannot write {what} there ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def check_output_file(
    path: str | Path, overwrite: bool, option: str = "--out", suffixes: Iterable[str] = (),
    replaces_input: bool = False, ours: Callable[[Path], bool] | None = None,
) -> Path:
    """Check an output file before any work: a file path, of a known type, writable, and new unless ``overwrite``.

    ``replaces_input`` marks a command that rewrites its own input in place (``render``, ``annotate``),
    which is what the user asked for and needs no ``--overwrite``. ``ours`` says whether an existing
    file is one demoforge could have written (e.g. a demos HDF5): ``--overwrite`` replaces nothing else.
    """
    path = Path(path)
    suffixes = tuple(suffixes)
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(path, f"{option} needs one of the extensions {', '.join(suffixes)}")
    if path.is_dir():
        raise OutputError(path, f"is a folder; {option} expects a file name")
    if (path.exists() or path.is_symlink()) and not replaces_input:
        if not overwrite:
            raise OutputError(path, f"already exists; pass --overwrite to replace it, or choose another {option}")
        if ours is not None and not ours(path):
            raise OutputError(path, "exists and is not a file demoforge writes; --overwrite will not replace it")
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
    """Where ``path`` is written before it is published: hidden, named by this process, same suffix."""
    return path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(path: Path) -> None:
    """Remove what killed writers of ``path`` left (temporary files of processes that are gone)."""
    if not path.parent.is_dir():
        return
    for leftover in path.parent.glob(f".{path.stem}.*.partial{path.suffix}"):
        pid = leftover.name[len(path.stem) + 2 : -len(f".partial{path.suffix}")]
        if pid.isdigit() and not _alive(int(pid)):
            remove_quietly(leftover)


class Fingerprint(NamedTuple):
    """Enough of a file's identity to notice that another process replaced or changed it."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> Fingerprint | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def publish(tmp: Path, path: Path, replace: bool = True, expect: Fingerprint | None = None) -> Path:
    """Move the finished ``tmp`` to ``path`` in one step.

    Without ``replace``, never over a file that appeared meanwhile (a hard link fails if ``path``
    exists); with ``expect``, only if ``path`` is still the file this command read (an in-place update).
    """
    if expect is not None and Fingerprint.of(path) != expect:
        remove_quietly(tmp)
        raise OutputError(path, "changed while this command worked on it (another process?); nothing was written, "
                                "run it again")
    if replace:
        os.replace(tmp, path)
        return path
    try:
        os.link(tmp, path)
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


@contextmanager
def atomic_file(path: str | Path, replace: bool = True, expect: Fingerprint | None = None) -> Iterator[Path]:
    """``with atomic_file(out) as tmp:`` write ``tmp``; it becomes ``out`` only if the block succeeds.

    A failure (or Ctrl-C) removes ``tmp``; a full or read-only disk becomes an ``OutputError``.
    Temporary files of killed writers of ``out`` are removed first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(path)
    tmp = partial_path(path)
    try:
        yield tmp
        publish(tmp, path, replace, expect)
    except BaseException as exc:
        remove_quietly(tmp)
        if isinstance(exc, OSError) and (error := output_error(path, exc)) is not None:
            raise error from None
        raise


def write_text(path: str | Path, text: str, replace: bool = True) -> Path:
    """Write a small text file (JSON, HTML) atomically."""
    with atomic_file(path, replace) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | Path, value: object, replace: bool = True) -> Path:
    """Strict JSON (NaN or infinity is an error, not invalid JSON on disk), written atomically."""
    return write_text(path, json.dumps(value, indent=2, allow_nan=False) + "\n", replace)


# ---- the lock -------------------------------------------------------------------------------------
class FolderLock:
    """``flock`` on ``<folder>/.demoforge.lock``, holding this process's PID and command for others to read."""

    def __init__(self, folder: Path, command: str) -> None:
        self.folder = folder
        self.command = command
        self.fd: int | None = None

    def acquire(self) -> FolderLock:
        path = self.folder / LOCK
        for attempt in range(20):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            if fcntl is None:
                break
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.read(fd, 200).decode(errors="replace").strip()
                os.close(fd)
                if attempt < 3 and not text:  # a probe of ``holder`` (or a writer that just opened it): ask again
                    time.sleep(0.05)
                    continue
                raise OutputError(
                    self.folder, f"is in use by PID {text or 'another process'}; wait for it to finish or stop it, "
                    "then run this again"
                ) from None
            except OSError as exc:
                if exc.errno in NO_LOCKS:
                    break  # no locks on this file system: go on without one (docs/reliability.md)
                os.close(fd)
                raise
            if os.fstat(fd).st_ino == _inode(path):
                break
            os.close(fd)  # the folder was swapped while we waited: lock the lock file that is there now
        else:
            raise OutputError(self.folder, "keeps being replaced by another process; run this again when it is done")
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} (demoforge {self.command})\n".encode())
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except FileNotFoundError:
        return None


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
    except OSError:
        return None
    finally:
        os.close(fd)
    return None


# ---- folders --------------------------------------------------------------------------------------
def marker_kind(folder: Path) -> str | None:
    """The kind of demoforge folder ``folder`` is, from its marker (None without one)."""
    try:
        kind = json.loads((folder / MARKER).read_text()).get("kind")
        return kind if isinstance(kind, str) else None
    except (OSError, ValueError, AttributeError):
        return None


def user_entries(folder: Path) -> list[str]:
    """What is in ``folder`` besides demoforge's own marker and lock."""
    return sorted(p.name for p in folder.iterdir() if p.name not in OWN_FILES)


def write_marker(folder: Path, kind: str, command: str) -> None:
    from demoforge.version import __version__

    write_json(folder / MARKER, {"kind": kind, "command": command, "demoforge_version": __version__})


def _not_ours(folder: Path, known: frozenset[str]) -> list[str]:
    """Entries of ``folder`` that demoforge does not write there (temporary files count as its own)."""
    return [n for n in user_entries(folder) if n not in known and ".partial" not in n]


def check_replaceable(
    folder: Path, kind: str, inputs: Iterable[str | Path] = (), known: Iterable[str] = (),
    is_legacy: Callable[[Path], bool] | None = None,
) -> None:
    """Refuse to replace anything but a ``kind`` folder demoforge made, away from the inputs and the user's cwd.

    ``known`` lists what such a folder holds; anything else in it is the user's, and stops the
    replacement. ``is_legacy`` recognises a folder of a version before markers by its content.
    """
    folder = Path(os.path.abspath(folder))
    _check_not_home(folder)
    real = folder.resolve()
    for item in inputs:
        if Path(item).resolve().is_relative_to(real):
            raise OutputError(folder, f"holds the input {item}; replacing it would delete that. Choose another --out")
    if not folder.is_dir():
        raise OutputError(folder, "exists and is not a folder")
    found = marker_kind(folder)
    if found is None and is_legacy is not None and is_legacy(folder):
        found = kind
    if found != kind:
        made = f"holds a demoforge {found} folder, not a {kind} folder" if found else "was not made by demoforge"
        raise OutputError(
            folder, f"{made}; --overwrite only replaces a {kind} folder demoforge wrote. Choose another --out "
            "or remove it yourself"
        )
    known = frozenset(known)
    extra = _not_ours(folder, known) if known else []
    if extra:
        raise OutputError(folder, f"also holds {', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}, which "
                                  "demoforge did not write; move them out (or remove the folder yourself) to replace it")


def _check_not_home(folder: Path) -> None:
    real = folder.resolve()
    cwd = Path.cwd().resolve()
    if real == cwd or cwd.is_relative_to(real):
        raise OutputError(folder, "is the current folder or holds it; refusing to replace it. Choose another --out")
    if real == Path.home().resolve() or real.parent == real:
        raise OutputError(folder, "is your home or the root folder; refusing to replace it. Choose another --out")


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def swap_in(staging: Path, folder: Path) -> None:
    """Put the finished ``staging`` folder at ``folder``; the replaced one is moved aside, then removed.

    The old folder is renamed away from the staging name before it is deleted, so an interruption
    during the deletion never leaves an old run where ``--resume`` looks for new work.
    """
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    if folder.is_dir() and _exchange(staging, folder):
        os.replace(staging, old)
    else:  # two renames (not atomic: for a moment ``folder`` does not exist)
        if folder.exists():
            os.replace(folder, old)
        os.replace(staging, folder)
    remove_quietly(old)


def staging_path(folder: str | Path) -> Path:
    """Where ``--overwrite`` builds the replacement of ``folder``, beside it on the same file system."""
    folder = Path(os.path.abspath(folder))
    return folder.with_name(f".{folder.name}{STAGING_SUFFIX}")


def _can_build_beside(folder: Path) -> bool:
    """Whether a sibling of ``folder`` is on its file system and not the user's cwd (so a rename can swap them)."""
    if folder.is_dir() and (os.path.ismount(folder) or os.stat(folder).st_dev != os.stat(folder.parent).st_dev):
        return False
    cwd = Path.cwd().resolve()
    return not (folder.exists() and (folder.resolve() == cwd or cwd.is_relative_to(folder.resolve())))


class OutputFolder:
    """A folder one command writes, checked and locked; with ``overwrite`` built beside and swapped in.

    ``with OutputFolder(out, "run", ...) as work:`` yields the folder to write into (``out`` itself,
    or its staging sibling; the sibling also for a new folder when ``atomic``). On success a staging
    folder replaces ``out``; on failure it is kept only when ``keep(work)`` says it holds finished
    work that ``resume`` can continue, else removed, and a folder this command created is removed too.
    ``known`` and ``is_legacy`` say what such a folder holds (see ``check_replaceable``).
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
        known: Iterable[str] = (),
        is_legacy: Callable[[Path], bool] | None = None,
    ) -> None:
        if overwrite and resume:
            raise DemoforgeError("--resume and --overwrite contradict each other; pick one")
        self.path = Path(os.path.abspath(path))
        self.shown = Path(path)
        self.kind, self.command = kind, command
        self.overwrite, self.resume = overwrite, resume
        self.inputs = [Path(p) for p in inputs]
        self.keep = keep
        self.atomic = atomic and _can_build_beside(self.path)  # also a new folder appears only when complete
        self.known = frozenset(known)
        self.is_legacy = is_legacy
        self.staging = staging_path(self.path)
        self.work = self.path
        self.locks: list[FolderLock] = []
        self.created = False

    def _replaceable(self) -> None:
        check_replaceable(self.path, self.kind, self.inputs, self.known, self.is_legacy)

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
        if self.resume and self.staging.is_dir() and path.is_dir() and user_entries(path):
            self._replaceable()  # resuming an interrupted overwrite ends by replacing ``path``
            return
        if not path.is_dir() or not user_entries(path):
            return
        if self.resume:
            if marker_kind(path) != self.kind and not (self.is_legacy and self.is_legacy(path)):
                self._replaceable()  # says what the folder is instead
            return
        if not self.overwrite:
            hint = ""
            if self.staging.is_dir() and holder(self.staging) is None:
                hint = f" (an interrupted --overwrite left its work in {self.staging}: --resume continues it)"
            raise OutputError(
                self.shown, f"folder is not empty; pick another --out, pass --resume to continue it, or --overwrite{hint}"
            )
        self._replaceable()
        if not _can_build_beside(path):
            raise OutputError(self.shown, "is a mount point (or on another file system than its parent), so its "
                                          "replacement cannot be built beside it; use a folder inside it as --out")
        check_writable(path.parent, f"the new {self.kind} folder")

    # -- the context --
    def __enter__(self) -> Path:
        self.check()
        path = self.path
        try:
            path.mkdir(parents=True)
            self.created = True
        except FileExistsError:
            pass
        self.locks.append(FolderLock(path, self.command).acquire())
        try:
            self.check()  # again, now that no other writer can change it
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
            if self.created and not user_entries(path):
                remove_quietly(path)
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
            if self.created and not kept and (self.work == self.path or not user_entries(self.path)):
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
