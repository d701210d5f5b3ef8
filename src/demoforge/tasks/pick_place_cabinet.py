"""``pick_place_cabinet``: put an object from the counter into a cabinet (RoboCasa's PnPCounterToCab).

A counter-top cabinet (sim/cabinets.py, 15 kg) stands at the robot's left facing it, its door swung wide
open. The object is any instance of the sink task's categories (the plain table has a milk carton), placed on
the counter at the robot's right. Success is the object inside the cabinet, let go of. The expert lifts the
object just clear of the counter, carries it to the cabinet's opening and slides it in, as a person does to
keep the hand under the cabinet's top.
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.sim.cabinets import PANTRY_HALF, WALL, add_door_cabinet, inside_door_cabinet
from demoforge.sim.env import SimEnv
from demoforge.tasks.base import ExpertStream, Subtask, Task, box_placement, facing_robot
from demoforge.tasks.motion import Motion, pick
from demoforge.tasks.objects import add_free_body
from demoforge.tasks.pick_place_sink import ITEMS

HINGE = "pantry_hinge"
CABINET_KG = 15.0
CABINET_RGBA = (0.85, 0.84, 0.8, 1.0)
DOOR_START = (-2.45, -2.2)  # rad: swung round to the left, out of the way


class PickPlaceCabinet(Task):
    name = "pick_place_cabinet"
    description = "pick the object from the counter and put it in the cabinet"
    objects = ("item", "pantry")
    instances = {"item": ITEMS}
    subtasks = (
        Subtask("grasp_item", object="item", signal="grasp_item"),
        Subtask("place_in_cabinet", object="pantry", signal=None, held="item"),
    )
    variations = {
        "D0": {"item": box_placement(0.45, -0.2, 0.03, 0.03, (-0.1, 0.1)),
               "pantry": facing_robot(0.72, 0.2, 0.01, 0.01, 0.03)},
        "D1": {"item": box_placement(0.45, -0.2, 0.07, 0.08, (-0.4, 0.4)),
               "pantry": facing_robot(0.72, 0.2, 0.02, 0.05, 0.1)},
        "D2": {"item": box_placement(0.47, -0.22, 0.1, 0.1, (-0.8, 0.8)),
               "pantry": facing_robot(0.72, 0.2, 0.03, 0.08, 0.18)},
    }
    reach = (0.25, 0.85)
    min_separation = 0.3
    max_steps = 400

    def build(self, spec: mujoco.MjSpec) -> None:
        body = add_free_body(spec, "pantry")
        add_door_cabinet(body, "pantry", CABINET_RGBA)
        hx, hy, _ = PANTRY_HALF
        body.add_geom(name="pantry_ballast", type=mujoco.mjtGeom.mjGEOM_BOX, size=[hx - 0.02, hy - 0.02, 0.005],
                      pos=[0.0, 0.0, 0.01], mass=CABINET_KG, contype=0, conaffinity=0, group=4)

    def reset(self, env: SimEnv, rng: np.random.Generator, variation: str = "D0") -> None:
        """Objects placed by ``variation``; the door swung open by a fresh draw."""
        super().reset(env, rng, variation)
        env.data.qpos[env.model.joint(HINGE).qposadr[0]] = rng.uniform(*DOOR_START)
        mujoco.mj_forward(env.model, env.data)

    def placement_boxes(self, variation: str) -> list[tuple[float, float, float, float]]:
        """The object's region, the cabinet with its open door, and the way between."""
        item, pantry = self.variation(variation)["item"], self.variation(variation)["pantry"]
        return [(min(item.x[0], pantry.x[0]) - 0.3, pantry.x[1] + 0.3, item.y[0] - 0.1, pantry.y[1] + 0.6)]

    def item_in_cabinet(self, env: SimEnv) -> np.ndarray:
        """The object's centre in the cabinet's frame."""
        return geo.invert(env.body_pose("pantry")) @ np.append(env.body_position("item"), 1.0)

    def signals(self, env: SimEnv) -> dict[str, bool]:
        return {"grasp_item": env.is_grasping("item")}

    def success(self, env: SimEnv) -> bool:
        inside = inside_door_cabinet(self.item_in_cabinet(env)[:3])
        return inside and not env.in_contact(env.finger_geom_ids, env.body_geoms("item"))

    def failure_reason(self, env: SimEnv) -> str:
        return "object still held" if inside_door_cabinet(self.item_in_cabinet(env)[:3]) else "object not in the cabinet"

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Pick the object, lift it just clear, come to the cabinet's opening, slide it in, let go, back out."""
        motion = Motion(env, rng)
        item_half = env.body_position("item")[2] - env.table_z  # it rests on the counter
        yield from pick(motion, "item", lambda n: self.object_pose(env, n), lift=(0.05, 0.07), settle=True)
        pantry = env.body_pose("pantry")
        floor = pantry[2, 3] + 2 * WALL
        held_to_eef = motion.target[2, 3] - env.body_position("item")[2]
        across = float(rng.uniform(-0.05, 0.05))  # where along the opening it goes in

        def in_cabinet(depth: float, lift: float) -> np.ndarray:
            """Gripper pose carrying the object ``depth`` metres behind the opening (the cabinet's +y), its bottom
            ``lift`` metres over the cabinet's floor."""
            point = pantry[:3, :3] @ [across, -PANTRY_HALF[1] + depth, 0.0] + pantry[:3, 3]
            goal = motion.target.copy()
            goal[:2, 3] = point[:2]
            goal[2, 3] = floor + lift + item_half + held_to_eef
            return goal

        yield from motion.move(in_cabinet(-0.12, 0.04), speed=0.8)
        yield from motion.move(in_cabinet(float(rng.uniform(0.1, 0.13)), 0.03), speed=0.4, precise=True)
        lowered = motion.target.copy()
        lowered[2, 3] -= 0.025
        yield from motion.move(lowered, speed=0.3, precise=True)
        yield from motion.grip(-1.0)
        yield from motion.move(in_cabinet(-0.12, 0.01), speed=0.5, precise=True)
        yield from motion.lift(float(rng.uniform(0.08, 0.12)), speed=0.7)
        yield from motion.pause(int(rng.integers(3, 7)))
