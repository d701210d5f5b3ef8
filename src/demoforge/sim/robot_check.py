"""``demoforge robots --check``: does demoforge's controller drive this robot well, before any generation?

The robot is built on the plain tabletop, and each arm's end-effector is sent, one target at a time,
to poses around its home pose (``OFFSETS``: 10 cm along +x, -y, +z and -z of its base frame, 30 degrees
of yaw and of pitch), held for ``HOLD_S`` seconds by the same IK servo and physics that generation
uses. What is reported per target is the error left at the end and how long the hand took to come
within ``GOOD_MM`` and ``GOOD_DEG`` of it; the gripper (or hand) is closed from open to check that its
fingers move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from demoforge import geometry as geo
from demoforge.sim.env import SimEnv
from demoforge.sim.robot import RobotConfig
from demoforge.sim.scene import base_scene, model_from_xml, scene_xml

HOLD_S = 2.0  # seconds each target is held
GOOD_MM, GOOD_DEG = 5.0, 3.0  # a target reached within these is tracked well
OFFSETS = {  # name -> (translation in the arm's base frame (m), rotation about the base frame's axes (rad))
    "+x 10 cm": ((0.1, 0.0, 0.0), (0.0, 0.0, 0.0)),
    "-y 10 cm": ((0.0, -0.1, 0.0), (0.0, 0.0, 0.0)),
    "+z 10 cm": ((0.0, 0.0, 0.1), (0.0, 0.0, 0.0)),
    "-z 10 cm": ((0.0, 0.0, -0.1), (0.0, 0.0, 0.0)),
    "yaw 30 deg": ((0.0, 0.0, 0.0), (0.0, 0.0, np.pi / 6)),
    "pitch 30 deg": ((0.0, 0.0, 0.0), (0.0, np.pi / 6, 0.0)),
}


@dataclass(frozen=True)
class TargetResult:
    arm: str
    target: str
    error_mm: float  # position error at the end of the hold
    error_deg: float  # rotation error at the end of the hold
    settle_s: float | None  # time to come within GOOD_MM (None: never)

    @property
    def ok(self) -> bool:
        return self.error_mm <= GOOD_MM and self.error_deg <= GOOD_DEG


@dataclass(frozen=True)
class GripResult:
    arm: str
    travel: float | None  # largest finger joint travel from open to closed (m or rad); None: no finger joints named

    @property
    def ok(self) -> bool:
        return self.travel is None or self.travel > 1e-3


def check_tracking(robot: RobotConfig) -> tuple[list[TargetResult], list[GripResult]]:
    """Build ``robot`` on the tabletop and track every target with every arm."""
    env = SimEnv(model_from_xml(scene_xml(base_scene(robot))), robot)
    steps = int(round(HOLD_S * env.physics.control_hz))
    dt = 1.0 / env.physics.control_hz
    targets, grips = [], []
    for i, arm in enumerate(env.arms):
        for name, (move, turn) in OFFSETS.items():
            env.reset()
            home = env.eef_pose(i)
            base_rot = arm.world_T_base[:3, :3]
            goal = geo.make_pose(home[:3, 3] + base_rot @ np.array(move),
                                 base_rot @ geo.axisangle_to_mat(np.array(turn)) @ base_rot.T @ home[:3, :3])
            settle = None
            for k in range(steps):
                env.apply_target(goal, _open(env, i), i)
                env.step_physics()
                mm, deg = _errors(env.eef_pose(i), goal)
                if settle is None and mm <= GOOD_MM and deg <= GOOD_DEG:
                    settle = (k + 1) * dt
            mm, deg = _errors(env.eef_pose(i), goal)
            targets.append(TargetResult(arm.name, name, mm, deg, settle))
        env.reset()
        opened = env.data.qpos[arm.grip_qpos_adr].copy()
        for _ in range(steps // 2):
            env.apply_target(env.eef_pose(i), -_open(env, i), i)
            env.step_physics()
        travel = float(np.abs(env.data.qpos[arm.grip_qpos_adr] - opened).max()) if len(arm.grip_qpos_adr) else None
        grips.append(GripResult(arm.name, travel))
    return targets, grips


def _open(env: SimEnv, arm: int) -> float | np.ndarray:
    return -np.ones(env.arms[arm].config.eef_dim) if env.arms[arm].hand else -1.0


def _errors(world_T_eef: np.ndarray, world_T_goal: np.ndarray) -> tuple[float, float]:
    pos, rot = geo.pose_error(world_T_eef, world_T_goal)
    return float(pos) * 1000.0, float(np.degrees(rot))
