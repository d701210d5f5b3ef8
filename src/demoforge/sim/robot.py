"""Robots as data: which MJCF pieces make the robot, and per arm its joints, actuators, end-effector and cameras.

A robot is one or more arms, in a fixed order (the order of the action vector and of ``robotN_``
observation keys). Each arm names its elements as they are in its own MJCF; in the composed scene
they carry the arm's ``prefix`` (``robot0_``, ``robot1_``: robosuite's names for its robots).

Built in: ``panda`` (one Franka Panda), ``bimanual_panda`` (two Pandas side by side facing the
table, as in DexMimicGen's two-arm setups) and ``gr1`` (Fourier GR1's upper body with two dexterous
Fourier hands, from the pinned robosuite pack: sim/gr1.py). A robot whose arms share one model (a
humanoid) names that model as its ``body``; its arms then name elements inside it. Bring your own robot with a JSON or TOML file holding
the fields of ``RobotConfig`` (a single arm may also be written flat, with the fields of
``ArmConfig`` at the top level, as before robots had arms).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from demoforge.errors import InputFileError
from demoforge.tomlfile import TomlDoc

ASSETS = Path(__file__).parent / "assets"
ROBOT_PREFIX = "robot0_"  # the first arm's namespace in the composed scene, as robosuite names its first robot


class ArmConfig(BaseModel):
    """One arm and its end-effector; element names are un-prefixed, as in ``mjcf``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("arm0", description="arm name (right, left; a single arm is arm0)")
    prefix: str = Field(ROBOT_PREFIX, description="namespace of this arm's elements in the scene and in obs keys")
    mjcf: Path | None = Field(
        None, description="arm MJCF file; relative paths are resolved against the config file (none: the arm is "
        "part of the robot's body)")
    element_prefix: str | None = Field(
        None, description="namespace of this arm's elements in the scene, if not ``prefix`` (arms of one body)")
    base_body: str | None = Field(
        None, description="body whose frame actions are expressed in (default: the first arm joint's parent)")
    mount_pos: tuple[float, float, float] = Field((0.0, 0.0, 0.0), description="arm base relative to the robot base, m")
    mount_yaw: float = Field(0.0, description="arm base rotation about z relative to the robot base, rad")
    arm_joints: list[str] = Field(min_length=1, description="hinge joints of the arm, base to tip")
    arm_actuators: list[str] = Field(min_length=1, description="position actuators driving arm_joints, same order")
    eef_site: str = Field(description="site at the tool centre point; its frame is the end-effector frame")
    eef_kind: Literal["parallel_gripper", "dexterous_hand"] = Field(
        "parallel_gripper", description="what the arm ends in: a gripper (one command) or a hand (one per actuator)")
    gripper_actuators: list[str] = Field(description="position actuators of the gripper or hand")
    gripper_open: list[float] = Field(description="actuator controls for action -1 (open)")
    gripper_closed: list[float] = Field(description="actuator controls for action +1 (closed)")
    gripper_joints: list[str] = Field(default_factory=list, description="finger joints, reported as gripper qpos")
    finger_geoms: list[str] = Field(min_length=1, description="geoms used to decide whether an object is grasped")
    grasp_groups: list[list[str]] = Field(
        default_factory=list, description="geoms that oppose each other in a grasp (a hand's thumb, its fingers): "
        "grasping is every group touching the object; none: every finger geom touching")
    home_qpos: list[float] = Field(description="arm joint positions at reset, radians")
    ik_joint_cost: list[float] | None = Field(
        None, description="relative cost of moving each arm joint in IK (default all 1); raise it for a joint "
        "whose axis can line up with another's"
    )
    cameras: list[str] = Field(default_factory=list, description="cameras the arm carries (un-prefixed)")
    draw_as: Literal["panda"] | None = Field(
        None, description="draw the arm with a built-in robot's real meshes from the asset pack (its own geoms "
        "then only collide); none: as its MJCF draws it")

    @model_validator(mode="after")
    def _lengths_agree(self) -> ArmConfig:
        n = len(self.arm_joints)
        for key in ("arm_actuators", "home_qpos"):  # "key: problem" lets a robot file's error point at its line
            if len(getattr(self, key)) != n:
                raise ValueError(f"{key}: arm_joints, arm_actuators and home_qpos must have the same length ({n})")
        if self.ik_joint_cost is not None and (len(self.ik_joint_cost) != n or min(self.ik_joint_cost) <= 0):
            raise ValueError(f"ik_joint_cost: needs {n} positive values, one per arm joint")
        m = len(self.gripper_actuators)
        for key in ("gripper_open", "gripper_closed"):
            if len(getattr(self, key)) != m:
                raise ValueError(f"{key}: gripper_open and gripper_closed need one value per gripper actuator ({m})")
        return self

    @property
    def eef_dim(self) -> int:
        """Width of this arm's end-effector command in the action vector: a parallel gripper 1, a hand one per
        actuator."""
        return len(self.gripper_actuators) if self.eef_kind == "dexterous_hand" else 1

    @property
    def eef_names(self) -> list[str]:
        """Names of the end-effector command's columns: ``gripper``, or a hand's actuators without the arm's side
        (``thumb_yaw``, ``index`` ...: the column names then read ``right_thumb_yaw``)."""
        if self.eef_kind != "dexterous_hand":
            return ["gripper"]
        side = f"{self.name}_"
        names = [a.rsplit("/", 1)[-1] for a in self.gripper_actuators]
        return [n.removeprefix(side).removeprefix("hand_") for n in names]

    @property
    def names_prefix(self) -> str:
        """The prefix of this arm's element names in the composed scene."""
        return self.prefix if self.element_prefix is None else self.element_prefix


class RobotConfig(BaseModel):
    """A robot: its arms, in the order of the action vector."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    arms: tuple[ArmConfig, ...] = Field(min_length=1)
    body: Literal["gr1"] | None = Field(None, description="a built-in model holding every arm (a humanoid)")
    body_prefix: str = Field("", description="namespace of the body's elements in the scene")
    body_pos: tuple[float, float, float] = Field(
        (0.0, 0.0, 0.0), description="the body's base relative to the scene's robot base (the table-top mount), m")
    cameras: dict[str, str] = Field(
        default_factory=dict, description="cameras the robot carries apart from its arms', by short name "
        "(``head``): the camera's name in the body")

    @model_validator(mode="before")
    @classmethod
    def _one_flat_arm(cls, value: Any) -> Any:
        """A config with the arm's fields at the top level (before robots had arms) is one arm, ``arm0``."""
        if isinstance(value, dict) and "arms" not in value and set(value) - {"name"} - set(cls.model_fields):
            arm = {k: v for k, v in value.items() if k != "name"}
            return {"name": value.get("name"), "arms": [arm]}
        return value

    @model_validator(mode="after")
    def _models_given(self) -> RobotConfig:
        for arm in self.arms:
            if (arm.mjcf is None) == (self.body is None):
                raise ValueError(f"arm {arm.name!r}: give an arm mjcf, or a robot body holding the arms (not both)")
        return self

    @model_validator(mode="after")
    def _distinct_arms(self) -> RobotConfig:
        for what, plural in (("name", "names"), ("prefix", "prefixes")):
            values = [getattr(a, what) for a in self.arms]
            if len(set(values)) != len(values):
                raise ValueError(f"arms need distinct {plural}, got {values}")
        return self

    @model_validator(mode="after")
    def _one_eef_width(self) -> RobotConfig:
        widths = {arm.eef_dim for arm in self.arms}
        if len(widths) > 1:  # datagen_info/gripper_action is one (T, arms, width) array
            raise ValueError(f"every arm needs the same end-effector command width, got {sorted(widths)}")
        return self

    @property
    def action_dim(self) -> int:
        return sum(6 + arm.eef_dim for arm in self.arms)

    @property
    def eef_dim(self) -> int:
        """Width of each arm's end-effector command (the same for every arm): 1 for a gripper, else the hand's
        actuators."""
        return self.arms[0].eef_dim

    def action_layout(self) -> list[dict]:
        """Which columns of an action are whose: per arm ``pose`` (6) and ``eef`` slices, as stored in ``env_args``."""
        layout, start = [], 0
        for arm in self.arms:
            layout.append({"arm": arm.name, "prefix": arm.prefix, "pose": [start, start + 6],
                           "eef": [start + 6, start + 6 + arm.eef_dim], "eef_kind": arm.eef_kind,
                           "eef_names": arm.eef_names, "joints": list(arm.arm_joints),
                           "finger_joints": list(arm.gripper_joints)})
            start += 6 + arm.eef_dim
        return layout

    @property
    def mjcf(self) -> Path:
        """The first arm's MJCF (a single-arm robot's model file)."""
        return self.arms[0].mjcf


def _panda_arm(name: str, prefix: str, mount_pos: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> ArmConfig:
    return ArmConfig(
        name=name,
        prefix=prefix,
        mjcf=ASSETS / "panda.xml",
        mount_pos=mount_pos,
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
        cameras=["eye_in_hand"],
        draw_as="panda",
    )


BIMANUAL_SPACING = 0.6  # metres between the two Panda bases (each reaches 0.3-0.72 m)
PANDA = RobotConfig(name="panda", arms=(_panda_arm("arm0", ROBOT_PREFIX),))
BIMANUAL_PANDA = RobotConfig(
    name="bimanual_panda",
    arms=(  # right first: robosuite's two-arm order (robot0 right, robot1 left), looking along +x
        _panda_arm("right", "robot0_", (0.0, -BIMANUAL_SPACING / 2, 0.0)),
        _panda_arm("left", "robot1_", (0.0, BIMANUAL_SPACING / 2, 0.0)),
    ),
)


def _gr1_arm(side: str, prefix: str) -> ArmConfig:
    from demoforge.sim import gr1

    thumb = [gr1.hand_geom(side, f"thumb_{link}_link") for link in ("proximal", "distal")]
    fingers = [gr1.hand_geom(side, f"{f}_{link}_link") for f in ("index", "middle", "ring", "pinky")
               for link in ("proximal", "intermediate")]
    return ArmConfig(
        name=side,
        prefix=prefix,
        element_prefix=GR1_PREFIX,
        base_body="base",
        arm_joints=gr1.ARM_JOINTS[side],
        arm_actuators=[f"{j}_servo" for j in gr1.ARM_JOINTS[side]],
        eef_site=f"{side}_fourier_{gr1.PALM_SITE}",  # the centre of the palm's face
        eef_kind="dexterous_hand",
        gripper_actuators=gr1.hand_actuators(side),
        gripper_open=[lo for lo, _ in gr1.HAND_RANGES],
        gripper_closed=[hi for _, hi in gr1.HAND_RANGES],
        gripper_joints=[gr1.hand_joint(side, driven) for _, driven, _ in gr1.DIGITS],
        finger_geoms=[f"{side}_fourier_{side[0]}_palm_col", *thumb, *fingers],
        grasp_groups=[thumb, fingers],  # the thumb opposing any finger
        home_qpos=list(gr1.HOME_QPOS[side]),
        cameras=[f"eye_in_{side}_hand"],
    )


GR1_PREFIX = "gr1_"
GR1 = RobotConfig(
    name="gr1",
    arms=(_gr1_arm("right", "robot0_"), _gr1_arm("left", "robot1_")),  # right first, as robosuite orders them
    body="gr1",
    body_prefix=GR1_PREFIX,
    # Pelvis 5 cm below the table top (a counter at hip height) and 15 cm behind its edge: the hands then
    # reach 6 cm above the top from 10 to 30 cm beyond the edge, each on its own side (docs/assets.md).
    body_pos=(-0.05, 0.0, -0.05),
    cameras={"head": "robotview"},  # in the head, looking down at the hands
)
BUILTIN_ROBOTS: dict[str, RobotConfig] = {"panda": PANDA, "bimanual_panda": BIMANUAL_PANDA, "gr1": GR1}


def load_robot(name_or_path: str | Path) -> RobotConfig:
    """A built-in robot by name, or a user robot from a ``.json`` / ``.toml`` config file."""
    if str(name_or_path) in BUILTIN_ROBOTS:
        return BUILTIN_ROBOTS[str(name_or_path)]
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(sorted(BUILTIN_ROBOTS))
        raise InputFileError(path, f"no such robot config file (built-in robots: {known})")
    doc = None
    try:
        if path.suffix == ".toml":
            doc = TomlDoc.read(path, "robot file")
            raw = doc.data
        else:
            raw = json.loads(path.read_text())
    except (ValueError, OSError) as exc:
        raise InputFileError(path, f"cannot parse robot config: {exc}") from None
    try:
        config = RobotConfig.model_validate(raw)
    except ValidationError as exc:
        flat = isinstance(raw, dict) and "arms" not in raw  # a flat single-arm file: name fields as written
        if doc is not None:
            raise doc.validation_error(exc, unwrap=("arms", 0) if flat else ()) from None
        first = exc.errors()[0]
        loc, message = tuple(first["loc"]), first["msg"].removeprefix("Value error, ")
        if loc[:2] == ("arms", 0) and flat:
            loc = loc[2:]
        if named := re.match(r"([a-z_]+): (.*)", message):  # a check across keys that names the key at fault
            loc, message = (*loc, named[1]), named[2]
        raise InputFileError(path, f"invalid robot config: {message}",
                             field=".".join(str(p) for p in loc) or None) from None
    arms = []
    for i, arm in enumerate(config.arms):
        if arm.mjcf is None:
            arms.append(arm)
            continue
        mjcf = arm.mjcf if arm.mjcf.is_absolute() else (path.parent / arm.mjcf)
        if not mjcf.is_file():
            loc = ("mjcf",) if len(config.arms) == 1 and "arms" not in raw else ("arms", i, "mjcf")
            if doc is not None:
                raise doc.error(loc, f"robot MJCF {mjcf} does not exist")
            raise InputFileError(path, f"robot MJCF {mjcf} does not exist", field=".".join(map(str, loc)))
        arms.append(arm.model_copy(update={"mjcf": mjcf.resolve()}))
    return config.model_copy(update={"arms": tuple(arms)})
