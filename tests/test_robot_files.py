"""Robot files: a user's own MJCF on disk, described in TOML, built and checked by ``robots --check`` before any
generation; a robot the controller cannot drive well is reported (exit 1), a mistake in the file named at its
line (exit 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_cli import assert_user_error, run

from demoforge.sim.robot import ASSETS

ROBOT = """\
name = "my_panda"
# one arm, written flat: the fields of an arm at the top level
mjcf = "models/my_arm.xml"
arm_joints = ["joint1", "joint2", "joint3", "joint4", "joint5", "joint6", "joint7"]
arm_actuators = ["actuator1", "actuator2", "actuator3", "actuator4", "actuator5", "actuator6", "actuator7"]
eef_site = "grip_site"
eef_kind = "parallel_gripper"
gripper_actuators = ["finger_actuator1", "finger_actuator2"]
gripper_open = [0.04, 0.04]
gripper_closed = [0.0, 0.0]
gripper_joints = ["finger_joint1", "finger_joint2"]
finger_geoms = ["left_pad", "right_pad"]
home_qpos = [0.0, -0.3, 0.0, -2.2, 0.0, 1.9, 0.785]
cameras = ["eye_in_hand"]
"""


@pytest.fixture
def robot_file(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    shutil.copy(ASSETS / "panda.xml", tmp_path / "models" / "my_arm.xml")
    path = tmp_path / "my_robot.toml"
    path.write_text(ROBOT)
    return path


def test_a_robot_on_disk_is_checked_before_generating(robot_file: Path, tmp_path: Path) -> None:
    result = run("robots", "--check", str(robot_file))
    assert result.returncode == 0, result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert "my_panda: tracking of targets around home" in text and "+z 10 cm" in text and "pitch 30 deg" in text
    assert "ok: demoforge's controller tracks my_panda" in text and "fingers travel 0.04" in text
    src = tmp_path / "src.hdf5"  # and it records and generates with a task
    assert run("source", "--task", "stack", "--robot", str(robot_file), "--num", "1", "--out", str(src)).returncode == 0


def test_a_robot_the_controller_cannot_drive_is_reported(robot_file: Path) -> None:
    arm = robot_file.parent / "models" / "my_arm.xml"
    arm.write_text(arm.read_text().replace('kp="4500" kv="450"', 'kp="40" kv="4"'))
    result = run("robots", "--check", str(robot_file))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "poor" in result.stdout and "the controller does not reach" in " ".join(result.stderr.split())


@pytest.mark.parametrize(("edit", "line", "key", "problem"), [
    (("eef_site = ", "eef_sit = "), 6, "eef_sit", "unknown key 'eef_sit' (did you mean 'eef_site'?)"),
    (('mjcf = "models/my_arm.xml"', 'mjcf = "models/nope.xml"'), 3, "mjcf", "nope.xml does not exist"),
    (('home_qpos = [0.0, -0.3, 0.0, -2.2, 0.0, 1.9, 0.785]', 'home_qpos = [0.0, -0.3]'), 13, "home_qpos",
     "arm_joints, arm_actuators and home_qpos must have the same length (7)"),
    (("arm_joints = ", "arm_joint = "), 4, "arm_joint", "unknown key 'arm_joint' (did you mean 'arm_joints'?)"),
])
def test_robot_file_mistakes_exit_2_naming_line_and_key(robot_file: Path, edit: tuple[str, str], line: int,
                                                       key: str | None, problem: str) -> None:
    robot_file.write_text(ROBOT.replace(*edit))
    where = f"my_robot.toml:{line}" + (f" [{key}]" if key else "")
    assert_user_error(run("robots", "--check", str(robot_file)), where, problem)


def test_a_robot_mjcf_that_does_not_load_is_named(robot_file: Path) -> None:
    arm = robot_file.parent / "models" / "my_arm.xml"
    arm.write_text(arm.read_text()[:-40])
    assert_user_error(run("robots", "--check", str(robot_file)), "my_arm.xml", "not a loadable MJCF")


def test_fingers_of_an_arm_that_names_no_finger_joints_are_not_measured(robot_file: Path) -> None:
    robot_file.write_text(ROBOT.replace('gripper_joints = ["finger_joint1", "finger_joint2"]\n', ""))
    result = run("robots", "--check", str(robot_file))
    assert result.returncode == 0 and "fingers not measured" in result.stdout, result.stdout + result.stderr
