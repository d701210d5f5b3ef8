"""A contact sheet of the object catalogue: one row per category, one captioned tile per instance."""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge.data.video import caption, tile
from demoforge.scenes.catalogue import CATEGORIES, CATALOGUE, ObjectModel
from demoforge.sim.object_models import add_object_model
from demoforge.sim.quality import Quality
from demoforge.sim.render import offscreen_renderer
from demoforge.sim.scene import model_from_xml, scene_xml


def object_tile(model: ObjectModel, size: int, quality: Quality = "fast") -> np.ndarray:
    """``model`` resting on a light counter, seen from the front and above, framed by its size."""
    spec = mujoco.MjSpec()
    spec.visual.global_.offwidth = spec.visual.global_.offheight = max(size, 64)
    spec.visual.quality.shadowsize = spec.visual.quality.offsamples = 0  # as every scene: ``high`` turns them on
    spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[1, 1, 0.1], rgba=[0.82, 0.8, 0.76, 1])
    spec.worldbody.add_light(pos=[0.3, -0.4, 1.0], dir=[-0.3, 0.4, -1.0], diffuse=[0.8, 0.8, 0.8])
    add_object_model(spec, "object", model).pos = [0.0, 0.0, model.half_size[2]]
    reach = 2.6 * max(model.half_size) + 0.05
    target = np.array([0.0, 0.0, model.half_size[2]])
    eye = target + reach * np.array([0.0, -0.8, 0.6])
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    spec.worldbody.add_camera(name="look", pos=eye.tolist(), xyaxes=[*right, *np.cross(right, forward)], fovy=40)
    built = model_from_xml(scene_xml(spec), quality)
    data = mujoco.MjData(built)
    mujoco.mj_forward(built, data)
    renderer = offscreen_renderer(built, size, size)
    renderer.update_scene(data, camera="look")
    picture = renderer.render().copy()
    renderer.close()
    return picture


def object_sheet(size: int = 160, quality: Quality = "fast") -> np.ndarray:
    """Every instance of the catalogue, a row per category, each tile captioned with its name and category."""
    width = max(len(names) for names in CATEGORIES.values())
    tiles = []
    for category, names in CATEGORIES.items():
        row = [caption(object_tile(CATALOGUE[n], size, quality), [n, category]) for n in names]
        tiles += row + [np.zeros_like(row[0])] * (width - len(row))
    return tile(tiles, width)
