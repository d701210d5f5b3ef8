"""Robot description: which joints, actuators and site of an MJCF model make the arm and gripper.

The built-in robot is a Franka Panda (``assets/panda.xml``). Bring your own MJCF (for example a
MuJoCo Menagerie model on disk) with a small JSON or TOML file holding the fields of ``RobotConfig``.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from demoforge.errors import InputFileError

ASSETS = Path(__file__).parent / "assets"
ROBOT_PREFIX = "robot0_"  # names inside the composed scene, as robosuite names its first robot


class RobotConfig(BaseModel):
    """Names inside one robot MJCF that the controller needs; all names are un-prefixed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    mjcf: Path = Field(description="robot MJCF file; relative paths are resolved against the config file")
    arm_joints: list[str] = Field(min_length=1, description="hinge joints of the arm, base to tip")
    arm_actuators: list[str] = Field(min_length=1, description="position actuators driving arm_joints, same order")
    eef_site: str = Field(description="site at the tool centre point; its frame is the end-effector frame")
    gripper_actuators: list[str] = Field(description="position actuators of the gripper")
    gripper_open: list[float] = Field(description="gripper actuator controls for action -1 (open)")
    gripper_closed: list[float] = Field(description="gripper actuator controls for action +1 (closed)")
    gripper_joints: list[str] = Field(default_factory=list, description="finger joints, reported as gripper qpos")
    finger_geoms: list[str] = Field(min_length=1, description="geoms used to decide whether an object is grasped")
    home_qpos: list[float] = Field(description="arm joint positions at reset, radians")
    ik_joint_cost: list[float] | None = Field(
        None, description="relative cost of moving each arm joint in IK (default all 1); raise it for a joint "
        "whose axis can line up with another's"
    )

    @model_validator(mode="after")
    def _lengths_agree(self) -> RobotConfig:
        n = len(self.arm_joints)
        if len(self.arm_actuators) != n or len(self.home_qpos) != n:
            raise ValueError(f"arm_joints, arm_actuators and home_qpos must have the same length ({n})")
        if self.ik_joint_cost is not None and (len(self.ik_joint_cost) != n or min(self.ik_joint_cost) <= 0):
            raise ValueError(f"ik_joint_cost needs {n} positive values, one per arm joint")
        m = len(self.gripper_actuators)
        if len(self.gripper_open) != m or len(self.gripper_closed) != m:
            raise ValueError(f"gripper_open and gripper_closed need one value per gripper actuator ({m})")
        return self


PANDA = RobotConfig(
    name="panda",
    mjcf=ASSETS / "panda.xml",
    arm_joints=[f"joint{i}" for i in range(1, 8)],
    arm_actuators=[f"actuator{i}" for i in range(1, 8)],
    eef_site="grip_site",
    gripper_actuators=["finger_actuator1", "finger_actuator2"],
    gripper_open=[0.04, 0.04],
    gripper_closed=[0.0, 0.0],
    gripper_joints=["finger_joint1", "finger_joint2"],
    finger_geoms=["left_pad", "right_pad"],
    home_qpos=[0.0, -0.3, 0.0, -2.2, 0.0, 1.9, 0.785],
    ik_joint_cost=[1.0, 1.0, 5.0, 1.0, 1.0, 1.0, 1.0],
)

BUILTIN_ROBOTS: dict[str, RobotConfig] = {"panda": PANDA}


def load_robot(name_or_path: str | Path) -> RobotConfig:
    """A built-in robot by name, or a user robot from a ``.json`` / ``.toml`` config file."""
    if str(name_or_path) in BUILTIN_ROBOTS:
        return BUILTIN_ROBOTS[str(name_or_path)]
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(sorted(BUILTIN_ROBOTS))
        raise InputFileError(path, f"no such robot config file (built-in robots: {known})")
    try:
        if path.suffix == ".toml":
            import tomllib

            raw = tomllib.loads(path.read_text())
        else:
            raw = json.loads(path.read_text())
    except (ValueError, OSError) as exc:
        raise InputFileError(path, f"cannot parse robot config: {exc}") from None
    try:
        config = RobotConfig.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise InputFileError(path, f"invalid robot config: {first['msg']}", field=field) from None
    mjcf = config.mjcf if config.mjcf.is_absolute() else (path.parent / config.mjcf)
    if not mjcf.is_file():
        raise InputFileError(path, f"robot MJCF {mjcf} does not exist", field="mjcf")
    return config.model_copy(update={"mjcf": mjcf.resolve()})
