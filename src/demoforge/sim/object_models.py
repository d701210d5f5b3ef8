"""Build an instance of the object catalogue (``scenes/catalogue.py``) into a model as a free body.

Its frame is the centre of its bounding box, z up, as every task object's. A mesh instance is drawn with
the pack's mesh and photograph and simulated as a primitive of its size (a can as a cylinder, a carton as
a box, a lemon as a sphere): contacts stay as cheap and as steady as the rest of the scene's. Procedural
instances are built from primitives (sim/vessels.py for mugs, cups and bowls).
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge.assetpacks import ROBOSUITE, asset_path
from demoforge.scenes.catalogue import ObjectModel
from demoforge.sim.scene import WORLD_CONAFFINITY, WORLD_CONTYPE, picture_file
from demoforge.sim.vessels import HANDLE_REACH, add_bowl, add_mug

FRICTION = (1.0, 0.03, 0.0001)  # torsional 3 cm: a can held across its sides swings less about the fingers
HIDDEN_GROUP = 3  # simulated primitives under a drawn mesh


def add_object_model(spec: mujoco.MjSpec, name: str, model: ObjectModel,
                     rgba: tuple[float, float, float, float] | None = None) -> mujoco.MjsBody:
    """``model`` as a free body ``name`` (joint ``<name>_joint``) at the world origin; ``rgba`` recolours a
    procedural instance."""
    body = spec.worldbody.add_body(name=name)
    body.add_freejoint(name=f"{name}_joint")
    collide = dict(contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY, condim=4, friction=list(FRICTION),
                   density=model.density)
    colour = list(rgba or model.rgba)
    hx, hy, hz = model.half_size
    if model.shape == "mesh":
        _add_mesh(spec, body, name, model)
        _add_primitive(body, f"{name}_geom", model.collision, model.half_size, group=HIDDEN_GROUP,
                       rgba=[1, 1, 1, 0], **collide)
    elif model.shape == "mug":  # the handle along +x: the cup sits off centre so the bounding box is centred
        add_mug(body.add_body(name=f"{name}_cup", pos=[-HANDLE_REACH / 2, 0.0, 0.0]), hy, hz, rgba=colour, **collide)
    elif model.shape == "cup":
        add_mug(body, hx, hz, handle=False, rgba=colour, **collide)
    elif model.shape == "bowl":
        add_bowl(body, hx, hz, rgba=colour, **collide)
    elif model.shape == "plate":
        body.add_geom(type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[0.7 * hx, hz / 2, 0], pos=[0, 0, -hz / 2],
                      rgba=colour, **collide)
        body.add_geom(type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[hx, hz / 2, 0], pos=[0, 0, hz / 2], rgba=colour,
                      **collide)
    else:
        _add_primitive(body, f"{name}_geom", model.shape, model.half_size, rgba=colour, **collide)
    return body


def _add_primitive(body: mujoco.MjsBody, name: str, shape: str, half: tuple[float, float, float], **geom: object) -> None:
    kind = {"box": mujoco.mjtGeom.mjGEOM_BOX, "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER,
            "sphere": mujoco.mjtGeom.mjGEOM_SPHERE}[shape]
    size = {"box": list(half), "cylinder": [max(half[0], half[1]), half[2], 0.0],
            "sphere": [float(np.mean(half)), 0.0, 0.0]}[shape]
    body.add_geom(name=name, type=kind, size=size, **geom)


def _add_mesh(spec: mujoco.MjSpec, body: mujoco.MjsBody, name: str, model: ObjectModel) -> None:
    """The pack's mesh with its photograph, drawn only, its bounding box centred on the body."""
    mesh = spec.add_mesh(name=f"{name}_mesh", file=str(asset_path(ROBOSUITE, model.mesh).resolve()))
    texture = spec.add_texture(name=f"{name}_picture", type=mujoco.mjtTexture.mjTEXTURE_2D,
                               file=str(picture_file(model.picture)))
    material = spec.add_material(name=f"{name}_material", rgba=list(model.rgba), specular=0.3, shininess=0.5)
    material.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = texture.name
    body.add_geom(name=f"{name}_visual", type=mujoco.mjtGeom.mjGEOM_MESH, meshname=mesh.name, material=material.name,
                  pos=[-c for c in model.mesh_centre], contype=0, conaffinity=0, group=1, density=0.0)
