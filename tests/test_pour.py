"""Pouring: the expert fills the bowl, an early tilt spills and is named, generated pours replay from their states."""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np
import pytest

import demoforge as df
from demoforge.data.hdf5 import read_demos
from demoforge.rollout.episode import Recorder, record_expert
from demoforge.rollout.replay import check_demo
from demoforge.sim.robot import PANDA
from demoforge.tasks import get_task
from demoforge.scenes.sample import sample_scene
from demoforge.tasks.pour import (
    BOWL_HEIGHT,
    BOWL_RADIUS,
    CUP_FLOOR,
    CUP_HEIGHT,
    CUP_RADIUS,
    CUP_RGBA,
    NUM_PARTICLES,
    Pour,
    container_floor,
    container_size,
)
from demoforge.rollout.world import World, env_for_demo, make_world


def balls_in_bowl(world: World) -> int:
    """Count from body names alone (``particle_<i>``, ``target``), as any reader of the stored states can."""
    env = world.env
    bowl = env.body_pose("target")
    local = np.array([env.body_pose(f"particle_{i}")[:3, 3] - bowl[:3, 3] for i in range(NUM_PARTICLES)])
    local = local @ bowl[:3, :3]
    return int(np.sum((np.hypot(local[:, 0], local[:, 1]) < BOWL_RADIUS) & (local[:, 2] > 0)
                      & (local[:, 2] < BOWL_HEIGHT + 0.01)))


@pytest.fixture(scope="module")
def pour_world() -> World:
    return make_world(get_task("pour"))


def test_the_expert_pours_every_ball_into_the_bowl(pour_world: World) -> None:
    demo = record_expert(pour_world, np.random.default_rng([7, 0]), "D0")
    task = pour_world.task
    assert demo.success and task.success(pour_world.env)
    assert balls_in_bowl(pour_world) >= 0.9 * NUM_PARTICLES and task.spilled(pour_world.env) == 0
    assert task.failure_reason(pour_world.env) == ""
    assert NUM_PARTICLES >= 50 and demo.obs["object"].shape[1] == 7 * len(task.objects)  # balls live in the states


def test_a_pour_that_never_happened_says_so(pour_world: World) -> None:
    """Without a spill the reason names what is missing: here every ball is still in the upright cup."""
    pour_world.reset(np.random.default_rng(0), "D0")
    assert pour_world.failure_reason() == f"0 of {NUM_PARTICLES} particles in the bowl"


def test_scenes_vary_cups_and_bowls_and_the_expert_pours_into_the_extremes() -> None:
    """Scenes draw cups and bowls of other radius and height; the task reads them from the model and adapts."""
    task = get_task("pour")
    scenes = [sample_scene("tabletop", "D1", seed, task.objects, task.placement_boxes("D1"), task.scalable)
              for seed in range(10)]
    bowl_scale = [s.objects["target"].scale for s in scenes]
    for scene in (scenes[int(np.argmin(bowl_scale))], scenes[int(np.argmax(bowl_scale))]):
        world = make_world(task, scene=scene)
        cup, bowl = scene.objects["cup"], scene.objects["target"]
        assert container_size(world.env, "cup") == pytest.approx(
            (CUP_RADIUS * cup.scale, CUP_HEIGHT * cup.scale * cup.aspect[2]), rel=1e-4)
        assert container_size(world.env, "target") == pytest.approx(
            (BOWL_RADIUS * bowl.scale, BOWL_HEIGHT * bowl.scale * bowl.aspect[2]), rel=1e-4)
        assert container_floor(world.env, "cup") == pytest.approx(CUP_FLOOR * cup.scale * cup.aspect[2], rel=1e-4)
        model = world.env.model
        wall = model.geom("cup_wall0").id
        colour = model.mat_rgba[model.geom_matid[wall]] if model.geom_matid[wall] >= 0 else model.geom_rgba[wall]
        assert colour[3] == pytest.approx(CUP_RGBA[3])  # a recoloured cup stays see-through
        demo = record_expert(world, np.random.default_rng([3, 1]), "D1")
        assert demo.success, task.failure_reason(world.env)
    assert np.ptp(bowl_scale) > 0.06 and np.ptp([s.objects["cup"].aspect[2] for s in scenes]) > 0.08


def test_an_early_tilt_spills_and_the_reason_says_how_many(pour_world: World) -> None:
    """Tip the cup over the table right after lifting it: the balls land beside the bowl."""
    from demoforge.tasks.motion import Motion
    from demoforge.tasks.pour import POUR, _tilted

    task: Pour = pour_world.task  # type: ignore[assignment]
    env = pour_world.env
    for seed in range(5):  # the expert's grasp holds on most resets; tilt the first cup it holds
        rng = np.random.default_rng([7, seed])
        task.reset(env, rng, "D0")
        rec = Recorder(pour_world)
        rec.start()
        motion = Motion(env, rng)
        for target, gripper in task._grasp(motion, env, rng):
            rec.step(target, gripper)
        if env.is_grasping("cup"):
            break
    assert env.is_grasping("cup")
    level = motion.target
    lip = env.body_pose("cup")[:3, 3] + CUP_RADIUS * POUR + [0.0, 0.0, CUP_HEIGHT]
    for target, gripper in motion.move(_tilted(level, lip, lip, -np.deg2rad(110)), speed=0.5, precise=True):
        rec.step(target, gripper)
    for target, gripper in motion.pause(30):
        rec.step(target, gripper)
    spilled = task.spilled(env)
    assert spilled > 0.1 * NUM_PARTICLES and balls_in_bowl(pour_world) == 0
    assert task.failure_reason(env) == f"spilled {spilled} of {NUM_PARTICLES} particles"
    assert not task.success(env) and not rec.succeeded()


@pytest.fixture(scope="module")
def pour_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pour")
    df.record_sources("pour", num=2, out=out / "src.hdf5", seed=0)
    cfg = df.GenerateConfig(task="pour", source=str(out / "src.hdf5"), num_demos=1, max_attempts=4, variation="D1",
                            seed=1)
    stats = df.generate(cfg, out / "run", workers=1)
    assert stats.successes == 1, stats
    return out / "run"


def test_a_generated_pour_replays_from_its_states_and_still_succeeds(pour_run: Path) -> None:
    for demo in read_demos(pour_run / "demos.hdf5"):
        check = check_demo(demo, "pour")
        assert check.stored_success and check.replayed_success, check
        if int(mujoco.__version__.split(".")[0]) >= 4:
            assert check.ok, check  # bit-exact; MuJoCo 3.x's solver leaves ~1e-18 differences that a ball pile grows
        world = World(env_for_demo(demo, PANDA), get_task("pour"), demo.model_file)
        world.env.set_state(demo.states[-1])
        assert balls_in_bowl(world) >= 0.9 * NUM_PARTICLES  # judged from the stored final state alone


class NarrowBowlPour(Pour):
    """The same task with a bowl that holds only a few balls: the rest must spill."""

    bowl_radius = 0.012


def test_spilled_attempts_are_discarded_with_the_spill_as_reason(
    pour_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(df.TASKS, "pour", NarrowBowlPour)  # one in-process worker builds the task by name
    cfg = df.GenerateConfig(task="pour", source=str(pour_run.parent / "src.hdf5"), num_demos=1, max_attempts=2,
                            variation="D0", seed=2)
    stats = df.generate(cfg, tmp_path / "run", workers=1)
    assert stats.successes == 0 and stats.attempts == 2
    reasons = list(stats.failures)
    assert reasons and all(r.startswith("spilled ") and r.endswith(f" of {NUM_PARTICLES} particles") for r in reasons)
    failed = read_demos(tmp_path / "run" / "failed.hdf5", require_datagen=False)
    assert [d.meta["reason"] for d in failed][0].startswith("spilled ")
