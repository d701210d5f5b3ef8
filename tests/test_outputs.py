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
    LOCK, MARKER, Fingerprint, OutputFolder, atomic_file, check_output_file, ensure_space, holder, partial_path, publish,
    remove_stale_partials,
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


RUN_ENTRIES = ("demos.hdf5", "failed.hdf5", "config.json", "stats.json")


def is_old_run(folder: Path) -> bool:
    return '"demoforge_version"' in (folder / "config.json").read_text() if (folder / "config.json").exists() else False


def test_folders_of_earlier_versions_are_recognised_by_their_content(tmp_path: Path) -> None:
    old = tmp_path / "old_run"
    old.mkdir()
    for name in RUN_ENTRIES:
        (old / name).write_text('{"demoforge_version": "0.1.0"}')
    with OutputFolder(old, "run", "generate", overwrite=True, known=RUN_ENTRIES, is_legacy=is_old_run) as work:
        (work / "demos.hdf5").write_text("new")
    assert (old / "demos.hdf5").read_text() == "new" and not (old / "failed.hdf5").exists()


@pytest.mark.parametrize("case", ["same_names_other_content", "users_file_in_a_run"])
def test_names_alone_or_a_marker_do_not_make_a_users_file_demoforges(tmp_path: Path, case: str) -> None:
    folder = tmp_path / "out"
    if case == "same_names_other_content":  # e.g. another tool's config.json and report.html
        folder.mkdir()
        (folder / "config.json").write_text('{"lr": 0.1}')
        needle = "not made by demoforge"
    else:  # a run folder the user put notes in (or a policy folder under it)
        with OutputFolder(folder, "run", "generate", known=RUN_ENTRIES) as work:
            (work / "demos.hdf5").write_text("run")
        (folder / "notes.txt").write_text("mine")
        needle = "also holds notes.txt"
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(OutputError, match=needle):
        with OutputFolder(folder, "run", "generate", overwrite=True, known=RUN_ENTRIES, is_legacy=is_old_run):
            pass
    assert sorted(p.name for p in folder.iterdir()) == before


def test_a_new_folder_in_the_current_folder_is_built_in_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with OutputFolder(Path("."), "lerobot", "export", atomic=True) as work:
        assert work.resolve() == tmp_path.resolve()  # swapping would move the user's cwd away
        (work / "meta").mkdir()
    assert (tmp_path / "meta").is_dir()


def test_an_old_run_is_never_left_where_resume_looks_for_new_work(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    with OutputFolder(folder, "run", "generate") as work:
        (work / "demos.hdf5").write_text("old")
    with OutputFolder(folder, "run", "generate", overwrite=True) as work:
        (work / "demos.hdf5").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


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
    gone = out.with_name(f".demos.{dead.stdout.strip()}.partial.hdf5")
    alive = partial_path(out)
    for path in (gone, alive):
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


def test_an_in_place_update_is_not_published_over_a_file_another_process_changed(tmp_path: Path) -> None:
    path = tmp_path / "demos.hdf5"
    path.write_text("v1")
    read_at = Fingerprint.of(path)
    with pytest.raises(OutputError, match="changed while"):
        with atomic_file(path, expect=read_at) as tmp:
            tmp.write_text("v1 + cameras")
            path.write_text("v2 from another process")
    assert path.read_text() == "v2 from another process"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demos.hdf5"]
