"""The Franka Panda drawn as the real robot: visual meshes and materials from the robosuite pack.

demoforge's Panda (``assets/panda.xml``) simulates with capsules and boxes, which keeps its contacts cheap
and its dynamics as published. ``dress_panda`` adds, to each link of that model, the pack's visual meshes
of the same link (robosuite's ``robots/panda`` and ``grippers/panda_gripper``), drawn only: no collision,
no mass. The capsules move to a geom group pictures leave out. Both models use the Panda's published link
frames, so a link's meshes sit in its body frame as they do in the pack; the fingers hang from demoforge's
finger bodies, 58.4 mm below the hand (the published finger offset).

The decimated copies of the meshes (``*_fast`` folders of the pack) are drawn unless ``fast_visuals`` is off:
the fast render setting of training cameras. Without an installed pack the capsules stay drawn.
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from demoforge.assetpacks import ROBOSUITE, asset_path, current, fast_folder, installed

ARM_MESHES = "robots/panda/obj_meshes"  # in the pack: one OBJ per material part of each link
HAND_MESHES = "grippers/meshes/panda_gripper"
LINKS = tuple(f"link{i}" for i in range(8))
HIDDEN_GROUP = 3  # MuJoCo draws geom groups 0-2 by default
# demoforge body -> (mesh file in HAND_MESHES, quaternion (w, x, y, z) of the mesh in the body)
HAND_PARTS = {
    "hand": ("hand_vis.stl", (1.0, 0.0, 0.0, 0.0)),
    "left_finger": ("finger_vis.stl", (1.0, 0.0, 0.0, 0.0)),
    "right_finger": ("finger_vis.stl", (0.0, 0.0, 0.0, 1.0)),  # the same finger turned to face the other
}
HAND_RGBA = {"hand": (0.95, 0.95, 0.97, 1.0), "left_finger": (0.5, 0.5, 0.5, 1.0), "right_finger": (0.5, 0.5, 0.5, 1.0)}


def can_dress() -> bool:
    """The pack with the Panda's meshes is installed (by a demoforge that knows them)."""
    return installed(ROBOSUITE) and current(ROBOSUITE)


def dress_panda(spec: mujoco.MjSpec, fast_visuals: bool = True) -> mujoco.MjSpec:
    """``spec`` (demoforge's Panda, un-prefixed) with the real Panda's meshes on its links; returns ``spec``."""
    arm_folder = asset_path(ROBOSUITE, fast_folder(ARM_MESHES) if fast_visuals else ARM_MESHES).resolve()
    hand_folder = asset_path(ROBOSUITE, fast_folder(HAND_MESHES) if fast_visuals else HAND_MESHES).resolve()
    for geom in spec.geoms:  # the simulated shapes: still colliding, no longer drawn
        geom.group = HIDDEN_GROUP
    source = mujoco.MjSpec.from_file(str(asset_path(ROBOSUITE, "robots/panda/robot.xml")))
    made: set[str] = set()
    for link in LINKS:
        body = spec.body(link)
        if _massless_base(spec, body):  # its meshes are the world's, at the same place: MuJoCo 3.3 refuses
            body = spec.worldbody  # a massless body with meshes
        for part in source.body(link).geoms:
            if part.type != mujoco.mjtGeom.mjGEOM_MESH or part.contype != 0:
                continue  # the pack's collision meshes
            file = arm_folder / Path(source.mesh(part.meshname).file).relative_to(Path(ARM_MESHES).name)
            _add_visual(spec, body, part.meshname, file, _material(spec, source, part.material, made))
    for body, (name, quat) in HAND_PARTS.items():
        material = f"panda_{body}"
        if material not in made:
            spec.add_material(name=material, rgba=list(HAND_RGBA[body]), specular=0.5, shininess=0.45)
            made.add(material)
        _add_visual(spec, spec.body(body), f"panda_{body}_vis", hand_folder / name, material, quat)
    return spec


def _massless_base(spec: mujoco.MjSpec, body: mujoco.MjsBody) -> bool:
    """The arm's fixed base (``link0``): on the world at its origin, with no mass of its own."""
    return (body.parent == spec.worldbody and not body.explicitinertial and not np.any(body.pos)
            and np.array_equal(body.quat, [1.0, 0.0, 0.0, 0.0]))


def _material(spec: mujoco.MjSpec, source: mujoco.MjSpec, name: str, made: set[str]) -> str:
    if name not in made:
        m = source.material(name)
        spec.add_material(name=name, rgba=list(m.rgba), specular=m.specular, shininess=m.shininess)
        made.add(name)
    return name


def _add_visual(spec: mujoco.MjSpec, body: mujoco.MjsBody, mesh: str, file: Path, material: str,
                quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)) -> None:
    """A drawn-only mesh geom: no contacts, no mass (the body's inertial is given)."""
    spec.add_mesh(name=mesh, file=str(file))
    body.add_geom(name=f"{mesh}_geom", type=mujoco.mjtGeom.mjGEOM_MESH, meshname=mesh, material=material,
                  quat=list(quat), contype=0, conaffinity=0, group=1, density=0.0)
