"""The output rules of demoforge.outputs on real folders and real processes (fast: no simulation)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from demoforge.errors import EXIT_DISK_FULL, OutputError
from demoforge.outputs import (
    LOCK, MARKER, OutputFolder, check_output_file, ensure_space, holder, partial_path, publish, remove_stale_partials,
    staging_path,
)

HOLD = """
import sys, time
from pathlib import Path
from demoforge.outputs import FolderLock
FolderLock(Path(sys.argv[1]), "test").acquire()
print("locked", flush=True)
time.sleep(60)
"""


def hold_lock(folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_lock_names_its_holder_and_dies_with_it(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    with OutputFolder(folder, "run", "generate"):
        pass
    proc = hold_lock(folder)
    try:
        assert holder(folder) == f"{proc.pid} (demoforge test)"
        with pytest.raises(OutputError, match=f"in use by PID {proc.pid}"):
            with OutputFolder(folder, "run", "generate", resume=True):
                pass
    finally:
        proc.kill()
        proc.wait()
    assert holder(folder) is None  # the kernel dropped the lock with the process
    with OutputFolder(folder, "run", "generate", resume=True):
        pass


def test_a_new_folder_gets_a_marker_and_a_failed_new_folder_is_removed(tmp_path: Path) -> None:
    with OutputFolder(tmp_path / "ok", "policy", "train") as work:
        (work / "policy.pt").write_bytes(b"w")
    assert (tmp_path / "ok" / MARKER).exists() and (tmp_path / "ok" / "policy.pt").exists()
    with pytest.raises(ValueError):
        with OutputFolder(tmp_path / "bad", "policy", "train") as work:
            (work / "policy.pt").write_bytes(b"half")
            raise ValueError("training failed")
    assert not (tmp_path / "bad").exists()


def test_overwrite_builds_beside_and_swaps_only_on_success(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    with OutputFolder(folder, "run", "generate") as work:
        (work / "demos.hdf5").write_text("old")
    with pytest.raises(RuntimeError):
        with OutputFolder(folder, "run", "generate", overwrite=True) as work:
            assert work == staging_path(folder)
            (work / "demos.hdf5").write_text("half new")
            raise RuntimeError("killed")
    assert (folder / "demos.hdf5").read_text() == "old" and not staging_path(folder).exists()
    with OutputFolder(folder, "run", "generate", overwrite=True) as work:
        (work / "demos.hdf5").write_text("new")
    assert (folder / "demos.hdf5").read_text() == "new" and not staging_path(folder).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_kept_work_of_an_interrupted_overwrite_is_resumed_then_swapped_in(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    with OutputFolder(folder, "run", "generate") as work:
        (work / "demos.hdf5").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with OutputFolder(folder, "run", "generate", overwrite=True, keep=lambda w: True) as work:
            (work / "part").write_text("1")
            raise KeyboardInterrupt
    with pytest.raises(OutputError, match="--resume continues it"):
        OutputFolder(folder, "run", "generate").check()
    with OutputFolder(folder, "run", "generate", resume=True) as work:
        assert (work / "part").read_text() == "1"
        (work / "demos.hdf5").write_text("new")
    assert (folder / "demos.hdf5").read_text() == "new" and (folder / "part").exists()


@pytest.mark.parametrize("case", ["user_folder", "other_kind", "cwd", "parent_of_cwd", "holds_input", "is_input"])
def test_overwrite_refuses_what_demoforge_did_not_make(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "thesis.tex").write_text("mine")
    inputs: list[Path] = []
    if case == "other_kind":
        (folder / "thesis.tex").unlink()
        with OutputFolder(tmp_path / "p", "policy", "train") as work:
            (work / "policy.pt").write_text("w")
        folder = tmp_path / "p"
    elif case == "cwd":
        monkeypatch.chdir(folder)
    elif case == "parent_of_cwd":
        (folder / "sub").mkdir()
        monkeypatch.chdir(folder / "sub")
    elif case == "holds_input":
        inputs = [folder / "thesis.tex"]
    elif case == "is_input":
        inputs = [folder]
    with pytest.raises(OutputError) as err:
        with OutputFolder(folder, "run", "generate", overwrite=True, inputs=inputs):
            pass
    needle = {"user_folder": "not made by demoforge", "other_kind": "policy folder, not a run", "cwd": "current folder",
              "parent_of_cwd": "holds it", "holds_input": "holds the input", "is_input": "also an input"}[case]
    assert needle in str(err.value)
    assert any(folder.iterdir())


def test_folders_of_earlier_versions_are_recognised_by_their_files(tmp_path: Path) -> None:
    old = tmp_path / "old_run"
    old.mkdir()
    for name in ("demos.hdf5", "failed.hdf5", "config.json", "stats.json"):
        (old / name).write_text("x")
    with OutputFolder(old, "run", "generate", overwrite=True) as work:
        (work / "demos.hdf5").write_text("new")
    assert (old / "demos.hdf5").read_text() == "new" and not (old / "failed.hdf5").exists()


def test_files_are_new_unless_overwrite_and_publish_never_clobbers(tmp_path: Path) -> None:
    out = tmp_path / "src.hdf5"
    check_output_file(out, overwrite=False)
    out.write_text("precious")
    with pytest.raises(OutputError, match="already exists"):
        check_output_file(out, overwrite=False)
    check_output_file(out, overwrite=True)
    with pytest.raises(OutputError, match="is a folder"):
        check_output_file(tmp_path, overwrite=True)
    with pytest.raises(OutputError, match="extensions"):
        check_output_file(tmp_path / "clip.gif", overwrite=True, suffixes=(".mp4",))
    tmp = partial_path(out)
    tmp.write_text("new")
    with pytest.raises(OutputError, match="appeared while"):
        publish(tmp, out, replace=False)
    assert out.read_text() == "precious" and not tmp.exists()


def test_partial_files_of_dead_writers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    out = tmp_path / "demos.hdf5"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = out.with_name(f"{out.name}.{dead.stdout.strip()}.partial")
    alive = partial_path(out)
    for path in (gone, alive, out.with_name(out.name + ".partial")):
        path.write_text("x")
    remove_stale_partials(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name]


def test_space_is_checked_before_writing(tmp_path: Path) -> None:
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    ensure_space(tmp_path, 1000)
    with pytest.raises(OutputError, match="disk is full") as err:
        ensure_space(tmp_path, free + 1)
    assert err.value.exit_code == EXIT_DISK_FULL


def test_the_lock_file_stays_small_and_readable(tmp_path: Path) -> None:
    with OutputFolder(tmp_path / "r", "run", "generate"):
        text = (tmp_path / "r" / LOCK).read_text()
    assert text == f"{os.getpid()} (demoforge generate)\n"
    time.sleep(0)
