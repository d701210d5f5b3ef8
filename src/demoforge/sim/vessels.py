"""Procedural vessels built from primitives: mugs with handles and bowls, each with its frame at the centre of
its bounding box (z up, handle along +x), so object-centric code can treat them like any other object."""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge import geometry as geo

WALL = 0.004  # wall thickness, metres
HANDLE_REACH = 0.016 + WALL / 2  # how far a mug's handle sticks out beyond its wall, metres


def _box(body: mujoco.MjsBody, half: list[float], pos: list[float], rot: np.ndarray, **geom: object) -> None:
    body.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=half, pos=pos, quat=geo.mat_to_quat(rot).tolist(), **geom)


def add_mug(body: mujoco.MjsBody, radius: float, half_height: float, segments: int = 12, handle: bool = True,
            **geom: object) -> None:
    """A cylindrical cup (bottom, wall of ``segments`` staves) with a handle along +x (reaching ``HANDLE_REACH``
    beyond the wall), or without one."""
    body.add_geom(
        type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[radius, WALL / 2, 0], pos=[0, 0, -half_height + WALL / 2], **geom
    )
    stave = radius * np.tan(np.pi / segments) + WALL / 2
    for i in range(segments):
        angle = 2 * np.pi * i / segments
        centre = [(radius - WALL / 2) * np.cos(angle), (radius - WALL / 2) * np.sin(angle), 0.0]
        _box(body, [WALL / 2, stave, half_height], centre, geo.yaw_mat(angle), **geom)
    if not handle:
        return
    grip = 0.6 * half_height
    _box(body, [0.008, WALL / 2, WALL / 2], [radius + 0.008, 0, grip], np.eye(3), **geom)
    _box(body, [0.008, WALL / 2, WALL / 2], [radius + 0.008, 0, -grip], np.eye(3), **geom)
    _box(body, [WALL / 2, WALL / 2, grip], [radius + 0.016, 0, 0], np.eye(3), **geom)


def add_bowl(body: mujoco.MjsBody, radius: float, half_height: float, segments: int = 14, **geom: object) -> None:
    """A bowl: a flat foot and ``segments`` staves flaring out to ``radius`` at the rim."""
    foot = 0.5 * radius
    body.add_geom(
        type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[foot, WALL / 2, 0], pos=[0, 0, -half_height + WALL / 2], **geom
    )
    flare = np.arctan2(radius - foot, 2 * half_height)  # stave tilt from vertical
    length = np.hypot(radius - foot, 2 * half_height) / 2
    stave = 0.5 * (radius + foot) * np.tan(np.pi / segments) + WALL
    for i in range(segments):
        angle = 2 * np.pi * i / segments
        mid = 0.5 * (radius + foot)
        centre = [mid * np.cos(angle), mid * np.sin(angle), 0.0]
        tilt = geo.axisangle_to_mat(np.array([0.0, flare, 0.0]))  # lean the stave top outward (local +x)
        _box(body, [WALL / 2, stave, length], centre, geo.yaw_mat(angle) @ tilt, **geom)
