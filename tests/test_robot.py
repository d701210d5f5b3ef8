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
    assert df.generate(cfg, tmp_path / "run")["successes"] == 1
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
    with pytest.raises(InputFileError, match="built-in robots: panda"):
        load_robot("ur5e")


def test_config_naming_a_missing_joint(tmp_path: Path) -> None:
    cfg_path = renamed_panda(tmp_path)
    config = json.loads(cfg_path.read_text())
    config["arm_joints"][3] = "elbow"
    cfg_path.write_text(json.dumps(config))
    with pytest.raises(df.DemoforgeError, match="no joint named 'elbow'"):
        df.record_sources("lift", num=1, out=tmp_path / "x.hdf5", robot=str(cfg_path))
    assert not (tmp_path / "x.hdf5").exists()
