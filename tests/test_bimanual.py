"""Two arms: bimanual_panda's demos hold per-arm arrays and replay exactly, and a bimanual task refuses a
one-arm robot (the experts' success rates are in test_tasks.py, with every task's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli import assert_user_error, run

import demoforge as df
from demoforge.data.hdf5 import read_env_args
from demoforge.rollout.replay import check_demo
from demoforge.rollout.world import make_world
from demoforge.sim.robot import PANDA

BIMANUAL_TASKS = ["two_arm_stack"]


@pytest.mark.parametrize("task", BIMANUAL_TASKS)
def test_bimanual_sources_have_per_arm_arrays_and_replay_exactly(task: str, tmp_path: Path) -> None:
    path, _ = df.record_sources(task, num=2, out=tmp_path / "src.hdf5", seed=0)
    demos = df.read_demos(path)
    demo = demos[0]
    T = len(demo)
    assert demo.actions.shape == (T, 14) and demo.actions_abs.shape == (T, 14)
    assert demo.datagen.eef_pose.shape == (T, 2, 4, 4) and demo.datagen.gripper_action.shape == (T, 2, 1)
    assert {"robot0_eef_pos", "robot1_eef_pos", "robot1_gripper_qpos"} <= set(demo.obs)
    right, left = demo.datagen.arm(0), demo.datagen.arm(1)
    assert right.eef_pose[0, 1, 3] < 0 < left.eef_pose[0, 1, 3]  # right arm on the right (-y)
    env_args = read_env_args(path)
    assert [a["arm"] for a in env_args["env_kwargs"]["action_layout"]] == ["right", "left"]
    for d in demos:
        result = check_demo(d, task, "bimanual_panda")
        assert result.ok, result


def test_a_bimanual_task_refuses_a_one_arm_robot(tmp_path: Path) -> None:
    with pytest.raises(df.DemoforgeError, match="needs a robot with 2 arms"):
        make_world(df.get_task("two_arm_stack"), PANDA)
    out = tmp_path / "src.hdf5"
    assert_user_error(run("source", "--task", "two_arm_stack", "--robot", "panda", "--num", "1", "--out", str(out)),
                      "two_arm_stack", "2 arms", "panda", "has 1 (arm0)")
    assert not out.exists()
