"""Generation end to end on real physics: successes, stats, layout, determinism, replay."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

import demoforge as df
from demoforge.rollout.replay import check_demo
from demoforge.runner.run_folder import RunFolder, RunStats


def test_run_folder_and_stats(stack_run: tuple[Path, RunStats]) -> None:
    out, stats = stack_run
    assert {p.name for p in out.iterdir()} == {
        "demos.hdf5", "failed.hdf5", "config.json", "stats.json", ".demoforge.json", ".demoforge.lock"
    }
    assert json.loads((out / ".demoforge.json").read_text())["kind"] == "run"
    saved = json.loads((out / "stats.json").read_text())
    assert list(saved) == [  # what stats.json has always held, in this order: old run folders still read
        "requested", "attempts", "successes", "physics_steps", "control_steps", "scenes_rejected", "crashed", "dgr",
        "wall_time_s", "attempts_per_s", "failures", "task", "variation", "scene_family", "cpu_count",
    ]
    assert RunFolder(out).read_stats() == stats == RunStats.model_validate(saved)
    assert saved["successes"] == 6
    assert saved["attempts"] == saved["successes"] + sum(saved["failures"].values())
    assert saved["physics_steps"] == saved["control_steps"] * 25
    config = json.loads((out / "config.json").read_text())
    assert config["seed"] == 3 and config["task"] == "stack" and len(config["source_sha256"]) == 64


def test_hdf5_layout_matches_design(stack_run: tuple[Path, RunStats]) -> None:
    out, _ = stack_run
    with h5py.File(out / "demos.hdf5", "r") as f:
        data = f["data"]
        env_args = json.loads(data.attrs["env_args"])
        assert env_args["env_name"] == "stack" and "env_kwargs" in env_args
        names = sorted(data.keys(), key=lambda n: int(n.split("_")[1]))
        assert names == [f"demo_{i}" for i in range(6)]
        assert data.attrs["total"] == sum(data[n].attrs["num_samples"] for n in names)
        masks = [m.decode() for m in f["mask/train"][()]] + [m.decode() for m in f["mask/valid"][()]]
        assert sorted(masks, key=lambda n: int(n.split("_")[1])) == names
        demo = data["demo_0"]
        T = demo.attrs["num_samples"]
        assert "<mujoco" in demo.attrs["model_file"]
        assert len(json.loads(demo.attrs["source"])) == 2
        shapes = {
            "actions": (T, 7), "actions_abs": (T, 7), "rewards": (T,), "dones": (T,),
            "obs/robot0_eef_pos": (T, 3), "obs/robot0_eef_quat": (T, 4), "obs/robot0_gripper_qpos": (T, 2),
            "obs/robot0_joint_pos": (T, 7), "obs/object": (T, 14),
            "datagen_info/eef_pose": (T, 4, 4), "datagen_info/target_pose": (T, 4, 4),
            "datagen_info/gripper_action": (T, 1), "datagen_info/object_poses/cube_a": (T, 4, 4),
            "datagen_info/object_poses/cube_b": (T, 4, 4), "datagen_info/subtask_term_signals/grasp_cube_a": (T,),
        }
        for key, shape in shapes.items():
            assert demo[key].shape == shape, key
        assert demo["states"].shape[0] == T
        assert demo["dones"][-1] == 1 and demo["dones"][:-1].sum() == 0
        assert np.all(np.abs(demo["actions"][()]) <= 1.0)
        assert demo["rewards"][-5:].min() == 1.0
        assert set(demo["next_obs"]) == set(demo["obs"])  # robomimic's default config reads next_obs
        pos, following = demo["obs/robot0_eef_pos"][()], demo["next_obs/robot0_eef_pos"][()]
        assert np.array_equal(following[:-1], pos[1:]) and np.array_equal(following[-1], pos[-1])


def test_every_generated_demo_replays_exactly(stack_run: tuple[Path, RunStats]) -> None:
    out, _ = stack_run
    for demo in df.read_demos(out / "demos.hdf5"):
        result = check_demo(demo, "stack")
        assert result.ok, result
        assert result.max_state_error == 0.0


def test_failed_attempts_carry_their_reason(stack_run: tuple[Path, RunStats]) -> None:
    out, stats = stack_run
    failed = df.read_demos(out / "failed.hdf5", require_datagen=False) if stats.failures else []
    assert len(failed) == sum(stats.failures.values())
    for demo in failed:
        assert demo.meta["reason"] in stats.failures
        assert not demo.success


def test_same_seed_gives_byte_identical_arrays(stack_sources: Path, stack_run: tuple[Path, RunStats], tmp_path: Path) -> None:
    out, _ = stack_run
    cfg = df.GenerateConfig(task="stack", source=str(stack_sources), num_demos=3, max_attempts=30, variation="D1", seed=3)
    df.generate(cfg, tmp_path / "again")
    first, again = df.read_demos(out / "demos.hdf5")[:3], df.read_demos(tmp_path / "again" / "demos.hdf5")
    for a, b in zip(first, again):
        for key in ("actions", "actions_abs", "states", "rewards"):
            assert getattr(a, key).tobytes() == getattr(b, key).tobytes(), key
    other = df.generate(cfg.model_copy(update={"seed": 4}), tmp_path / "other")
    assert other.successes >= 1
    assert df.read_demos(tmp_path / "other" / "demos.hdf5")[0].states.tobytes() != first[0].states.tobytes()


def test_generated_demos_serve_as_sources(stack_run: tuple[Path, RunStats], tmp_path: Path) -> None:
    out, _ = stack_run
    cfg = df.GenerateConfig(task="stack", source=str(out / "demos.hdf5"), num_demos=2, max_attempts=10, variation="D1")
    assert df.generate(cfg, tmp_path / "second_gen").successes == 2


def _carry_detour(path: Path) -> float:
    """Mean over demos of the largest sideways distance (m) of the hand from the straight grasp-to-release line."""
    detours = []
    for demo in df.read_demos(path):
        xy = demo.datagen.eef_pose[:, :2, 3]
        grasp = int(np.argmax(demo.datagen.subtask_term_signals["grasp_cube_a"]))
        release = grasp + int(np.argmax(demo.datagen.gripper_action[grasp:, 0] < 0))
        line = xy[release] - xy[grasp]
        rel = xy[grasp:release] - xy[grasp]
        detours.append(np.max(np.abs(rel[:, 0] * line[1] - rel[:, 1] * line[0])) / np.linalg.norm(line))
    return float(np.mean(detours))


def test_approach_radius_replaces_the_turned_source_travel_by_a_direct_bridge(
    stack_sources: Path, stack_run: tuple[Path, RunStats], tmp_path: Path
) -> None:
    out, _ = stack_run
    cfg = df.GenerateConfig(task="stack", source=str(stack_sources), num_demos=6, max_attempts=30, variation="D1",
                            seed=3, approach_radius=0.0)
    assert df.generate(cfg, tmp_path / "whole").successes == 6
    direct, whole = _carry_detour(out / "demos.hdf5"), _carry_detour(tmp_path / "whole" / "demos.hdf5")
    assert direct < 0.6 * whole, (direct, whole)  # replaying whole segments turns the source's travel with cube_b


@pytest.mark.slow
@pytest.mark.parametrize("task", ["lift", "stack_three", "square"])
def test_generation_succeeds_on_every_task(task: str, tmp_path: Path) -> None:
    src = tmp_path / "src.hdf5"
    df.record_sources(task, num=4, out=src, seed=0)
    cfg = df.GenerateConfig(task=task, source=str(src), num_demos=2, max_attempts=12, variation="D0", seed=0)
    stats = df.generate(cfg, tmp_path / "run")
    assert stats.successes >= 1, stats
    for demo in df.read_demos(tmp_path / "run" / "demos.hdf5"):
        assert check_demo(demo, task).ok


def test_unknown_camera_is_rejected_before_any_output(stack_sources: Path, tmp_path: Path) -> None:
    cfg = df.GenerateConfig(task="stack", source=str(stack_sources), num_demos=1, cameras=["ceiling"])
    with pytest.raises(df.DemoforgeError, match="unknown camera"):
        df.generate(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()
