"""A careless user, for real: overwrites, concurrent runs, kills, read-only and full disks, odd numbers.

Each test is one promise of docs/reliability.md; each failed on demoforge before issue 14. Real
processes, real files, real signals, real mounts (tests/fs_limits.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from fs_limits import grow, read_only, small_disk
from test_bad_input import snapshot
from test_cli import assert_user_error, run
from test_runner import assert_same_dataset

import demoforge as df

pytestmark = pytest.mark.abuse  # files, processes, signals: the same on every MuJoCo (not in test-oldest)

LONG = {"num": 30, "attempts": 60}  # a run that lasts long enough to be caught in the middle


def gen_args(src: Path, out: Path, *extra: str, num: int = 2, attempts: int = 4) -> list[str]:
    return ["generate", "--task", "stack", "--source", str(src), "--workers", "1", "--num-demos", str(num),
            "--max-attempts", str(attempts), "--out", str(out), *extra]


def start(*args: str, cwd: Path | None = None, preexec=None) -> subprocess.Popen:
    env = {**os.environ, "MUJOCO_GL": "egl", "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "demoforge.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, env=env, preexec_fn=preexec)


def wait_for(condition, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the process ended early ({proc.returncode}): {proc.stderr.read()}")
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


@pytest.fixture()
def finished_run(stack_run: tuple[Path, dict], tmp_path: Path) -> Path:
    """A copy of a finished run folder, as a user has it after `generate`."""
    out = tmp_path / "finished"
    shutil.copytree(stack_run[0], out)
    return out


# ---- 1. --overwrite validates every input before anything is replaced ---------------------------------
@pytest.mark.parametrize("bad", ["task", "camera", "nan_source"])
def test_a_refused_overwrite_leaves_the_old_run(finished_run: Path, stack_sources: Path, tmp_path: Path, bad: str) -> None:
    src = stack_sources
    args = gen_args(src, finished_run, "--overwrite")
    if bad == "task":
        args[2] = "square"
    elif bad == "camera":
        args += ["--cameras", "agentveiw"]
    else:
        src = tmp_path / "nan.hdf5"
        shutil.copy(stack_sources, src)
        with h5py.File(src, "r+") as f:
            f["data/demo_0/states"][3, 2] = np.nan
        args = gen_args(src, finished_run, "--overwrite")
    before = snapshot(finished_run)
    assert_user_error(run(*args), {"task": "square", "camera": "agentveiw", "nan_source": "NaN"}[bad])
    assert snapshot(finished_run) == before
    assert not any(p.name.startswith(".finished") for p in tmp_path.iterdir())


def test_overwrite_replaces_a_run_only_when_the_new_one_is_complete(finished_run: Path, stack_sources: Path) -> None:
    before = snapshot(finished_run)
    # Killed mid-way: the old run is untouched and the new attempts wait beside it.
    proc = start(*gen_args(stack_sources, finished_run, "--overwrite", **LONG))
    staging = finished_run.with_name(".finished.new")
    wait_for(lambda: len(list((staging / ".shards").glob("attempt_*.hdf5"))) >= 2, proc)
    proc.kill()
    proc.wait()
    assert snapshot(finished_run) == before
    result = run(*gen_args(stack_sources, finished_run))
    assert_user_error(result, "not empty", "--resume continues it")
    # --resume finishes the interrupted overwrite and swaps it in.
    result = run(*gen_args(stack_sources, finished_run, "--resume", **LONG))
    assert result.returncode == 0, result.stderr
    assert json.loads((finished_run / "stats.json").read_text())["requested"] == 30
    assert not staging.exists()


def test_a_refused_train_overwrite_keeps_the_old_policy(stack_run: tuple[Path, dict], tmp_path: Path) -> None:
    data = stack_run[0] / "demos.hdf5"
    policy = tmp_path / "policy"
    args = ["train", "--data", str(data), "--steps", "2", "--batch-size", "8", "--out", str(policy)]
    assert run(*args).returncode == 0
    before = snapshot(policy)
    assert_user_error(run(*args, "--overwrite", "--obs-keys", "robot0_eef_pos,no_such_key"), "no_such_key")
    assert snapshot(policy) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["policy"]


# ---- 2. --overwrite replaces only what demoforge made ---------------------------------------------------
def test_overwrite_never_replaces_the_current_folder_or_a_users_folder(stack_sources: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(stack_sources, project / "src.hdf5")
    (project / "notes.txt").write_text("mine")
    before = snapshot(project)
    assert_user_error(run(*gen_args(Path("src.hdf5"), Path("."), "--overwrite"), cwd=project), "current folder")
    assert_user_error(run(*gen_args(Path("project/src.hdf5"), Path("project"), "--overwrite"), cwd=tmp_path), "input")
    assert_user_error(run(*gen_args(project / "src.hdf5", tmp_path, "--overwrite"), cwd=project), "holds it")
    users = tmp_path / "users"
    users.mkdir()
    (users / "thesis.tex").write_text("years of work")
    assert_user_error(run(*gen_args(stack_sources, users, "--overwrite")), "not made by demoforge")
    assert (users / "thesis.tex").read_text() == "years of work"
    assert snapshot(project) == before


# ---- 3. one writer per run folder -------------------------------------------------------------------------
def test_a_second_writer_is_told_who_holds_the_folder_and_a_killed_one_holds_nothing(
    stack_sources: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    first = start(*gen_args(stack_sources, out, **LONG))
    wait_for(lambda: any((out / ".shards").glob("attempt_*.hdf5")), first)
    for flag in ("--overwrite", "--resume"):
        assert_user_error(run(*gen_args(stack_sources, out, flag)), "in use by PID", str(first.pid))
    first.send_signal(signal.SIGKILL)
    first.wait()
    result = run(*gen_args(stack_sources, out, "--resume", **LONG))
    assert result.returncode == 0, result.stderr


# ---- 4. existing files are never replaced without --overwrite ---------------------------------------------
def file_commands(src: Path, run_dir: Path, out: Path) -> dict[str, list[str]]:
    return {
        "source": ["source", "--task", "stack", "--num", "1", "--out", str(out)],
        "render": ["render", str(src), "--image-size", "16", "--workers", "1", "--out", str(out)],
        "annotate": ["annotate", str(src), "--task", "stack", "--out", str(out)],
        "report": ["report", str(run_dir), "--videos", "0", "--out", str(out)],
        "replay": ["replay", str(src), "--video", str(out), "--size", "32x32"],
        "video": ["video", str(run_dir), "--num", "1", "--size", "32x32", "--workers", "1", "--out", str(out)],
        "preview": ["scenes", "preview", "--num", "1", "--size", "32x32", "--out", str(out)],
    }


SUFFIX = {"report": ".html", "replay": ".mp4", "video": ".mp4", "preview": ".png"}


@pytest.mark.parametrize("cmd", ["source", "render", "annotate", "report", "replay", "video", "preview"])
def test_an_existing_file_is_replaced_only_with_overwrite(
    stack_sources: Path, stack_run: tuple[Path, dict], tmp_path: Path, cmd: str
) -> None:
    out = tmp_path / f"taken{SUFFIX.get(cmd, '.hdf5')}"
    args = file_commands(stack_sources, stack_run[0], out)[cmd]
    if out.suffix == ".hdf5":  # --overwrite replaces a dataset, never another kind of file
        out.write_bytes(b"precious")
        assert_user_error(run(*args, "--overwrite"), out.name, "not a file demoforge writes")
        assert out.read_bytes() == b"precious"
        shutil.copy(stack_sources, out)
    else:
        out.write_bytes(b"precious")
    before = out.read_bytes()
    assert_user_error(run(*args), out.name, "already exists", "--overwrite")
    assert out.read_bytes() == before
    result = run(*args, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no partial files


# ---- 5. resume verifies every finished attempt ------------------------------------------------------------
@pytest.mark.parametrize("foreign", ["seed", "crashed_attempt"])
def test_resume_refuses_the_attempts_of_another_run(stack_sources: Path, tmp_path: Path, foreign: str) -> None:
    out = tmp_path / "run"
    proc = start(*gen_args(stack_sources, out, "--seed", "1" if foreign == "seed" else "0", **LONG))
    wait_for(lambda: len(list((out / ".shards").glob("attempt_*.hdf5"))) >= 2, proc)
    proc.kill()
    proc.wait()
    (out / "config.json").unlink()
    if foreign == "crashed_attempt":  # an attempt lost to a crash, in another run
        from demoforge.runner.shards import shard_path, write_shard

        summary = {"index": 59, "success": False, "reason": "worker crashed (signal 9)", "crashed": True, "run_id": "0" * 16}
        write_shard(shard_path(out / ".shards", 59), summary, None)
    before = snapshot(out)
    result = run(*gen_args(stack_sources, out, "--seed", "0", "--resume", **LONG))
    assert_user_error(result, "attempt", "not this one")
    assert snapshot(out) == before


def test_demo_replaces_only_its_own_folder_and_only_when_asked(stack_sources: Path, tmp_path: Path) -> None:
    out = tmp_path / "stack"
    out.mkdir()
    shutil.copy(stack_sources, out / "source.hdf5")  # a user's own recording, named like demo's
    before = snapshot(out)
    args = ["demo", "--num-source", "1", "--num-demos", "1", "--out", str(out)]
    assert_user_error(run(*args), "not empty", "--overwrite")
    assert_user_error(run(*args, "--overwrite"), "not made by demoforge")
    assert snapshot(out) == before


# ---- 8. fewer demos than asked is not a success ----------------------------------------------------------
def test_generate_short_of_its_demos_exits_3_and_keeps_them(stack_sources: Path, tmp_path: Path) -> None:
    out = tmp_path / "short"
    result = run("generate", "--task", "stack", "--source", str(stack_sources), "--workers", "1", "--num-demos", "5",
                 "--max-attempts", "2", "--out", str(out))
    assert result.returncode == 3, result.stderr
    assert "only 2 of 5 demos" in " ".join(result.stderr.split())
    with h5py.File(out / "demos.hdf5") as f:
        assert len(f["data"]) == 2


# ---- 10 and crashes: numbers that are not numbers ---------------------------------------------------------
@pytest.mark.parametrize("args,needle", [
    (["--noise", "inf"], "finite"),
    (["--noise", "nan"], "finite"),
    (["--seed", "-1"], "--seed"),
    (["--transition-lift", "inf"], "finite"),
])
def test_odd_numbers_are_refused(stack_sources: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "run"
    assert_user_error(run(*gen_args(stack_sources, out, *args)), needle)
    assert not out.exists()


@pytest.mark.parametrize("verb", [["source", "--num", "1"], ["eval", "--policy", "expert", "--episodes", "1"]])
def test_negative_seeds_are_refused(tmp_path: Path, verb: list[str]) -> None:
    assert_user_error(run(*verb, "--seed", "-1", cwd=tmp_path), "--seed")
    assert list(tmp_path.iterdir()) == []


def test_a_thousand_workers_are_reduced_and_said_so(stack_sources: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run(*gen_args(stack_sources, out)[:-2], "--workers", "1000", "--out", str(out))
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stderr.split())
    assert "--workers 1000 reduced to 4: only 4 attempts to run" in text
    assert (out / "demos.hdf5").exists()


def test_output_paths_of_the_wrong_kind(stack_sources: Path, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    assert_user_error(run("source", "--num", "1", "--out", str(folder)), "is a folder")
    afile = tmp_path / "policy"
    afile.write_text("x")
    assert_user_error(run("train", "--data", str(stack_sources), "--steps", "1", "--out", str(afile)), "not a folder")
    assert afile.read_text() == "x" and list(folder.iterdir()) == []


@pytest.mark.parametrize("mistake", ["missing_file", "bad_option_value", "unknown_option"])
def test_errors_stay_on_one_line_in_a_pipe(tmp_path: Path, mistake: str) -> None:
    long = tmp_path / ("a_very_long_folder_name_" * 6) / "missing_source_file.hdf5"
    args, needle = {
        "missing_file": (["generate", "--source", str(long), "--out", str(tmp_path / "o")], str(long)),
        "bad_option_value": (["eval", "--seed", "-1", "--episodes", "1"], "--seed"),
        "unknown_option": (["generate", "--sauce", str(long)], "--sauce"),
    }[mistake]
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    result = subprocess.run([sys.executable, "-m", "demoforge.cli", *args], capture_output=True, text=True, env=env)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("error:"), result.stderr


# ---- read-only output locations ----------------------------------------------------------------------------
def read_only_commands(src: Path, run_dir: Path, ro: Path) -> dict[str, list[str]]:
    return {
        "generate": gen_args(src, ro / "run"),
        "source": ["source", "--num", "1", "--out", str(ro / "s.hdf5")],
        "export": ["export", "lerobot", str(src), "--out", str(ro / "lerobot")],
        "render": ["render", str(src), "--image-size", "16", "--workers", "1", "--out", str(ro / "r.hdf5")],
        "render_in_place": ["render", str(ro / "src.hdf5"), "--image-size", "16", "--workers", "1"],
        "replay": ["replay", str(src), "--video", str(ro / "v.mp4"), "--size", "32x32"],
        "report": ["report", str(run_dir), "--videos", "0", "--out", str(ro / "r.html")],
        "train": ["train", "--data", str(run_dir / "demos.hdf5"), "--steps", "1", "--out", str(ro / "policy")],
        "video": ["video", str(run_dir), "--num", "1", "--size", "32x32", "--workers", "1", "--out", str(ro / "v.mp4")],
        "annotate": ["annotate", str(src), "--task", "stack", "--out", str(ro / "a.hdf5")],
        "annotate_in_place": ["annotate", str(ro / "src.hdf5"), "--task", "stack"],
        "preview": ["scenes", "preview", "--num", "1", "--size", "32x32", "--out", str(ro / "p.png")],
        "eval": ["eval", "--policy", "expert", "--episodes", "50", "--workers", "1", "--json", str(ro / "e.json")],
        "demo": ["demo", "--num-source", "1", "--num-demos", "1", "--out", str(ro / "demo")],
    }


@pytest.mark.parametrize("cmd", list(read_only_commands(Path(), Path(), Path())))
def test_read_only_output_is_refused_up_front(
    stack_sources: Path, stack_run: tuple[Path, dict], tmp_path: Path, cmd: str
) -> None:
    with read_only(tmp_path / "ro", lambda p: shutil.copy(stack_sources, p / "src.hdf5")) as ro:
        before = snapshot(ro)
        started = time.monotonic()
        result = run(*read_only_commands(stack_sources, stack_run[0], ro)[cmd])
        assert_user_error(result, str(ro), "ead-only")
        assert snapshot(ro) == before
        if cmd == "eval":
            assert time.monotonic() - started < 60 and "episode" not in result.stdout  # refused before 50 rollouts


# ---- a full disk --------------------------------------------------------------------------------------------
def test_generate_on_a_full_disk_exits_4_keeps_attempts_and_resumes(stack_sources: Path, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    reference = tmp_path / "reference"
    args = ["generate", "--task", "stack", "--source", str(stack_sources), "--workers", "2", "--num-demos", "12",
            "--max-attempts", "40"]
    assert run(*args, "--out", str(reference)).returncode == 0
    with small_disk(disk, 2500) as limit:  # limit: no mount here, a 2.5 MB file-size limit instead
        out = disk / "run"
        result = subprocess.run([sys.executable, "-m", "demoforge.cli", *args, "--out", str(out)], capture_output=True,
                                text=True, env={**os.environ, "MUJOCO_GL": "egl"}, preexec_fn=limit)
        assert result.returncode == 4, result.stderr
        text = " ".join(result.stderr.split())
        assert ("disk is full" in text or "file-size limit" in text) and "Traceback" not in result.stderr
        assert not list(disk.rglob("*partial*")), "no partial files may be left"
        assert any((out / ".shards").glob("attempt_*.hdf5")), "finished attempts are kept"
        if limit is None:
            grow(disk, 64 * 1024)
        result = run(*args, "--out", str(out), "--resume")
        assert result.returncode == 0, result.stderr
        assert_same_dataset(reference / "demos.hdf5", out / "demos.hdf5")


def test_source_on_a_full_disk_leaves_nothing(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    with small_disk(disk, 200) as limit:
        proc = subprocess.run(
            [sys.executable, "-m", "demoforge.cli", "source", "--num", "5", "--out", str(disk / "s.hdf5")],
            capture_output=True, text=True, env={**os.environ, "MUJOCO_GL": "egl"}, preexec_fn=limit,
        )
        assert proc.returncode == 4, proc.stderr
        assert "disk is full" in " ".join(proc.stderr.split()) and "Traceback" not in proc.stderr
        assert list(disk.iterdir()) == []


def test_python_api_keeps_the_same_promises(stack_sources: Path, tmp_path: Path) -> None:
    """The same promises hold for ``demoforge.generate`` called from Python (studies, notebooks)."""
    out = tmp_path / "run"
    cfg = df.GenerateConfig(task="stack", source=str(stack_sources), num_demos=2, max_attempts=4, seed=0)
    df.generate(cfg, out)
    with pytest.raises(df.DemoforgeError, match="not empty"):
        df.generate(cfg, out)
    before = snapshot(out)
    with pytest.raises(df.DemoforgeError, match="was not made by demoforge|current folder|holds"):
        df.generate(cfg, tmp_path, overwrite=True)
    assert snapshot(out) == before
