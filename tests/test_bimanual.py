"""Two arms: bimanual_panda's demos hold per-arm arrays and replay exactly, and a bimanual task refuses a
one-arm robot (the experts' success rates are in test_tasks.py, with every task's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_cli import assert_user_error, run

import demoforge as df
from demoforge.data.hdf5 import read_env_args
from demoforge.rollout.episode import Recorder
from demoforge.rollout.replay import check_demo
from demoforge.rollout.world import make_world
from demoforge.sim.robot import PANDA

BIMANUAL_TASKS = ["two_arm_stack", "two_arm_lift", "handover"]


@pytest.mark.parametrize("task", BIMANUAL_TASKS)
def test_bimanual_sources_have_per_arm_arrays_and_replay_exactly(task: str, tmp_path: Path) -> None:
    path, _ = df.record_sources(task, num=2, out=tmp_path / "src.hdf5", seed=0)
    demos = df.read_demos(path)
    demo = demos[0]
    T = len(demo)
    assert demo.actions.shape == (T, 14) and demo.actions_abs.shape == (T, 14)
    assert demo.datagen.eef_pose.shape == (T, 2, 4, 4) and demo.datagen.gripper_action.shape == (T, 2, 1)
    assert {"robot0_eef_pos", "robot1_eef_pos", "robot1_gripper_qpos"} <= set(demo.obs)
    right, left = demo.datagen.arm(0), demo.datagen.arm(1)
    assert right.eef_pose[0, 1, 3] < 0 < left.eef_pose[0, 1, 3]  # right arm on the right (-y)
    env_args = read_env_args(path)
    assert [a["arm"] for a in env_args["env_kwargs"]["action_layout"]] == ["right", "left"]
    for d in demos:
        result = check_demo(d, task, "bimanual_panda")
        assert result.ok, result


def test_one_gripper_alone_tips_the_long_box_and_the_failure_names_the_idle_arm() -> None:
    """two_arm_lift needs both arms: lifted by one end, the box slopes past the limit."""
    from demoforge.tasks.motion import Motion, together
    from demoforge.tasks.two_arm_lift import MAX_TILT

    task = df.get_task("two_arm_lift")
    world = make_world(task)
    env = world.env
    rng = np.random.default_rng(0)
    task.reset(env, rng, "D0")
    right, left = Motion(env, rng, arm=0), Motion(env, rng, arm=1)
    rec = Recorder(world)
    rec.start()
    for stream in ([task._grasp_end(right), left.pause(1)], [right.lift(0.15, speed=0.5), left.pause(1)],
                   [right.pause(10), left.pause(1)]):
        for targets, grippers in together([right, left], stream):
            assert rec.step(targets, grippers)
    assert task.lifted(env) and env.is_grasping("box", 0)
    assert task.tilt(env) > 2 * MAX_TILT
    assert not task.success(env) and task.failure_reason(env) == "left arm not holding the box"


def _signal_rise(demo, name: str) -> int:
    signal = demo.datagen.subtask_term_signals[name]
    assert signal.any(), name
    return int(np.argmax(signal))


@pytest.mark.parametrize("task", ["two_arm_lift", "handover"])
def test_coordinated_and_sequential_subtasks_generate(task: str, tmp_path: Path) -> None:
    """Most attempts succeed; a coordination pair replays one source over one time range; a sequential
    subtask starts only after the one it waits for (the bar is presented before the right hand takes it,
    and the left lets go only once the right holds it)."""
    src, _ = df.record_sources(task, num=6, out=tmp_path / "src.hdf5", seed=0)
    cfg = df.GenerateConfig(task=task, source=str(src), num_demos=8, max_attempts=8, variation="D1", seed=0)
    stats = df.generate(cfg, tmp_path / "run", workers=2)
    assert stats.successes >= 5, stats.failures
    demos = df.read_demos(tmp_path / "run" / "demos.hdf5")
    for demo in demos:
        sources, segments = demo.meta["sources"], demo.meta["segments"]
        if task == "two_arm_lift":  # [grasp, lift] per arm; the lifts are one coordination pair
            assert sources["right"][1] == sources["left"][1] and segments["right"][1] == segments["left"][1]
        else:
            left_grasp, presented = _signal_rise(demo, "left_grasp"), _signal_rise(demo, "presented")
            right_grasp, released = _signal_rise(demo, "right_grasp"), _signal_rise(demo, "left_released")
            assert left_grasp < presented < right_grasp < released
    for failed in df.read_demos(tmp_path / "run" / "failed.hdf5", require_datagen=False) if stats.attempts > len(
            demos) else []:
        assert failed.meta["reason"].split()[0] in ("right", "left", "box", "bar", "physics", "episode", "success", "failed"), failed.meta


def test_a_bimanual_task_refuses_a_one_arm_robot(tmp_path: Path) -> None:
    with pytest.raises(df.DemoforgeError, match="needs a robot with 2 arms"):
        make_world(df.get_task("two_arm_stack"), PANDA)
    out = tmp_path / "src.hdf5"
    assert_user_error(run("source", "--task", "two_arm_stack", "--robot", "panda", "--num", "1", "--out", str(out)),
                      "two_arm_stack", "2 arms", "panda", "has 1 (arm0)")
    assert not out.exists()


@pytest.fixture(scope="module")
def bimanual_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small two_arm_stack run through the CLI, as a user makes one (the robot comes from the task)."""
    work = tmp_path_factory.mktemp("bimanual")
    assert run("source", "--task", "two_arm_stack", "--num", "4", "--out", str(work / "src.hdf5")).returncode == 0
    result = run("generate", "--task", "two_arm_stack", "--source", str(work / "src.hdf5"), "--num-demos", "4",
                 "--variation", "D1", "--workers", "2", "--out", str(work / "run"))
    assert result.returncode == 0, result.stderr
    return work


def test_generated_bimanual_demos_replay_and_say_which_arm(bimanual_run: Path) -> None:
    demos = df.read_demos(bimanual_run / "run" / "demos.hdf5")
    assert all(set(d.meta["segments"]) == {"right", "left"} for d in demos)
    result = run("replay", str(bimanual_run / "run" / "demos.hdf5"), "--check")  # no --robot: the file names it
    assert result.returncode == 0, result.stderr
    assert "reproduce exactly" in " ".join(result.stderr.split())


def test_everything_downstream_works_on_a_bimanual_dataset(bimanual_run: Path) -> None:
    import json

    work, data = bimanual_run, bimanual_run / "run" / "demos.hdf5"
    steps = [
        ["render", str(data), "--cameras", "agentview,robot1_eye_in_hand", "--image-size", "32", "--workers", "2",
         "--out", str(work / "obs.hdf5")],
        ["export", "lerobot", str(work / "obs.hdf5"), "--out", str(work / "lerobot")],
        ["video", str(work / "run"), "--num", "2", "--size", "64x48", "--workers", "2", "--out", str(work / "v.mp4")],
        ["report", str(work / "run"), "--videos", "1"],
        ["train", "--data", str(data), "--steps", "5", "--batch-size", "8", "--out", str(work / "policy")],
        ["eval", "--policy", str(work / "policy"), "--task", "two_arm_stack", "--episodes", "1", "--workers", "1"],
    ]
    for args in steps:
        result = run(*args)
        assert result.returncode == 0, (args[0], result.stderr)
    features = json.loads((work / "lerobot" / "meta" / "info.json").read_text())["features"]
    assert features["action"]["names"][:2] == ["right_dx", "right_dy"] and features["action"]["names"][7] == "left_dx"
    assert features["observation.state"]["shape"] == [2 * (3 + 4 + 2)]
    assert json.loads((work / "policy" / "policy.json").read_text())["action_dim"] == 14


def test_per_arm_wrist_cameras_by_arm_name_in_a_kitchen(tmp_path: Path) -> None:
    """The issue's command: `--cameras agentview,left_wrist,right_wrist --scenes kitchen` on two_arm_lift."""
    src = tmp_path / "src.hdf5"
    assert run("source", "--task", "two_arm_lift", "--num", "3", "--out", str(src)).returncode == 0
    result = run("generate", "--task", "two_arm_lift", "--source", str(src), "--num-demos", "2", "--scenes", "kitchen",
                 "--cameras", "agentview,left_wrist,right_wrist", "--image-size", "32", "--workers", "1",
                 "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    demo = df.read_demos(tmp_path / "run" / "demos.hdf5")[0]
    for camera in ("agentview", "robot0_eye_in_hand", "robot1_eye_in_hand"):  # right arm robot0_, left robot1_
        image = demo.obs[f"{camera}_image"]
        assert image.shape == (len(demo), 32, 32, 3) and image.std() > 0
    assert not np.array_equal(demo.obs["robot0_eye_in_hand_image"], demo.obs["robot1_eye_in_hand_image"])
    bad = run("generate", "--task", "two_arm_lift", "--source", str(src), "--cameras", "middle_wrist", "--out",
              str(tmp_path / "bad"))
    assert_user_error(bad, "middle_wrist", "right_wrist, left_wrist")  # the error lists the aliases there are
    assert not (tmp_path / "bad").exists()


def test_an_attempt_that_fails_at_the_end_names_only_the_busy_arms() -> None:
    """gr1_pour's left hand rests through the task: a pour that ends without success names the right arm's last
    subtask and does not trip over the idle arm (a 1000-demo run once crashed there, at attempt 177)."""
    from demoforge.mimic.bimanual import ArmPlan, failed_at_the_end

    task = df.get_task("gr1_pour")
    plans = [ArmPlan(arm, name, task.arm_subtasks(arm), np.eye(4), -np.ones(6))
             for arm, name in enumerate(("right", "left"))]
    assert plans[0].subtasks and not plans[1].subtasks
    assert failed_at_the_end(plans) == f"failed at the end: right arm: {task.arm_subtasks(0)[-1].name}"


def test_a_reach_for_an_object_in_the_other_hand_moves_with_it() -> None:
    """handover's right grasp starts once the bar is presented; while the bar sways in the left hand, the right
    hand's queued targets move with it (``ArmPlan.refollow``, called each step until the right has hold)."""
    from demoforge import geometry as geo
    from demoforge.mimic.bimanual import ArmPlan

    task = df.get_task("handover")
    take = next(s for s in task.subtasks if s.name == "right_grasp")
    place = next(s for s in task.subtasks if s.name == "right_place")
    assert take.kind == "sequential" and take.held is None and place.held is not None
    planned_for = geo.make_pose([0.3, 0.0, 0.95], np.eye(3))
    plan = ArmPlan(0, "right", task.arm_subtasks(0), np.eye(4), -np.ones(1), follow=(take, planned_for))
    queued = [geo.make_pose([0.3, -0.1 + 0.01 * k, 1.0], np.eye(3)) for k in range(5)]
    plan.push(np.stack(queued), np.array([-1.0]))
    swayed = geo.make_pose([0.32, 0.01, 0.94], geo.yaw_mat(0.1))  # 2 cm forward, 1 cm aside, 1 cm down, turned
    plan.refollow(swayed)
    moved = swayed @ geo.invert(planned_for)
    for (pose, grip), before in zip(plan.queue, queued):
        assert np.allclose(pose, moved @ before) and grip.tolist() == [-1.0]
    assert plan.follow is not None and np.array_equal(plan.follow[1], swayed)
    plan.refollow(swayed)  # the object did not move since: nothing moves
    assert all(np.allclose(pose, moved @ before) for (pose, _), before in zip(plan.queue, queued))
