"""The humanoid's tasks: hand commands (6 per hand) go through sources, generation, replay, the HDF5 reader
and the LeRobot export intact; the scripted experts shape the hands and succeed; the pour names its spill.
(Every task's expert success rate over 20 D0 resets is in test_tasks.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_cli import run

import demoforge as df
from demoforge.data.hdf5 import read_env_args
from demoforge.rollout.episode import record_expert
from demoforge.rollout.replay import check_demo
from demoforge.rollout.world import make_world
from demoforge.sim.gr1 import DIGITS
from demoforge.sim.scene import set_free_body_pose
from demoforge.tasks.pour import PARTICLE_NAMES

GR1_TASKS = ["gr1_box_lift", "gr1_pick_place", "gr1_pour"]
DIGIT_NAMES = [digit for digit, _, _ in DIGITS]


@pytest.mark.parametrize("task", ["gr1_box_lift", "gr1_pick_place"])
def test_d1_sources_carry_every_hand_actuator_and_replay_exactly(task: str, tmp_path: Path) -> None:
    path, _ = df.record_sources(task, num=2, out=tmp_path / "src.hdf5", seed=0)
    layout = read_env_args(path)["env_kwargs"]["action_layout"]
    assert [(a["arm"], a["eef"], a["eef_names"]) for a in layout] == [
        ("right", [6, 12], DIGIT_NAMES), ("left", [18, 24], DIGIT_NAMES)]
    for demo in df.read_demos(path):
        T = len(demo)
        assert demo.actions.shape == (T, 24) and demo.actions_abs.shape == (T, 24)
        hands = demo.datagen.gripper_action
        assert hands.shape == (T, 2, 6)
        for arm in range(2):  # the recorded hand command is the action's, column for column
            np.testing.assert_array_equal(hands[:, arm], np.clip(demo.actions[:, 12 * arm + 6 : 12 * arm + 12], -1, 1))
            np.testing.assert_array_equal(demo.actions_abs[:, 12 * arm + 6 : 12 * arm + 12], demo.actions[:, 12 * arm + 6 : 12 * arm + 12])
        assert len({tuple(row) for row in hands[:, 0]}) >= 2  # the expert shapes the hand: not one fixed command
        assert demo.obs["robot0_gripper_qpos"].shape == (T, 6)  # the driven joint of each digit
        result = check_demo(demo, task)
        assert result.ok, result


def test_box_lift_generates_from_two_sources_replays_exactly_and_exports_named_columns(tmp_path: Path) -> None:
    src, out, lerobot = tmp_path / "src.hdf5", tmp_path / "run", tmp_path / "lerobot"
    assert run("source", "--task", "gr1_box_lift", "--num", "3", "--out", str(src)).returncode == 0
    made = run("generate", "--task", "gr1_box_lift", "--source", str(src), "--num-demos", "3", "--max-attempts", "12",
               "--out", str(out), "--workers", "1")
    assert made.returncode == 0, made.stdout + made.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["successes"] == 3
    for demo in df.read_demos(out / "demos.hdf5"):
        assert demo.datagen.gripper_action.shape == (len(demo), 2, 6)
        assert check_demo(demo, "gr1_box_lift").ok
    exported = run("export", "lerobot", str(out / "demos.hdf5"), "--out", str(lerobot), "--cameras", "")
    assert exported.returncode == 0, exported.stdout + exported.stderr
    info = json.loads((lerobot / "meta" / "info.json").read_text())
    assert info["robot_type"] == "gr1"
    action = info["features"]["action"]["names"]
    assert action[:12] == ["right_dx", "right_dy", "right_dz", "right_rx", "right_ry", "right_rz",
                           *(f"right_{d}" for d in DIGIT_NAMES)]
    assert action[12:18] == [f"left_{c}" for c in ("dx", "dy", "dz", "rx", "ry", "rz")]
    assert info["features"]["absolute_action"]["names"][6:12] == [f"right_{d}" for d in DIGIT_NAMES]
    joints = info["features"]["observation.joint_pos"]["names"]
    assert joints[:2] == ["right_r_shoulder_pitch", "right_r_shoulder_roll"] and joints[7] == "left_l_shoulder_pitch"
    state = info["features"]["observation.state"]["names"]
    assert "right_right_fourier_R_index_proximal_joint" in state and len(state) == 2 * (3 + 4 + 6)


def test_pick_place_moves_each_object_with_its_own_hand() -> None:
    task = df.get_task("gr1_pick_place")
    world = make_world(task)
    demo = record_expert(world, np.random.default_rng(3), "D1")
    assert demo.success, task.failure_reason(world.env)
    info = demo.datagen
    first = {s: int(np.argmax(v)) for s, v in info.subtask_term_signals.items()}
    for item, arm, signal in (("can", 0, "right_grasp"), ("carton", 1, "left_grasp")):
        # while the object travels, it is the named hand that is near it
        t = first[signal] + 15
        hand = info.eef_pose[t, arm, :3, 3]
        other = info.eef_pose[t, 1 - arm, :3, 3]
        obj = info.object_poses[item][t, :3, 3]
        assert np.linalg.norm(hand - obj) < 0.08 < np.linalg.norm(other - obj), item


def test_pour_counts_balls_outside_both_vessels_as_a_spill() -> None:
    """A real spill: balls let fall beside the bowl, settled by the physics, fail the task with its reason."""
    task = df.get_task("gr1_pour")
    world = make_world(task)
    env = world.env
    task.reset(env, np.random.default_rng(0), "D0")
    assert task.spilled(env) == 0 and task.failure_reason(env) == "0 of 60 particles in the bowl"  # nothing poured
    bowl = env.body_pose("target")[:3, 3]
    for i, name in enumerate(PARTICLE_NAMES[:12]):
        spot = bowl + [0.12 + 0.013 * (i % 4), -0.03 + 0.013 * (i // 4), 0.02]
        set_free_body_pose(env.model, env.data, name, np.block([[np.eye(3), spot[:, None]], [np.zeros(3), 1.0]]))
    for _ in range(20):
        env.step_physics()
    assert task.spilled(env) == 12
    assert task.failure_reason(env) == "spilled 12 of 60 particles" and not task.success(env)


@pytest.mark.slow
def test_pour_expert_pours_and_sets_the_glass_down() -> None:
    task = df.get_task("gr1_pour")
    world = make_world(task)
    demo = record_expert(world, np.random.default_rng(1), "D1")
    assert demo.success, task.failure_reason(world.env)
    assert demo.datagen.subtask_term_signals["poured"].any() and task.spilled(world.env) == 0
    assert check_demo(demo, "gr1_pour").ok
