"""Bring-your-own robot: a config file naming joints, actuators and sites of an MJCF on disk."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import demoforge as df
from demoforge.errors import InputFileError
from demoforge.sim.robot import ASSETS, load_robot
from demoforge.rollout.replay import check_demo


def renamed_panda(tmp_path: Path) -> Path:
    """The built-in arm under different names, as a user's own MJCF would have them."""
    xml = (ASSETS / "panda.xml").read_text()
    xml = re.sub(r'name="joint(\d)"', r'name="arm_j\1"', xml).replace('joint="joint', 'joint="arm_j')
    xml = xml.replace("grip_site", "tcp").replace("left_pad", "pad_l").replace("right_pad", "pad_r")
    path = tmp_path / "my_arm.xml"
    path.write_text(xml)
    config = {
        "name": "my_arm",
        "mjcf": "my_arm.xml",
        "arm_joints": [f"arm_j{i}" for i in range(1, 8)],
        "arm_actuators": [f"actuator{i}" for i in range(1, 8)],
        "eef_site": "tcp",
        "gripper_actuators": ["finger_actuator1", "finger_actuator2"],
        "gripper_open": [0.04, 0.04],
        "gripper_closed": [0.0, 0.0],
        "gripper_joints": ["finger_joint1", "finger_joint2"],
        "finger_geoms": ["pad_l", "pad_r"],
        "home_qpos": [0.0, -0.3, 0.0, -2.2, 0.0, 1.9, 0.785],
    }
    cfg_path = tmp_path / "my_arm.json"
    cfg_path.write_text(json.dumps(config))
    return cfg_path


def test_user_robot_records_and_generates(tmp_path: Path) -> None:
    cfg_path = renamed_panda(tmp_path)
    robot = load_robot(cfg_path)
    assert robot.mjcf == (tmp_path / "my_arm.xml").resolve()
    src = tmp_path / "src.hdf5"
    df.record_sources("lift", num=2, out=src, robot=str(cfg_path))
    cfg = df.GenerateConfig(task="lift", source=str(src), num_demos=1, max_attempts=6, variation="D0", robot=str(cfg_path))
    assert df.generate(cfg, tmp_path / "run").successes == 1
    demo = df.read_demos(tmp_path / "run" / "demos.hdf5")[0]
    assert "arm_j1" in demo.model_file
    assert check_demo(demo, "lift", robot=str(cfg_path)).ok


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"home_qpos": [0.0]}, "same length"),
        ({"gripper_open": [0.04]}, "one value per gripper actuator"),
        ({"mjcf": "missing.xml"}, "does not exist"),
        ({"wheels": 4}, "wheels"),
    ],
)
def test_bad_robot_config_is_rejected_with_the_field(tmp_path: Path, change: dict, needle: str) -> None:
    cfg_path = renamed_panda(tmp_path)
    config = {**json.loads(cfg_path.read_text()), **change}
    cfg_path.write_text(json.dumps(config))
    with pytest.raises(InputFileError, match=str(cfg_path.name)) as info:
        load_robot(cfg_path)
    assert needle in str(info.value)


def test_unknown_robot_name() -> None:
    with pytest.raises(InputFileError, match="built-in robots: bimanual_panda, gr1, panda"):
        load_robot("ur5e")


def test_config_naming_a_missing_joint(tmp_path: Path) -> None:
    cfg_path = renamed_panda(tmp_path)
    config = json.loads(cfg_path.read_text())
    config["arm_joints"][3] = "elbow"
    cfg_path.write_text(json.dumps(config))
    with pytest.raises(df.DemoforgeError, match="no joint named 'elbow'"):
        df.record_sources("lift", num=1, out=tmp_path / "x.hdf5", robot=str(cfg_path))
    assert not (tmp_path / "x.hdf5").exists()


def test_bimanual_panda_has_two_arms_that_each_track_their_own_target() -> None:
    import numpy as np

    from demoforge import geometry as geo
    from demoforge.rollout.world import make_world
    from demoforge.sim.controller import target_to_action
    from demoforge.sim.robot import BIMANUAL_PANDA
    from demoforge.tasks import get_task

    world = make_world(get_task("lift"), BIMANUAL_PANDA)
    env = world.env
    assert [a.name for a in env.arms] == ["right", "left"] and BIMANUAL_PANDA.action_dim == 14
    right, left = env.eef_pose(0), env.eef_pose(1)
    assert right[1, 3] < -0.2 and left[1, 3] > 0.2  # side by side, 0.6 m apart
    goals = [right @ geo.make_pose([0.08, -0.05, -0.1]), left @ geo.make_pose([-0.05, 0.04, 0.12])]
    for _ in range(60):
        action = np.concatenate([
            np.clip(target_to_action(env.eef_pose(i), env.arms[i].world_T_base, goals[i], g), -1, 1)
            for i, g in enumerate((1.0, -1.0))
        ])
        env.step(action)
    for i in range(2):
        assert np.linalg.norm(env.eef_pose(i)[:3, 3] - goals[i][:3, 3]) < 0.005
    assert env.data.ctrl[env.arms[0].grip_act_ids].max() < 1e-9  # right closed, left open
    assert env.data.ctrl[env.arms[1].grip_act_ids].min() > 0.039
    layout = BIMANUAL_PANDA.action_layout()
    assert [(a["arm"], a["pose"], a["eef"]) for a in layout] == [("right", [0, 6], [6, 7]), ("left", [7, 13], [13, 14])]


def test_a_flat_single_arm_file_is_one_arm_and_robots_need_distinct_arms(tmp_path: Path) -> None:
    robot = load_robot(renamed_panda(tmp_path))
    assert [(a.name, a.prefix) for a in robot.arms] == [("arm0", "robot0_")] and robot.action_dim == 7
    config = json.loads((tmp_path / "my_arm.json").read_text())
    arm = {k: v for k, v in config.items() if k != "name"}
    two = tmp_path / "two.json"
    two.write_text(json.dumps({"name": "twins", "arms": [arm, {**arm, "name": "left"}]}))
    with pytest.raises(InputFileError, match="distinct prefixes"):
        load_robot(two)


def test_robots_command_lists_both_robots_with_their_arms() -> None:
    from test_cli import run

    result = run("robots")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for needle in ("bimanual_panda", "right (robot0_)", "left (robot1_)", "14-D", "robot1_eye_in_hand", "panda",
                   "gr1: gr1 body", "24-D action, head camera (--cameras head)",
                   "dexterous hand with 6 actuators (thumb_yaw, thumb_pitch, index, middle, ring, pinky)"):
        assert needle in text, text
