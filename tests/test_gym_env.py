"""Every task is a Gymnasium env whose observations and actions are the datasets' own, stepped by the code
``demoforge eval`` runs (real MuJoCo throughout)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import demoforge as df
from demoforge.envs import env_id, register_envs
from demoforge.envs.gym_env import DemoforgeEnv
from demoforge.learn.evaluate import ExpertAgent, evaluate
from demoforge.render.observations import add_observations


def test_every_task_has_a_registered_id() -> None:
    assert env_id("stack") == "demoforge/Stack-v0" and env_id("two_arm_stack") == "demoforge/TwoArmStack-v0"
    ids = register_envs()  # registering again changes nothing
    assert ids == [env_id(name) for name in df.TASKS] and all(i in gymnasium.registry for i in ids)
    assert gymnasium.spec("demoforge/StackThree-v0").max_episode_steps == df.TASKS["stack_three"].max_steps


@pytest.mark.parametrize("task", ["stack", "two_arm_stack"])
def test_gymnasium_env_checker_passes(task: str) -> None:
    env = gymnasium.make(env_id(task), cameras="agentview", image_size=16, render_mode="rgb_array", render_size=(48, 64))
    with warnings.catch_warnings():
        warnings.filterwarnings("error")  # any complaint of the checker fails the test, but
        warnings.filterwarnings("ignore", message=".*infinity.*")  # unbounded low-dimensional keys, by design
        check_env(env.unwrapped)
    env.reset(seed=0)
    assert env.render().shape == (48, 64, 3)
    arms = len(env.unwrapped.core.env.arms)
    assert env.action_space.shape == (7 * arms,) and env.action_space.dtype == np.float64
    env.close()


@pytest.mark.parametrize("task, cameras, extra", [
    ("stack", ["agentview", "wrist"], {"depth": True, "segmentation": True}),
    ("two_arm_stack", ["agentview"], {}),
])
def test_observations_are_the_recorded_ones(task: str, cameras: list[str], extra: dict, tmp_path: Path) -> None:
    """A recorded demo's first state and actions, fed to the env, give its stored obs/<key> rows exactly."""
    source, _ = df.record_sources(task, num=1, out=tmp_path / "src.hdf5", seed=0)
    with_images = add_observations(source, cameras, size=24, out=tmp_path / "images.hdf5", **extra)
    (demo,) = df.read_demos(with_images)
    env = gymnasium.make(env_id(task), cameras=cameras, image_size=24, **extra)
    space = env.observation_space
    assert set(space) == set(demo.obs)  # the same keys, shapes and dtypes as the file
    assert all(space[k].shape == demo.obs[k].shape[1:] and space[k].dtype == demo.obs[k].dtype for k in demo.obs)
    obs, info = env.reset(options={"state": demo.states[0]})
    assert not info["success"]
    held, hold = 0, df.get_task(task).success_hold_steps
    for t in range(len(demo)):  # on past the step that terminates: the expert's demo goes on a little
        for key, stored in demo.obs.items():
            assert np.array_equal(obs[key], stored[t]), (key, t)
        obs, reward, terminated, truncated, info = env.step(demo.actions[t])
        held = held + 1 if demo.rewards[t] else 0
        assert reward == demo.rewards[t] and not truncated
        assert terminated == info["success"] == info["is_success"] == (held >= hold), t
    assert info["success"]  # the demo ends with its success held
    env.close()


def test_the_expert_through_the_env_succeeds_at_evals_episode_starts() -> None:
    _, episodes = evaluate("expert", "stack", "D0", episodes=2, seed=1000)
    env = gymnasium.make("demoforge/Stack-v0")
    expert = ExpertAgent()
    starts = []
    for i, episode in enumerate(episodes):
        obs, info = env.reset(seed=1000) if i == 0 else env.reset()  # episode i of seed 1000, as eval's
        starts.append(obs)
        core = env.unwrapped.core
        expert.reset(core)
        steps, terminated, truncated = 0, False, False
        while not (terminated or truncated):
            obs, reward, terminated, truncated, info = env.step(expert.act(core))
            steps += 1
        assert terminated and not truncated and info["is_success"] and info["success"] and reward == 1.0
        assert steps == episode.steps and episode.success
    again, info = env.reset(seed=1000, options={"episode": 1})
    assert info["episode"] == 1 and all(np.array_equal(again[k], starts[1][k]) for k in again)
    assert not np.array_equal(starts[0]["object"], starts[1]["object"])


def test_bad_names_are_clear_errors() -> None:
    with pytest.raises(df.DemoforgeError, match="no such robot config file"):
        gymnasium.make("demoforge/Stack-v0", robot="walker")
    with pytest.raises(df.DemoforgeError, match="no variation 'D7'"):
        gymnasium.make("demoforge/Stack-v0", variation="D7")
    with pytest.raises(df.DemoforgeError, match=r"unknown camera\(s\) \['ceiling'\]"):
        gymnasium.make("demoforge/Stack-v0", cameras=["agentview", "ceiling"])
    with pytest.raises(df.DemoforgeError, match=r"unknown camera\(s\) \['ceiling'\]"):
        gymnasium.make("demoforge/Stack-v0", render_mode="rgb_array", render_camera="ceiling")
    with pytest.raises(df.DemoforgeError, match="needs a robot with 2 arms"):
        gymnasium.make("demoforge/TwoArmStack-v0", robot="panda")
    with pytest.raises(df.DemoforgeError, match="unknown render_mode 'human'"):
        DemoforgeEnv(render_mode="human")  # (gymnasium.make wraps an rgb_array env for "human" itself)
    env = gymnasium.make("demoforge/Stack-v0", disable_env_checker=True)
    env.reset(seed=0)
    with pytest.raises(df.DemoforgeError, match=r"takes \(7,\), 7 per arm"):
        env.step(np.zeros(14))
    with pytest.raises(df.DemoforgeError, match="full physics state has"):
        env.reset(options={"state": np.zeros(5)})


def test_a_scene_is_the_world_the_env_steps_in() -> None:
    task = df.get_task("lift")
    scene = df.sample_scene("kitchen", "D1", 3, objects=task.objects, keep_clear=task.placement_boxes("D0"))
    env = gymnasium.make("demoforge/Lift-v0", scene=scene.model_dump_json())
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space and env.unwrapped.core.world.scene == scene
    env.close()


def test_demoforge_imports_and_evaluates_without_gymnasium() -> None:
    code = (
        "import sys; sys.modules['gymnasium'] = None\n"  # as if it were not installed
        "import demoforge\n"
        "from demoforge.learn.evaluate import EpisodeJob, ExpertAgent, rollout\n"
        "assert demoforge.envs.register_envs() == []\n"
        "episode = rollout(demoforge.TaskEnv('lift'), ExpertAgent(), EpisodeJob('expert', 'lift', 'D0', 1000, 0))\n"
        "assert episode.success and 'gymnasium' not in [m for m in sys.modules if sys.modules[m]]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
