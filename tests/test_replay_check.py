"""``replay --check`` compares every array the actions determine; ``annotate`` is idempotent (issue 14)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from test_cli import assert_user_error, run


def text(result) -> str:  # noqa: ANN001 - a CompletedProcess
    return " ".join((result.stdout + result.stderr).split())


def datagen_bytes(path: Path) -> dict[str, tuple[str, bytes]]:
    """Every datagen_info dataset of every demo: dtype and raw bytes, by its path in the file."""
    arrays: dict[str, tuple[str, bytes]] = {}
    with h5py.File(path, "r") as f:
        for name in f["data"]:
            def visit(key: str, node: object, name: str = name) -> None:
                if isinstance(node, h5py.Dataset):
                    arrays[f"{name}/{key}"] = (str(node.dtype), node[()].tobytes())
            f["data"][name]["datagen_info"].visititems(visit)
    return arrays


def test_untouched_sources_and_runs_reproduce_and_say_what_was_checked(stack_sources: Path, stack_run, mixed_run) -> None:
    for path in (stack_sources, stack_run[0] / "demos.hdf5", mixed_run[0] / "failed.hdf5"):  # mixed_run has failures
        result = run("replay", str(path), "--check")
        assert result.returncode == 0, result.stdout + result.stderr
        said = text(result)
        assert "reproduce exactly: states, actions_abs, rewards, dones, obs (7 keys), next_obs (7 keys)" in said, said
        assert "datagen_info (eef_pose, gripper_action, object_poses (2), subtask_term_signals (1))" in said, said
        assert "not checked: datagen_info/target_pose" in said, said


def _flip(value: float) -> float:
    """Another value inside [-1, 1], far from ``value`` (so clipping cannot undo the edit)."""
    return -0.9 if value > 0 else 0.9


# (array, step: int or -1 for the last, how to edit the stored row)
EDITS = [
    ("obs/robot0_eef_pos", 5, lambda row: row + 0.01),
    ("next_obs/robot0_joint_pos", 4, lambda row: row + 0.01),
    ("rewards", 7, lambda value: 1.0 - value),
    ("actions_abs", 12, lambda row: row + np.array([0.0, 0.01, 0, 0, 0, 0, 0])),
    ("actions", -1, lambda row: np.array([_flip(row[0]), *row[1:]])),
    ("datagen_info/object_poses/cube_a", 3, lambda pose: pose + np.pad(np.full((3, 1), 0.01), ((0, 1), (3, 0)))),
    ("datagen_info/eef_pose", 9, lambda pose: pose + np.pad(np.full((3, 1), 0.01), ((0, 1), (3, 0)))),
]


@pytest.mark.parametrize("key,step,edit", EDITS, ids=[e[0] for e in EDITS])
def test_a_hand_edit_is_named_by_demo_array_and_step(stack_run, tmp_path: Path, key: str, step: int, edit) -> None:  # noqa: ANN001
    out, _ = stack_run
    copy = tmp_path / "edited.hdf5"
    shutil.copy(out / "demos.hdf5", copy)
    with h5py.File(copy, "r+") as f:
        data = f[f"data/demo_1/{key}"]
        step = step % len(data)
        data[step] = edit(data[step])
    result = run("replay", str(copy), "--check")
    assert result.returncode == 1, result.stdout + result.stderr
    # The last action only moves the state after the last stored one: its executed target (actions_abs) shows it.
    named = "actions_abs" if key == "actions" else key
    assert f"1 of 6 demos do not reproduce: demo_1 ({named} from step {step})" in text(result), text(result)


def test_check_with_the_wrong_task_is_a_user_error(stack_sources: Path, tmp_path: Path) -> None:
    assert_user_error(run("replay", str(stack_sources), "--check", "--task", "square"),
                      str(stack_sources), "recorded for task 'stack'", "not 'square'")
    nameless = tmp_path / "no_env_name.hdf5"  # nothing says which task: the model lacks the square's bodies
    shutil.copy(stack_sources, nameless)
    with h5py.File(nameless, "r+") as f:
        env_args = json.loads(f["data"].attrs["env_args"])
        del env_args["env_name"]
        f["data"].attrs["env_args"] = json.dumps(env_args)
    assert_user_error(run("replay", str(nameless), "--check", "--task", "square"),
                      str(nameless), "demo_0/model_file", "no bodies ['nut', 'peg'] of task 'square'")


def test_annotate_leaves_recorded_datagen_info_byte_identical(stack_sources: Path, stack_run, tmp_path: Path) -> None:
    source = tmp_path / "src.hdf5"
    shutil.copy(stack_sources, source)
    recorded = datagen_bytes(source)
    assert run("annotate", str(source), "--task", "stack", "--out", str(tmp_path / "out.hdf5")).returncode == 0
    assert datagen_bytes(tmp_path / "out.hdf5") == recorded
    for _ in range(2):  # in place, then again: annotating twice is annotating once
        assert run("annotate", str(source), "--task", "stack").returncode == 0
        assert datagen_bytes(source) == recorded
    generated = tmp_path / "generated.hdf5"  # noisy actions: the stored intent is kept, not re-derived
    result = run("annotate", str(stack_run[0] / "demos.hdf5"), "--task", "stack", "--out", str(generated))
    assert result.returncode == 0, result.stderr
    assert datagen_bytes(generated) == datagen_bytes(stack_run[0] / "demos.hdf5")
    bare = tmp_path / "bare.hdf5"  # as an import: datagen_info is computed from states and clipped actions
    shutil.copy(stack_sources, bare)
    with h5py.File(bare, "r+") as f:
        for name in f["data"]:
            del f["data"][name]["datagen_info"]
    once, twice = tmp_path / "once.hdf5", tmp_path / "twice.hdf5"
    assert run("annotate", str(bare), "--task", "stack", "--out", str(once)).returncode == 0
    assert run("annotate", str(once), "--task", "stack", "--out", str(twice)).returncode == 0
    first = datagen_bytes(once)
    assert datagen_bytes(twice) == first
    recorded = datagen_bytes(stack_sources)
    assert {k for k in first if first[k] != recorded[k]} <= {k for k in first if k.endswith("/target_pose")}
