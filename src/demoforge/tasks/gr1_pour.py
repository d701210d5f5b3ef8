"""``gr1_pour`` (gr1): the right hand takes a glass of small balls, pours them into the bowl, sets the glass down.

``pour``'s physics (the same balls, glass and bowl, and "spilled k of N particles" when more than 10%
land outside both), done by a humanoid hand: the glass is held in a power grasp from the side (palm on
it, fingers round its far side, thumb beside the mouth), and the pour is a roll of the forearm about
the fingers' direction, tipping the mouth inward over the bowl. The left hand rests.
"""

from __future__ import annotations

import numpy as np

from demoforge import geometry as geo
from demoforge.sim.env import SimEnv
from demoforge.tasks.base import ExpertStream, Subtask, box_placement
from demoforge.tasks.hands import CLASP, OPEN, side_grasp
from demoforge.tasks.motion import Motion, together
from demoforge.tasks.objects import place_pose, upright_cube_rotation
from demoforge.tasks.pour import (
    COASTER_HALF_H, CUP_WALL, Pour, _tilted, container_size,
)

RIGHT = 0
GLASS_HEIGHT = 0.12  # taller than pour's cup: the palm (10 cm across) holds it below the mouth
GRASP_HEIGHT = 0.05  # palm centre above the glass's underside
GLASS_DENSITY = 1500.0  # kg/m^3: a 190 g glass (pour's 300 makes a 40 g one, which opening fingers fling away)
INWARD = np.array([0.0, 1.0, 0.0])  # the right palm faces the robot's midline; the pour tips the mouth this way
FINGERS = np.array([1.0, 0.0, 0.0])


def _placements(d: float) -> dict:
    return {
        "cup": box_placement(0.33, -0.2, d, d, (-np.pi, np.pi)),
        "target": box_placement(0.33, 0.03, d, d, (-np.pi, np.pi)),
        "coaster": box_placement(0.2, -0.17, d, d, (-np.pi, np.pi)),
    }


class GR1Pour(Pour):
    name = "gr1_pour"
    description = "pour the balls from the glass into the bowl with the right hand, then put the glass on the coaster"
    robot = "gr1"
    num_arms = 2
    subtasks = (
        Subtask("grasp_cup", object="cup", signal="grasp_cup", arm=RIGHT),
        Subtask("pour_into_target", object="target", signal="poured", held="cup", arm=RIGHT),
        Subtask("place_on_coaster", object="coaster", signal=None, held="cup", anchor="top", arm=RIGHT),
    )
    variations = {"D0": _placements(0.01), "D1": _placements(0.03), "D2": _placements(0.045)}
    object_arm = {"cup": RIGHT, "target": RIGHT, "coaster": RIGHT}
    min_separation = 0.12
    reach = (0.2, 0.55)
    max_steps = 700
    eef_kinds = ("dexterous_hand",)
    demo_variation = "D1"
    cup_height, cup_density = GLASS_HEIGHT, GLASS_DENSITY

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        right, left = Motion(env, rng, arm=RIGHT), Motion(env, rng, arm=1)
        yield from together([right, left], [self._right_hand(env, right, rng), iter(())])

    def _right_hand(self, env: SimEnv, motion: Motion, rng: np.random.Generator) -> ExpertStream:
        yield from self._take(env, motion, rng)
        yield from self._pour_over_bowl(env, motion, rng)
        yield from self._set_down(env, motion, rng)

    def _grasp_pose(self, env: SimEnv) -> np.ndarray:
        cup = env.body_pose("cup")[:3, 3]
        radius = container_size(env, "cup")[0] + CUP_WALL
        return side_grasp(cup + [0.0, 0.0, GRASP_HEIGHT], FINGERS, INWARD, radius)

    def _take(self, env: SimEnv, motion: Motion, rng: np.random.Generator) -> ExpertStream:
        """Over the glass, down beside it, in against it, close the hand, lift."""
        grasp = self._grasp_pose(env)
        beside = geo.make_pose(grasp[:3, 3] - float(rng.uniform(0.06, 0.09)) * INWARD, grasp[:3, :3])
        above = beside.copy()
        above[2, 3] = env.body_pose("cup")[2, 3] + container_size(env, "cup")[1] + float(rng.uniform(0.05, 0.08))
        yield from motion.move(above)
        yield from motion.move(beside, speed=0.6)
        yield from motion.settle()
        yield from motion.move(self._grasp_pose(env), speed=0.35, precise=True)
        yield from motion.grip(CLASP, steps=int(rng.integers(8, 12)))
        yield from motion.lift(float(rng.uniform(0.1, 0.13)), speed=0.5)

    def _level(self, env: SimEnv, cup_at: np.ndarray) -> np.ndarray:
        """The hand pose that brings the held glass's origin to ``cup_at``, standing upright: closing the hand
        tips the glass a little (10-25 deg), and a person straightens it by feel before pouring."""
        held = env.body_pose("cup")
        return place_pose(env, held, geo.make_pose(cup_at, upright_cube_rotation(held, held)), RIGHT)

    def _pour_over_bowl(self, env: SimEnv, motion: Motion, rng: np.random.Generator) -> ExpertStream:
        """Bring the glass beside the bowl, roll the forearm to tip its mouth over the bowl, hold, roll back."""
        bowl = env.body_pose("target")[:3, 3]
        cup_radius, cup_height = container_size(env, "cup")
        bowl_height = container_size(env, "target")[1]
        lip_short = float(rng.uniform(0.025, 0.04))
        height = bowl_height + float(rng.uniform(0.012, 0.025))
        cup_goal = bowl + [0.0, 0.0, height] - (cup_radius + lip_short) * INWARD
        level = self._level(env, cup_goal)
        yield from motion.move(level, speed=0.6)
        yield from motion.pause(int(rng.integers(2, 6)))
        angle = -float(rng.uniform(np.deg2rad(100), np.deg2rad(112)))  # about +x: the mouth turns toward +y
        lip = cup_goal + cup_radius * INWARD + [0.0, 0.0, cup_height]
        lip_low = bowl - lip_short * INWARD + [0.0, 0.0, bowl_height + float(rng.uniform(0.07, 0.09))]
        for fraction, speed in ((0.45, 0.5), (1.0, float(rng.uniform(0.2, 0.35)))):
            pivot = lip + fraction * (lip_low - lip)
            yield from motion.move(_tilted(level, lip, pivot, fraction * angle, FINGERS), speed=speed, precise=True)
            if rng.random() < 0.5:
                yield from motion.pause(int(rng.integers(2, 5)))
        yield from motion.pause(int(rng.integers(16, 24)))
        yield from motion.move(level, speed=0.6, precise=True)

    def _set_down(self, env: SimEnv, motion: Motion, rng: np.random.Generator) -> ExpertStream:
        """Over the coaster, down onto it, open the hand, back out sideways, up."""
        coaster = env.body_pose("coaster")[:3, 3]
        on_coaster = self._level(env, coaster + [0.0, 0.0, 2 * COASTER_HALF_H + 0.004])
        over = on_coaster.copy()
        over[2, 3] += float(rng.uniform(0.04, 0.07))
        yield from motion.move(over, speed=0.7)
        yield from motion.move(on_coaster, speed=0.35, precise=True)
        yield from motion.settle(max_steps=8)
        yield from motion.grip(OPEN, steps=int(rng.integers(10, 14)))
        back = motion.target.copy()
        back[:3, 3] -= float(rng.uniform(0.06, 0.08)) * INWARD
        yield from motion.move(back, speed=0.3, precise=True)
        yield from motion.lift(float(rng.uniform(0.05, 0.08)), speed=0.5)

