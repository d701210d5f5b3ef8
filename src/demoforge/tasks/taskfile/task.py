"""A task described by a TOML file: the file checked name by name, then a ``Task`` like any built-in one.

Every check that can fail names the file, the line and the key: an unknown object in a predicate, a
subtask without a reference, a placement out of the arm's reach, a typo in a key.
"""

from __future__ import annotations

import keyword
from pathlib import Path

import mujoco
import numpy as np
from pydantic import ValidationError

from demoforge import geometry as geo
from demoforge.errors import DemoforgeError
from demoforge.sim.env import SimEnv
from demoforge.sim.robot import RobotConfig, load_robot
from demoforge.tasks.base import ExpertStream, Placement, Subtask, Task
from demoforge.tasks.motion import Motion, pick, place, place_carefully
from demoforge.tasks.objects import on_top_pose, place_pose, upright_cube_rotation
from demoforge.tasks.predicates import (
    Names, Predicate, PredicateError, arms_named, joints_named, local_box, object_extent, parse_predicate,
)
from demoforge.tasks.taskfile.build import TaskObjectError, add_task_object, resolve_path
from demoforge.tasks.taskfile.schema import TaskFile
from demoforge.tomlfile import Loc, TomlDoc

WORLD = "world"  # a subtask's reference when its segment is replayed in the world frame
RESERVED = (WORLD,)  # names an object may not have
ONE_DOF = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
# each expert step's own options
STEP_OPTIONS = {"pick": ("lift", "settle"), "place_on": ("careful", "clearance"), "place_in": ("careful", "clearance"),
                "pause": ()}


class FileTask(Task):
    """A task read from a task file (``load_task_file``); its source text travels with it and its datasets."""

    def __init__(self, doc: TomlDoc) -> None:
        try:
            spec = TaskFile.model_validate(doc.data)
        except ValidationError as exc:
            raise doc.validation_error(exc) from None
        self.doc, self.text, self.spec = doc, doc.text, spec
        self.folder = doc.path.parent
        self.name = spec.name or doc.path.stem
        self.description = spec.description
        self.robot = self._robot_ref(spec.robot)
        robot = self._load_robot()
        arms = tuple(arm.name for arm in robot.arms)
        bodies = {**spec.objects, **spec.fixtures}
        self.objects = tuple(bodies)  # objects first, then fixtures: the order resets draw their places in
        for loc, name in [(("objects", n), n) for n in spec.objects] + [(("fixtures", n), n) for n in spec.fixtures]:
            if not name.isidentifier() or keyword.iskeyword(name) or name in RESERVED:
                raise doc.error(loc, f"object name {name!r}: use a plain name (letters, digits, _), not a Python "
                                f"keyword or {', '.join(RESERVED)}")
            obj = bodies[name]
            for key in ("mesh", "mjcf"):
                file = getattr(obj, key)
                if file is not None and not resolve_path(file, self.folder).is_file():
                    raise doc.error((*loc, key), f"no such file: {resolve_path(file, self.folder)}")
        for name in set(spec.objects) & set(spec.fixtures):
            raise doc.error(("fixtures", name), f"{name!r} is both an object and a fixture")
        self.names = Names(self.objects, arms)
        self.object_arm = {n: self._arm(("objects" if n in spec.objects else "fixtures", n, "arm"), o.arm)
                           for n, o in bodies.items() if o.arm is not None}
        self.symmetry = {n: o.symmetry for n, o in bodies.items()}
        self.scalable = {n: o.scalable for n, o in bodies.items() if o.scalable}
        self.surfaces = {n: o.surface for n, o in bodies.items() if o.surface}
        self.min_separation, self.reach, self.max_steps = spec.min_separation, spec.reach, spec.max_steps
        self.success_hold_steps = spec.success.hold_steps
        self.variations = self._variations()
        default = "D1" if "D1" in self.variations else next(iter(self.variations))
        self.demo_variation = spec.demo_variation or default
        if self.demo_variation not in self.variations:
            raise doc.error(("demo_variation",), f"no variation {spec.demo_variation!r} (variations: "
                            f"{', '.join(self.variations)})")
        self.subtasks, self.signal_predicates = self._subtasks()
        self.success_predicate = self._predicate(("success", "when"), spec.success.when)
        used = [s.arm for s in self.subtasks] + list(self.object_arm.values())
        used += [a for _, p in self._predicates() for a in arms_named(p)]
        self.num_arms = 1 + max(used)  # every arm the file names, so a robot with fewer is refused up front
        self._check_expert()

    # ---- the file, checked ----------------------------------------------------------------------
    def _robot_ref(self, ref: str) -> str:
        """A built-in robot's name, or a robot file's path resolved against the task file's folder."""
        if ref.endswith((".toml", ".json")) and not Path(ref).is_absolute():
            return str((self.folder / ref).resolve())
        return ref

    def _load_robot(self) -> RobotConfig:
        try:
            return load_robot(self.robot)
        except DemoforgeError as exc:
            raise self.doc.error(("robot",), str(exc)) from None

    def _arm(self, loc: Loc, name: str | None) -> int:
        if name is None:
            return 0
        if name not in self.names.arms:
            raise self.doc.error(loc, f"unknown arm {name!r} (robot {self.robot!r} has {', '.join(self.names.arms)})")
        return self.names.arms.index(name)

    def _body(self, loc: Loc, name: str) -> str:
        if name not in self.objects:
            raise self.doc.error(loc, f"unknown object {name!r} (objects and fixtures: {', '.join(self.objects)})")
        return name

    def _predicate(self, loc: Loc, text: str) -> Predicate:
        try:
            return parse_predicate(text, self.names)
        except PredicateError as exc:
            raise self.doc.error(loc, str(exc)) from None

    def _variations(self) -> dict[str, dict[str, Placement]]:
        """Every variation places every object, in the objects' order (the order samples are drawn in)."""
        out = {}
        for level, placements in self.spec.variations.items():
            for name in placements:
                self._body(("variations", level, name), name)
            missing = [n for n in self.objects if n not in placements]
            if missing:
                raise self.doc.error(("variations", level), f"no placement for {', '.join(map(repr, missing))}")
            out[level] = {n: placements[n].placement() for n in self.objects}
        return out

    def _subtasks(self) -> tuple[tuple[Subtask, ...], dict[str, Predicate]]:
        specs, names = self.spec.subtasks, [s.name for s in self.spec.subtasks]
        arms = [self._arm(("subtasks", i, "arm"), s.arm) for i, s in enumerate(specs)]
        last_of_arm = {arm: i for i, arm in enumerate(arms)}
        subtasks, signals = [], {}
        for i, s in enumerate(specs):
            loc = ("subtasks", i)
            if names.count(s.name) > 1:
                raise self.doc.error((*loc, "name"), f"two subtasks are named {s.name!r}")
            reference = None if s.reference == WORLD else self._body((*loc, "reference"), s.reference)
            if s.held is not None:
                self._body((*loc, "held"), s.held)
            for key in ("partner", "after"):
                other = getattr(s, key)
                if other is not None and other not in names:
                    raise self.doc.error((*loc, key), f"no subtask named {other!r} (subtasks: {', '.join(names)})")
            if (s.kind == "coordination") != (s.partner is not None) or (s.kind == "sequential") != (s.after is not None):
                raise self.doc.error((*loc, "kind"), "a coordination subtask names its partner, a sequential one "
                                     "what it comes after (and only they do)")
            signal = None
            if last_of_arm[arms[i]] != i:
                if s.done is None:
                    raise self.doc.error((*loc, "done"), f"subtask {s.name!r} is not its arm's last: say when it is "
                                         "done, e.g. done = \"grasped(arm0, cube)\"")
                signal = s.signal or s.name
                if signal in signals:
                    raise self.doc.error((*loc, "signal"), f"two subtasks end on the signal {signal!r}")
                signals[signal] = self._predicate((*loc, "done"), s.done)
            elif s.done is not None or s.signal is not None:
                raise self.doc.error((*loc, "done"), f"subtask {s.name!r} is its arm's last: it ends with the "
                                     "episode (success says when), so it takes no done")
            subtasks.append(Subtask(s.name, object=reference, signal=signal, held=s.held, anchor=s.anchor,
                                    arm=arms[i], kind=s.kind, partner=s.partner, after=s.after,
                                    approach_radius=s.approach_radius))
        return tuple(subtasks), signals

    def _check_expert(self) -> None:
        """Steps in an order that can run (a pick before each place, one thing held at a time), each with only
        its own options; one arm only."""
        if self.spec.expert and self.num_arms > 1:
            raise self.doc.error(("expert",), "the file's expert drives one arm; a two-arm task's expert is Python "
                                 "(--task my_pkg.module:Class) or its demos come by teleop or import")
        held = None
        for i, step in enumerate(self.spec.expert):
            action = next(k for k in STEP_OPTIONS if getattr(step, k) is not None)
            for option in step.model_fields_set - {action}:
                if option not in STEP_OPTIONS[action]:
                    raise self.doc.error(("expert", i, option), f"{option} is not an option of {action} (its options: "
                                         f"{', '.join(STEP_OPTIONS[action]) or 'none'})")
            if action == "pick":
                if held is not None:
                    raise self.doc.error(("expert", i, "pick"), f"still holding {held!r}: place it first")
                held = self._body(("expert", i, "pick"), step.pick)
            elif action in ("place_on", "place_in"):
                target = self._body(("expert", i, action), getattr(step, action))
                if held is None:
                    raise self.doc.error(("expert", i, action), f"{action} needs a pick before it")
                if target == held:
                    raise self.doc.error(("expert", i, action), f"cannot place {held!r} on or in itself")
                held = None

    def check_world(self, env: SimEnv) -> None:
        """What needs the compiled world: predicates' joints exist, and every placement is within the arm's reach."""
        for loc, pred in self._predicates():
            for joint in joints_named(pred):
                found = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_JOINT, joint)
                known = [env.model.joint(j).name for j in range(env.model.njnt)
                         if int(env.model.jnt_type[j]) in ONE_DOF]
                task_joints = [j for j in known if j.startswith(tuple(f"{o}_" for o in self.objects))]
                if found < 0 or int(env.model.jnt_type[found]) not in ONE_DOF:
                    what = "no joint named" if found < 0 else "not a hinge or slide joint:"
                    raise self.doc.error(loc, f"{what} {joint!r} in the world (the task's hinge and slide joints: "
                                         f"{', '.join(task_joints) or 'none'})")
        for level, placements in self.variations.items():
            for name, p in placements.items():
                base = env.arms[self.object_arm.get(name, 0)].world_T_base[:2, 3]
                near, far = _distance_range(p, base)
                if near > self.reach[1] or far < self.reach[0]:
                    raise self.doc.error(("variations", level, name), (
                        f"out of reach: x {p.x[0]:g}..{p.x[1]:g}, y {p.y[0]:g}..{p.y[1]:g} is {near:.2f}-{far:.2f} m "
                        f"from the arm's base at ({base[0]:.2f}, {base[1]:.2f}); objects may be "
                        f"{self.reach[0]:g}-{self.reach[1]:g} m from it (reach)"))

    def _predicates(self) -> list[tuple[Loc, Predicate]]:
        found = [(("success", "when"), self.success_predicate)]
        for i, s in enumerate(self.subtasks):
            if s.signal is not None:
                found.append((("subtasks", i, "done"), self.signal_predicates[s.signal]))
        return found

    @property
    def files(self) -> list[Path]:
        """The mesh and MJCF files the task builds from (resolved): with its text, what makes the task."""
        objects = (*self.spec.objects.values(), *self.spec.fixtures.values())
        return [resolve_path(p, self.folder) for obj in objects for p in (obj.mesh, obj.mjcf) if p is not None]

    # ---- the Task protocol ------------------------------------------------------------------------
    def build(self, spec: mujoco.MjSpec) -> None:
        bodies = {**self.spec.objects, **self.spec.fixtures}
        for i, (name, obj) in enumerate(bodies.items()):
            loc = ("objects" if name in self.spec.objects else "fixtures", name)
            if spec.body(name) is not None:  # MuJoCo 4 refuses it here, 3.x only when compiling: one message for both
                raise self.doc.error(loc, f"the scene already has a body named {name!r}: rename the object")
            try:
                add_task_object(spec, name, obj, i, self.folder)
            except (ValueError, TaskObjectError) as exc:  # MuJoCo refusing a mesh or MJCF file, or a free joint in it
                raise self.doc.error(loc, " ".join(str(exc).split())) from None

    @property
    def has_expert(self) -> bool:
        return bool(self.spec.expert)

    def world_error(self, exc: Exception) -> Exception:
        return self.doc.error((), f"its world does not compile in MuJoCo: {' '.join(str(exc).split())} (an object "
                              "named as a part of the scene, such as table or floor?)")

    def signals(self, env: SimEnv) -> dict[str, bool]:
        return {name: pred(env) for name, pred in self.signal_predicates.items()}

    def success(self, env: SimEnv) -> bool:
        return self.success_predicate(env)

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """The file's scripted expert: its steps in order (``pick``, ``place_on``, ``pause``)."""
        if not self.spec.expert:
            raise DemoforgeError(f"{self.doc.path}: task {self.name!r} names no expert (no [[expert]] steps); give "
                                 "demos by teleop (`demoforge teleop`) or import them (`demoforge import`)")
        motion = Motion(env, rng)
        pose = lambda name: self.object_pose(env, name)  # noqa: E731
        held = None
        for step in self.spec.expert:
            if step.pick is not None:
                held = step.pick
                yield from pick(motion, held, pose, lift=step.lift, settle=step.settle)
            elif step.place_on is not None:
                base, carried = step.place_on, held
                height = -object_extent(env, carried)[0] + object_extent(env, base)[1]
                goal = lambda b=base, c=carried, h=height: on_top_pose(env, pose(c), pose(b), h, motion.arm)  # noqa: E731
                yield from (place_carefully if step.careful else place)(motion, goal, step.clearance)
                held = None
            elif step.place_in is not None:
                goal = lambda b=step.place_in, c=held: over_container(env, self, c, b, motion.arm)  # noqa: E731
                yield from (place_carefully if step.careful else place)(motion, goal, step.clearance)
                held = None
            else:
                yield from motion.pause(int(rng.integers(step.pause[0], step.pause[1] + 1)))


def over_container(env: SimEnv, task: Task, held: str, container: str, arm: int) -> np.ndarray:
    """End-effector pose that holds ``held`` upright, its bottom level with ``container``'s rim, over the centre
    of the container's geoms (its body origin may be a corner or its floor)."""
    world_T_container = env.body_pose(container)
    centre = local_box(env, container)[0]
    rim = world_T_container[2, 3] + object_extent(env, container)[1]
    world_T_held = task.object_pose(env, held)
    spot = world_T_container[:3, :3] @ centre + world_T_container[:3, 3]
    goal = geo.make_pose([spot[0], spot[1], rim - object_extent(env, held)[0]],
                         upright_cube_rotation(world_T_held, world_T_container))
    return place_pose(env, world_T_held, goal, arm)


def _distance_range(p: Placement, base: np.ndarray) -> tuple[float, float]:
    """Nearest and farthest distance from ``base`` (x, y) to the placement's rectangle."""
    dx = max(p.x[0] - base[0], 0.0, base[0] - p.x[1])
    dy = max(p.y[0] - base[1], 0.0, base[1] - p.y[1])
    far = max(np.hypot(x - base[0], y - base[1]) for x in p.x for y in p.y)
    return float(np.hypot(dx, dy)), float(far)


def load_task_file(path: Path | str) -> FileTask:
    """A task from its TOML file; any mistake in it is an ``InputFileError`` naming its line and key."""
    return FileTask(TomlDoc.read(path, "task file"))
