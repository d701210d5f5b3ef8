"""``square``: thread a square nut, held by its handle, down onto a square peg (the precision task).

The hole leaves only a few millimetres per side, so the nut must arrive centred, level and yaw-aligned
(any multiple of 90 deg fits the square hole) before it slides down the post.
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.sim.env import SimEnv
from demoforge.sim.scene import TABLE_TOP_Z
from demoforge.tasks.base import ExpertStream, Subtask, Task, box_placement
from demoforge.tasks.motion import Motion, grasp_pose
from demoforge.tasks.objects import add_box_geom, add_free_body, place_pose

# Nut: a square ring (origin at its centre, z up) with a handle along +x.
HOLE_HALF = 0.015  # 3 mm clearance per side around the peg
WALL = 0.008
NUT_HALF_H = 0.008
RING_HALF = HOLE_HALF + WALL
HANDLE_LEN = 0.07
HANDLE_HALF_W = 0.01
GRASP_X = RING_HALF + 0.5 * HANDLE_LEN  # handle middle, in the nut frame
# Peg: a base plate on the table (origin at its bottom centre) and a square post.
PEG_HALF = 0.012
PLATE_HALF, PLATE_HALF_H = 0.04, 0.005
POST_HALF_H = 0.045
PEG_TOP = 2 * PLATE_HALF_H + 2 * POST_HALF_H  # post top above the table
NUT_REST_ON_PEG = 2 * PLATE_HALF_H + NUT_HALF_H  # nut origin above the peg origin when fully threaded

NUT_RGBA = (0.85, 0.65, 0.15, 1)
PEG_RGBA = (0.3, 0.32, 0.38, 1)
NUT_FRICTION = (0.8, 0.005, 0.0001)  # slides down the post instead of jamming on a slight tilt
PEG_FRICTION = (0.5, 0.005, 0.0001)
MAX_WRIST_YAW = np.deg2rad(105)  # keep the last joint well inside its range


def add_nut(spec: mujoco.MjSpec) -> None:
    body = add_free_body(spec, "nut")
    body.pos = [0.5, 0.1, TABLE_TOP_Z + NUT_HALF_H]
    mid = HOLE_HALF + WALL / 2
    look = (NUT_RGBA, NUT_FRICTION)
    for i, sign in enumerate((1, -1)):
        add_box_geom(body, f"nut_side_y{i}", (RING_HALF, WALL / 2, NUT_HALF_H), (0, sign * mid, 0), *look, density=600.0)
        add_box_geom(body, f"nut_side_x{i}", (WALL / 2, HOLE_HALF, NUT_HALF_H), (sign * mid, 0, 0), *look, density=600.0)
    add_box_geom(body, "nut_handle", (HANDLE_LEN / 2, HANDLE_HALF_W, NUT_HALF_H), (GRASP_X, 0, 0), *look, density=600.0)


def add_peg(spec: mujoco.MjSpec) -> None:
    """A free but heavy, wide-based peg: it stays put, and its pose lives in the physics state for replays."""
    body = add_free_body(spec, "peg")
    body.pos = [0.55, -0.1, TABLE_TOP_Z]
    look = (PEG_RGBA, PEG_FRICTION)
    add_box_geom(body, "peg_plate", (PLATE_HALF, PLATE_HALF, PLATE_HALF_H), (0, 0, PLATE_HALF_H), *look, mass=4.5)
    add_box_geom(body, "peg_post", (PEG_HALF, PEG_HALF, POST_HALF_H), (0, 0, 2 * PLATE_HALF_H + POST_HALF_H), *look, mass=0.5)


def _yaw(pose: np.ndarray) -> float:
    return float(np.arctan2(pose[1, 0], pose[0, 0]))


def _wrap(angle: float) -> float:
    return float((angle + np.pi) % (2 * np.pi) - np.pi)


def threaded_yaw(peg_yaw: float, nut_yaw: float, eef_yaw: float) -> float:
    """Nut yaw to insert at: a 90-degree multiple of the peg's, the least turn that keeps the wrist in range."""
    best, best_cost = nut_yaw, np.inf
    for k in range(4):
        turn = _wrap(peg_yaw + k * np.pi / 2 - nut_yaw)
        cost = abs(turn) + 10.0 * max(0.0, abs(_wrap(eef_yaw + turn)) - MAX_WRIST_YAW)
        if cost < best_cost:
            best, best_cost = nut_yaw + turn, cost
    return best


def handle_grasp(world_T_nut: np.ndarray) -> np.ndarray:
    """Top-down grasp across the handle, flipped half a turn if that keeps the wrist nearer home."""
    flip = np.pi if abs(_wrap(_yaw(world_T_nut))) > np.pi / 2 else 0.0
    # Pads reach 9 mm below the TCP: sit 3 mm above the handle's middle so they clear the table.
    return grasp_pose(world_T_nut, np.array([GRASP_X, 0.0, 0.003]), yaw=flip)


class Square(Task):
    name = "square"
    description = "put the square nut onto the square peg"
    objects = ("nut", "peg")
    subtasks = (
        Subtask("grasp_nut", object="nut", signal="grasp_nut"),
        Subtask("insert_nut", object="peg", signal=None, held="nut"),
    )
    variations = {
        "D0": {
            "nut": box_placement(0.5, 0.11, 0.05, 0.05, yaw=(-np.pi / 6, np.pi / 6)),
            "peg": box_placement(0.55, -0.1, 0.0, 0.0, yaw=(0.0, 0.0)),
        },
        "D1": {
            "nut": box_placement(0.52, 0.11, 0.1, 0.11, yaw=(-np.pi / 3, np.pi / 3)),
            "peg": box_placement(0.55, -0.1, 0.04, 0.04, yaw=(-np.pi / 9, np.pi / 9)),
        },
        "D2": {
            "nut": box_placement(0.54, 0.1, 0.14, 0.15, yaw=(-np.pi / 2, np.pi / 2)),
            "peg": box_placement(0.55, -0.12, 0.07, 0.07, yaw=(-np.pi / 4, np.pi / 4)),
        },
    }
    symmetry = {"peg": 4}
    min_separation = 0.16
    max_steps = 500

    def build(self, spec: mujoco.MjSpec) -> None:
        add_nut(spec)
        add_peg(spec)

    def signals(self, env: SimEnv) -> dict[str, bool]:
        return {"grasp_nut": env.is_grasping("nut")}

    def success(self, env: SimEnv) -> bool:
        """Nut centred on the post, down near its base, and let go of."""
        nut, peg = env.body_pose("nut"), env.body_pose("peg")
        centred = np.linalg.norm(nut[:2, 3] - peg[:2, 3]) < 0.01
        low = nut[2, 3] - peg[2, 3] < 2 * PLATE_HALF_H + 0.03
        return bool(centred and low and not env.in_contact(env.finger_geom_ids, env.body_geoms("nut")))

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        motion = Motion(env, rng)
        yield from self._pick(motion, env, rng)
        yield from self._insert(motion, env, rng)
        yield from motion.grip(-1.0)
        yield from motion.lift(float(rng.uniform(0.06, 0.1)), speed=0.7)
        yield from motion.pause(int(rng.integers(3, 8)))

    def _pick(self, motion: Motion, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Hover over the handle, descend onto it, close, and lift the nut clear above the peg top."""
        grasp = handle_grasp(env.body_pose("nut"))
        above = grasp.copy()
        above[2, 3] += float(rng.uniform(0.07, 0.12))
        yield from motion.move(above)
        yield from motion.move(handle_grasp(env.body_pose("nut")), speed=0.45, precise=True)
        yield from motion.grip(1.0)
        nut_bottom = env.body_pose("nut")[2, 3] - NUT_HALF_H
        clear = env.table_z + PEG_TOP + float(rng.uniform(0.05, 0.08))
        yield from motion.lift(clear - nut_bottom, speed=0.7)

    def _insert(self, motion: Motion, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Carry over the peg, line the hole up just above the post, then slide the nut down slowly."""
        nut = env.body_pose("nut")
        yaw = threaded_yaw(_yaw(self.object_pose(env, "peg")), _yaw(nut), _yaw(env.eef_pose()))

        def goal(height: float) -> np.ndarray:
            """Eef pose that puts the held nut level, aligned and centred over the post, ``height`` above the peg."""
            peg = env.body_pose("peg")
            target = geo.make_pose(peg[:3, 3] + [0.0, 0.0, height], geo.yaw_mat(yaw))
            return place_pose(env, env.body_pose("nut"), target)

        entry = PEG_TOP + NUT_HALF_H
        yield from motion.move(goal(entry + float(rng.uniform(0.03, 0.05))), speed=0.8)
        yield from motion.pause(int(rng.integers(2, 5)))
        yield from motion.move(goal(entry + 0.008), speed=0.35, precise=True)
        yield from motion.pause(int(rng.integers(2, 4)))
        yield from motion.move(goal(entry - 0.01), speed=0.25, precise=True)
        yield from motion.move(goal(NUT_REST_ON_PEG + 0.004), speed=0.3, precise=True)
