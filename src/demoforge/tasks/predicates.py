"""The predicate vocabulary of task files: success and subtask ends as small expressions over the world.

A predicate is written as a call, ``on(cube_a, cube_b)``, combined with ``all(...)``, ``any(...)``,
``not(...)`` (or ``and``, ``or``, ``not``), and parsed with Python's own ``ast`` (never evaluated as
code) into a tree of the dataclasses below. Each checks its names against the task's objects when it
is parsed, so a typo is an error at the file's line, not a ``KeyError`` in the middle of generation.

=============================  ===========================================================================
``grasped(arm, obj)``          every grasp group of ``arm``'s end-effector touches ``obj`` (one argument:
                               any arm)
``lifted(obj, height)``        ``obj``'s bottom is at least ``height`` metres above the table top
``on(a, b)``                   ``a`` rests on ``b``: touching it, its bottom within 1 cm of ``b``'s top,
                               its origin within ``b``'s half-width of ``b``'s, no finger touching ``a``
``inside(a, container)``       ``a``'s centre is inside ``container``'s bounding box (its geoms, in its frame)
``near(a, b, dist)``           the origins of ``a`` and ``b`` are at most ``dist`` metres apart
``upright(obj[, degrees])``    ``obj``'s z axis is within ``degrees`` (default 15) of the world's
``joint_at_least(joint, v)``   a hinge (rad) or slide (m) joint's position is at least ``v``
=============================  ===========================================================================
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass

import mujoco
import numpy as np

from demoforge.sim.env import SimEnv

SIZED_GEOMS = (int(mujoco.mjtGeom.mjGEOM_BOX), int(mujoco.mjtGeom.mjGEOM_CYLINDER))


class PredicateError(ValueError):
    """A predicate that does not parse or names something the task does not have."""


@dataclass(frozen=True)
class Names:
    """What a predicate may name: the task's bodies (objects and fixtures) and its robot's arms."""

    bodies: tuple[str, ...]
    arms: tuple[str, ...]


# ---- measures on the world (shared by predicates) ---------------------------------------------------
def _sized_geom(env: SimEnv, name: str) -> str | None:
    """``<name>_geom`` if the object has one that is a box or a cylinder (sizes read live: scenes resize them)."""
    geom = f"{name}_geom"
    g = env.geom_id(geom)
    return geom if g is not None and int(env.model.geom_type[g]) in SIZED_GEOMS else None


def object_extent(env: SimEnv, name: str) -> tuple[float, float]:
    """(bottom, top) of an object in its own frame: a box or cylinder ``<name>_geom`` by its live size,
    anything else (meshes, MJCF parts) by the box around its geoms."""
    if geom := _sized_geom(env, name):
        half = env.half_height(geom)
        return -half, half
    centre, half = local_box(env, name)
    return float(centre[2] - half[2]), float(centre[2] + half[2])


def _half_width(env: SimEnv, name: str) -> float:
    if geom := _sized_geom(env, name):
        return env.half_width(geom)
    return float(min(local_box(env, name)[1][:2]))


def local_box(env: SimEnv, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(centre, half size) of the box around a body's geoms, in the body's frame (from MuJoCo's geom AABBs)."""
    model, data = env.model, env.data
    world_T_body = env.body_pose(name)
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for g in env.body_geoms(name):
        centre, half = model.geom_aabb[g, :3], model.geom_aabb[g, 3:]
        world = data.geom_xpos[g] + (centre + half * corners) @ data.geom_xmat[g].reshape(3, 3).T
        local = (world - world_T_body[:3, 3]) @ world_T_body[:3, :3]
        lo, hi = np.minimum(lo, local.min(0)), np.maximum(hi, local.max(0))
    return (lo + hi) / 2, (hi - lo) / 2


# ---- the vocabulary ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grasped:
    arm: int | None  # None: any arm
    obj: str

    def __call__(self, env: SimEnv) -> bool:
        if self.arm is not None:
            return env.is_grasping(self.obj, self.arm)
        touching = env.geoms_touching(self.obj)
        return any(env.grasps(touching, arm) for arm in range(len(env.arms)))


@dataclass(frozen=True)
class Lifted:
    obj: str
    height: float

    def __call__(self, env: SimEnv) -> bool:
        bottom = env.body_position(self.obj)[2] + object_extent(env, self.obj)[0]
        return bottom - env.table_z >= self.height


@dataclass(frozen=True)
class On:
    top: str
    bottom: str

    def __call__(self, env: SimEnv) -> bool:
        top_pose, bottom_pose = env.body_pose(self.top), env.body_pose(self.bottom)
        dz = top_pose[2, 3] - bottom_pose[2, 3]
        expected = -object_extent(env, self.top)[0] + object_extent(env, self.bottom)[1]
        centred = np.linalg.norm(top_pose[:2, 3] - bottom_pose[:2, 3]) < _half_width(env, self.bottom)
        return bool(
            centred
            and abs(dz - expected) < 0.01
            and env.in_contact(env.body_geoms(self.top), env.body_geoms(self.bottom))
            and not env.in_contact(env.finger_geom_ids, env.body_geoms(self.top))
        )


@dataclass(frozen=True)
class Inside:
    obj: str
    container: str

    def __call__(self, env: SimEnv) -> bool:
        centre, half = local_box(env, self.container)
        world_T_container = env.body_pose(self.container)
        local = world_T_container[:3, :3].T @ (env.body_position(self.obj) - world_T_container[:3, 3])
        return bool(np.all(np.abs(local - centre) <= half))


@dataclass(frozen=True)
class Near:
    a: str
    b: str
    dist: float

    def __call__(self, env: SimEnv) -> bool:
        return float(np.linalg.norm(env.body_position(self.a) - env.body_position(self.b))) <= self.dist


@dataclass(frozen=True)
class Upright:
    obj: str
    degrees: float = 15.0

    def __call__(self, env: SimEnv) -> bool:
        return float(env.body_pose(self.obj)[2, 2]) >= np.cos(np.deg2rad(self.degrees))


@dataclass(frozen=True)
class JointAtLeast:
    joint: str
    value: float

    def __call__(self, env: SimEnv) -> bool:
        return float(env.data.qpos[env.model.joint(self.joint).qposadr[0]]) >= self.value


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Predicate, ...]

    def __call__(self, env: SimEnv) -> bool:
        return all(p(env) for p in self.parts)


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Predicate, ...]

    def __call__(self, env: SimEnv) -> bool:
        return any(p(env) for p in self.parts)


@dataclass(frozen=True)
class Not:
    part: Predicate

    def __call__(self, env: SimEnv) -> bool:
        return not self.part(env)


Predicate = Grasped | Lifted | On | Inside | Near | Upright | JointAtLeast | AllOf | AnyOf | Not

# name -> (argument kinds, maker); kinds: "body", "arm", "number", "joint"; a trailing "?" is optional
VOCABULARY: dict[str, tuple[tuple[str, ...], Callable[..., Predicate]]] = {
    "grasped": (("arm?", "body"), lambda *a: Grasped(a[0], a[1]) if len(a) == 2 else Grasped(None, a[0])),
    "lifted": (("body", "number"), Lifted),
    "on": (("body", "body"), On),
    "inside": (("body", "body"), Inside),
    "near": (("body", "body", "number"), Near),
    "upright": (("body", "number?"), Upright),
    "joint_at_least": (("joint", "number"), JointAtLeast),
}


def parse_predicate(text: str, names: Names) -> Predicate:
    """A predicate from its text; ``PredicateError`` says what is wrong in the author's terms."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise PredicateError(f"cannot parse {text!r}: {exc.msg}") from None
    return _build(tree, names)


def _build(node: ast.expr, names: Names) -> Predicate:
    if isinstance(node, ast.BoolOp):
        parts = tuple(_build(v, names) for v in node.values)
        return AllOf(parts) if isinstance(node.op, ast.And) else AnyOf(parts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return Not(_build(node.operand, names))
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.keywords:
        raise PredicateError(f"expected a predicate call such as on(a, b), got {ast.unparse(node)!r}")
    fn = node.func.id
    if fn in ("all", "any"):
        if not node.args:
            raise PredicateError(f"{fn}() needs at least one predicate")
        parts = tuple(_build(a, names) for a in node.args)
        return AllOf(parts) if fn == "all" else AnyOf(parts)
    if fn not in VOCABULARY:
        known = ", ".join([*VOCABULARY, "all", "any", "not"])
        raise PredicateError(f"unknown predicate {fn!r} (known: {known})")
    kinds, make = VOCABULARY[fn]
    required = [k for k in kinds if not k.endswith("?")]
    args = list(node.args)
    if not len(required) <= len(args) <= len(kinds):
        raise PredicateError(f"{fn}() takes {_arity(kinds)} arguments ({', '.join(k.rstrip('?') for k in kinds)}), "
                             f"got {len(args)}")
    if len(args) < len(kinds) and kinds[0].endswith("?"):
        kinds = kinds[1:]  # an optional leading argument left out
    return make(*(_argument(a, k.rstrip("?"), fn, names) for a, k in zip(args, kinds)))


def _arity(kinds: tuple[str, ...]) -> str:
    low = sum(not k.endswith("?") for k in kinds)
    return str(low) if low == len(kinds) else f"{low} or {len(kinds)}"


def _argument(node: ast.expr, kind: str, fn: str, names: Names) -> str | int | float | None:
    if kind == "number":
        try:
            value = ast.literal_eval(node)
        except Exception:  # noqa: BLE001 - literal_eval raises several kinds on what is not a literal
            value = None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise PredicateError(f"{fn}(): {ast.unparse(node)!r} is not a finite number")
        return float(value)
    if not isinstance(node, ast.Name):
        raise PredicateError(f"{fn}(): expected a name, got {ast.unparse(node)!r}")
    name = node.id
    if kind == "body" and name not in names.bodies:
        raise PredicateError(f"{fn}(): unknown object {name!r} (objects and fixtures: {', '.join(names.bodies)})")
    if kind == "arm":
        if name not in names.arms:
            raise PredicateError(f"{fn}(): unknown arm {name!r} (the robot's arms: {', '.join(names.arms)})")
        return names.arms.index(name)
    return name  # a joint: checked against the compiled model (TaskFile.check_world)


def arms_named(pred: Predicate) -> list[int]:
    """Every arm (index) a predicate names."""
    if isinstance(pred, Grasped):
        return [pred.arm] if pred.arm is not None else []
    if isinstance(pred, (AllOf, AnyOf)):
        return [a for p in pred.parts for a in arms_named(p)]
    if isinstance(pred, Not):
        return arms_named(pred.part)
    return []


def joints_named(pred: Predicate) -> list[str]:
    """Every joint a predicate reads (checked against the model once the world is built)."""
    if isinstance(pred, JointAtLeast):
        return [pred.joint]
    if isinstance(pred, (AllOf, AnyOf)):
        return [j for p in pred.parts for j in joints_named(p)]
    if isinstance(pred, Not):
        return joints_named(pred.part)
    return []
