"""``two_arm_stack`` (bimanual_panda): each arm stacks its own pair of cubes at the same time (parallel subtasks).

The right arm puts the red cube on the green one on its side of the table, the left arm the blue
cube on the yellow one on its side; neither waits for the other.
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge.sim.env import SimEnv
from demoforge.tasks.base import ExpertStream, Subtask, Task, box_placement
from demoforge.tasks.motion import Motion, together
from demoforge.tasks.objects import add_box_object
from demoforge.tasks.stack import resting_on, stack_onto

RIGHT, LEFT = 0, 1  # arm order of bimanual_panda
CUBES = {  # name: (half edge, colour)
    "red_cube": (0.02, (0.85, 0.15, 0.12, 1)),
    "green_cube": (0.025, (0.15, 0.7, 0.2, 1)),
    "blue_cube": (0.02, (0.15, 0.3, 0.85, 1)),
    "yellow_cube": (0.025, (0.9, 0.8, 0.15, 1)),
}
SIDE_Y = 0.3  # each arm's cubes are centred in front of it


def _placements(half_x: float, half_y: float) -> dict:
    right = box_placement(0.55, -SIDE_Y, half_x, half_y)
    left = box_placement(0.55, SIDE_Y, half_x, half_y)
    return {"red_cube": right, "green_cube": right, "blue_cube": left, "yellow_cube": left}


class TwoArmStack(Task):
    name = "two_arm_stack"
    description = "with the right arm stack the red cube on the green cube, with the left arm the blue cube on the yellow cube"
    robot = "bimanual_panda"
    num_arms = 2
    objects = ("red_cube", "green_cube", "blue_cube", "yellow_cube")
    object_arm = {"red_cube": RIGHT, "green_cube": RIGHT, "blue_cube": LEFT, "yellow_cube": LEFT}
    subtasks = (
        Subtask("grasp_red", object="red_cube", signal="grasp_red", arm=RIGHT),
        Subtask("place_red_on_green", object="green_cube", signal=None, held="red_cube", anchor="top", arm=RIGHT),
        Subtask("grasp_blue", object="blue_cube", signal="grasp_blue", arm=LEFT),
        Subtask("place_blue_on_yellow", object="yellow_cube", signal=None, held="blue_cube", anchor="top", arm=LEFT),
    )
    variations = {"D0": _placements(0.08, 0.08), "D1": _placements(0.15, 0.15), "D2": _placements(0.2, 0.2)}
    symmetry = {name: 4 for name in CUBES}
    scalable = {name: "block" for name in CUBES}
    min_separation = 0.1
    max_steps = 450

    def build(self, spec: mujoco.MjSpec) -> None:
        for name, (half, rgba) in CUBES.items():
            add_box_object(spec, name, (half, half, half), rgba)

    def signals(self, env: SimEnv) -> dict[str, bool]:
        return {"grasp_red": env.is_grasping("red_cube", RIGHT), "grasp_blue": env.is_grasping("blue_cube", LEFT)}

    def success(self, env: SimEnv) -> bool:
        pose = env.body_pose
        return (resting_on(env, "red_cube", "green_cube", pose("red_cube"), pose("green_cube"))
                and resting_on(env, "blue_cube", "yellow_cube", pose("blue_cube"), pose("yellow_cube")))

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Both arms at once, each at its own pace (two hands of one person are not synchronised)."""
        right, left = Motion(env, rng, arm=RIGHT), Motion(env, rng, arm=LEFT)
        yield from together([right, left], [
            stack_onto(right, env, self, "red_cube", "green_cube"),
            stack_onto(left, env, self, "blue_cube", "yellow_cube"),
        ])
        yield from together([right, left], [right.pause(int(rng.integers(3, 8))), left.pause(int(rng.integers(3, 8)))])
