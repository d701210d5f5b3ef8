"""``two_arm_lift`` (bimanual_panda): both arms lift a long box by its ends and hold it level (coordination).

The box is too long to lift level by one end: one gripper alone tips it. Each arm grasps its own end
(parallel subtasks), then both lift in lockstep (a coordination pair: one source demo, one object
transform, one clock), and the box must stay level within ``MAX_TILT`` while held above ``LIFT_HEIGHT``.
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge.sim.env import SimEnv
from demoforge.tasks.base import ExpertStream, Subtask, Task, box_placement
from demoforge.tasks.motion import Motion, grasp_pose, grip_at, move_together, together
from demoforge.tasks.objects import add_box_object

RIGHT, LEFT = 0, 1  # arm order of bimanual_panda
BOX_HALF = (0.025, 0.2, 0.025)  # metres; the long axis is the box's y, lying across the table between the arms
BOX_RGBA = (0.72, 0.5, 0.28, 1)
BOX_DENSITY = 800.0  # kg/m^3: 0.64 kg; held by one end it tips (about 25 deg), so both hands are needed
GRASP_FROM_END = 0.045  # metres from each end to the grasp point
LIFT_HEIGHT = 0.08  # metres between the box's bottom and the table for success
MAX_TILT = np.deg2rad(8.0)  # how far the long axis may slope while held


def _placements(half_x: float, half_y: float, yaw: float) -> dict:
    return {"box": box_placement(0.55, 0.0, half_x, half_y, (-yaw, yaw))}


def end_offset(arm: int) -> np.ndarray:
    """Grasp point of an arm in the box frame: the right arm takes the -y end, the left the +y end."""
    along = BOX_HALF[1] - GRASP_FROM_END
    return np.array([0.0, -along if arm == RIGHT else along, 0.0])


class TwoArmLift(Task):
    name = "two_arm_lift"
    description = "lift the long box with both arms and hold it level"
    robot = "bimanual_panda"
    num_arms = 2
    objects = ("box",)
    subtasks = (
        Subtask("right_grasp", object="box", signal="right_grasp", arm=RIGHT),
        Subtask("right_lift", object="box", signal=None, arm=RIGHT, kind="coordination", partner="left_lift"),
        Subtask("left_grasp", object="box", signal="left_grasp", arm=LEFT),
        Subtask("left_lift", object="box", signal=None, arm=LEFT, kind="coordination", partner="right_lift"),
    )
    variations = {
        "D0": _placements(0.04, 0.04, 0.2),
        "D1": _placements(0.08, 0.08, 0.45),
        "D2": _placements(0.1, 0.1, 0.7),
    }
    symmetry = {"box": 2}
    max_steps = 400
    max_tilt = MAX_TILT  # the pieces a variant (gr1_box_lift) sets otherwise
    limb = "arm"

    def build(self, spec: mujoco.MjSpec) -> None:
        add_box_object(spec, "box", BOX_HALF, BOX_RGBA, density=BOX_DENSITY)

    def signals(self, env: SimEnv) -> dict[str, bool]:
        return {"right_grasp": env.is_grasping("box", RIGHT), "left_grasp": env.is_grasping("box", LEFT)}

    def tilt(self, env: SimEnv) -> float:
        """Slope of the box's long axis from horizontal, radians."""
        return float(np.arcsin(min(abs(env.body_pose("box")[2, 1]), 1.0)))

    def lifted(self, env: SimEnv) -> bool:
        bottom = env.body_pose("box")[2, 3] - env.half_height("box_geom")
        return bottom - env.table_z >= LIFT_HEIGHT

    def holding(self, env: SimEnv, arm: int) -> bool:
        """The arm's fingers touch the box. Not a two-finger grasp test: under 0.64 kg one finger's contact
        flickers from step to step while the grip holds; lifted and level already needs both hands."""
        return env.in_contact(env.arms[arm].finger_geom_ids, env.body_geoms("box"))

    def success(self, env: SimEnv) -> bool:
        return (self.lifted(env) and self.tilt(env) <= self.max_tilt
                and self.holding(env, RIGHT) and self.holding(env, LEFT))

    def failure_reason(self, env: SimEnv) -> str:
        lost = [arm for i, arm in ((RIGHT, "right"), (LEFT, "left")) if not self.holding(env, i)]
        if lost:
            return " and ".join(f"{arm} {self.limb}" for arm in lost) + " not holding the box"
        if self.tilt(env) > self.max_tilt:
            return f"box tilted {np.rad2deg(self.tilt(env)):.0f} deg (at most {np.rad2deg(self.max_tilt):.0f})"
        if not self.lifted(env):
            return "box not lifted high enough"
        return ""

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Each hand takes its end at its own pace, then both lift as one and hold."""
        right, left = Motion(env, rng, arm=RIGHT), Motion(env, rng, arm=LEFT)
        yield from together([right, left], [self._grasp_end(right), self._grasp_end(left)])
        yield from together([right, left], [right.pause(int(rng.integers(2, 6))), left.pause(int(rng.integers(2, 6)))])
        yield from move_together([right, left], [0.0, 0.0, float(rng.uniform(0.14, 0.2))], speed=0.5)
        yield from together([right, left], [right.pause(int(rng.integers(8, 14))), left.pause(int(rng.integers(8, 14)))])

    def _grasp_end(self, motion: Motion) -> ExpertStream:
        hover = float(motion.rng.uniform(0.07, 0.12))
        yield from grip_at(motion, lambda: grasp_pose(self.object_pose(motion.env, "box"), end_offset(motion.arm),
                                                      yaw=np.pi / 2), hover)
