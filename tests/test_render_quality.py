"""The real robot's look and the two render settings: the Panda is drawn with its real meshes and simulates
exactly as before; ``high`` draws full meshes with shadows from the same stored MJCF; ``fast`` is what
datasets record, and says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mujoco
import numpy as np
from PIL import Image

from demoforge.rollout.episode import record_expert
from demoforge.rollout.world import env_args_for, make_world
from demoforge.sim.quality import SHADOW_SIZE, for_quality
from demoforge.sim.render import offscreen_renderer
from demoforge.sim.robot import PANDA, RobotConfig
from demoforge.sim.scene import base_scene, model_from_xml
from demoforge.tasks import get_task
from test_cli import assert_user_error, run

CAPSULES = RobotConfig(name="panda", arms=(PANDA.arms[0].model_copy(update={"draw_as": None}),))


def _picture(model: mujoco.MjModel, data: mujoco.MjData, camera: str | mujoco.MjvCamera = "agentview",
             size: int = 96) -> np.ndarray:
    renderer = offscreen_renderer(model, size, size)
    mujoco.mj_forward(model, data)
    renderer.update_scene(data, camera=camera)
    picture = renderer.render().astype(float)
    renderer.close()
    return picture


def test_the_panda_is_drawn_with_its_real_meshes_that_neither_touch_nor_weigh() -> None:
    dressed, plain = (base_scene(robot).compile() for robot in (PANDA, CAPSULES))
    meshes = [g for g in range(dressed.ngeom) if dressed.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH]
    assert len(meshes) >= 40 and dressed.nmeshface > 10_000  # every link's parts, hand and fingers
    assert all(dressed.geom_contype[g] == 0 and dressed.geom_conaffinity[g] == 0 for g in meshes)
    assert {dressed.body(int(dressed.geom_bodyid[g])).name for g in meshes} >= {
        f"robot0_link{i}" for i in range(1, 8)} | {"robot0_hand", "robot0_left_finger", "robot0_right_finger"}
    colliding = [g for g in range(dressed.ngeom) if dressed.geom_contype[g] and dressed.geom_bodyid[g] > 0
                 and dressed.body(int(dressed.geom_bodyid[g])).name.startswith("robot0_")]
    assert colliding and all(dressed.geom_group[g] == 3 for g in colliding)  # capsules: simulated, not drawn
    for name in ("body_mass", "body_inertia", "body_ipos", "dof_armature", "jnt_range", "actuator_gainprm"):
        assert np.array_equal(getattr(dressed, name), getattr(plain, name)), name
    at_arm = mujoco.MjvCamera()
    at_arm.lookat[:], at_arm.distance, at_arm.azimuth, at_arm.elevation = (0.2, 0.0, 1.2), 1.6, 150.0, -20.0
    pictures = [_picture(m, mujoco.MjData(m), at_arm) for m in (dressed, plain)]
    assert (np.abs(pictures[0] - pictures[1]).max(axis=-1) > 24).mean() > 0.03  # it looks different


def test_the_panda_base_drawn_on_the_world_is_the_robots_in_segmentation() -> None:
    """MuJoCo 3.3 refuses a massless body with meshes, so link0's meshes hang on the world: still the robot's."""
    from demoforge.rollout.world import make_world
    from demoforge.tasks import get_task

    env = make_world(get_task("stack")).env
    model = env.model
    base = [g for g in range(model.ngeom) if model.geom_bodyid[g] == 0 and model.geom(g).name.startswith("robot0_link0")]
    assert base and env.robot_geom_mask[base].all()
    assert not env.robot_geom_mask[model.geom("floor").id]


def test_a_dressed_panda_stacks_bit_for_bit_as_the_capsule_one() -> None:
    """The same expert demo in both models: every state of the episode identical."""
    task = get_task("stack")
    states = []
    for robot in (PANDA, CAPSULES):
        demo = record_expert(make_world(task, robot), np.random.default_rng([3, 0]), "D0")
        assert demo.success
        states.append(demo.states)
    assert np.array_equal(states[0], states[1])


def test_high_quality_draws_full_meshes_with_shadows_from_the_same_stored_model() -> None:
    world = make_world(get_task("lift"))
    assert 'obj_meshes_fast/' in world.model_xml and for_quality(world.model_xml, "fast") == world.model_xml
    high = model_from_xml(world.model_xml, "high")
    fast = world.env.model
    assert high.nmeshface > 3 * fast.nmeshface
    assert high.vis.quality.shadowsize == SHADOW_SIZE and fast.vis.quality.shadowsize == 0
    assert high.vis.quality.offsamples > 0 == fast.vis.quality.offsamples
    assert high.nq == fast.nq and np.array_equal(high.body_mass, fast.body_mass)
    data = mujoco.MjData(high)
    mujoco.mj_setState(high, data, world.env.get_state(), mujoco.mjtState.mjSTATE_FULLPHYSICS)
    pictures = [_picture(high, data), _picture(fast, world.env.data)]
    assert (np.abs(pictures[0] - pictures[1]).max(axis=-1) > 24).mean() > 0.005  # shadows, finer edges
    assert env_args_for(world, "D0")["env_kwargs"]["render"] == {
        "quality": "fast", "meshes": "decimated", "shadows": False, "multisamples": 0}


def test_for_quality_points_every_packs_decimated_folders_at_the_full_ones() -> None:
    xml = ('<mesh file="/x/robosuite-1.5.2/robots/gr1/meshes_fast/torso.STL"/>'
           '<mesh file="/y/robosuite-1.5.2/robots/panda/obj_meshes_fast/link0_vis/link0_vis_0.obj"/>'
           '<mesh file="/z/mine/meshes_fast/part.stl"/><texture file="/w/robosuite-1.5.2/textures_fast/metal.png"/>')
    assert for_quality(xml, "high") == (
        '<mesh file="/x/robosuite-1.5.2/robots/gr1/meshes/torso.STL"/>'
        '<mesh file="/y/robosuite-1.5.2/robots/panda/obj_meshes/link0_vis/link0_vis_0.obj"/>'
        '<mesh file="/z/mine/meshes_fast/part.stl"/>'  # a user's own folder is left alone
        '<texture file="/w/robosuite-1.5.2/textures/metal.png"/>')


def test_scenes_preview_at_high_quality_and_a_wrong_quality(tmp_path: Path) -> None:
    out = tmp_path / "sheet.png"
    done = run("scenes", "preview", "--family", "tabletop", "--num", "1", "--size", "96x72", "--quality", "high",
               "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (96, 72)
    wrong = run("scenes", "preview", "--num", "1", "--quality", "ultra", "--out", str(tmp_path / "x.png"))
    assert_user_error(wrong, "--quality", "fast", "high")
    assert not (tmp_path / "x.png").exists()


def test_without_the_asset_pack_the_panda_keeps_its_capsules_and_says_how_to_get_meshes(tmp_path: Path) -> None:
    env = {**os.environ, "DEMOFORGE_ASSETS": str(tmp_path / "empty")}
    code = ("import json, warnings; from demoforge.sim.scene import base_scene; from demoforge.sim.robot import PANDA\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always'); m = base_scene(PANDA).compile()\n"
            "print(json.dumps([m.nmesh, [str(w.message) for w in caught]]))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    nmesh, warned = json.loads(done.stdout)
    assert nmesh == 0 and any("demoforge assets install" in w for w in warned)


def test_fast_textures_are_small_rgb_copies_of_the_pictures(tmp_path: Path) -> None:
    from demoforge.assetpacks import ROBOSUITE, asset_path
    from demoforge.textures import FAST_SIDE, shrink_folder

    sizes = shrink_folder(asset_path(ROBOSUITE, "textures"), tmp_path)
    assert len(sizes) == 30 and max(after for _, after in sizes.values()) == FAST_SIDE
    assert sizes["light-gray-floor-tile.png"] == (255, 255)  # already small: kept at its size
    with Image.open(tmp_path / "yellow-plaster.png") as small, Image.open(
            asset_path(ROBOSUITE, "textures/yellow-plaster.png")) as full:
        assert small.mode == "RGB" and small.size == (FAST_SIDE, FAST_SIDE)
        mean_small = np.asarray(small, dtype=float).mean(axis=(0, 1))
        mean_full = np.asarray(full.convert("RGB"), dtype=float).mean(axis=(0, 1))
        assert np.allclose(mean_small, mean_full, atol=3)  # the same colours, fewer pixels
