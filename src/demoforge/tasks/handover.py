"""``handover`` (bimanual_panda): the left arm picks a bar and presents it, the right arm takes it and puts it
in a bin on its side (sequential subtasks).

Each arm may only go on once the other has done its part: the right arm reaches for the bar only once
the left holds it still at the handover point; it carries it off only once the left hand has let go.
The bar is a long block (two top-down grippers need room side by side on it); the handover point is a
place in the world between the arms, so the presenting subtask has no reference object (world frame).
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.sim.env import SimEnv
from demoforge.tasks.base import ExpertStream, Subtask, Task, box_placement
from demoforge.tasks.motion import Motion, grasp_pose, grip_at, together
from demoforge.tasks.objects import add_box_geom, add_box_object, add_free_body, place_pose

RIGHT, LEFT = 0, 1  # arm order of bimanual_panda
BAR_HALF = (0.02, 0.09, 0.02)  # metres; the bar's long axis is its y
BAR_RGBA = (0.85, 0.45, 0.1, 1)
GRASP_FROM_CENTRE = 0.055  # metres along the bar: the left hand holds its +y end, the right its -y end
BIN_INNER = (0.07, 0.13)  # inner half sizes (x, y), metres
BIN_WALL_HALF_H = 0.03
BIN_WALL = 0.008
BIN_RGBA = (0.35, 0.45, 0.55, 1)
HANDOVER_POINT = np.array([0.5, 0.0, 0.2])  # bar centre in the world (z above the table) where it changes hands
PRESENTED_NEAR = 0.03  # metres: the bar counts as presented once held this near the handover point,
PRESENTED_SPEED = 0.1  # m/s, and about still (the right hand reaches for where it is then)


def add_bin(spec: mujoco.MjSpec, inner: tuple[float, float] = BIN_INNER, wall_half_h: float = BIN_WALL_HALF_H) -> None:
    """An open box with ``inner`` half sizes (x, y); heavy, so it stays put, but free, so its pose lives in the
    physics state for replays."""
    body = add_free_body(spec, "bin")
    (ix, iy), h, w = inner, wall_half_h, BIN_WALL
    look = (BIN_RGBA, (1.0, 0.005, 0.0001))
    add_box_geom(body, "bin_floor", (ix + w, iy + w, w / 2), (0, 0, -h + w / 2), *look, mass=2.0)
    for i, sign in enumerate((1, -1)):
        add_box_geom(body, f"bin_wall_x{i}", (w / 2, iy + w, h), (sign * (ix + w / 2), 0, 0), *look, mass=0.5)
        add_box_geom(body, f"bin_wall_y{i}", (ix, w / 2, h), (0, sign * (iy + w / 2), 0), *look, mass=0.5)


def _placements(half: float, yaw: float, bin_half: float, bin_yaw: float) -> dict:
    return {
        "bar": box_placement(0.5, 0.3, half, half, (-yaw, yaw)),
        "bin": box_placement(0.5, -0.3, bin_half, bin_half, (-bin_yaw, bin_yaw)),
    }


class Handover(Task):
    name = "handover"
    description = "pick up the orange bar with the left arm, hand it to the right arm, and put it in the bin"
    robot = "bimanual_panda"
    num_arms = 2
    objects = ("bar", "bin")
    object_arm = {"bar": LEFT, "bin": RIGHT}
    subtasks = (
        Subtask("left_grasp", object="bar", signal="left_grasp", arm=LEFT),
        Subtask("left_present", object=None, signal="presented", held="bar", arm=LEFT),
        Subtask("left_release", object="bar", signal="left_released", arm=LEFT, kind="sequential", after="right_grasp"),
        Subtask("left_retreat", object="bar", signal=None, arm=LEFT),
        Subtask("right_grasp", object="bar", signal="right_grasp", arm=RIGHT, kind="sequential", after="left_present"),
        Subtask("right_place", object="bin", signal=None, held="bar", anchor="top", arm=RIGHT, kind="sequential",
                after="left_release"),
    )
    variations = {
        "D0": _placements(0.05, 0.3, 0.03, 0.15),
        "D1": _placements(0.1, 0.6, 0.07, 0.3),
        "D2": _placements(0.13, 1.0, 0.1, 0.5),
    }
    symmetry = {"bar": 2, "bin": 2}
    min_separation = 0.2
    max_steps = 600
    # the pieces a variant (gr1_handover) sizes otherwise
    bin_inner = BIN_INNER
    handover_point = HANDOVER_POINT
    presented_near, presented_speed = PRESENTED_NEAR, PRESENTED_SPEED
    limb = "arm"  # how failures name the left and right arm

    def build(self, spec: mujoco.MjSpec) -> None:
        add_box_object(spec, "bar", BAR_HALF, BAR_RGBA)
        add_bin(spec)

    # ---- state -------------------------------------------------------------------------------
    def bar_speed(self, env: SimEnv) -> float:
        joint = env.model.joint("bar_joint")
        return float(np.linalg.norm(env.data.qvel[joint.dofadr[0] : joint.dofadr[0] + 3]))

    def touching(self, env: SimEnv, arm: int) -> bool:
        return not env.fingers(arm).isdisjoint(env.geoms_touching("bar"))

    def in_bin(self, env: SimEnv) -> bool:
        """The bar's centre is inside the bin's walls and below its rim."""
        bin_T_bar = geo.invert(env.body_pose("bin")) @ env.body_pose("bar")
        x, y, z = bin_T_bar[:3, 3]
        return abs(x) < self.bin_inner[0] and abs(y) < self.bin_inner[1] and z < BIN_WALL_HALF_H

    def signals(self, env: SimEnv) -> dict[str, bool]:
        touching = env.geoms_touching("bar")  # one pass over the contacts for all four signals
        left, right = env.grasps(touching, LEFT), env.grasps(touching, RIGHT)
        offset = env.body_position("bar") - self.handover_point - [0.0, 0.0, env.table_z]
        presented = (left and np.all(np.abs(offset) < self.presented_near)
                     and self.bar_speed(env) < self.presented_speed)
        return {
            "left_grasp": left,
            "presented": bool(presented),
            "right_grasp": right,
            "left_released": right and env.fingers(LEFT).isdisjoint(touching),
        }

    def success(self, env: SimEnv) -> bool:
        if not self.in_bin(env):
            return False
        touching = env.geoms_touching("bar")
        return env.fingers(LEFT).isdisjoint(touching) and env.fingers(RIGHT).isdisjoint(touching)

    def failure_reason(self, env: SimEnv) -> str:
        held = [name for arm, name in ((LEFT, "left"), (RIGHT, "right")) if self.touching(env, arm)]
        if held:
            return f"{' and '.join(held)} {self.limb} still holding the bar"
        if not self.in_bin(env):
            return "bar not in the bin"
        return ""

    # ---- expert ------------------------------------------------------------------------------
    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Left picks and presents while right waits; right takes; left lets go and withdraws; right places."""
        right, left = Motion(env, rng, arm=RIGHT), Motion(env, rng, arm=LEFT)
        both = [right, left]
        yield from together(both, [right.pause(1), self._pick_and_present(left)])
        yield from together(both, [self._take(right), left.pause(1)])
        yield from together(both, [right.pause(int(rng.integers(3, 6))), left.grip(-1.0)])
        yield from together(both, [self._place(right), self._withdraw(left)])
        yield from together(both, [right.pause(int(rng.integers(3, 8))), left.pause(1)])

    def _bar_end(self, arm: int) -> np.ndarray:
        return np.array([0.0, GRASP_FROM_CENTRE if arm == LEFT else -GRASP_FROM_CENTRE, 0.0])

    def _grasp(self, motion: Motion, hover: float) -> ExpertStream:
        end = self._bar_end(motion.arm)
        yield from grip_at(motion, lambda: grasp_pose(self.object_pose(motion.env, "bar"), end, yaw=np.pi / 2), hover)

    def _pick_and_present(self, motion: Motion) -> ExpertStream:
        env, rng = motion.env, motion.rng
        yield from self._grasp(motion, float(rng.uniform(0.07, 0.12)))
        yield from motion.lift(float(rng.uniform(0.08, 0.12)), speed=0.7)
        point = HANDOVER_POINT + [0.0, 0.0, env.table_z] + rng.normal(0.0, 0.01, 3)
        bar_goal = geo.make_pose(point, geo.yaw_mat(float(rng.normal(0.0, 0.05))))
        yield from motion.move(place_pose(env, self.object_pose(env, "bar"), bar_goal, motion.arm), speed=0.7)
        yield from motion.settle()
        yield from motion.pause(int(rng.integers(4, 8)))

    def _take(self, motion: Motion) -> ExpertStream:
        yield from self._grasp(motion, float(motion.rng.uniform(0.06, 0.09)))

    def _withdraw(self, motion: Motion) -> ExpertStream:
        yield from motion.lift(float(motion.rng.uniform(0.06, 0.1)), speed=0.6)
        back = motion.target.copy()
        back[1, 3] += float(motion.rng.uniform(0.1, 0.15))
        yield from motion.move(back, speed=0.8)

    def _place(self, motion: Motion) -> ExpertStream:
        env, rng = motion.env, motion.rng
        bin_pose = self.object_pose(env, "bin")
        rim = bin_pose[2, 3] + BIN_WALL_HALF_H
        level = geo.make_pose(bin_pose[:3, 3], bin_pose[:3, :3])

        def bar_at(height: float) -> np.ndarray:
            goal = level.copy()
            goal[2, 3] = height
            return place_pose(env, self.object_pose(env, "bar"), goal, motion.arm)

        yield from motion.lift(float(rng.uniform(0.02, 0.05)), speed=0.6)
        yield from motion.move(bar_at(rim + BAR_HALF[2] + float(rng.uniform(0.04, 0.07))), speed=0.8)
        yield from motion.move(bar_at(rim + BAR_HALF[2] - float(rng.uniform(0.02, 0.035))), speed=0.4, precise=True)
        yield from motion.grip(-1.0)
        yield from motion.lift(float(rng.uniform(0.08, 0.12)), speed=0.7)
