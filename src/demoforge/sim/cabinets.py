"""Counter-top cabinets built from boxes: a drawer unit, and a cupboard with a hinged door.

The drawer unit has the sizes of a small kitchen drawer unit (30 cm deep, 36 cm wide, 22 cm high; the
drawer travels 22 cm); it slides along -y out of the shell and carries a bar handle 6 cm proud of its
front, near the drawer's top edge, so a gripper coming down over the bar closes its fingers across it clear
of the front panel. The cupboard (42 cm wide, 32 cm deep, 60 cm high, like a pantry unit) has an open
interior and a door on a vertical hinge at its right front edge, held wide open (172 degrees, flat beside the
opening, out of the way of a hand going in) by a weak spring.
The frame of both is the appliances' (sim/appliances.py): origin at the centre of the base, z up, the front
facing -y.
"""

from __future__ import annotations

import mujoco

from demoforge.sim.scene import WORLD_CONAFFINITY, WORLD_CONTYPE

HALF = (0.18, 0.15, 0.11)  # shell half extents (x: width, y: depth, z: height), metres
WALL = 0.0075  # half thickness of every panel
TRAVEL = 0.22  # metres the drawer slides out
HANDLE_OUT = 0.06  # metres from the drawer's front face to the handle bar's axis
HANDLE_RADIUS = 0.009
HANDLE_HALF_LENGTH = 0.07
HANDLE_HEIGHT = 0.07  # metres above the drawer's middle: near its top, so a hand over it clears the front
DRAWER_KG = 1.2


def _add_shell(body: mujoco.MjsBody, name: str, half: tuple[float, float, float], rgba: tuple[float, ...]) -> dict:
    """Bottom, top, sides and back of a box open at the front (-y), on ``body``; returns the panels' geom
    settings, for the parts that move."""
    hx, hy, hz = half
    geom = dict(type=mujoco.mjtGeom.mjGEOM_BOX, rgba=list(rgba), contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY,
                friction=[1.0, 0.005, 0.0001])
    for part, size, pos in (
        ("bottom", (hx, hy, WALL), (0.0, 0.0, WALL)),
        ("top", (hx, hy, WALL), (0.0, 0.0, 2 * hz - WALL)),
        ("left", (WALL, hy, hz), (-hx + WALL, 0.0, hz)),
        ("right", (WALL, hy, hz), (hx - WALL, 0.0, hz)),
        ("back", (hx, WALL, hz), (0.0, hy - WALL, hz)),
    ):
        body.add_geom(name=f"{name}_{part}", size=list(size), pos=list(pos), **geom)
    return geom


def add_drawer_cabinet(body: mujoco.MjsBody, name: str, rgba: tuple[float, ...],
                       handle_rgba: tuple[float, ...] = (0.75, 0.76, 0.78, 1.0)) -> mujoco.MjsBody:
    """The shell's panels on ``body`` and the drawer as its child ``<name>_drawer`` on the slide joint
    ``<name>_slide`` (0 shut, ``TRAVEL`` fully out); returns the drawer body."""
    hx, hy, hz = HALF
    geom = _add_shell(body, name, (hx, hy, hz), rgba)
    inner_x, inner_z = hx - 2 * WALL - 0.003, hz - 2 * WALL - 0.003  # the drawer's half width and height, with play
    depth = hy - WALL  # the drawer's half depth
    drawer = body.add_body(name=f"{name}_drawer", pos=[0.0, -WALL, hz])
    slide = drawer.add_joint(name=f"{name}_slide", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[0.0, -1.0, 0.0],
                             range=[0.0, TRAVEL], damping=4.0, frictionloss=1.0, armature=0.05)
    slide.limited = mujoco.mjtLimited.mjLIMITED_TRUE
    panels = (
        ("front", (hx - 0.002, WALL, hz - 0.004), (0.0, -depth - WALL + 0.002, 0.0)),  # flush with the shell
        ("floor", (inner_x, depth - WALL, WALL), (0.0, 0.0, -inner_z + WALL)),
        ("side_l", (WALL, depth - WALL, inner_z * 0.6), (-inner_x + WALL, 0.0, -inner_z * 0.4)),
        ("side_r", (WALL, depth - WALL, inner_z * 0.6), (inner_x - WALL, 0.0, -inner_z * 0.4)),
        ("rear", (inner_x, WALL, inner_z * 0.6), (0.0, depth - 2 * WALL, -inner_z * 0.4)),
    )
    mass = DRAWER_KG / len(panels)
    for part, half, pos in panels:
        drawer.add_geom(name=f"{name}_drawer_{part}", size=list(half), pos=list(pos), mass=mass, **geom)
    front_y = _drawer_front_y()
    bar = dict(geom, rgba=list(handle_rgba), mass=0.05)
    bar["type"] = mujoco.mjtGeom.mjGEOM_CYLINDER
    drawer.add_geom(name=f"{name}_handle", size=[HANDLE_RADIUS, HANDLE_HALF_LENGTH, 0.0],
                    pos=[0.0, front_y - HANDLE_OUT, HANDLE_HEIGHT], quat=[0.7071068, 0.0, 0.7071068, 0.0], **bar)
    for side in (-1, 1):
        drawer.add_geom(name=f"{name}_handle_post_{'lr'[side > 0]}", size=[0.006, HANDLE_OUT / 2, 0.0],
                        pos=[side * (HANDLE_HALF_LENGTH - 0.01), front_y - HANDLE_OUT / 2, HANDLE_HEIGHT],
                        quat=[0.7071068, 0.7071068, 0.0, 0.0], **bar)
    return drawer


CUPBOARD_HALF = (0.21, 0.16, 0.3)  # shell half extents (x: width, y: depth, z: height), metres
DOOR_OPEN = 3.0  # radians the door stands open at rest (its spring's reference), of a 3.1 range


def add_cupboard(body: mujoco.MjsBody, name: str, rgba: tuple[float, ...],
                 handle_rgba: tuple[float, ...] = (0.75, 0.76, 0.78, 1.0)) -> mujoco.MjsBody:
    """The shell's panels on ``body``, and the door as its child ``<name>_door`` on the hinge ``<name>_hinge``
    (0 shut, opening outwards about the right front edge); returns the door body."""
    hx, hy, hz = CUPBOARD_HALF
    geom = _add_shell(body, name, (hx, hy, hz), rgba)
    door = body.add_body(name=f"{name}_door", pos=[hx, -hy - WALL, hz + 0.003])  # the hinge: the right front edge
    hinge = door.add_joint(name=f"{name}_hinge", type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0.0, 0.0, 1.0],
                           range=[0.0, 3.1], damping=0.5, stiffness=0.3, springref=DOOR_OPEN, armature=0.01)
    hinge.limited = mujoco.mjtLimited.mjLIMITED_TRUE
    door.add_geom(name=f"{name}_door_panel", size=[hx, WALL, hz - 0.003], pos=[-hx, 0.0, 0.0], mass=1.5, **geom)
    bar = dict(geom, rgba=list(handle_rgba), mass=0.05)
    bar["type"] = mujoco.mjtGeom.mjGEOM_CYLINDER
    door.add_geom(name=f"{name}_door_handle", size=[0.008, 0.06, 0.0], pos=[-2 * hx + 0.04, -0.035, 0.0], **bar)
    return door


def cupboard_interior() -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Centre and half extents of the space inside the cupboard, in its frame."""
    hx, hy, hz = CUPBOARD_HALF
    return (0.0, -WALL, hz), (hx - 2 * WALL, hy - WALL, hz - 2 * WALL)


def handle_in_drawer() -> tuple[float, float, float]:
    """The handle bar's centre in the drawer's frame (its axis along the drawer's x)."""
    return 0.0, _drawer_front_y() - HANDLE_OUT, HANDLE_HEIGHT


def _drawer_front_y() -> float:
    """The drawer front's outer face along y, in the drawer's frame."""
    return -(HALF[1] - WALL) - 2 * WALL + 0.002
