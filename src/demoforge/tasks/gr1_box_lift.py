"""``gr1_box_lift`` (gr1): the humanoid lifts a wide box between its palms and holds it level (coordination).

The box is wider than a hand can span: each hand lays its palm on one end face, fingers forward, and
presses inward (the wrist target is set a little inside the face, so the arm servo squeezes). Each
hand reaches its face on its own (parallel subtasks); then both lift in lockstep (a coordination pair:
one source demo, one object transform, one clock). Success (``two_arm_lift``'s): the box held 8 cm up by both
hands, its top within ``MAX_TILT`` of level.
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge.sim.env import SimEnv
from demoforge.sim.gr1 import hand_body
from demoforge.tasks.base import ExpertStream, box_placement
from demoforge.tasks.hands import OPEN, PRESS, palm_at
from demoforge.tasks.motion import Motion, move_together, together
from demoforge.tasks.objects import add_box_object
from demoforge.tasks.two_arm_lift import LEFT, RIGHT, TwoArmLift

BOX_HALF = (0.06, 0.12, 0.06)  # metres: 12 cm deep, 24 cm between the palms, 12 cm tall
BOX_RGBA = (0.62, 0.45, 0.3, 1)
BOX_DENSITY = 250.0  # kg/m^3: 0.43 kg, a cardboard box of light things
SQUEEZE = 0.02  # metres the palm target sits inside the box's end face
PALM_BACK = 0.025  # metres the palm's centre sits behind the face's centre, so the fingers reach round the front
MAX_TILT = np.deg2rad(10.0)


def _placements(half_x: float, half_y: float, yaw: float) -> dict:
    return {"box": box_placement(0.3, 0.0, half_x, half_y, (-yaw, yaw))}


class GR1BoxLift(TwoArmLift):
    """``two_arm_lift``'s subtasks and success, with palms pressing a wide box's end faces."""

    name = "gr1_box_lift"
    description = "lift the box with both hands and hold it level"
    robot = "gr1"
    variations = {
        "D0": _placements(0.015, 0.015, 0.1),
        "D1": _placements(0.03, 0.03, 0.25),
        "D2": _placements(0.045, 0.045, 0.4),
    }
    reach = (0.25, 0.5)
    eef_kinds = ("dexterous_hand",)
    max_tilt = MAX_TILT
    limb = "hand"

    def build(self, spec: mujoco.MjSpec) -> None:
        add_box_object(spec, "box", BOX_HALF, BOX_RGBA, density=BOX_DENSITY)

    def _hand(self, env: SimEnv, arm: int) -> np.ndarray:
        return env.body_geoms(env.arms[arm].config.names_prefix + hand_body(env.arms[arm].name))

    def holding(self, env: SimEnv, arm: int) -> bool:
        """Some part of the arm's hand touches the box (a palm press holds with the palm and fingers both)."""
        return env.in_contact(self._hand(env, arm), env.body_geoms("box"))

    def signals(self, env: SimEnv) -> dict[str, bool]:
        return {"right_grasp": self.holding(env, RIGHT), "left_grasp": self.holding(env, LEFT)}

    def tilt(self, env: SimEnv) -> float:
        """Angle between the box's up axis and the world's, radians."""
        return float(np.arccos(min(abs(env.body_pose("box")[2, 2]), 1.0)))

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Each hand comes to its end face from the side, flat, and presses in; then both lift as one and hold."""
        right, left = Motion(env, rng, arm=RIGHT), Motion(env, rng, arm=LEFT)
        yield from together([right, left], [self._press(env, right), self._press(env, left)])
        yield from together([right, left], [right.pause(int(rng.integers(2, 6))), left.pause(int(rng.integers(2, 6)))])
        yield from move_together([right, left], [0.0, 0.0, float(rng.uniform(0.13, 0.18))], speed=0.5)
        yield from together([right, left], [right.pause(int(rng.integers(8, 14))), left.pause(int(rng.integers(8, 14)))])

    def end_face(self, env: SimEnv, arm: int, depth: float = 0.0) -> np.ndarray:
        """``world_T_eef`` with the palm on the arm's end face of the box (right: -y face), ``depth`` inside it."""
        box = self.object_pose(env, "box")
        side = -1.0 if arm == RIGHT else 1.0
        half_y = float(env.model.geom_size[env.model.geom("box_geom").id][1])
        forward = np.array([box[0, 0], box[1, 0], 0.0])  # the box's x (folded to face away from GR1)
        centre = box[:3, 3] + side * half_y * box[:3, 1] - PALM_BACK * forward
        return palm_at(centre, forward, -side * box[:3, 1], depth)

    def _press(self, env: SimEnv, motion: Motion) -> ExpertStream:
        rng = motion.rng
        motion.gripper = OPEN
        away = float(rng.uniform(0.05, 0.08))
        approach = self.end_face(env, motion.arm, -away)
        approach[2, 3] += float(rng.uniform(0.02, 0.05))
        yield from motion.move(approach)
        yield from motion.settle()
        yield from motion.move(self.end_face(env, motion.arm, -0.01), speed=0.5, precise=True)
        yield from motion.move(self.end_face(env, motion.arm, SQUEEZE), speed=0.3, precise=True)
        yield from motion.grip(PRESS)
