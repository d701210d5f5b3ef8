"""Kitchen tasks (RoboCasa's atomic skills) on articulated fixtures: the door's joint decides success, scripted
sources generate in kitchens they were not recorded in, and every kept demo replays exactly."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
import pytest

import demoforge as df
from demoforge import geometry as geo
from demoforge.rollout.replay import check_demo
from demoforge.rollout.world import make_world
from demoforge.scenes.sample import sample_scene
from demoforge.sim.scene import set_free_body_pose
from demoforge.tasks import get_task
from demoforge.tasks.close_door import HINGE, SHUT
from demoforge.tasks.open_drawer import OPEN_ENOUGH, SLIDE
from demoforge.tasks.pick_place_sink import BASIN_DEPTH, ITEMS


def test_close_door_is_judged_by_the_hinge_and_says_how_far_open() -> None:
    task = get_task("close_door")
    world = make_world(task)
    task.reset(world.env, np.random.default_rng(0), "D1")
    angle = task.door_angle(world.env)
    assert -0.8 <= angle <= -0.5 and not task.success(world.env)
    assert task.failure_reason(world.env) == f"door open by {np.degrees(-angle):.0f} degrees"
    address = world.env.model.joint(HINGE).qposadr[0]
    world.env.data.qpos[address] = SHUT / 2  # nearly shut counts; the microwave weighs what a real one does
    assert task.success(world.env)
    assert 11.5 < world.env.model.body_subtreemass[world.env.model.body("microwave").id] < 12.5


def test_open_drawer_is_judged_by_the_slide_and_the_unit_stays_put() -> None:
    task = get_task("open_drawer")
    world = make_world(task)
    task.reset(world.env, np.random.default_rng(0), "D1")
    assert task.opening(world.env) == 0.0 and task.failure_reason(world.env) == "drawer out 0 cm of 15"
    world.env.data.qpos[world.env.model.joint(SLIDE).qposadr[0]] = OPEN_ENOUGH + 0.001
    assert task.success(world.env)
    unit = world.env.model.body("cabinet").id
    assert world.env.model.body_subtreemass[unit] > 15
    handle = world.env.model.geom("cabinet_handle").id
    assert world.env.model.geom_bodyid[handle] == world.env.model.body("cabinet_drawer").id  # it moves with the drawer


def test_the_sink_is_a_hole_in_the_counter_and_the_object_any_instance_of_its_categories() -> None:
    """The counter is cut around the basin: an object let go over it falls to the basin's floor and counts as
    in the sink; scenes choose the object among the task's instances."""
    task = get_task("pick_place_counter_to_sink")
    world = make_world(task)
    model = world.env.model
    assert "table_top" not in {model.geom(g).name for g in range(model.ngeom)}  # replaced by slabs around the hole
    task.reset(world.env, np.random.default_rng(0), "D1")
    assert not task.success(world.env) and task.failure_reason(world.env) == "object not in the sink"
    sink = world.env.body_position("sink")
    set_free_body_pose(model, world.env.data, "item", geo.make_pose(sink + [0.0, 0.0, 0.05], np.eye(3)))
    for _ in range(400):  # let go over the basin: it falls in
        world.env.step_physics()
    assert world.env.body_position("item")[2] < sink[2] - BASIN_DEPTH + 0.1 and task.success(world.env)
    chosen = {sample_scene("kitchen", "D1", seed, task.objects, task.placement_boxes("D1"), task.scalable,
                           instances=task.instances).objects["item"].instance for seed in range(30)}
    assert len(chosen) >= 5 and chosen <= set(ITEMS)


def test_in_kitchens_the_cabinet_under_the_sink_is_cut_around_the_basin() -> None:
    """The kitchen's cabinet below the work surface is drawn, not simulated: it is cut around the basin so it
    is not drawn over it, and still fills the rest of the footprint."""
    from demoforge.tasks.pick_place_sink import BASIN_HALF, SINK_XY

    task = get_task("pick_place_counter_to_sink")
    scene = next(s for s in (task.sample_scene("kitchen", "D1", seed) for seed in range(10)) if s.layout != "island")
    model = make_world(task, scene=scene).env.model
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    surface = model.body("sink").pos[2]
    pieces = [g for g in range(model.ngeom) if model.geom(g).name.startswith("counter_0")]
    assert len(pieces) == 5
    for g in pieces:
        low, high = data.geom_xpos[g] - model.geom_size[g], data.geom_xpos[g] + model.geom_size[g]
        over_basin = (np.all(low[:2] < np.array(SINK_XY) + BASIN_HALF) and np.all(high[:2] > np.array(SINK_XY) - BASIN_HALF)
                      and high[2] > surface - BASIN_DEPTH)
        assert not over_basin, model.geom(g).name


def test_the_cupboard_stands_open_and_counts_what_is_let_go_inside() -> None:
    """The door stands wide open at every start, out of the way; an object set down inside counts once the
    fingers let go; in kitchens the cupboard is made of what cabinets are made of, the object is any of its
    instances."""
    from demoforge.sim.cabinets import DOOR_OPEN, cupboard_interior
    from demoforge.tasks.pick_place_cabinet import ITEMS

    task = get_task("pick_place_cabinet")
    world = make_world(task)
    env = world.env
    task.reset(env, np.random.default_rng(0), "D2")
    assert env.data.qpos[env.model.joint("cabinet_hinge").qposadr[0]] == DOOR_OPEN
    assert task.start_is_valid(env) and task.failure_reason(env) == "object not in the cabinet"
    centre, half = cupboard_interior()
    inside = env.body_pose("cabinet") @ np.array([centre[0], centre[1], 2 * half[2] / 3, 1.0])
    set_free_body_pose(env.model, env.data, "item", geo.make_pose(inside[:3], np.eye(3)))
    for _ in range(300):
        env.step_physics()
    assert task.success(env)
    beside = env.body_pose("cabinet") @ np.array([centre[0] + 2 * half[0], centre[1], 0.1, 1.0])
    set_free_body_pose(env.model, env.data, "item", geo.make_pose(beside[:3], np.eye(3)))
    for _ in range(300):
        env.step_physics()
    assert not task.success(env)
    scenes = [task.sample_scene("kitchen", "D1", seed) for seed in range(20)]
    assert {s.objects["cabinet"].material.kind for s in scenes} <= {"wood", "paint"}
    assert 3 <= len({s.objects["item"].instance for s in scenes}) and {s.objects["item"].instance for s in scenes} <= set(ITEMS)


def test_turn_on_stove_is_judged_by_the_left_knob_and_the_expert_turns_it() -> None:
    from demoforge.envs.task_env import TaskEnv
    from demoforge.learn.evaluate import ExpertAgent
    from demoforge.tasks.turn_on_stove import HINGE, ON

    episode = TaskEnv("turn_on_stove", variation="D2")
    episode.reset(np.random.default_rng(3), "D2")
    env, task = episode.env, episode.task
    assert task.knob_angle(env) == 0.0 and task.failure_reason(env) == "knob at 0 of 69 degrees"
    agent = ExpertAgent()
    agent.reset(episode)
    while not (episode.terminated or episode.truncated):
        episode.step(agent.act(episode))
    assert episode.success and task.knob_angle(env) >= ON
    other = env.model.joint(HINGE.replace("knob_0", "knob_1")).qposadr[0]
    assert abs(env.data.qpos[other]) < 0.05  # the other burner stays off


@pytest.mark.parametrize("name", ["close_door", "open_drawer", "pick_place_counter_to_sink", "pick_place_cabinet",
                                  "turn_on_stove"])
def test_kitchen_tasks_generate_in_kitchens_from_scripted_sources(tmp_path: Path, name: str) -> None:
    """10 sources recorded on the plain table; 16 demos generated at D1 in sampled kitchens (the target, DGR >=
    80%, is measured on more attempts in docs/benchmarks.md)."""
    sources = tmp_path / "src.hdf5"
    df.record_sources(name, num=10, out=sources, seed=0)
    cfg = df.GenerateConfig(task=name, source=str(sources), num_demos=16, max_attempts=24, variation="D1",
                            scenes="kitchen", seed=1)
    stats = df.generate(cfg, tmp_path / "run")
    assert stats.successes == 16 and stats.dgr >= 0.7, stats
    demos = df.read_demos(tmp_path / "run" / "demos.hdf5")
    for demo in demos[:3]:
        assert check_demo(demo, name).ok
        assert '"family":"kitchen"' in demo.scene.replace(" ", "")  # each in its own kitchen
    if name == "pick_place_cabinet":  # its own approach radius: the way in is replayed from outside the opening
        failed = df.read_demos(tmp_path / "run" / "failed.hdf5") if stats.attempts > stats.successes else []
        assert all(_enters_through_the_front(demo) for demo in [*demos, *failed])


def _enters_through_the_front(demo: df.Demo) -> bool:
    """The hand's target path, in the cupboard's frame, comes inside only from in front of the opening."""
    from demoforge.sim.cabinets import CUPBOARD_HALF

    hx, hy, hz = CUPBOARD_HALF
    targets = demo.datagen.target_pose[:, :, 3]
    local = np.einsum("tij,tj->ti", np.linalg.inv(demo.datagen.object_poses["cabinet"]), targets)[:, :3]
    inside = (np.abs(local[:, 0]) < hx) & (np.abs(local[:, 1]) < hy) & (local[:, 2] < 2 * hz)
    in_front = (np.abs(local[:, 0]) < hx) & (local[:, 1] < -hy)
    entered = np.flatnonzero(inside[1:] & ~inside[:-1]) + 1
    return bool(np.all(in_front[entered - 1]))
