"""What learning and export refuse to consume or leave behind: NaN or out-of-range values, failed
attempts, a policy of another task, a diverging loss, an unwritable or full output. Real files, the real
CLI in a subprocess, real mounts (tests/fs_limits.py) where the machine allows them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from fs_limits import read_only, small_disk
from test_cli import assert_user_error, run

from demoforge.data.hdf5 import read_meta
from demoforge.errors import EXIT_DISK_FULL
from demoforge.learn.train import TrainConfig, train
from demoforge.outputs import LOCK

pytestmark = pytest.mark.abuse  # bad values, full disks: the same on every MuJoCo (not in test-oldest)

TINY = ("--steps", "2", "--batch-size", "8")


def _edited_copy(src: Path, dst: Path, key: str, index: tuple, value: float) -> Path:
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        data = f[key][()]
        data[index] = value
        f[key][...] = data
    return dst


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _contents(folder: Path) -> dict[str, bytes]:
    """Every file's bytes but the lock's (which names the last process that held it)."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.name != LOCK}


@pytest.fixture(scope="module")
def stack_policy(stack_run: tuple[Path, dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("policies") / "stack"
    train(TrainConfig(data=str(stack_run[0] / "demos.hdf5"), steps=2, batch_size=8, hidden=16, layers=1), out)
    return out


BAD_VALUES = {
    "nan_obs": ("data/demo_3/obs/robot0_eef_pos", (17, 1), np.nan, "NaN at step 17"),
    "inf_obs": ("data/demo_1/obs/object", (4, 2), -np.inf, "-inf at step 4"),
    "action_out_of_range": ("data/demo_2/actions", (9, 0), 7.0, "7 at step 9, column 0: outside [-1.5, 1.5]"),
}


@pytest.mark.parametrize("cmd", ["train", "export"])
@pytest.mark.parametrize("kind", list(BAD_VALUES))
def test_bad_values_are_refused_naming_demo_key_and_step(stack_run, tmp_path: Path, kind: str, cmd: str) -> None:
    key, index, value, problem = BAD_VALUES[kind]
    work = tmp_path / "work"
    work.mkdir()
    data = _edited_copy(stack_run[0] / "demos.hdf5", work / "bad.hdf5", key, index, value)
    if cmd == "train":
        result = run("train", "--data", str(data), "--out", str(work / "policy"), *TINY)
    else:
        result = run("export", "lerobot", str(data), "--out", str(work / "lerobot"))
    assert_user_error(result, "bad.hdf5", key, problem)
    assert _files(work) == ["bad.hdf5"]  # no policy, no dataset, no .partial


def test_a_diverging_loss_stops_training_without_a_policy(stack_run, tmp_path: Path) -> None:
    out = tmp_path / "policy"
    result = run("train", "--data", str(stack_run[0] / "demos.hdf5"), "--out", str(out), "--lr", "1e30", *TINY)
    assert_user_error(result, "training diverged", "nan", "lower --lr")
    assert not out.exists()


def test_failed_attempts_are_refused_unless_included(mixed_run, tmp_path: Path) -> None:
    failed = mixed_run[0] / "failed.hdf5"
    count = len(read_meta(failed))
    out = tmp_path / "policy"
    result = run("train", "--data", str(failed), "--out", str(out), *TINY)
    assert_user_error(result, "failed.hdf5", f"{count} of its {count} demos are failed attempts", "--include-failed")
    assert not out.exists()
    result = run("train", "--data", str(failed), "--out", str(out), "--include-failed", *TINY)
    assert result.returncode == 0, result.stderr
    assert (out / "policy.pt").is_file()


def test_eval_refuses_a_policy_of_another_task(stack_policy: Path) -> None:
    result = run("eval", "--policy", str(stack_policy), "--task", "square", "--episodes", "1", "--workers", "1")
    assert_user_error(result, "trained on task 'stack', not 'square'", "--task stack")


@pytest.mark.parametrize("where", ["parent_is_a_file", "a_folder", "read_only_mount"])
def test_eval_json_that_cannot_be_written_fails_before_any_episode(tmp_path: Path, where: str) -> None:
    def evaluate(target: Path) -> None:
        result = run(
            "eval", "--policy", "expert", "--task", "stack", "--episodes", "1", "--workers", "1", "--json", str(target)
        )
        assert_user_error(result, "--json", target.name)
        assert "evaluating on" not in result.stderr and "success rate" not in result.stdout  # no episode ran

    if where == "parent_is_a_file":
        (tmp_path / "notes.txt").write_text("mine")
        evaluate(tmp_path / "notes.txt" / "result.json")
    elif where == "a_folder":
        (tmp_path / "results").mkdir()
        evaluate(tmp_path / "results")
    else:
        with read_only(tmp_path / "ro") as folder:
            evaluate(folder / "result.json")


def test_a_full_disk_leaves_no_truncated_policy(stack_run, tmp_path: Path) -> None:
    disk = tmp_path / "small"
    args = ("train", "--data", str(stack_run[0] / "demos.hdf5"), "--out", str(disk / "policy"), *TINY)
    with small_disk(disk, 256) as limit:  # room for the config and curve, not for the weights (~2 MB)
        if limit is None:
            result = run(*args)
        else:  # no tmpfs allowed: a file-size limit on the CLI process fails the same writes (EFBIG)
            env = {**os.environ, "MUJOCO_GL": "egl", "COLUMNS": "200"}
            result = subprocess.run(
                [sys.executable, "-m", "demoforge.cli", *args],
                capture_output=True,
                text=True,
                env=env,
                preexec_fn=limit,
                timeout=600,
            )
        assert result.returncode == EXIT_DISK_FULL, result.stdout + result.stderr
        assert "disk is full" in result.stderr and "Traceback" not in result.stderr
        assert _files(disk) == []  # no policy.pt, no .partial files, no half folder


def test_resume_never_trains_over_a_finished_policy(stack_run, mixed_run, tmp_path: Path) -> None:
    out = tmp_path / "policy"
    result = run("train", "--data", str(stack_run[0] / "demos.hdf5"), "--out", str(out), *TINY)
    assert result.returncode == 0, result.stderr
    before = _contents(out)
    result = run("train", "--data", str(mixed_run[0] / "demos.hdf5"), "--out", str(out), "--resume", *TINY)
    assert_user_error(result, f"{out}: holds a finished policy (no checkpoint to resume)", "--overwrite")
    assert _contents(out) == before


def test_a_full_disk_leaves_an_older_policy_in_its_folder_as_it_was(stack_run, tmp_path: Path) -> None:
    data = str(stack_run[0] / "demos.hdf5")
    disk = tmp_path / "small"
    out = disk / "policy"
    with small_disk(disk, 256) as limit:  # room for a tiny policy, not for the default one's weights (~2 MB)
        train(TrainConfig(data=data, steps=2, batch_size=8, hidden=16, layers=1), out)
        before = _contents(out)
        script = f"from demoforge.learn.train import TrainConfig, train; train(TrainConfig(data={data!r}, steps=2, " \
                 f"batch_size=8), {str(out)!r})"
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, preexec_fn=limit,
                                env={**os.environ, "MUJOCO_GL": "egl"}, timeout=600)
        assert result.returncode != 0 and "the disk is full" in result.stderr, result.stderr
        assert _contents(out) == before  # the old policy whole (no new policy.json beside it), no .partial files


def test_each_hand_sees_where_the_objects_are_for_it() -> None:
    """With two arms every object also comes relative to each end effector (the left hand picks, too)."""
    from demoforge.learn.features import features

    rng = np.random.default_rng(0)
    quat = np.tile([0.0, 0.0, 0.0, 1.0], (3, 1))
    obs = {"robot0_eef_pos": rng.normal(size=(3, 3)), "robot1_eef_pos": rng.normal(size=(3, 3)),
           "object": np.concatenate([rng.normal(size=(3, 3)), quat], axis=1)}
    one = features(obs, ("robot0_eef_pos", "object"))
    two = features(obs, ("robot0_eef_pos", "robot1_eef_pos", "object"))
    assert one.shape == (3, 3 + 3 + 6 + 3) and two.shape == (3, 3 + 3 + 3 + 6 + 3 + 3)
    np.testing.assert_allclose(two[:, -3:], (obs["object"][:, :3] - obs["robot1_eef_pos"]).astype(np.float32))
    np.testing.assert_allclose(two[:, -6:-3], (obs["object"][:, :3] - obs["robot0_eef_pos"]).astype(np.float32))
