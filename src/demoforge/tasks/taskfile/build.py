"""Task-file objects into the scene's ``MjSpec``: primitives, meshes and MJCF files as free bodies."""

from __future__ import annotations

from pathlib import Path

import mujoco

from demoforge.assetpacks import absolute_files
from demoforge.sim.scene import WORLD_CONAFFINITY, WORLD_CONTYPE
from demoforge.tasks.objects import add_free_body
from demoforge.tasks.taskfile.schema import ObjectSpec

PALETTE = ((0.85, 0.15, 0.12, 1.0), (0.15, 0.7, 0.2, 1.0), (0.15, 0.3, 0.85, 1.0), (0.9, 0.75, 0.1, 1.0),
           (0.6, 0.25, 0.75, 1.0), (0.1, 0.7, 0.75, 1.0))
GEOM_TYPES = {"box": mujoco.mjtGeom.mjGEOM_BOX, "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER,
              "sphere": mujoco.mjtGeom.mjGEOM_SPHERE, "capsule": mujoco.mjtGeom.mjGEOM_CAPSULE}


class TaskObjectError(ValueError):
    """A task object's file cannot be used as one (an MJCF with its own free joint)."""


def add_task_object(spec: mujoco.MjSpec, name: str, obj: ObjectSpec, index: int, folder: Path) -> None:
    """``obj`` as a free body ``name``; file paths are relative to ``folder`` (the task file's)."""
    body = add_free_body(spec, name)
    rgba = list(obj.rgba or PALETTE[index % len(PALETTE)])
    collide = dict(friction=list(obj.friction), contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY, condim=4)
    inertia = {"mass": obj.mass} if obj.mass is not None else {"density": obj.density}
    if obj.shape is not None:
        size = list(obj.size) + [0.0] * (3 - len(obj.size))
        body.add_geom(name=f"{name}_geom", type=GEOM_TYPES[obj.shape], size=size, rgba=rgba, **inertia, **collide)
    elif obj.mesh is not None:
        spec.add_mesh(name=f"{name}_mesh", file=str(resolve_path(obj.mesh, folder)), scale=[obj.scale] * 3)
        body.add_geom(name=f"{name}_geom", type=mujoco.mjtGeom.mjGEOM_MESH, meshname=f"{name}_mesh", rgba=rgba,
                      **inertia, **collide)
    else:
        path = resolve_path(obj.mjcf, folder)
        try:
            child = mujoco.MjSpec.from_file(str(path))
        except ValueError as exc:
            raise TaskObjectError(f"{path}: not a loadable MJCF ({' '.join(str(exc).split())})") from None
        free = [j.name or "(unnamed)" for j in child.joints if j.type == mujoco.mjtJoint.mjJNT_FREE]
        if free:
            raise TaskObjectError(f"{path} has a free joint ({', '.join(free)}); demoforge gives every object its own")
        absolute_files(child, path.parent)
        spec.attach(child, frame=body.add_frame(), prefix=f"{name}_")
        if obj.mass is not None:  # a hidden ballast on top of the file's own masses (furniture must not slide)
            body.add_geom(name=f"{name}_ballast", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.005, 0, 0],
                          mass=obj.mass, contype=0, conaffinity=0, group=4)


def resolve_path(path: Path, folder: Path) -> Path:
    """A path a task file names, relative to the task file's ``folder``."""
    return path if path.is_absolute() else (folder / path).resolve()
