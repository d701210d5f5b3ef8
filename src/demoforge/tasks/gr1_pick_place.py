"""``gr1_pick_place`` (gr1): each hand moves an object of another kind to its own mat, at the same time (parallel).

The right hand takes a can, the left a tall box, each from the side in a power grasp (palm on the
object, fingers round its far side, thumb over it), carries it to the mat on its own side and lets go.
Each arm's subtasks are its own (grasp, then place on its mat), so the generator re-targets each hand
to its object and mat independently. Success: both objects upright on their mats, let go of.
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.sim.env import SimEnv
from demoforge.sim.scene import WORLD_CONAFFINITY, WORLD_CONTYPE
from demoforge.tasks.base import ExpertStream, Subtask, Task, box_placement
from demoforge.tasks.hands import OPEN, WRAP, side_grasp
from demoforge.tasks.motion import Motion, together
from demoforge.tasks.objects import OBJECT_FRICTION, add_box_object, add_free_body, place_pose, upright_cube_rotation

RIGHT, LEFT = 0, 1
CAN_RADIUS, CAN_HALF_H = 0.033, 0.06  # a 12 cm drinks can
BOX_HALF = (0.03, 0.03, 0.065)  # a 6 x 6 x 13 cm carton
MAT_HALF = (0.06, 0.06, 0.004)
GRASP_HEIGHT = 0.06  # palm centre above the table
PLACE_RADIUS = 0.04  # metres from the mat's centre for success
UPRIGHT_COS = np.cos(np.deg2rad(20))
ITEMS = (("can", "can_mat", RIGHT), ("carton", "carton_mat", LEFT))  # object, its mat, the arm that moves it


def _placements(d: float, yaw: float) -> dict:
    return {
        # objects ahead and outward, mats nearer and inward: the fingers, hooked round an object's front, pull
        # it back while the palm pushes it in (a hand carries a thing where it holds it from)
        "can": box_placement(0.34, -0.19, d, d, (-np.pi, np.pi)),  # inside the resting hands' fingers
        "can_mat": box_placement(0.22, -0.11, d, d, (-yaw, yaw)),
        "carton": box_placement(0.34, 0.19, d, d, (-yaw, yaw)),
        "carton_mat": box_placement(0.22, 0.11, d, d, (-yaw, yaw)),
    }


def add_mat(spec: mujoco.MjSpec, name: str, rgba: tuple) -> None:
    """A heavy flat mat on the table: where an object is to be put."""
    body = add_free_body(spec, name)
    body.add_geom(name=f"{name}_geom", type=mujoco.mjtGeom.mjGEOM_BOX, size=list(MAT_HALF), rgba=list(rgba),
                  density=4000.0, friction=list(OBJECT_FRICTION), contype=WORLD_CONTYPE,
                  conaffinity=WORLD_CONAFFINITY, condim=4)


class GR1PickPlace(Task):
    name = "gr1_pick_place"
    description = "put the can on the right mat and the carton on the left mat, one in each hand"
    robot = "gr1"
    num_arms = 2
    objects = ("can", "can_mat", "carton", "carton_mat")
    object_arm = {"can": RIGHT, "can_mat": RIGHT, "carton": LEFT, "carton_mat": LEFT}
    subtasks = (
        Subtask("right_grasp", object="can", signal="right_grasp", arm=RIGHT),
        Subtask("right_place", object="can_mat", signal=None, held="can", anchor="top", arm=RIGHT),
        Subtask("left_grasp", object="carton", signal="left_grasp", arm=LEFT),
        Subtask("left_place", object="carton_mat", signal=None, held="carton", anchor="top", arm=LEFT),
    )
    variations = {"D0": _placements(0.01, 0.1), "D1": _placements(0.03, 0.3), "D2": _placements(0.045, 0.6)}
    symmetry = {"can": 0, "carton": 4, "can_mat": 4, "carton_mat": 4}
    min_separation = 0.11
    reach = (0.2, 0.55)
    max_steps = 500
    eef_kinds = ("dexterous_hand",)

    def build(self, spec: mujoco.MjSpec) -> None:
        can = add_free_body(spec, "can")
        can.add_geom(name="can_geom", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[CAN_RADIUS, CAN_HALF_H, 0],
                     rgba=[0.8, 0.12, 0.1, 1], density=500.0, friction=list(OBJECT_FRICTION),
                     contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY, condim=4)
        add_box_object(spec, "carton", BOX_HALF, (0.9, 0.85, 0.7, 1), density=400.0)
        add_mat(spec, "can_mat", (0.2, 0.5, 0.3, 1))
        add_mat(spec, "carton_mat", (0.25, 0.35, 0.65, 1))

    # ---- state ---------------------------------------------------------------------------------
    def signals(self, env: SimEnv) -> dict[str, bool]:
        return {"right_grasp": env.is_grasping("can", RIGHT), "left_grasp": env.is_grasping("carton", LEFT)}

    def placed(self, env: SimEnv, item: str, mat: str) -> bool:
        obj, on = env.body_pose(item), env.body_pose(mat)
        near = np.linalg.norm(obj[:2, 3] - on[:2, 3]) <= PLACE_RADIUS
        resting = abs((obj[2, 3] - env.rest_height(item)) - (on[2, 3] + MAT_HALF[2])) < 0.015
        return bool(near and resting and obj[2, 2] > UPRIGHT_COS)

    def released(self, env: SimEnv, item: str, arm: int) -> bool:
        return not env.in_contact(env.arms[arm].finger_geom_ids, env.body_geoms(item))

    def success(self, env: SimEnv) -> bool:
        return all(self.placed(env, item, mat) and self.released(env, item, arm) for item, mat, arm in ITEMS)

    def failure_reason(self, env: SimEnv) -> str:
        reasons = []
        for item, mat, arm in ITEMS:
            if not self.placed(env, item, mat):
                reasons.append(f"{item} not on its mat")
            elif not self.released(env, item, arm):
                reasons.append(f"{item} still held")
        return ", ".join(reasons)

    # ---- expert --------------------------------------------------------------------------------
    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        right, left = Motion(env, rng, arm=RIGHT), Motion(env, rng, arm=LEFT)
        yield from together([right, left], [self._move(env, right, "can", "can_mat"),
                                            self._move(env, left, "carton", "carton_mat")])
        yield from together([right, left], [right.pause(int(rng.integers(3, 8))), left.pause(int(rng.integers(3, 8)))])

    def _grasp_pose(self, env: SimEnv, arm: int, item: str) -> np.ndarray:
        """The side grasp of ``item`` for ``arm``: fingers forward, palm toward the robot's midline."""
        pose = env.body_pose(item)
        axis = pose[:3, 3] + [0.0, 0.0, env.table_z + GRASP_HEIGHT - pose[2, 3]]
        inward = np.array([0.0, 1.0 if arm == RIGHT else -1.0, 0.0])
        radius = CAN_RADIUS if item == "can" else _half_width_along(pose, BOX_HALF, inward)
        return side_grasp(axis, [1.0, 0.0, 0.0], inward, radius)

    def _move(self, env: SimEnv, motion: Motion, item: str, mat: str) -> ExpertStream:
        rng, arm = motion.rng, motion.arm
        yield from motion.pause(int(rng.integers(0, 6)))
        grasp = self._grasp_pose(env, arm, item)
        outward = -grasp[:3, 2]  # away from the palm's face
        beside = geo.make_pose(grasp[:3, 3] + float(rng.uniform(0.06, 0.09)) * outward, grasp[:3, :3])
        above = beside.copy()  # over the object's top first: the fingers must not sweep into it
        above[2, 3] = env.body_pose(item)[2, 3] + env.rest_height(item) + float(rng.uniform(0.06, 0.09))
        yield from motion.move(above)
        yield from motion.move(beside, speed=0.6)
        yield from motion.settle()
        yield from motion.move(self._grasp_pose(env, arm, item), speed=0.4, precise=True)
        yield from motion.grip(WRAP, steps=int(rng.integers(8, 12)))
        yield from motion.lift(float(rng.uniform(0.07, 0.1)), speed=0.6)
        held, on = env.body_pose(item), env.body_pose(mat)
        # set it down upright (a grasp from the side tips a tall thing a little), square to the mat
        goal = geo.make_pose(on[:3, 3] + [0.0, 0.0, MAT_HALF[2] + env.rest_height(item) + 0.004],
                             upright_cube_rotation(held, on))
        over = goal.copy()
        over[2, 3] += float(rng.uniform(0.04, 0.06))
        yield from motion.move(place_pose(env, held, over, arm), speed=0.7)
        held = env.body_pose(item)
        yield from motion.move(place_pose(env, held, goal, arm), speed=0.35, precise=True)
        yield from motion.settle(max_steps=8)
        yield from motion.grip(OPEN, steps=int(rng.integers(10, 14)))  # the fingers are slow to open
        back = motion.target.copy()
        back[:3, 3] += float(rng.uniform(0.05, 0.07)) * outward
        yield from motion.move(back, speed=0.3, precise=True)
        yield from motion.lift(float(rng.uniform(0.04, 0.07)), speed=0.5)


def _half_width_along(world_T_box: np.ndarray, half: tuple[float, float, float], direction: np.ndarray) -> float:
    """How far a box's side face lies from its axis along a horizontal ``direction`` (its support in it)."""
    return float(abs(world_T_box[:3, 0] @ direction) * half[0] + abs(world_T_box[:3, 1] @ direction) * half[1])
