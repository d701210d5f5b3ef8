"""The command line as a user runs it: real processes, exit codes, messages, and no partial output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import imageio.v2 as imageio
import pytest


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "MUJOCO_GL": "egl", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "demoforge.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )


def assert_user_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    text = " ".join((result.stdout + result.stderr).split())
    for needle in needles:
        assert needle in text, text


def test_source_generate_replay_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "src.hdf5"
    assert run("source", "--task", "stack", "--num", "3", "--out", str(src)).returncode == 0
    annotated = tmp_path / "annotated.hdf5"
    result = run("annotate", str(src), "--task", "stack", "--out", str(annotated))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "run"
    result = run("generate", "--task", "stack", "--source", str(annotated), "--num-demos", "2", "--variation", "D0", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "data generation rate" in result.stdout
    video = tmp_path / "demo.mp4"
    result = run("replay", str(out / "demos.hdf5"), "--check", "--demo", "1", "--video", str(video), "--size", "160x120")
    assert result.returncode == 0, result.stderr
    assert "reproduce exactly" in result.stderr
    frames = [frame for frame in imageio.get_reader(video).iter_data()]
    with h5py.File(out / "demos.hdf5") as f:
        assert len(frames) == f["data/demo_1"].attrs["num_samples"]
    assert frames[0].std() > 5  # a real picture, not a blank frame


def test_replay_check_catches_a_tampered_demo(stack_run, tmp_path: Path) -> None:
    out, _ = stack_run
    copy = tmp_path / "tampered.hdf5"
    shutil.copy(out / "demos.hdf5", copy)
    with h5py.File(copy, "r+") as f:
        f["data/demo_0/actions"][10:20, 2] = 1.0  # the stored states no longer follow from the actions
    result = run("replay", str(copy), "--check")
    assert result.returncode == 1
    assert "do not reproduce" in result.stderr


def test_missing_source_file(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert_user_error(run("generate", "--source", str(tmp_path / "nope.hdf5"), "--out", str(out)), "nope.hdf5", "does not exist")
    assert not out.exists()


def test_unknown_task(tmp_path: Path) -> None:
    assert_user_error(run("source", "--task", "juggle", "--out", str(tmp_path / "s.hdf5")), "unknown task 'juggle'", "stack")
    assert not (tmp_path / "s.hdf5").exists()


def test_wrong_task_for_source(stack_sources: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run("generate", "--task", "lift", "--source", str(stack_sources), "--out", str(out))
    assert_user_error(result, "recorded for task 'stack'", "not 'lift'")
    assert not out.exists()


def test_not_an_hdf5_file(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.hdf5"
    bogus.write_text("hello")
    assert_user_error(run("generate", "--source", str(bogus), "--out", str(tmp_path / "run")), "bogus.hdf5", "not a readable HDF5")
    assert not (tmp_path / "run").exists()


def test_source_without_datagen_info(stack_sources: Path, tmp_path: Path) -> None:
    stripped = tmp_path / "stripped.hdf5"
    shutil.copy(stack_sources, stripped)
    with h5py.File(stripped, "r+") as f:
        del f["data/demo_0/datagen_info"]
    result = run("generate", "--source", str(stripped), "--out", str(tmp_path / "run"))
    assert_user_error(result, "data/demo_0/datagen_info", "demoforge annotate")


def test_wrong_action_width(stack_sources: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.hdf5"
    shutil.copy(stack_sources, broken)
    with h5py.File(broken, "r+") as f:
        actions = f["data/demo_1/actions"][()]
        del f["data/demo_1/actions"]
        f["data/demo_1/actions"] = actions[:, :6]
    assert_user_error(run("generate", "--source", str(broken), "--out", str(tmp_path / "run")), "data/demo_1/actions", "expected (T, 7)")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"demo_0": [5, 9]}', "expected 1 boundaries"),
        ('{"demo_0": [100000]}', "outside the demo"),
        ('{"demo_0": ["x"]}', "not an integer"),
        ("{not json", "not valid JSON"),
        ('{"demo_99": [10]}', "demo_99"),
    ],
)
def test_malformed_annotations(stack_sources: Path, tmp_path: Path, content: str, needle: str) -> None:
    ann = tmp_path / "ann.json"
    ann.write_text(content)
    before = stack_sources.read_bytes()
    result = run("annotate", str(stack_sources), "--task", "stack", "--annotations", str(ann))
    assert_user_error(result, needle)
    assert stack_sources.read_bytes() == before  # the source is untouched
    assert not list(stack_sources.parent.glob("*.partial"))


def test_non_monotonic_annotations_for_three_subtasks(tmp_path: Path) -> None:
    src = tmp_path / "s3.hdf5"
    assert run("source", "--task", "stack_three", "--num", "1", "--out", str(src)).returncode == 0
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps({"demo_0": [60, 40, 80]}))
    assert_user_error(run("annotate", str(src), "--task", "stack_three", "--annotations", str(ann)), "increase strictly")


def test_unknown_variation_and_bad_option(stack_sources: Path, tmp_path: Path) -> None:
    assert_user_error(run("generate", "--source", str(stack_sources), "--variation", "D9", "--out", str(tmp_path / "a")), "no variation 'D9'")
    assert_user_error(run("generate", "--source", str(stack_sources), "--offset", "20,10", "--out", str(tmp_path / "b")), "boundary_offset")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_refuses_to_overwrite_a_run(stack_run, stack_sources: Path) -> None:
    out, _ = stack_run
    assert_user_error(run("generate", "--source", str(stack_sources), "--out", str(out)), "not empty", "--overwrite")
    assert (out / "demos.hdf5").exists()


def test_replay_with_an_unknown_camera(stack_run, tmp_path: Path) -> None:
    out, _ = stack_run
    video = tmp_path / "x.mp4"
    assert_user_error(run("replay", str(out / "demos.hdf5"), "--video", str(video), "--camera", "ceiling"), "unknown camera", "ceiling")
    assert not video.exists()


def test_export_lerobot_and_report_commands(mixed_run, tmp_path: Path) -> None:
    out, stats = mixed_run
    dataset = tmp_path / "lerobot"
    result = run("export", "lerobot", str(out / "demos.hdf5"), "--out", str(dataset), "--task-description", "stack it")
    assert result.returncode == 0, result.stderr
    info = json.loads((dataset / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["total_episodes"] == stats.successes
    assert_user_error(run("export", "lerobot", str(out / "demos.hdf5"), "--out", str(dataset)), "--overwrite")
    bad = tmp_path / "bad.hdf5"
    bad.write_text("not hdf5")
    assert_user_error(run("export", "lerobot", str(bad), "--out", str(tmp_path / "x")), "bad.hdf5", "HDF5")
    assert not (tmp_path / "x").exists() and not (tmp_path / ".x.new").exists()

    page = tmp_path / "report.html"
    result = run("report", str(out), "--out", str(page), "--videos", "1")
    assert result.returncode == 0, result.stderr
    assert "<video" in page.read_text()
    assert_user_error(run("report", str(tmp_path)), "stats.json")
