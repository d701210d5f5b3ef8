"""Scene variation: specs are data, samplers are seeded, every sampled scene is usable, demos replay."""

from __future__ import annotations

import json
from pathlib import Path

import imageio.v2 as imageio
import h5py
import numpy as np
import pytest

import demoforge as df
from demoforge.rollout.replay import check_demo
from demoforge.scenes.sample import FAMILIES, LEVEL_SCALE, sample_scene, scene_seed
from demoforge.scenes.spec import SceneSpec
from demoforge.tasks import TASKS, get_task
from demoforge.rollout.world import make_world

from test_cli import assert_user_error, run


def task_scene(task_name: str, family: str, level: str, seed: int) -> SceneSpec:
    task = get_task(task_name)
    return sample_scene(family, level, seed, task.objects, task.placement_boxes(level), task.scalable)


@pytest.mark.parametrize("family", FAMILIES)
def test_spec_round_trips_through_json(family: str) -> None:
    for level in LEVEL_SCALE:
        spec = task_scene("stack", family, level, 3)
        again = SceneSpec.model_validate_json(spec.model_dump_json())
        assert again == spec
        assert make_world(get_task("stack"), scene=again).model_xml == make_world(get_task("stack"), scene=spec).model_xml


def test_same_seed_same_scene_other_seed_other_scene() -> None:
    a, b, c = (task_scene("stack", "kitchen", "D2", s) for s in (5, 5, 6))
    assert a == b
    assert a != c
    assert make_world(get_task("stack"), scene=a).model_xml != make_world(get_task("stack"), scene=c).model_xml
    assert scene_seed(0, 1) == scene_seed(0, 1) != scene_seed(0, 2)


def test_levels_widen_the_variation() -> None:
    spread = {}
    for level in ("D0", "D2"):
        cams = np.array([task_scene("stack", "tabletop", level, s).cameras[0].pos for s in range(30)])
        spread[level] = cams.std(axis=0).sum()
    assert spread["D2"] > 2 * spread["D0"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("level", ["D0", "D2"])
def test_every_sampled_scene_compiles_starts_clean_and_reachable(family: str, level: str) -> None:
    for name in sorted(TASKS):
        task = get_task(name)
        for seed in range(2 if task.robot == "gr1" else 4):  # a GR1 scene compiles in about a second
            world = make_world(task, scene=task_scene(name, family, level, seed))
            task.reset(world.env, np.random.default_rng(seed), level)  # raises if any object is out of reach
            assert task.start_is_valid(world.env), (name, family, level, seed)
            for obj in task.variations[level]:
                base = world.env.arms[task.object_arm.get(obj, 0)].world_T_base[:2, 3]  # the arm that picks it
                assert task.reach[0] <= np.linalg.norm(world.env.body_pose(obj)[:2, 3] - base) <= task.reach[1]


def test_distractors_keep_out_of_the_task_regions() -> None:
    task = get_task("stack")
    boxes = task.placement_boxes("D2")
    count = 0
    for seed in range(40):
        for d in task_scene("stack", "tabletop", "D2", seed).distractors:
            count += 1
            for x0, x1, y0, y1 in boxes:
                assert not (x0 - 0.06 < d.xy[0] < x1 + 0.06 and y0 - 0.06 < d.xy[1] < y1 + 0.06)
    assert count > 10


def test_object_looks_change_mass_and_colour() -> None:
    task = get_task("stack")
    plain = make_world(task)
    spec = SceneSpec(objects={"cube_a": {"material": {"rgba": (0.1, 0.2, 0.9, 1.0)}, "mass_scale": 2.0, "friction": 0.5}})
    varied = make_world(task, scene=spec)
    body = plain.env.model.body("cube_a").id
    assert varied.env.model.body_mass[body] == pytest.approx(2 * plain.env.model.body_mass[body])
    geom = plain.env.model.geom("cube_a_geom").id
    assert varied.env.model.geom_friction[geom, 0] == pytest.approx(0.5 * plain.env.model.geom_friction[geom, 0])
    model = varied.env.model
    assert model.geom_matid[geom] >= 0  # and the geom's own colour steps aside, or the renderer would ignore it
    assert tuple(model.geom_rgba[geom]) == (0.5, 0.5, 0.5, 1.0)
    assert tuple(model.mat_rgba[model.geom_matid[geom]]) == pytest.approx((0.1, 0.2, 0.9, 1.0))


def test_generation_across_scenes_replays_from_stored_mjcf(stack_sources: Path, tmp_path: Path) -> None:
    cfg = df.GenerateConfig(
        task="stack", source=str(stack_sources), num_demos=3, max_attempts=12, variation="D1", scenes="kitchen", seed=1
    )
    stats = df.generate(cfg, tmp_path / "run")
    assert stats.successes == 3 and stats.scene_family == "kitchen"
    demos = df.read_demos(tmp_path / "run" / "demos.hdf5")
    scenes = [json.loads(d.scene) for d in demos]
    assert all(s["family"] == "kitchen" and s["fixtures"] for s in scenes)
    assert len({d.model_file for d in demos}) == 3  # every attempt has its own scene
    for demo in demos:
        result = check_demo(demo, "stack")
        assert result.ok and result.replayed_success and result.max_state_error == 0.0


def test_a_pool_of_distinct_scenes_is_met_again_by_evaluation(stack_sources: Path, tmp_path: Path) -> None:
    """`--distinct-scenes 2`: attempt i in scene i mod 2; `eval --scenes --scene-seed` meets those same kitchens."""
    from demoforge.learn.evaluate import EpisodeJob, EvalScenes, ExpertAgent, _episode_env, evaluate

    cfg = df.GenerateConfig(task="stack", source=str(stack_sources), num_demos=4, max_attempts=4, variation="D0",
                            scenes="kitchen", distinct_scenes=2, seed=5)
    df.generate(cfg, tmp_path / "run")
    with h5py.File(tmp_path / "run" / "demos.hdf5") as f:
        by_attempt = {json.loads(g.attrs["meta"])["attempt"]: g.attrs["model_file"] for g in f["data"].values()}
    assert len(by_attempt) >= 3 and len(set(by_attempt.values())) == 2  # two kitchens, each used again
    pool = EvalScenes("kitchen", seed=5, distinct=2)
    for i in by_attempt:
        env = _episode_env(EpisodeJob("expert", "stack", "D0", 1000, i, scenes=pool), ExpertAgent(), {})
        assert env.world.model_xml == by_attempt[i]
    unseen = _episode_env(EpisodeJob("expert", "stack", "D0", 1000, 0, scenes=EvalScenes("kitchen", seed=6)),
                          ExpertAgent(), {})
    assert unseen.world.model_xml not in by_attempt.values()
    result, _ = evaluate("expert", "stack", "D0", episodes=2, scenes=pool)
    assert result.successes == 2 and result.to_dict()["scenes"] == {"family": "kitchen", "seed": 5, "distinct": 2}
    with pytest.raises(ValueError, match="pass scenes too"):
        df.GenerateConfig(task="stack", source=str(stack_sources), distinct_scenes=1)


def test_preview_writes_a_real_picture(tmp_path: Path) -> None:
    out = tmp_path / "sheet.png"
    result = run("scenes", "preview", "--family", "kitchen", "--num", "4", "--size", "160x120", "--out", str(out))
    assert result.returncode == 0, result.stderr
    image = imageio.imread(out)
    assert image.shape == (240, 320, 3)
    tiles = [image[r * 120 : (r + 1) * 120, c * 160 : (c + 1) * 160] for r in range(2) for c in range(2)]
    assert all(t.std() > 10 for t in tiles)  # not blank
    assert len({t.tobytes() for t in tiles}) == 4  # four different scenes


def test_unknown_scene_family_is_a_clear_error(stack_sources: Path, tmp_path: Path) -> None:
    assert_user_error(run("scenes", "preview", "--family", "mars", "--out", str(tmp_path / "x.png")), "unknown scene family 'mars'")
    out = tmp_path / "run"
    assert_user_error(run("generate", "--source", str(stack_sources), "--scenes", "mars", "--out", str(out)), "unknown scene family")
    assert not out.exists() and not (tmp_path / "x.png").exists()
    assert_user_error(run("eval", "--policy", "expert", "--scenes", "mars", "--episodes", "1"), "unknown scene family 'mars'")
    assert_user_error(run("eval", "--policy", "expert", "--distinct-scenes", "2", "--episodes", "1"), "pass --scenes too")


def test_scaled_cubes_are_simulated_at_their_size_and_stay_graspable() -> None:
    task = get_task("stack")
    sizes = []
    for seed in range(12):
        scene = task_scene("stack", "tabletop", "D2", seed)
        world = make_world(task, scene=scene)
        task.reset(world.env, np.random.default_rng(seed), "D2")
        half = world.env.half_height("cube_b_geom")
        look = scene.objects["cube_b"]
        assert half == pytest.approx(0.025 * look.scale * look.aspect[2], rel=1e-5)  # MJCF keeps 6 digits
        assert world.env.body_pose("cube_b")[2, 3] == pytest.approx(world.env.table_z + half)  # on the table, not in it
        assert 2 * world.env.half_width("cube_b_geom") < 0.075  # fits between the open fingers (2 x 4 cm)
        sizes.append(half)
    assert np.ptp(sizes) > 0.004
    assert get_task("square").scalable == {}  # nut and peg must keep their fit


def test_mugs_and_bowls_stand_on_the_table() -> None:
    from demoforge.scenes.spec import Distractor

    scene = SceneSpec(
        distractors=(
            Distractor(shape="mug", half_size=(0.035, 0.035, 0.045), xy=(0.45, 0.45), yaw=0.5),
            Distractor(shape="bowl", half_size=(0.06, 0.06, 0.025), xy=(0.7, 0.45)),
        )
    )
    world = make_world(get_task("stack"), scene=scene)
    env = world.env
    before = [env.body_pose(f"distractor_{i}") for i in range(2)]
    for _ in range(20):
        env.step_physics()
    for i, pose in enumerate(before):
        after = env.body_pose(f"distractor_{i}")
        assert np.linalg.norm(after[:3, 3] - pose[:3, 3]) < 0.003  # rests where it was put, upright
        assert after[2, 2] > 0.999
    mug_geoms = env.body_geoms("distractor_0")
    local_x = env.model.geom_pos[mug_geoms, 0]
    assert local_x.max() > 0.035 + 0.01  # the handle sticks out along +x
    assert sum(d.shape in ("mug", "bowl") for s in range(40) for d in task_scene("stack", "kitchen", "D2", s).distractors) > 5


def test_scene_axes_turn_one_axis_off_without_changing_the_others() -> None:
    from demoforge.scenes.spec import SceneAxes

    task = get_task("stack")

    def scene(axes: SceneAxes) -> SceneSpec:
        return sample_scene("kitchen", "D2", 11, task.objects, task.placement_boxes("D2"), task.scalable, axes)

    full, no_lights = scene(SceneAxes()), scene(SceneAxes(lights=0))
    assert no_lights.lights == SceneSpec().lights and full.lights != no_lights.lights
    assert no_lights.model_copy(update={"lights": full.lights}) == full  # nothing else moved
    off = scene(SceneAxes(table=0, robot_base=0, materials=0, lights=0, cameras=0, distractors=0, objects=0, fixtures=False))
    plain = SceneSpec()
    assert off.table == plain.table and off.floor == plain.floor and off.robot_base == plain.robot_base
    assert off.distractors == () and off.objects == {} and off.fixtures == ()
    wide = [scene(SceneAxes(cameras=2.0)).cameras[0].pos for _ in range(1)]
    assert wide[0] != full.cameras[0].pos


def test_bad_scene_axes_file_is_a_clear_error(stack_sources: Path, tmp_path: Path) -> None:
    axes = tmp_path / "axes.json"
    axes.write_text('{"lights": -1}')
    out = tmp_path / "run"
    result = run("generate", "--source", str(stack_sources), "--scenes", "kitchen", "--scene-axes", str(axes), "--out", str(out))
    assert_user_error(result, "axes.json", "lights")
    assert not out.exists()


def test_tables_vary_in_height_and_shape_and_tasks_follow() -> None:
    task = get_task("lift")
    heights, shapes = set(), set()
    for seed in range(30):
        scene = task_scene("lift", "tabletop", "D2", seed)
        heights.add(round(scene.table_top_z, 3))
        shapes.add(scene.table.shape)
    assert len(heights) > 10 and shapes == {"rect", "round"}
    low = next(task_scene("lift", "tabletop", "D2", s) for s in range(60) if task_scene("lift", "tabletop", "D2", s).table_top_z < 0.78)
    world = make_world(task, scene=low)
    rng = np.random.default_rng(0)
    demo = __import__("demoforge.rollout.episode", fromlist=["record_expert"]).record_expert(world, rng, "D2")
    assert world.env.table_z == pytest.approx(low.table_top_z)
    assert demo.success  # the expert, the reset and the success check all use the scene's table height


def _surfaces(spec: SceneSpec) -> dict[str, list]:
    """Each sampled surface's materials, by the surface kind ``scenes.materials.SURFACES`` names."""
    fixtures = {"counter": "cabinet", "worktop": "counter", "upper_cabinet": "cabinet", "backsplash": "wall", "wall": "wall",
                "shelf": "shelf", "bin": "appliance"}
    out: dict[str, list] = {"floor": [spec.floor], "counter": [spec.table.material], "legs": [spec.table.leg_material]}
    for fixture in spec.fixtures:
        if fixture.kind in fixtures:
            out.setdefault(fixtures[fixture.kind], []).append(fixture.material)
    return out


def test_kitchen_surfaces_are_made_of_what_kitchens_are_made_of() -> None:
    """Every sampled surface is of a class its kind is made of, many of them photographs of that class from the
    pack (the rest: paint, plastic, or the procedural option); each picture loads once a scene."""
    from demoforge.scenes.materials import PICTURES, SURFACES

    classes, kinds = [], set()
    for seed in range(40):
        spec = task_scene("stack", "kitchen", "D2", seed)
        for surface, materials in _surfaces(spec).items():
            for material in materials:
                assert material.kind in SURFACES[surface], (surface, material)
                if material.texture == "image":
                    assert material.image in {p.name for p in PICTURES[material.kind]}, material
                classes.append(material.texture)
                kinds.add(material.kind)
    share = {t: classes.count(t) / len(classes) for t in set(classes)}
    assert share["image"] > 0.4 and 0 < sum(share.get(t, 0) for t in ("checker", "gradient", "noise")) < 0.3
    assert kinds >= {"wood", "stone", "tile", "metal", "plaster", "paint"}
    world = make_world(get_task("stack"), scene=task_scene("stack", "kitchen", "D2", 3))
    model = world.env.model
    files = [model.tex(i).name for i in range(model.ntex)]
    assert len(files) == len(set(files)) and any(name.startswith("picture_") for name in files)
    assert "textures_fast/" in world.model_xml  # the small copies; `--quality high` draws the full pictures


def test_every_kitchen_has_a_stove_whose_knobs_turn_and_stay_turned() -> None:
    """A cooktop on a counter run (four burners on the L's long run, two elsewhere); a twist turns a knob,
    which stays where it was left and stops at its end."""
    import mujoco

    from demoforge.sim.stove import KNOB_TURN

    specs = [task_scene("stack", "kitchen", "D1", seed) for seed in range(12)]
    stoves = [next(a for a in s.appliances if a.kind.endswith("stove")) for s in specs]
    assert {a.kind for a, s in zip(stoves, specs) if s.layout == "l_shape"} <= {"stove"}
    assert {a.kind for a in stoves} == {"stove", "domino_stove"}
    spec = specs[0]
    index = next(i for i, a in enumerate(spec.appliances) if a.kind.endswith("stove"))
    world = make_world(get_task("stack"), scene=spec)
    model, data = world.env.model, world.env.data
    kind = spec.appliances[index].kind
    hinges = [model.joint(f"{kind}_{index}_knob_{i}_hinge") for i in range((4 if kind == "stove" else 2))]
    knob = model.body(f"{kind}_{index}_knob_0").id
    address = hinges[0].qposadr[0]
    for _ in range(250):  # a twist about the knob's axis, for half a second
        data.xfrc_applied[knob, 3:] = (0.0, 0.0, 0.1)
        mujoco.mj_step(model, data)
    data.xfrc_applied[knob] = 0.0
    for _ in range(50):  # let go: it comes to rest, then stays
        mujoco.mj_step(model, data)
    turned = float(data.qpos[address])
    assert 0.3 < turned <= KNOB_TURN + 0.01
    for _ in range(250):
        mujoco.mj_step(model, data)
    assert abs(data.qpos[address] - turned) < 0.01
    for _ in range(1000):
        data.xfrc_applied[knob, 3:] = (0.0, 0.0, 0.2)
        mujoco.mj_step(model, data)
    assert data.qpos[address] < KNOB_TURN + 0.05  # its stop
    assert all(data.qpos[h.qposadr[0]] == 0.0 for h in hinges[1:])  # the others stay off


def test_a_material_naming_an_unknown_picture_is_refused() -> None:
    from pydantic import ValidationError

    from demoforge.scenes.spec import Material

    with pytest.raises(ValidationError, match="unknown picture 'marble-ish'.*light-wood"):
        Material(texture="image", image="marble-ish")
    with pytest.raises(ValidationError, match="exactly when texture is 'image'"):
        Material(image="light-wood")


def test_kitchens_come_in_layouts_with_appliances_whose_doors_work() -> None:
    """Every layout is drawn; each kitchen has a microwave (and most a wall cabinet) from the Franka Kitchen,
    their joints after the robot's in qpos; a push on the microwave's handle swings its door open, and
    at rest it stays shut."""
    import mujoco

    from demoforge.scenes.sample import LAYOUTS

    specs = [task_scene("stack", "kitchen", "D1", seed) for seed in range(24)]
    assert {s.layout for s in specs} == set(LAYOUTS)
    assert all(any(a.kind == "microwave" for a in s.appliances) for s in specs)
    assert sum(any(a.kind.endswith("cabinet") for a in s.appliances) for s in specs) > len(specs) / 2
    spec = next(s for s in specs if s.layout == "one_wall")
    world = make_world(get_task("stack"), scene=spec)
    model, data = world.env.model, world.env.data
    door = model.joint("microwave_0_microwave")
    assert model.jnt_qposadr[model.joint("robot0_finger_joint2").id] < model.jnt_qposadr[door.id]
    address = model.jnt_qposadr[door.id]
    for _ in range(250):  # half a second at rest
        mujoco.mj_step(model, data)
    assert abs(data.qpos[address]) < 1e-3
    handle = model.site("microwave_0_microhandle_site")
    body = model.site_bodyid[handle.id]
    for _ in range(250):  # pull the handle towards the robot (-x: the microwave faces it)
        data.xfrc_applied[body, :3] = (-15.0, 0.0, 0.0)
        mujoco.mj_step(model, data)
    assert data.qpos[address] < -0.3  # opened (its range is -2.09 .. 0)
