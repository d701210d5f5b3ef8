"""What a task is: objects, subtasks, reset distributions, success, and a scripted expert.

This is the protocol the generator needs (``mimic`` only talks to these methods). A new task is one
module with one ``Task`` subclass; nothing else needs to change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.errors import DemoforgeError
from demoforge.scenes.sample import sample_scene
from demoforge.scenes.spec import SceneAxes, SceneSpec
from demoforge.sim.env import SimEnv
from demoforge.sim.scene import set_free_body_pose

# A scripted expert yields one (world_T_target, gripper) per 20 Hz control step.
ExpertStream = Iterator[tuple[np.ndarray, float]]


@dataclass(frozen=True)
class Subtask:
    """One object-centric piece of a task.

    ``object`` is the reference object: the segment is re-targeted so the end-effector keeps its pose
    relative to it, taken at its centre or (``anchor="top"``, for placing things on it) at the centre of
    its top face, so a taller or shorter instance than the source's still receives the object on top. ``signal`` names the termination signal whose rising edge ends the subtask
    (``None`` for the last subtask, which ends with the episode). ``held`` names the object carried
    during the subtask, if any: the generator then keeps *that object's* pose relative to the
    reference (correcting for a grasp that differs from the source's), not just the gripper's.
    ``approach_radius``, when set, replaces the generator's for this subtask: a reference the hand goes
    into from the side (a cupboard) needs the way in replayed from farther out than one it comes down on.
    """

    name: str
    object: str | None  # None: no reference object, the segment is replayed in the world frame
    signal: str | None
    held: str | None = None
    anchor: str = "center"  # "center" or "top" of the reference object
    arm: int = 0  # which arm does it (index in the robot's arm order)
    kind: str = "parallel"  # with two arms: "parallel", "coordination" (with ``partner``), "sequential" (after ``after``)
    partner: str | None = None  # coordination: the other arm's subtask done in lockstep on the same object
    after: str | None = None  # sequential: a subtask (of the other arm) that must end before this one starts
    approach_radius: float | None = None  # metres; None: the generator's ``approach_radius``

    def approach(self, default: float) -> float:
        """The approach radius the generator uses for this subtask."""
        return default if self.approach_radius is None else self.approach_radius

@dataclass(frozen=True)
class Placement:
    """Uniform reset distribution of one object: world x and y ranges (m) and a yaw range (rad)."""

    x: tuple[float, float]
    y: tuple[float, float]
    yaw: tuple[float, float] = (-np.pi, np.pi)

    def sample(self, rng: np.random.Generator) -> tuple[float, float, float]:
        return (float(rng.uniform(*self.x)), float(rng.uniform(*self.y)), float(rng.uniform(*self.yaw)))


def box_placement(cx: float, cy: float, half_x: float, half_y: float, yaw: tuple[float, float] = (-np.pi, np.pi)) -> Placement:
    return Placement((cx - half_x, cx + half_x), (cy - half_y, cy + half_y), yaw)


def facing_robot(cx: float, cy: float, half_x: float, half_y: float, yaw: float) -> Placement:
    """A fixture whose front faces its own -y (sim/appliances.py) turned to face the robot (world -x), up to
    ``yaw`` radians either way."""
    return box_placement(cx, cy, half_x, half_y, (-np.pi / 2 - yaw, -np.pi / 2 + yaw))


class Task:
    """Base of every task; subclasses set the class attributes and override the marked methods."""

    name: str = ""
    description: str = ""  # the language instruction stored with its datasets (LeRobot's task string)
    robot: str = "panda"  # the robot it is built for (``--robot`` may name another with as many arms)
    num_arms: int = 1
    objects: tuple[str, ...] = ()
    object_arm: dict[str, int] = {}  # which arm's reach an object's placement is checked against (default 0)
    subtasks: tuple[Subtask, ...] = ()
    variations: dict[str, dict[str, Placement]] = {}
    symmetry: dict[str, int] = {}  # object -> n-fold symmetry about its z axis
    # Objects whose size scenes may vary, and as what kind of instance (the task reads sizes from the model):
    # "block" (a cube of another size or proportions, or a can) or "vessel" (an open container of another
    # radius and height).
    scalable: dict[str, str] = {}
    # Objects of a category: the catalogue instances (scenes/catalogue.py) a scene may make each one; the world
    # builds them (the first without a scene), so ``build`` leaves them out.
    instances: dict[str, tuple[str, ...]] = {}
    # Objects that are furniture (a cupboard, a drawer unit): scenes make them of what that kitchen surface
    # (a key of scenes/materials.py's SURFACES) is made of, not of a loud colour.
    surfaces: dict[str, str] = {}
    min_separation: float = 0.1  # metres between sampled object centres
    reach: tuple[float, float] = (0.3, 0.72)  # horizontal distance from the robot base a top-down grasp can reach
    success_hold_steps: int = 5  # success must hold for this many final control steps
    max_steps: int = 600  # control steps before an episode is cut
    eef_kinds: tuple[str, ...] = ("parallel_gripper",)  # end-effectors the task's expert and signals work with
    demo_variation: str = "D1"  # what ``demoforge demo`` generates in by default

    # ---- to override ---------------------------------------------------------------------------
    def build(self, spec: mujoco.MjSpec) -> None:
        """Add the task's objects (bodies named after them) and fixtures to the scene."""
        raise NotImplementedError

    def signals(self, env: SimEnv) -> dict[str, bool]:
        """Current value of every subtask termination signal."""
        raise NotImplementedError

    def success(self, env: SimEnv) -> bool:
        """Whether the task is solved in the current state (checked over the final steps)."""
        raise NotImplementedError

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Scripted, human-like expert: a stream of targets from the current state to success."""
        raise NotImplementedError

    @property
    def has_expert(self) -> bool:
        """Whether ``expert`` can record source demos (a task file may name none)."""
        return True

    def world_error(self, exc: Exception) -> Exception:
        """The error to raise when MuJoCo refuses the task's world (a task file's: naming the file)."""
        return DemoforgeError(f"task {self.name!r}: its world does not compile in MuJoCo: {' '.join(str(exc).split())}")

    def check_world(self, env: SimEnv) -> None:
        """Refuse a compiled world the task cannot run in, naming what is wrong (task files: their line)."""

    def failure_reason(self, env: SimEnv) -> str:
        """Why the current state is a failure, when the task can say more than "subtask X failed" ("" if not)."""
        return ""

    # ---- shared behaviour ----------------------------------------------------------------------
    @property
    def signal_names(self) -> list[str]:
        return [s.signal for s in self.subtasks if s.signal is not None]

    def arm_subtasks(self, arm: int) -> tuple[Subtask, ...]:
        """The subtasks one arm does, in order."""
        return tuple(s for s in self.subtasks if s.arm == arm)

    def check_robot(self, robot: object) -> None:
        """Refuse a robot with fewer arms than the task needs, or end-effectors it does not drive, naming both."""
        arms = getattr(robot, "arms", ())
        if len(arms) < self.num_arms:
            have = ", ".join(a.name for a in arms)
            raise DemoforgeError(
                f"task {self.name!r} needs a robot with {self.num_arms} arms (as {self.robot!r}); robot "
                f"{getattr(robot, 'name', '?')!r} has {len(arms)} ({have})"
            )
        other = [a for a in arms[: self.num_arms] if a.eef_kind not in self.eef_kinds]
        if other:
            raise DemoforgeError(
                f"task {self.name!r} drives {' or '.join(k.replace('_', ' ') + 's' for k in self.eef_kinds)}; robot "
                f"{getattr(robot, 'name', '?')!r} ends in a {other[0].eef_kind.replace('_', ' ')} on arm(s) "
                f"{', '.join(a.name for a in other)} (no built-in task drives dexterous hands yet)"
            )

    def reset(self, env: SimEnv, rng: np.random.Generator, variation: str = "D0") -> None:
        """Robot home, objects placed by a fresh sample of ``variation``.

        Samples are rejected (and redrawn) when objects are closer than ``min_separation`` or outside the
        arm's ``reach``: an impossible start is not a failed attempt.
        """
        env.reset()
        placements = self.variation(variation)
        base_xy = np.array([env.arms[self.object_arm.get(name, 0)].world_T_base[:2, 3] for name in placements])
        for _ in range(1000):
            poses = {name: p.sample(rng) for name, p in placements.items()}
            xy = np.array([(x, y) for x, y, _ in poses.values()])
            dists = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(len(xy)) * 1e9
            radius = np.linalg.norm(xy - base_xy, axis=1)
            reachable = np.all((radius >= self.reach[0]) & (radius <= self.reach[1]))
            if reachable and (len(xy) < 2 or dists.min() >= self.min_separation):
                break
        else:
            raise DemoforgeError(
                f"task {self.name!r}, variation {variation!r}: no placement keeps objects {self.min_separation} m apart "
                f"and {self.reach[0]}-{self.reach[1]} m from the robot base; widen the ranges"
            )
        for name, (x, y, yaw) in poses.items():
            pose = geo.make_pose([x, y, env.table_z + env.rest_height(name)], geo.yaw_mat(yaw))
            set_free_body_pose(env.model, env.data, name, pose)
        mujoco.mj_forward(env.model, env.data)

    def variation(self, name: str) -> dict[str, Placement]:
        if name not in self.variations:
            known = ", ".join(self.variations)
            raise DemoforgeError(f"task {self.name!r} has no variation {name!r} (known: {known})")
        return self.variations[name]

    def start_is_valid(self, env: SimEnv, tolerance: float = 0.002) -> bool:
        """No two scene geoms (robot excluded) interpenetrate by more than ``tolerance`` metres after a reset."""
        data = env.data
        if data.ncon == 0:
            return True
        robot = env.robot_geom_mask
        pairs = data.contact.geom[: data.ncon]
        deep = data.contact.dist[: data.ncon] < -tolerance
        return not bool(np.any(deep & ~robot[pairs[:, 0]] & ~robot[pairs[:, 1]]))

    def placement_boxes(self, variation: str) -> list[tuple[float, float, float, float]]:
        """(x_min, x_max, y_min, y_max) of every object's reset region: where scenes must leave room."""
        return [(*p.x, *p.y) for p in self.variation(variation).values()]

    def sample_scene(self, family: str, level: str, seed: int, axes: SceneAxes = SceneAxes()) -> SceneSpec:
        """A scene of ``family`` for this task: its objects get looks, and its reset regions stay clear."""
        return sample_scene(family, level, seed, self.objects, self.placement_boxes(level), self.scalable, axes,
                            self.instances, self.surfaces)

    def object_pose(self, env: SimEnv, name: str) -> np.ndarray:
        """``world_T_object``, with n-fold symmetric objects folded to the frame nearest the world's yaw.

        Folding makes re-targeting choose the least wrist rotation for a cube at any yaw.
        """
        return fold_symmetry(env.body_pose(name), self.symmetry_order(env, name))

    def symmetry_order(self, env: SimEnv, name: str) -> int:
        """n-fold yaw symmetry of an object as simulated (0: any yaw): a scene may make a cube a box or a can."""
        if self.scalable.get(name) == "block":
            return env.yaw_symmetry(f"{name}_geom")
        if name in self.instances:  # whichever instance the scene built: its simulated shape says
            return env.yaw_symmetry(f"{name}_geom") if env.has_geom(f"{name}_geom") else 1
        return self.symmetry.get(name, 1)


def fold_symmetry(world_T_object: np.ndarray, order: int) -> np.ndarray:
    """Pose(s) (..., 4, 4) turned about the object's z by the multiple of its symmetry angle (any angle for
    ``order`` 0) that brings its yaw nearest zero; unchanged for ``order`` 1."""
    if order == 1:
        return world_T_object
    yaw = np.arctan2(world_T_object[..., 1, 0], world_T_object[..., 0, 0])
    if order == 0:
        turn = -yaw
    else:
        step = 2 * np.pi / order
        turn = -np.round(yaw / step) * step
    c, s = np.cos(turn), np.sin(turn)
    rot_z = np.zeros(turn.shape + (3, 3))
    rot_z[..., 0, 0], rot_z[..., 0, 1], rot_z[..., 1, 0], rot_z[..., 1, 1], rot_z[..., 2, 2] = c, -s, s, c, 1.0
    out = np.array(world_T_object, dtype=float, copy=True)
    out[..., :3, :3] = world_T_object[..., :3, :3] @ rot_z
    return out
