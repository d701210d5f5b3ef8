"""Seeded samplers of named scene families: the same (family, level, seed) always gives the same SceneSpec.

Levels follow the task variations: ``D0`` changes a scene a little, ``D1`` more, ``D2`` the most.
Distractors are kept out of the task objects' placement boxes, so a scene never blocks the task.
"""

from __future__ import annotations

import colorsys
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from demoforge.errors import DemoforgeError
from demoforge.scenes.materials import sample_material
from demoforge.scenes.spec import (
    Appliance,
    Camera,
    Distractor,
    Fixture,
    Light,
    Material,
    ObjectLook,
    SceneAxes,
    SceneSpec,
    Table,
)

FAMILIES = ("tabletop", "kitchen")
MAX_SCENE_RETRIES = 50  # impossible scenes for a task (a sink in a round table) resampled in a row before giving up
LEVEL_SCALE = {"D0": 0.3, "D1": 0.7, "D2": 1.0}
VESSEL_RADIUS_JITTER = 0.1  # at D2: cups 2.25-2.75 cm inside (the hand opens to 8 cm), bowls 5.9-7.2 cm
VESSEL_HEIGHT_JITTER = 0.15
Box = tuple[float, float, float, float]  # x_min, x_max, y_min, y_max on the table


def check_family(family: str, level: str) -> None:
    if family not in FAMILIES:
        raise DemoforgeError(f"unknown scene family {family!r} (known: {', '.join(FAMILIES)})")
    if level not in LEVEL_SCALE:
        raise DemoforgeError(f"unknown scene level {level!r} (known: {', '.join(LEVEL_SCALE)})")


def sample_scene(
    family: str, level: str, seed: int, objects: Sequence[str] = (), keep_clear: Sequence[Box] = (),
    scalable: Mapping[str, str] | None = None, axes: SceneAxes = SceneAxes(),
    instances: Mapping[str, Sequence[str]] | None = None, surfaces: Mapping[str, str] | None = None,
) -> SceneSpec:
    """A scene of ``family`` at ``level``; ``objects`` get their own looks (``scalable`` ones, object -> "block"
    or "vessel", also an instance of another size),
    distractors avoid ``keep_clear``; ``axes`` turns axes off or widens them."""
    check_family(family, level)
    # One random stream per axis: turning an axis off or widening it leaves every other axis's samples alone.
    rng = {axis: np.random.default_rng([seed, i]) for i, axis in enumerate(SceneAxes.model_fields)}
    k = LEVEL_SCALE[level]
    default = SceneSpec()
    kt, km = k * axes.table, k * axes.materials

    def material(current: Material, surface: str) -> Material:
        drawn = sample_material(rng["materials"], surface, km)
        return drawn if axes.materials > 0 else current

    table = Table(
        center_xy=(0.55 + _jitter(rng["table"], 0.03 * kt), _jitter(rng["table"], 0.03 * kt)),
        half_size=(0.45 + rng["table"].uniform(-0.02, 0.05) * kt, 0.6 + rng["table"].uniform(-0.04, 0.1) * kt),
        material=material(default.table.material, "counter"),
        leg_material=material(default.table.leg_material, "legs"),
    )
    height = 0.8 + _jitter(rng["table"], 0.06 * kt)  # work surface (and robot mount) height
    if family == "tabletop" and rng["table"].random() < 0.3 * kt:
        radius = max(table.half_size)  # a round table, its near edge at the robot's mount like the square one
        table = table.model_copy(update={"shape": "round", "center_xy": (0.1 + radius, table.center_xy[1])})
    floor = material(default.floor, "floor")
    kb = k * axes.robot_base
    robot_base = (_jitter(rng["robot_base"], 0.02 * kb), _jitter(rng["robot_base"], 0.03 * kb), height)
    lights = _lights(rng["lights"], k * axes.lights)
    cameras = _cameras(rng["cameras"], k * axes.cameras, behind_robot=family == "kitchen")
    distractors = _distractors(rng["distractors"], k * axes.distractors, table, keep_clear)
    kinds = scalable or {}
    looks = {name: _object_look(rng["objects"], k * axes.objects, kinds.get(name), (instances or {}).get(name, ()),
                                (surfaces or {}).get(name))
             for name in objects}
    layout, fixtures, appliances = "tabletop", (), ()
    if family == "kitchen" and axes.fixtures:
        layout, fixtures, appliances = _kitchen(rng["fixtures"], k, table, material, robot_base[2])
    return SceneSpec(
        family=family,
        level=level,
        seed=int(seed),
        floor=floor,
        table=table,
        robot_base=robot_base,
        lights=lights if axes.lights > 0 else default.lights,
        cameras=cameras,
        distractors=distractors,
        objects=looks if axes.objects > 0 else {},
        fixtures=fixtures,
        appliances=appliances,
        layout=layout,
    )


def scene_seed(seed: int, attempt: int, retry: int = 0, distinct: int | None = None) -> int:
    """The scene seed of one generation attempt (and of its n-th resample after a rejected scene).

    With ``distinct`` scenes, attempt i uses the scene of attempt ``i % distinct``: a fixed pool of
    kitchens (one, for a policy trained in a single scene), and evaluation on exactly those kitchens.
    """
    return int(np.random.default_rng([seed, attempt % distinct if distinct else attempt, retry, 7]).integers(2**31))


def _jitter(rng: np.random.Generator, amount: float) -> float:
    return float(rng.uniform(-amount, amount))


def _colour(rng: np.random.Generator, value: tuple[float, float], saturation: tuple[float, float] = (0.1, 0.7)) -> tuple:
    rgb = colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(*saturation), rng.uniform(*value))
    return tuple(round(float(c), 4) for c in rgb)


def _lights(rng: np.random.Generator, k: float) -> tuple[Light, ...]:
    count = 1 + int(rng.integers(0, 1 + round(2 * k)))
    lights = []
    for _ in range(count):
        pos = (0.5 + _jitter(rng, 0.8 * k + 0.1), _jitter(rng, 1.0 * k + 0.2), 2.2 + _jitter(rng, 0.4))
        direction = (0.55 - pos[0], -pos[1], 0.8 - pos[2])
        brightness = float(rng.uniform(0.5, 0.9)) / np.sqrt(count)
        tint = np.array(colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0, 0.3 * k), 1.0))
        lights.append(Light(pos=pos, dir=direction, diffuse=tuple(round(float(c), 4) for c in brightness * tint)))
    return tuple(lights)


def _cameras(rng: np.random.Generator, k: float, behind_robot: bool = False) -> tuple[Camera, ...]:
    """The front camera (or, facing a kitchen wall, one over the robot's shoulder) and a side camera, jittered."""
    def jittered(name: str, pos: tuple, target: tuple, fovy: float) -> Camera:
        p = tuple(float(v) + _jitter(rng, 0.08 * k) for v in pos)
        t = tuple(float(v) + _jitter(rng, 0.04 * k) for v in target)
        return Camera(name=name, pos=p, target=t, fovy=fovy + _jitter(rng, 4 * k))

    front = ((-0.3, 0.55, 1.7), (0.6, -0.05, 0.8), 55.0) if behind_robot else ((1.3, 0.0, 1.5), (0.4, 0.0, 0.825), 50.0)
    cameras = (
        jittered("agentview", *front),
        jittered("sideview", (0.55, -1.2, 1.25), (0.55, 0.0, 0.77), 45.0),
    )
    if behind_robot:  # a kitchen also gets a wide view of the room, for people (previews, reports)
        cameras += (Camera(name="overview", pos=(-1.1, -1.5, 2.3), target=(0.6, 0.15, 0.9), fovy=60.0),)
    return cameras


def _distractors(rng: np.random.Generator, k: float, table: Table, keep_clear: Sequence[Box]) -> tuple[Distractor, ...]:
    """Up to ``3k`` loose objects on free table space, apart from each other and from ``keep_clear``."""
    count = int(rng.integers(0, 1 + round(3 * k)))
    cx, cy = table.center_xy
    hx, hy = table.half_size
    placed: list[Distractor] = []
    for _ in range(40 * count):
        if len(placed) == count:
            break
        shape = str(rng.choice(("box", "cylinder", "sphere", "mug", "bowl")))
        r = float(rng.uniform(0.015, 0.035))
        half = (r, float(rng.uniform(0.5, 1.0)) * r if shape == "box" else r, float(rng.uniform(0.6, 1.4)) * r)
        if shape == "mug":
            r = float(rng.uniform(0.03, 0.042))
            half = (r, r, float(rng.uniform(0.035, 0.05)))
        elif shape == "bowl":
            r = float(rng.uniform(0.05, 0.07))
            half = (r, r, float(rng.uniform(0.02, 0.03)))
        x, y = float(rng.uniform(0.3, cx + hx - 0.06)), float(rng.uniform(cy - hy + 0.06, cy + hy - 0.06))
        margin = 0.06 + r + (0.02 if shape == "mug" else 0.0)  # a mug's handle sticks out
        if table.shape == "round" and np.hypot(x - cx, y - cy) > max(hx, hy) - r - 0.03:
            continue
        blocked = any(x0 - margin < x < x1 + margin and y0 - margin < y < y1 + margin for x0, x1, y0, y1 in keep_clear)
        crowded = any(np.hypot(x - d.xy[0], y - d.xy[1]) < 0.05 + r + d.half_size[0] for d in placed)
        if blocked or crowded:
            continue
        material = Material(rgba=(*_colour(rng, (0.3, 0.95), (0.3, 0.9)), 1.0))
        mass = float(rng.uniform(0.05, 0.3))
        placed.append(Distractor(shape=shape, half_size=half, xy=(x, y), yaw=float(rng.uniform(-np.pi, np.pi)), material=material, mass=mass))
    return tuple(placed)


def _object_look(rng: np.random.Generator, k: float, kind: str | None, instances: Sequence[str] = (),
                 surface: str | None = None) -> ObjectLook:
    """Colour, mass and friction, and for a scalable object another instance of its kind; an object of a
    category (``instances``: the catalogue instances the task takes) is any of them; a piece of furniture
    (``surface``: a key of ``SURFACES``) is made of what that surface is made of in kitchens.

    A block becomes a cube of another size, a box of other proportions (longer along x, never wider across
    the fingers than the gripper opens) or a can. A vessel gets another radius (within what a hand holds and
    a pour still hits) and, independently, another height.
    """
    if surface is not None:
        material = sample_material(rng, surface, k)
    else:
        material = Material(rgba=(*_colour(rng, (0.35, 0.95), (0.4, 1.0)), 1.0)) if rng.random() < 0.3 + 0.7 * k else None
    scale, aspect, shape = 1.0, (1.0, 1.0, 1.0), None
    if kind == "vessel":
        scale = float(1.0 + _jitter(rng, VESSEL_RADIUS_JITTER * k))
        aspect = (1.0, 1.0, float(1.0 + _jitter(rng, VESSEL_HEIGHT_JITTER * k)))
    elif kind == "block":
        scale = float(1.0 + _jitter(rng, 0.2 * k))
        draw = rng.random()
        if draw < 0.3 * k:
            shape = "cylinder"
        elif draw < 0.8 * k:
            aspect = (float(rng.uniform(1.0, 1.0 + 0.5 * k)), float(rng.uniform(1.0 - 0.2 * k, 1.0)), float(rng.uniform(0.85, 1.15)))
    elif kind is not None:
        raise ValueError(f"unknown kind of scalable object {kind!r} (block or vessel)")
    mass_scale, friction = float(1.0 + _jitter(rng, 0.4 * k)), float(1.0 + _jitter(rng, 0.25 * k))
    instance = str(instances[int(rng.integers(len(instances)))]) if instances else None  # drawn last: others unchanged
    return ObjectLook(material=material, scale=scale, aspect=aspect, shape=shape, mass_scale=mass_scale,
                      friction=friction, instance=instance)


LAYOUTS = ("one_wall", "l_shape", "galley", "island")
COUNTER_DEPTH = 0.6  # metres, the kitchen standard (and the Franka Kitchen's appliances)
WALL_CABINET_GAP = 0.5  # metres between a counter and the wall cabinets above it
SIDE_RUN = 0.7  # metres of counter beside the work surface on each side
RUN_BELOW = 0.04  # metres the other runs' tops sit below the work surface (the sink's rim stands on them)


def _kitchen(
    rng: np.random.Generator, k: float, table: Table, material: Callable[[Material, str], Material],
    table_top: float,
) -> tuple[str, tuple[Fixture, ...], tuple[Appliance, ...]]:
    """A kitchen around the work surface (the table, the robot's counter): a layout, its counter runs with
    cabinet fronts, walls, cabinets, a sink, a bin, a microwave and wall cabinets with working doors, and a
    stove whose knobs turn.

    Everything stands beyond the table's far edge, below its top, above head height, or beside it, so the
    arm's workspace stays free; the sink side is the side camera's (-y), so no wall cabinet hangs there.
    """
    layout = LAYOUTS[int(rng.integers(len(LAYOUTS)))]
    cx, cy = table.center_xy
    hx, hy = table.half_size
    top = table_top
    wall_x = cx + hx + (1.0 if layout == "island" else 0.0)  # the back wall's face
    fronts = material(Material(rgba=(0.55, 0.4, 0.28, 1)), "cabinet")
    paint = material(Material(rgba=(0.85, 0.85, 0.8, 1)), "cabinet")
    worktop = material(Material(rgba=(0.6, 0.6, 0.58, 1)), "counter")
    wall = material(Material(rgba=(0.9, 0.88, 0.82, 1)), "wall")
    steel = Material(rgba=(0.7, 0.72, 0.75, 1), kind="metal", specular=0.9, shininess=0.8)
    slide = _jitter(rng, 0.15 * k)
    cab_z = top + 0.75 + _jitter(rng, 0.08 * k)
    fixtures = [
        Fixture(kind="counter", pos=(cx, cy, top / 2 - 0.03), half_size=(hx - 0.02, hy - 0.02, top / 2 - 0.03),
                material=fronts, collide=False),  # the cabinet under the work surface
        Fixture(kind="wall", pos=(wall_x + 0.02, cy, 1.2), half_size=(0.02, 2.0, 1.2), material=wall),
        Fixture(kind="shelf", pos=(wall_x - 0.1, cy + slide, top + 0.48 + _jitter(rng, 0.05 * k)),
                half_size=(0.1, 0.35, 0.012), material=material(fronts, "shelf")),
    ]
    if layout != "island":  # the work surface against the wall: a backsplash and cabinets above it
        fixtures += [
            Fixture(kind="backsplash", pos=(wall_x - 0.015, cy, top + 0.3), half_size=(0.015, hy, 0.3), material=wall),
            Fixture(kind="upper_cabinet", pos=(wall_x - 0.15, cy - 0.3 + slide, cab_z), half_size=(0.15, 0.28, 0.2),
                    material=paint),
            Fixture(kind="upper_cabinet", pos=(wall_x - 0.15, cy + 0.3 + slide, cab_z), half_size=(0.15, 0.28, 0.2),
                    material=paint),
        ]
    # The runs beside or behind the work surface: (x, y) centre, (half x, half y), what stands on it.
    depth = COUNTER_DEPTH / 2
    if layout == "island":
        run_x = wall_x - depth
        sink_at, appliance_at = (run_x, cy - 0.6), (run_x, cy + 0.5)
        runs = [((run_x, cy), (depth, 1.4))]
        microwave_yaw = -np.pi / 2  # its front towards the island
        # the stove: a domino between the sink and the microwave, facing the island
        stove = ("domino_stove", (run_x, cy - 0.085), -np.pi / 2)
    else:
        side = (cx, cy + hy + SIDE_RUN / 2)
        sink_at = (cx, cy - hy - SIDE_RUN / 2)
        runs = [((cx, sink_at[1]), (hx, SIDE_RUN / 2))]
        if layout == "l_shape":  # the +y run turns towards the robot along a side wall
            run_y = cy + hy + depth + 0.05
            runs.append(((cx - 0.35, run_y), (hx + 0.35, depth)))
            appliance_at, microwave_yaw = (cx - 0.15, run_y), 0.0  # its front towards the workspace (-y)
            stove = ("stove", (cx - 0.82, run_y), 0.0)  # four burners, on the robot's side of the microwave
            fixtures.append(Fixture(kind="wall", pos=(cx, run_y + depth + 0.02, 1.2), half_size=(1.2, 0.02, 1.2),
                                    material=wall))
        else:
            runs.append((side, (hx, SIDE_RUN / 2)))  # the microwave at its near end, the stove at the wall end
            appliance_at, microwave_yaw = (cx - hx + 0.26, side[1]), -np.pi / 2
            stove = ("domino_stove", (wall_x - 0.18, side[1]), 0.0)  # a domino at the wall end
        if layout == "galley":  # a second run behind the robot, facing it
            fixtures.append(Fixture(kind="counter", pos=(-1.0, cy, top / 2), half_size=(depth, 1.4, top / 2),
                                    material=fronts))
            fixtures.append(Fixture(kind="worktop", pos=(-1.0, cy, top + 0.015), half_size=(depth + 0.02, 1.42, 0.015),
                                    material=worktop))
            fixtures.append(Fixture(kind="wall", pos=(-1.0 - depth - 0.02, cy, 1.2), half_size=(0.02, 2.0, 1.2),
                                    material=wall))
    run_top = top - RUN_BELOW
    for (x, y), (half_x, half_y) in runs:  # a counter run: cabinets with their top a little below the work surface
        fixtures.append(Fixture(kind="counter", pos=(x, y, run_top / 2), half_size=(half_x, half_y, run_top / 2),
                                material=fronts))
    fixtures += _sink(sink_at, top, steel)
    appliances = [Appliance(kind="microwave", pos=(appliance_at[0], appliance_at[1], run_top), yaw=microwave_yaw)]
    if layout in ("one_wall", "galley", "island"):  # a wall cabinet with working doors above the +y run
        kind = "hinge_cabinet" if rng.random() < 0.5 else "slide_cabinet"
        y = appliance_at[1] if layout != "island" else cy + 0.5
        appliances.append(Appliance(kind=kind, pos=(wall_x - 0.31, y, top + WALL_CABINET_GAP + 0.42), yaw=-np.pi / 2))
    stove_kind, (stove_x, stove_y), stove_yaw = stove  # a cooktop whose knobs turn, facing the work surface
    appliances.append(Appliance(kind=stove_kind, pos=(stove_x, stove_y, run_top), yaw=stove_yaw))
    # A bin on the floor beside the work surface, on the sink's side.
    bx, by, bh = 0.15 + _jitter(rng, 0.08 * k), cy - hy - 0.2, 0.2
    bin_mat = material(Material(rgba=(0.25, 0.27, 0.3, 1)), "appliance")
    if layout != "island":
        bx, by = -0.35 + _jitter(rng, 0.05 * k), cy - hy - 0.3
    for dx, dy, half in ((-0.12, 0, (0.01, 0.13, bh)), (0.12, 0, (0.01, 0.13, bh)), (0, -0.12, (0.12, 0.01, bh)),
                         (0, 0.12, (0.12, 0.01, bh))):
        fixtures.append(Fixture(kind="bin", pos=(bx + dx, by + dy, bh), half_size=half, material=bin_mat))
    return layout, tuple(fixtures), tuple(appliances)


def _sink(at: tuple[float, float], top: float, steel: Material) -> list[Fixture]:
    """A steel basin set into a counter at ``at``: rim boxes around a recessed bottom."""
    sx, sy = at
    rim, basin = 0.03, (0.18, 0.22)
    parts = [Fixture(kind="sink", pos=(sx + dx, sy + dy, top - 0.03), half_size=half, material=steel) for dx, dy, half in (
        (-basin[0] - rim, 0, (rim, basin[1] + 2 * rim, 0.01)),
        (basin[0] + rim, 0, (rim, basin[1] + 2 * rim, 0.01)),
        (0, -basin[1] - rim, (basin[0], rim, 0.01)),
        (0, basin[1] + rim, (basin[0], rim, 0.01)),
    )]
    parts.append(Fixture(kind="sink", pos=(sx, sy, top - 0.035), half_size=(basin[0], basin[1], 0.004), material=steel,
                         collide=False))
    return parts
