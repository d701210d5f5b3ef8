"""``pick_place_counter_to_sink``: put an object from the counter into the sink (RoboCasa's PnPCounterToSink).

The sink is set into the work surface at the robot's right: the counter is cut around a 40 x 32 cm steel
basin 15 cm deep, with a faucet at its back. The object is any instance of a few categories from the
catalogue (a can, a bottle, a carton, a box, a lemon, bread; scenes choose which, the plain table has a
milk carton), placed on the counter at the robot's left. Success is the object inside the basin, let go of.
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.errors import SceneUnsupported
from demoforge.sim.env import SimEnv
from demoforge.sim.scene import WORLD_CONAFFINITY, WORLD_CONTYPE
from demoforge.sim.spec_edit import delete_element
from demoforge.tasks.base import ExpertStream, Subtask, Task, box_placement
from demoforge.tasks.motion import Motion, pick

SINK_XY = (0.5, -0.3)  # world position of the basin's centre, metres (the counter moves with the scene; the sink not)
BASIN_HALF = (0.2, 0.16)  # inner half sizes (x, y)
BASIN_DEPTH = 0.15
STEEL = (0.72, 0.74, 0.77, 1.0)
# What fits a parallel gripper from above (at most 6.6 cm across the fingers) and stands up by itself. A carton
# first: a can held across its sides pivots about the fingers when carried fast (D2 on the plain table, cans
# only: 59%; kitchens mix the instances).
ITEMS = ("milk_carton", "soda_can", "tin_can", "glass_bottle", "juice_bottle", "tea_box", "lemon", "bread_loaf")


class PickPlaceSink(Task):
    name = "pick_place_counter_to_sink"
    description = "pick the object from the counter and put it in the sink"
    objects = ("item", "sink")
    instances = {"item": ITEMS}
    subtasks = (
        Subtask("grasp_item", object="item", signal="grasp_item"),
        Subtask("place_in_sink", object="sink", signal=None, held="item"),
    )
    variations = {
        "D0": {"item": box_placement(0.5, 0.15, 0.03, 0.03, (-0.1, 0.1))},
        "D1": {"item": box_placement(0.5, 0.15, 0.08, 0.12, (-0.4, 0.4))},
        "D2": {"item": box_placement(0.52, 0.17, 0.12, 0.16, (-0.8, 0.8))},
    }
    max_steps = 400

    def build(self, spec: mujoco.MjSpec) -> None:
        table = spec.body("table")
        top = next(g for g in table.geoms if g.name == "table_top")
        if top.type != mujoco.mjtGeom.mjGEOM_BOX:
            raise SceneUnsupported(f"task {self.name!r} sets a sink into a rectangular counter, not a round table")
        _cut_sink(spec, table, top)

    def placement_boxes(self, variation: str) -> list[tuple[float, float, float, float]]:
        """Where the object starts, the sink and the way between them: no distractors there."""
        boxes = super().placement_boxes(variation)
        sink = (SINK_XY[0] - BASIN_HALF[0] - 0.05, SINK_XY[0] + BASIN_HALF[0] + 0.05,
                SINK_XY[1] - BASIN_HALF[1] - 0.05, SINK_XY[1] + BASIN_HALF[1] + 0.05)
        return [*boxes, sink]

    def signals(self, env: SimEnv) -> dict[str, bool]:
        return {"grasp_item": env.is_grasping("item")}

    def in_sink(self, env: SimEnv) -> bool:
        """The object's centre over the basin and below the counter's surface."""
        item, sink = env.body_position("item"), env.body_position("sink")
        inside = np.all(np.abs(item[:2] - sink[:2]) < BASIN_HALF)
        return bool(inside and item[2] < sink[2])

    def success(self, env: SimEnv) -> bool:
        return self.in_sink(env) and not env.in_contact(env.finger_geom_ids, env.body_geoms("item"))

    def failure_reason(self, env: SimEnv) -> str:
        if not self.in_sink(env):
            return "object not in the sink"
        return "object still held"

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Pick the object from above, carry it over the basin, lower it in and let go."""
        motion = Motion(env, rng)
        yield from pick(motion, "item", lambda n: self.object_pose(env, n), lift=(0.12, 0.18), settle=True)
        sink = env.body_position("sink")
        drop = np.array([sink[0] + rng.uniform(-0.05, 0.05), sink[1] + rng.uniform(-0.04, 0.04), 0.0])
        held_to_eef = env.eef_pose()[2, 3] - env.body_position("item")[2]  # the grasp's height above the centre
        over = motion.target.copy()
        over[:2, 3] = drop[:2]
        yield from motion.move(over, speed=0.8)
        lowered = over.copy()
        lowered[2, 3] = sink[2] - float(rng.uniform(0.03, 0.06)) + held_to_eef  # its centre a little inside
        yield from motion.move(lowered, speed=0.4, precise=True)
        yield from motion.grip(-1.0)
        yield from motion.lift(float(rng.uniform(0.1, 0.15)), speed=0.7)
        yield from motion.pause(int(rng.integers(3, 7)))


def _cut_sink(spec: mujoco.MjSpec, table: mujoco.MjsBody, top: mujoco.MjsGeom) -> None:
    """Replace the counter's top by four slabs around the basin's opening; hang the basin (body ``sink``, its
    origin at the opening's centre, level with the counter) below it, and put a faucet behind it."""
    hx, hy, thickness = top.size
    centre = np.array(table.pos[:2])
    sx, sy = np.array(SINK_XY) - centre  # in the table's frame
    bx, by = BASIN_HALF
    for i, ((x0, x1), (y0, y1)) in enumerate(_around((hx, hy), (sx, sy), (bx, by))):
        if x1 - x0 > 1e-3 and y1 - y0 > 1e-3:
            table.add_geom(name=f"table_top_{i}", type=mujoco.mjtGeom.mjGEOM_BOX,
                           size=[(x1 - x0) / 2, (y1 - y0) / 2, thickness], pos=[(x0 + x1) / 2, (y0 + y1) / 2, 0.0],
                           material=top.material, rgba=list(top.rgba), friction=list(top.friction),
                           contype=top.contype, conaffinity=top.conaffinity)
    delete_element(spec, top)
    surface = table.pos[2] + thickness
    _hollow_cabinet_below(spec, np.array(SINK_XY), surface - BASIN_DEPTH - 0.02)
    sink = spec.worldbody.add_body(name="sink", pos=[*SINK_XY, surface])
    wall = 0.006
    steel = dict(type=mujoco.mjtGeom.mjGEOM_BOX, rgba=list(STEEL), contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY)
    half_depth = BASIN_DEPTH / 2 - 0.0005  # walls end 1 mm below the counter's face, which overlaps their tops
    sink.add_geom(name="sink_bottom", size=[bx, by, wall], pos=[0, 0, -BASIN_DEPTH - wall], **steel)
    for name, size, pos in (("sink_near", (wall, by, half_depth), (-bx - wall, 0, -half_depth - 0.001)),
                            ("sink_far", (wall, by, half_depth), (bx + wall, 0, -half_depth - 0.001)),
                            ("sink_right", (bx + 2 * wall, wall, half_depth), (0, -by - wall, -half_depth - 0.001)),
                            ("sink_left", (bx + 2 * wall, wall, half_depth), (0, by + wall, -half_depth - 0.001))):
        sink.add_geom(name=name, size=list(size), pos=list(pos), **steel)
    sink.add_geom(name="sink_drain", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[0.025, 0.001, 0],
                  pos=[0, 0, -BASIN_DEPTH + 0.001], rgba=[0.2, 0.2, 0.22, 1], contype=0, conaffinity=0)
    faucet = dict(type=mujoco.mjtGeom.mjGEOM_CYLINDER, rgba=list(STEEL), contype=0, conaffinity=0)
    sink.add_geom(name="faucet_post", size=[0.015, 0.09, 0], pos=[bx + 0.05, 0, 0.09], **faucet)
    sink.add_geom(name="faucet_spout", size=[0.01, 0.05, 0], pos=[bx + 0.01, 0, 0.17],
                  quat=list(geo.mat_to_quat(geo.axisangle_to_mat(np.array([0.0, np.pi / 2, 0.0])))), **faucet)


def _around(half: tuple[float, float], hole_at: tuple[float, float], hole_half: tuple[float, float]) -> tuple:
    """(x range, y range) of the four pieces of a rectangle of ``half`` extents left around a hole."""
    (hx, hy), (sx, sy), (bx, by) = half, hole_at, hole_half
    return (((-hx, sx - bx), (-hy, hy)), ((sx + bx, hx), (-hy, hy)),
            ((sx - bx, sx + bx), (-hy, sy - by)), ((sx - bx, sx + bx), (sy + by, hy)))


def _hollow_cabinet_below(spec: mujoco.MjSpec, sink_xy: np.ndarray, floor: float) -> None:
    """A kitchen's solid cabinet under the work surface (fixture ``counter_0``, drawn only) is cut around the
    basin and its walls down to ``floor``, so it is not drawn over the basin."""
    cabinet = next((g for g in spec.worldbody.geoms if g.name == "counter_0"), None)
    if cabinet is None:  # the plain table: no cabinet under it
        return
    (x, y, z), (hx, hy, hz) = cabinet.pos, cabinet.size
    top, bottom = z + hz, z - hz
    if floor <= bottom:
        return
    hole = (BASIN_HALF[0] + 0.02, BASIN_HALF[1] + 0.02)  # clear of the basin's walls
    for i, ((x0, x1), (y0, y1)) in enumerate(_around((hx, hy), (sink_xy[0] - x, sink_xy[1] - y), hole)):
        x0, x1, y0, y1 = max(x0, -hx), min(x1, hx), max(y0, -hy), min(y1, hy)
        if x1 - x0 > 1e-3 and y1 - y0 > 1e-3:
            spec.worldbody.add_geom(name=f"counter_0_{i}", type=mujoco.mjtGeom.mjGEOM_BOX,
                                    size=[(x1 - x0) / 2, (y1 - y0) / 2, (top - floor) / 2],
                                    pos=[x + (x0 + x1) / 2, y + (y0 + y1) / 2, (top + floor) / 2],
                                    material=cabinet.material, contype=0, conaffinity=0)
    cabinet.size = [hx, hy, (floor - bottom) / 2]
    cabinet.pos = [x, y, (floor + bottom) / 2]
