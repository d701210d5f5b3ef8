"""``open_drawer``: pull a drawer open by its handle (RoboCasa's OpenDrawer on a counter-top drawer unit).

The drawer unit (sim/cabinets.py) stands on the counter facing the robot and weighs 15 kg, so a pull opens
the drawer rather than dragging the unit. Success is the drawer out by at least 15 cm of its 22. The
expert comes down over the bar handle, closes the fingers across it, draws the drawer straight out along
its slide and lets go.
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.sim.cabinets import HALF, TRAVEL, add_drawer_cabinet, handle_in_drawer
from demoforge.sim.env import SimEnv
from demoforge.tasks.base import ExpertStream, Subtask, Task, facing_robot
from demoforge.tasks.motion import GRIPPER_DOWN, Motion, grip_at
from demoforge.tasks.objects import add_free_body

SLIDE = "cabinet_slide"
OPEN_ENOUGH = 0.15  # metres out for success
CABINET_KG = 15.0
CABINET_RGBA = (0.62, 0.5, 0.38, 1.0)


class OpenDrawer(Task):
    name = "open_drawer"
    description = "open the drawer"
    objects = ("cabinet", "cabinet_drawer")  # the drawer is the cabinet's, reported for its pose
    surfaces = {"cabinet": "cabinet"}  # made as a kitchen's cabinet fronts
    subtasks = (
        Subtask("grasp_handle", object="cabinet_drawer", signal="grasp_handle"),
        Subtask("pull_open", object="cabinet", signal=None),
    )
    variations = {"D0": {"cabinet": facing_robot(0.74, 0.0, 0.01, 0.02, 0.03)},  # the unit's base centre
                  "D1": {"cabinet": facing_robot(0.74, 0.0, 0.03, 0.08, 0.12)},
                  "D2": {"cabinet": facing_robot(0.74, 0.0, 0.04, 0.12, 0.2)}}
    reach = (0.3, 0.9)  # of the unit's centre; its handle is 26 cm nearer the robot
    max_steps = 300

    def build(self, spec: mujoco.MjSpec) -> None:
        body = add_free_body(spec, "cabinet")
        add_drawer_cabinet(body, "cabinet", CABINET_RGBA)
        body.add_geom(name="cabinet_ballast", type=mujoco.mjtGeom.mjGEOM_BOX, size=[HALF[0] - 0.02, HALF[1] - 0.02, 0.005],
                      pos=[0.0, 0.0, 0.02], mass=CABINET_KG, contype=0, conaffinity=0, group=4)

    def placement_boxes(self, variation: str) -> list[tuple[float, float, float, float]]:
        """The unit's footprint and the way the drawer and the hand come out towards the robot."""
        placement = self.variation(variation)["cabinet"]
        return [(placement.x[0] - 0.5, placement.x[1] + 0.25, placement.y[0] - 0.3, placement.y[1] + 0.3)]

    def opening(self, env: SimEnv) -> float:
        return float(env.data.qpos[env.model.joint(SLIDE).qposadr[0]])

    def signals(self, env: SimEnv) -> dict[str, bool]:
        return {"grasp_handle": env.is_grasping("cabinet_drawer")}

    def success(self, env: SimEnv) -> bool:
        return self.opening(env) >= OPEN_ENOUGH

    def failure_reason(self, env: SimEnv) -> str:
        return f"drawer out {100 * self.opening(env):.0f} cm of {100 * OPEN_ENOUGH:.0f}"

    def handle_grasp(self, env: SimEnv) -> np.ndarray:
        """Gripper pointing down over the bar, fingers across it (along the drawer's y), the nearer yaw of two."""
        drawer = env.body_pose("cabinet_drawer")
        centre = drawer[:3, :3] @ np.array(handle_in_drawer()) + drawer[:3, 3]
        across = drawer[:3, 1]
        yaw = np.arctan2(across[0], -across[1])
        now = env.eef_pose()
        now_yaw = np.arctan2(now[1, 0], now[0, 0])
        if abs((yaw + np.pi - now_yaw + np.pi) % (2 * np.pi) - np.pi) < abs((yaw - now_yaw + np.pi) % (2 * np.pi) - np.pi):
            yaw += np.pi
        return geo.make_pose(centre - [0.0, 0.0, 0.004], geo.yaw_mat(yaw) @ GRIPPER_DOWN)

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        motion = Motion(env, rng)
        yield from grip_at(motion, lambda: self.handle_grasp(env), float(rng.uniform(0.08, 0.12)))
        out = -env.body_pose("cabinet")[:3, 1]  # the drawer comes out along the unit's -y
        pulled = motion.target.copy()
        pulled[:3, 3] += float(rng.uniform(0.18, TRAVEL - 0.01)) * out
        yield from motion.move(pulled, speed=0.5, precise=True)
        yield from motion.pause(int(rng.integers(2, 5)))
        yield from motion.grip(-1.0)
        yield from motion.lift(float(rng.uniform(0.07, 0.11)), speed=0.7)
        yield from motion.pause(int(rng.integers(3, 7)))
