"""``pick_place_cabinet``: put an object from the counter into a cupboard (RoboCasa's PnPCounterToCab).

The cupboard (sim/cabinets.py, 42 x 32 x 60 cm, 15 kg) stands on the counter at the robot's right, beside
rather than before it (so it hides nothing from the front camera), its opening turned to the robot's base so
the arm reaches in along its own length, clear of the panels, and its door standing wide open. The object is a short instance of a few categories
from the catalogue (a tea box on the plain table; scenes choose among all of them), placed on the counter at
the robot's left: taller things would bring the wrist up against the cupboard's top. Success is the object
inside the cupboard, let go of. The expert picks the object from above, carries it low to the opening, slides
it in, sets it down, lets go and draws the hand back out the way it came.
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.sim.cabinets import CUPBOARD_HALF, DOOR_OPEN, WALL, add_cupboard, cupboard_interior
from demoforge.sim.env import SimEnv, vertical_extent
from demoforge.tasks.base import ExpertStream, Placement, Subtask, Task, box_placement
from demoforge.tasks.motion import Motion, pick

CABINET_KG = 15.0
CABINET_RGBA = (0.55, 0.42, 0.3, 1.0)
# Things a parallel gripper takes from above, that stand up by themselves and leave the hand over them well
# below the cupboard's top as it goes in. No cans and no milk carton: held across their sides, cans pivot
# out of the fingers on the way and the tall, narrow carton tips over at the cupboard's edge (at D1 in
# kitchens they made every failure but one of 90 attempts).
ITEMS = ("tea_box", "cereal_box", "bread_loaf", "bread_roll", "lemon", "apple")
FLOOR_CLEARANCE = (0.012, 0.022)  # metres between the carried object and the cupboard's floor
DEPTH_INSIDE = (0.11, 0.16)  # metres from the opening to where the object's centre is set down


def facing_base(cx: float, cy: float, half_x: float, half_y: float, yaw: float) -> Placement:
    """A fixture whose front faces its own -y turned to face the robot's base (the world origin) from
    (``cx``, ``cy``), up to ``yaw`` radians either way."""
    facing = float(np.arctan2(-cy, -cx)) + np.pi / 2
    return box_placement(cx, cy, half_x, half_y, (facing - yaw, facing + yaw))


class PickPlaceCabinet(Task):
    name = "pick_place_cabinet"
    description = "pick the object from the counter and put it in the cabinet"
    objects = ("item", "cabinet")
    instances = {"item": ITEMS}
    surfaces = {"cabinet": "cabinet"}  # made as a kitchen's cabinet fronts
    subtasks = (
        Subtask("grasp_item", object="item", signal="grasp_item"),
        # the way in is replayed from where the object comes within 35 cm of the cupboard's centre: in front of
        # its opening, so the bridge there never cuts through a panel
        Subtask("place_in_cabinet", object="cabinet", signal=None, held="item", approach_radius=0.35),
    )
    variations = {
        "D0": {"item": box_placement(0.5, 0.2, 0.03, 0.03, (-0.1, 0.1)),
               "cabinet": facing_base(0.36, -0.48, 0.01, 0.01, 0.03)},
        "D1": {"item": box_placement(0.5, 0.2, 0.06, 0.08, (-0.4, 0.4)),
               "cabinet": facing_base(0.36, -0.48, 0.03, 0.03, 0.1)},
        "D2": {"item": box_placement(0.52, 0.22, 0.08, 0.1, (-0.8, 0.8)),
               "cabinet": facing_base(0.36, -0.48, 0.05, 0.04, 0.18)},
    }
    reach = (0.3, 0.95)
    max_steps = 450

    def build(self, spec: mujoco.MjSpec) -> None:
        body = spec.worldbody.add_body(name="cabinet")
        body.add_freejoint(name="cabinet_joint")
        add_cupboard(body, "cabinet", CABINET_RGBA)
        hx, hy, _ = CUPBOARD_HALF
        body.add_geom(name="cabinet_ballast", type=mujoco.mjtGeom.mjGEOM_BOX, size=[hx - 0.02, hy - 0.02, 0.005],
                      pos=[0.0, 0.0, 0.02], mass=CABINET_KG, contype=0, conaffinity=0, group=4)

    def reset(self, env: SimEnv, rng: np.random.Generator, variation: str = "D0") -> None:
        super().reset(env, rng, variation)
        env.data.qpos[env.model.joint("cabinet_hinge").qposadr[0]] = DOOR_OPEN  # wide open, where its spring holds it
        mujoco.mj_forward(env.model, env.data)

    def placement_boxes(self, variation: str) -> list[tuple[float, float, float, float]]:
        """Where the object starts, the cupboard with its open door, and the way between them."""
        placements = self.variation(variation)
        item, cabinet = placements["item"], placements["cabinet"]
        return [(item.x[0] - 0.05, item.x[1] + 0.05, item.y[0] - 0.05, item.y[1] + 0.05),
                (cabinet.x[0] - 0.3, cabinet.x[1] + 0.35, cabinet.y[0] - 0.3, item.y[1])]

    def signals(self, env: SimEnv) -> dict[str, bool]:
        return {"grasp_item": env.is_grasping("item")}

    def inside(self, env: SimEnv) -> bool:
        """The object's centre within the cupboard's inner space."""
        centre, half = cupboard_interior()
        local = geo.invert(env.body_pose("cabinet")) @ np.append(env.body_position("item"), 1.0)
        return bool(np.all(np.abs(local[:3] - centre) < half))

    def success(self, env: SimEnv) -> bool:
        return self.inside(env) and not env.in_contact(env.finger_geom_ids, env.body_geoms("item"))

    def failure_reason(self, env: SimEnv) -> str:
        if not self.inside(env):
            return "object not in the cabinet"
        return "object still held"

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Pick the object from above, bring it low in front of the opening, slide it in, set it down, let go
        and draw the hand straight back out before lifting it."""
        motion = Motion(env, rng)
        yield from pick(motion, "item", lambda n: self.object_pose(env, n), lift=(0.03, 0.05), settle=True)
        cabinet = env.body_pose("cabinet")
        item_to_eef = motion.target[:3, 3] - env.body_position("item")  # the grasp, held as it is
        bottom, _ = vertical_extent(env.model, "item")
        centre_z = 2 * WALL - bottom + float(rng.uniform(*FLOOR_CLEARANCE))
        across = float(rng.uniform(-0.06, 0.06))
        set_down = cabinet @ np.array([across, -CUPBOARD_HALF[1] + float(rng.uniform(*DEPTH_INSIDE)), centre_z, 1.0])
        before = cabinet @ np.array([across, -CUPBOARD_HALF[1] - float(rng.uniform(0.08, 0.12)), centre_z, 1.0])
        front = motion.target.copy()
        front[:3, 3] = before[:3] + item_to_eef
        yield from motion.move(front, speed=0.8)
        inside = front.copy()
        inside[:3, 3] = set_down[:3] + item_to_eef
        yield from motion.move(inside, speed=0.4, precise=True)
        yield from motion.grip(-1.0)
        yield from motion.move(front, speed=0.5, precise=True)
        yield from motion.lift(float(rng.uniform(0.08, 0.12)), speed=0.7)
        yield from motion.pause(int(rng.integers(3, 7)))

