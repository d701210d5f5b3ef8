"""``gr1_handover`` (gr1): the left hand picks a long bar and presents it, the right hand takes it and lays it
in a tray on its side (sequential subtasks).

Both hands hold the bar in a power grasp from above: palm over the bar's back edge, fingers curled over
its front face, the thumb closed down behind it. The bar is long enough for two hands side by side with
room between the thumbs (which point inward, toward each other). As in ``handover``, each hand goes on
only once the other has done its part: the right reaches only once the bar is held still at the
handover point, and carries it off only once the left has let go.
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.errors import DemoforgeError
from demoforge.sim.env import SimEnv
from demoforge.tasks.base import ExpertStream, box_placement
from demoforge.tasks.handover import Handover, add_bin
from demoforge.tasks.hands import HOOK, OPEN, palm_at
from demoforge.tasks.motion import Motion, together
from demoforge.tasks.objects import add_box_object, place_pose

RIGHT, LEFT = 0, 1
BAR_HALF = (0.025, 0.2, 0.025)  # metres: 40 cm long (along its y), 5 x 5 cm in section
BAR_RGBA = (0.85, 0.45, 0.1, 1)
BAR_DENSITY = 300.0  # kg/m^3: 0.3 kg
GRASP_FROM_CENTRE = 0.12  # metres along the bar: the left palm over its +y half, the right over its -y half
PALM_BEHIND = 0.045  # metres the palm's centre sits behind the bar's axis: the thumb closes behind the bar
TRAY_INNER = (0.06, 0.23)  # inner half sizes (x, y) of the tray the bar goes in, metres
TRAY_WALL_HALF_H = 0.02
HANDOVER_POINT = np.array([0.3, 0.0, 0.16])  # bar centre (z above the table) where it changes hands
REDRAWS = 50
PRESENTED_NEAR = 0.06  # metres from the handover point (the bar swings a little in a hooked grip), and
PRESENTED_SPEED = 0.1  # m/s: held about still (not looser: the right hand would aim at a bar still moving)


def _placements(d: float, yaw: float, tray_d: float, tray_yaw: float) -> dict:
    return {
        # the bar nearer the robot, the tray farther (a turned bar may still reach the tray: reset redraws)
        "bar": box_placement(0.26, 0.13, d, d, (-yaw, yaw)),
        "bin": box_placement(0.42, -0.12, tray_d, tray_d, (-tray_yaw, tray_yaw)),
    }


class GR1Handover(Handover):
    """``handover``'s subtasks, signals and success, with a humanoid's hands and sizes."""

    name = "gr1_handover"
    description = "pick up the bar with the left hand, hand it to the right hand, and lay it in the tray"
    robot = "gr1"
    variations = {"D0": _placements(0.01, 0.05, 0.01, 0.03), "D1": _placements(0.025, 0.1, 0.02, 0.05),
                  "D2": _placements(0.035, 0.15, 0.03, 0.08)}
    reach = (0.2, 0.55)
    eef_kinds = ("dexterous_hand",)
    bin_inner = TRAY_INNER
    handover_point = HANDOVER_POINT
    presented_near, presented_speed = PRESENTED_NEAR, PRESENTED_SPEED
    limb = "hand"

    def build(self, spec: mujoco.MjSpec) -> None:
        add_box_object(spec, "bar", BAR_HALF, BAR_RGBA, density=BAR_DENSITY)
        add_bin(spec, TRAY_INNER, TRAY_WALL_HALF_H)

    def reset(self, env: SimEnv, rng: np.random.Generator, variation: str = "D0") -> None:
        """``Task.reset``, drawn again while the turned 40 cm bar lies across the tray's rim (a few draws in
        a hundred at D2): an impossible start is not a failed attempt."""
        for _ in range(REDRAWS):
            super().reset(env, rng, variation)
            if self.start_is_valid(env):
                return
        raise DemoforgeError(f"task {self.name!r}, variation {variation!r}: the bar overlapped the tray in "
                             f"{REDRAWS} draws; widen the ranges apart")

    # ---- expert ------------------------------------------------------------------------------
    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Left picks and presents while right waits; right takes; left lets go and withdraws; right lays it down."""
        right, left = Motion(env, rng, arm=RIGHT), Motion(env, rng, arm=LEFT)
        both = [right, left]
        yield from together(both, [right.pause(1), self._pick_and_present(left)])
        yield from together(both, [self._grasp(right), left.pause(1)])
        yield from together(both, [right.pause(int(rng.integers(3, 6))), left.grip(OPEN, steps=int(rng.integers(8, 12)))])
        yield from together(both, [self._place(right), self._withdraw(left)])
        yield from together(both, [right.pause(int(rng.integers(3, 8))), left.pause(1)])

    def grasp_pose(self, env: SimEnv, arm: int) -> np.ndarray:
        """Palm down over the bar's back edge at the arm's half, fingers across the bar (the bar's x)."""
        bar = self.object_pose(env, "bar")
        along = GRASP_FROM_CENTRE if arm == LEFT else -GRASP_FROM_CENTRE
        forward = np.array([bar[0, 0], bar[1, 0], 0.0])
        top = bar[:3, 3] + along * bar[:3, 1] + [0.0, 0.0, BAR_HALF[2]] - PALM_BEHIND * forward
        return palm_at(top, forward, [0.0, 0.0, -1.0], depth=0.003)

    def _grasp(self, motion: Motion) -> ExpertStream:
        env, rng = motion.env, motion.rng
        above = self.grasp_pose(env, motion.arm)
        above[2, 3] += float(rng.uniform(0.06, 0.1))
        yield from motion.move(above)
        yield from motion.settle()
        yield from motion.move(self.grasp_pose(env, motion.arm), speed=0.4, precise=True)
        yield from motion.grip(HOOK, steps=int(rng.integers(9, 13)))

    def _pick_and_present(self, motion: Motion) -> ExpertStream:
        env, rng = motion.env, motion.rng
        yield from self._grasp(motion)
        yield from motion.lift(float(rng.uniform(0.08, 0.12)), speed=0.6)
        point = HANDOVER_POINT + [0.0, 0.0, env.table_z] + rng.normal(0.0, 0.008, 3)
        bar_goal = geo.make_pose(point, geo.yaw_mat(float(rng.normal(0.0, 0.04))))
        yield from motion.move(place_pose(env, self.object_pose(env, "bar"), bar_goal, motion.arm), speed=0.6)
        yield from motion.settle()
        yield from motion.pause(int(rng.integers(4, 8)))

    def _withdraw(self, motion: Motion) -> ExpertStream:
        yield from motion.lift(float(motion.rng.uniform(0.06, 0.09)), speed=0.5)
        back = motion.target.copy()
        back[1, 3] += float(motion.rng.uniform(0.06, 0.1))
        yield from motion.move(back, speed=0.6)

    def _place(self, motion: Motion) -> ExpertStream:
        env, rng = motion.env, motion.rng
        tray = self.object_pose(env, "bin")
        rim = tray[2, 3] + TRAY_WALL_HALF_H

        def bar_at(height: float) -> np.ndarray:
            goal = geo.make_pose([tray[0, 3], tray[1, 3], height], tray[:3, :3])
            return place_pose(env, self.object_pose(env, "bar"), goal, motion.arm)

        yield from motion.lift(float(rng.uniform(0.02, 0.04)), speed=0.5)
        yield from motion.move(bar_at(rim + BAR_HALF[2] + float(rng.uniform(0.04, 0.06))), speed=0.6)
        yield from motion.move(bar_at(rim + BAR_HALF[2] - float(rng.uniform(0.01, 0.02))), speed=0.35, precise=True)
        yield from motion.grip(OPEN, steps=int(rng.integers(10, 14)))
        yield from motion.lift(float(rng.uniform(0.08, 0.12)), speed=0.5)
