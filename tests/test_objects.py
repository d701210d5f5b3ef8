"""The object catalogue: every instance of every category builds, simulates at the size it states, rests
where it is put, and is listed and drawn by `demoforge objects`."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
import pytest
from PIL import Image

from demoforge.scenes.catalogue import CATALOGUE, CATEGORIES, instances
from demoforge.sim.object_models import add_object_model
from test_cli import assert_user_error, run


def _dropped(name: str) -> tuple[mujoco.MjModel, mujoco.MjData]:
    """The instance let go 1 cm above a floor, after 0.6 s."""
    spec = mujoco.MjSpec()
    spec.option.timestep = 0.002
    spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_PLANE, size=[1, 1, 0.1])
    model_of = CATALOGUE[name]
    add_object_model(spec, "object", model_of).pos = [0.0, 0.0, model_of.half_size[2] + 0.01]
    model = spec.compile()
    data = mujoco.MjData(model)
    for _ in range(300):
        mujoco.mj_step(model, data)
    return model, data


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_instance_simulates_at_its_stated_size_and_rests_where_put(name: str) -> None:
    model, data = _dropped(name)
    stated = np.array(CATALOGUE[name].half_size)
    body = model.body("object").id
    colliding = [g for g in range(model.ngeom)
                 if model.geom_contype[g] and model.body_rootid[model.geom_bodyid[g]] == body]
    low = np.min([data.geom_xpos[g] - _half(model, data, g) for g in colliding], axis=0)
    high = np.max([data.geom_xpos[g] + _half(model, data, g) for g in colliding], axis=0)
    assert np.allclose((high - low) / 2, stated, atol=0.012), ((high - low) / 2, stated)
    centre = data.xpos[body]
    assert abs(centre[2] - stated[2]) < 0.01 and np.linalg.norm(centre[:2]) < 0.02  # at rest on the floor
    assert data.xmat[body].reshape(3, 3)[2, 2] > 0.95 or CATALOGUE[name].collision == "sphere"  # not tipped
    assert model.body_mass[body] + model.body_subtreemass[body] > 0.005


def _half(model: mujoco.MjModel, data: mujoco.MjData, geom: int) -> np.ndarray:
    """Half extents of a primitive geom along the world axes."""
    size, kind = model.geom_size[geom], model.geom_type[geom]
    if kind == mujoco.mjtGeom.mjGEOM_SPHERE:
        return np.full(3, size[0])
    local = size if kind == mujoco.mjtGeom.mjGEOM_BOX else np.array([size[0], size[0], size[1]])
    return np.abs(data.geom_xmat[geom].reshape(3, 3)) @ local


def test_every_category_has_several_instances_and_a_mesh_of_the_pack_is_drawn() -> None:
    assert {"mug", "cup", "bowl", "plate", "bottle", "can", "box", "fruit"} <= set(CATEGORIES)
    assert all(len(instances(category)) >= 2 for category in CATEGORIES)
    with pytest.raises(KeyError, match="no object category 'spoon'.*mug"):
        instances("spoon")
    model, _ = _dropped("soda_can")
    meshes = [g for g in range(model.ngeom) if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH]
    assert meshes and all(model.geom_contype[g] == 0 and model.geom_matid[g] >= 0 for g in meshes)
    assert model.ntex == 1  # its photograph


def test_objects_command_lists_every_instance_and_draws_a_sheet(tmp_path: Path) -> None:
    sheet = tmp_path / "objects.png"
    done = run("objects", "--sheet", str(sheet), "--size", "48")
    assert done.returncode == 0, done.stderr
    for name in CATALOGUE:
        assert name in done.stdout
    rows, columns = len(CATEGORIES), max(len(n) for n in CATEGORIES.values())
    assert Image.open(sheet).size == (48 * columns, 48 * rows)
    again = run("objects", "--sheet", str(sheet))
    assert_user_error(again, str(sheet), "--overwrite")
