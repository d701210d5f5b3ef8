"""Building blocks for scripted experts that move like a person at a teleoperation rig.

A ``Motion`` turns goal poses into a per-step target stream with minimum-jerk timing, a per-demo
speed, curved approach paths, waypoint error, hand tremor and the occasional hesitation, so the
generator is exercised on imperfect input rather than on perfect straight lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from demoforge import geometry as geo
from demoforge.sim.env import SimEnv
from demoforge.tasks.base import ExpertStream

CONTROL_DT = 0.05  # seconds per control step (20 Hz)
GRIPPER_DOWN = np.diag([1.0, -1.0, -1.0])  # end-effector z pointing at the table, fingers closing along world y


@dataclass(frozen=True)
class Style:
    """How one demonstrator moves during one demo."""

    speed: float  # cruise speed, m/s
    turn_speed: float  # rad/s
    waypoint_noise: float  # m, error of each placed waypoint
    tremor: float  # m, per-step target jitter
    pause_prob: float  # chance of a hesitation before a phase
    detour: float  # m, lateral bulge of approach paths

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Style:
        return cls(
            speed=float(rng.uniform(0.18, 0.32)),
            turn_speed=float(rng.uniform(1.0, 1.8)),
            waypoint_noise=float(rng.uniform(0.0005, 0.002)),
            tremor=float(rng.uniform(0.0, 0.0006)),
            pause_prob=float(rng.uniform(0.1, 0.35)),
            detour=float(rng.uniform(0.0, 0.04)),
        )


def min_jerk(num: int) -> np.ndarray:
    """Fractions in (0, 1] following a minimum-jerk profile over ``num`` steps."""
    t = np.arange(1, num + 1) / num
    return 10 * t**3 - 15 * t**4 + 6 * t**5


def grasp_pose(world_T_object: np.ndarray, offset: np.ndarray = np.zeros(3), yaw: float = 0.0) -> np.ndarray:
    """Top-down grasp: gripper pointing down, fingers across the object's x axis, ``offset`` in the object frame."""
    obj_yaw = np.arctan2(world_T_object[1, 0], world_T_object[0, 0])
    rot = geo.yaw_mat(obj_yaw + yaw) @ GRIPPER_DOWN
    return geo.make_pose(world_T_object[:3, 3] + world_T_object[:3, :3] @ offset, rot)


class Motion:
    """Stateful target stream: remembers the last commanded pose and gripper of the expert."""

    def __init__(self, env: SimEnv, rng: np.random.Generator, style: Style | None = None, arm: int = 0) -> None:
        self.env = env
        self.rng = rng
        self.style = style or Style.sample(rng)
        self.arm = arm
        self.target = env.eef_pose(arm)
        # open: a gripper's one command, or a hand's one per actuator (tasks/hands.py has hand shapes)
        self.gripper: float | np.ndarray = -np.ones(env.robot.eef_dim) if env.arms[arm].hand else -1.0

    def emit(self, pose: np.ndarray) -> tuple[np.ndarray, float]:
        """One step toward ``pose`` with this demonstrator's tremor, and the current gripper command."""
        out = pose.copy()
        if self.style.tremor > 0:
            out[:3, 3] += self.rng.normal(0.0, self.style.tremor, 3)
        return out, self.gripper

    def move(self, world_T_goal: np.ndarray, speed: float = 1.0, precise: bool = False) -> ExpertStream:
        """Go to ``world_T_goal``; unless ``precise`` (an insertion, a slide around an object) with waypoint
        error and, on long moves, a sideways curve."""
        goal = world_T_goal.copy()
        if not precise:
            goal[:3, 3] += self.rng.normal(0.0, self.style.waypoint_noise, 3)
        if self.rng.random() < self.style.pause_prob:
            yield from self.pause(int(self.rng.integers(2, 8)))
        start = self.target
        dist = float(np.linalg.norm(goal[:3, 3] - start[:3, 3]))
        angle = geo.pose_error(start, goal)[1]
        seconds = max(dist / (self.style.speed * speed), angle / self.style.turn_speed, 0.25)
        seconds *= float(self.rng.uniform(0.9, 1.15))
        num = max(2, int(np.ceil(seconds / CONTROL_DT)))
        frac = min_jerk(num)
        positions = start[:3, 3] + frac[:, None] * (goal[:3, 3] - start[:3, 3])
        if dist > 0.08 and self.style.detour > 0 and not precise:
            direction = (goal[:3, 3] - start[:3, 3]) / dist
            side = np.cross(direction, [0.0, 0.0, 1.0])
            if np.linalg.norm(side) > 1e-6:
                side /= np.linalg.norm(side)
                bulge = self.rng.uniform(-1, 1) * self.style.detour * np.sin(np.pi * frac)
                positions += bulge[:, None] * side
        rots = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([start[:3, :3], goal[:3, :3]])))(frac).as_matrix()
        for pos, rot in zip(positions, rots):
            self.target = geo.make_pose(pos, rot)
            yield self.emit(self.target)
        self.target = goal

    def grip(self, value: float | np.ndarray, steps: int | None = None) -> ExpertStream:
        """Close (+1) or open (-1) the gripper, or shape the hand (one target per actuator), and wait for the
        fingers."""
        self.gripper = value
        yield from self.pause(steps if steps is not None else int(self.rng.integers(6, 10)))

    def pause(self, steps: int) -> ExpertStream:
        for _ in range(steps):
            yield self.emit(self.target)

    def settle(self, tolerance: float = 0.004, max_steps: int = 20) -> ExpertStream:
        """Hold the target until the arm has caught up with it (a person waits before a careful move)."""
        for _ in range(max_steps):
            if np.linalg.norm(self.env.eef_pose(self.arm)[:3, 3] - self.target[:3, 3]) < tolerance:
                return
            yield self.emit(self.target)

    def lift(self, height: float, speed: float = 1.0) -> ExpertStream:
        """Straight up by ``height`` metres from the current target."""
        goal = self.target.copy()
        goal[2, 3] += height
        yield from self.move(goal, speed=speed)


def pick(
    motion: Motion,
    pick_object: str,
    object_pose: callable,
    grasp_offset: np.ndarray = np.zeros(3),
    hover: float | None = None,
    lift: tuple[float, float] = (0.08, 0.13),
    settle: bool = False,
) -> ExpertStream:
    """Hover, descend, grasp, lift by a height drawn from ``lift``: the first half of every pick-and-place.

    With ``settle`` the arm is let catch up with a fast approach before descending, so the fingers do
    not come down beside the object and knock it.
    """
    rng = motion.rng
    hover = hover if hover is not None else float(rng.uniform(0.07, 0.12))
    yield from grip_at(motion, lambda: grasp_pose(object_pose(pick_object), grasp_offset), hover, settle)
    yield from motion.lift(float(rng.uniform(*lift)), speed=0.7)


def grip_at(motion: Motion, world_T_grasp: callable, hover: float, settle: bool = True) -> ExpertStream:
    """Hover ``hover`` metres above ``world_T_grasp()``, descend to it and close the gripper.

    The grasp pose is read again before the descent: the object may have been nudged meanwhile. With
    ``settle`` the arm is let catch up with a fast approach first, so the fingers do not come down beside
    the object and knock it.
    """
    above = world_T_grasp().copy()
    above[2, 3] += hover
    yield from motion.move(above)
    if settle:
        yield from motion.settle()
    yield from motion.move(world_T_grasp(), speed=0.45, precise=True)
    yield from motion.grip(1.0)


def pick_and_place(
    motion: Motion,
    env: SimEnv,
    pick_object: str,
    object_pose: callable,
    place_goal: callable,
    grasp_offset: np.ndarray = np.zeros(3),
    hover: float | None = None,
    place_clearance: float = 0.01,
) -> ExpertStream:
    """Hover, descend, grasp, lift, carry over the place goal, lower, release, retreat.

    ``object_pose(name)`` reads the current (symmetry-folded) pose; ``place_goal()`` gives, when
    called after the grasp, the world pose the *gripper* should reach to set the object down.
    """
    yield from pick(motion, pick_object, object_pose, grasp_offset, hover)
    yield from place(motion, place_goal, place_clearance)


def place(motion: Motion, place_goal: callable, clearance: float = 0.01) -> ExpertStream:
    """Carry what is held over ``place_goal()`` (the gripper pose that sets it down), lower it to ``clearance``
    above, release, retreat: the second half of every pick-and-place."""
    rng = motion.rng
    goal = place_goal()
    over = goal.copy()
    over[2, 3] += float(rng.uniform(0.04, 0.07))
    yield from motion.move(over, speed=0.8)
    goal = place_goal()
    goal[2, 3] += clearance
    yield from motion.move(goal, speed=0.35, precise=True)
    yield from motion.grip(-1.0)
    yield from motion.lift(float(rng.uniform(0.06, 0.1)), speed=0.7)


def place_carefully(motion: Motion, place_goal: callable, clearance: float = 0.008) -> ExpertStream:
    """``place`` for a tower: the arm is let catch up over the goal and after the slower descent, so a lagging
    arm cannot knock what stands below."""
    rng = motion.rng
    over = place_goal()
    over[2, 3] += float(rng.uniform(0.04, 0.07))
    yield from motion.move(over, speed=0.8)
    yield from motion.settle()
    down = place_goal()
    down[2, 3] += clearance
    yield from motion.move(down, speed=0.3, precise=True)
    yield from motion.settle(0.003)
    yield from motion.grip(-1.0)
    yield from motion.lift(float(rng.uniform(0.07, 0.11)), speed=0.6)


def together(motions: list[Motion], streams: list[ExpertStream]) -> ExpertStream:
    """One stream for several arms: each step, every arm's next target (an arm whose stream ended holds).

    Yields ``(targets (arms, 4, 4), grippers (arms,))``; ends when every stream has.
    """
    live = [iter(s) for s in streams]
    done = [False] * len(live)
    while True:
        targets, grippers = [], []
        for i, (motion, stream) in enumerate(zip(motions, live)):
            step = None if done[i] else next(stream, None)
            if step is None:
                done[i] = True
                step = (motion.target, motion.gripper)
            targets.append(step[0])
            grippers.append(step[1])
        if all(done):
            return
        yield np.stack(targets), np.array(grippers, dtype=float)


def move_together(motions: list[Motion], offset: np.ndarray, speed: float = 1.0) -> ExpertStream:
    """Every arm's target shifted by the same world ``offset`` on one shared minimum-jerk clock.

    What two hands holding one object do: the object stays rigid only if the hands move as one.
    """
    style = motions[0].style
    dist = float(np.linalg.norm(offset))
    seconds = max(dist / (style.speed * speed), 0.25) * float(motions[0].rng.uniform(0.9, 1.15))
    frac = min_jerk(max(2, int(np.ceil(seconds / CONTROL_DT))))
    starts = [m.target.copy() for m in motions]
    for f in frac:
        steps = []
        for motion, start in zip(motions, starts):
            motion.target = start.copy()
            motion.target[:3, 3] += f * np.asarray(offset, dtype=float)
            steps.append(motion.emit(motion.target))
        yield np.stack([t for t, _ in steps]), np.array([g for _, g in steps], dtype=float)
