"""``lift``: pick up a 4 cm cube and hold it at least 4 cm above the table."""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge.sim.env import SimEnv
from demoforge.tasks.base import ExpertStream, Subtask, Task, box_placement
from demoforge.tasks.motion import Motion, pick
from demoforge.tasks.objects import add_box_object
from demoforge.tasks.stack import CUBE_HALF, CUBE_RGBA

HALF = CUBE_HALF["cube_a"]  # same 4 cm red cube as stack's cube_a
LIFT_HEIGHT = 0.04  # metres between the cube's bottom and the table for success


class Lift(Task):
    name = "lift"
    description = "lift the red cube"
    objects = ("cube",)
    subtasks = (
        Subtask("grasp_cube", object="cube", signal="grasp_cube"),
        Subtask("lift_cube", object="cube", signal=None),
    )
    variations = {
        "D0": {"cube": box_placement(0.55, 0.0, 0.08, 0.08)},
        "D1": {"cube": box_placement(0.55, 0.0, 0.2, 0.25)},
        "D2": {"cube": box_placement(0.55, 0.0, 0.25, 0.35)},
    }
    symmetry = {"cube": 4}
    scalable = {"cube": "block"}
    max_steps = 300

    def build(self, spec: mujoco.MjSpec) -> None:
        add_box_object(spec, "cube", (HALF, HALF, HALF), CUBE_RGBA["cube_a"])

    def signals(self, env: SimEnv) -> dict[str, bool]:
        return {"grasp_cube": env.is_grasping("cube")}

    def success(self, env: SimEnv) -> bool:
        bottom = env.body_position("cube")[2] - env.half_height("cube_geom")
        return bottom - env.table_z >= LIFT_HEIGHT and env.is_grasping("cube")

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Pick and lift well past the threshold, then hold still so success holds to the end."""
        motion = Motion(env, rng)
        yield from pick(motion, "cube", lambda n: self.object_pose(env, n), lift=(0.1, 0.16))
        yield from motion.pause(int(rng.integers(8, 14)))
