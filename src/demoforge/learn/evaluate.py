"""Roll policies out in MuJoCo and measure their success rate, on every core.

Episode i of an evaluation resets the task from ``(seed, i)``, so two policies evaluated with the
same seed face exactly the same starts. An episode succeeds once the task's success predicate has
held for ``success_hold_steps`` consecutive steps (the same rule generation uses).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from demoforge.rollout.episode import observe
from demoforge.errors import DemoforgeError
from demoforge.learn.features import features
from demoforge.runner.pool import EVAL_WORKER_BYTES, ordered_map
from demoforge.sim.controller import target_to_action
from demoforge.sim.env import SimEnv
from demoforge.sim.render import CameraRig, offscreen_renderer, resolve_cameras
from demoforge.tasks import get_task
from demoforge.tasks.base import Task
from demoforge.rollout.world import World, make_world

EXPERT = "expert"  # the --policy value that evaluates the task's scripted expert


class Agent(Protocol):
    def reset(self, env: SimEnv, task: Task, rng: np.random.Generator) -> None: ...

    def act(self, env: SimEnv, task: Task) -> np.ndarray:
        """The next normalised delta action (7 per arm)."""
        ...


class PolicyAgent:
    """A trained policy, queried every ``execute`` steps for a chunk of actions.

    A policy with cameras sees images rendered exactly as ``generate --cameras`` stores them.
    """

    def __init__(self, folder: str | Path) -> None:
        from demoforge.learn.policy import Policy

        self.policy = Policy.load(folder)
        self.queue: list[np.ndarray] = []
        self.rig: CameraRig | None = None

    def reset(self, env: SimEnv, task: Task, rng: np.random.Generator) -> None:
        self.queue = []
        cfg = self.policy.cfg
        if cfg.cameras and (self.rig is None or self.rig.model is not env.model):
            self.rig = CameraRig(env.model, cfg.cameras, cfg.image_size)
            self.frame = {k: np.zeros(s, d) for k, (s, d) in self.rig.obs_shapes().items()}

    def act(self, env: SimEnv, task: Task) -> np.ndarray:
        if not self.queue:
            obs = features(observe(env, task), tuple(self.policy.cfg.obs_keys))[0]
            images = None
            if self.rig is not None:
                self.rig.capture(env.data, self.frame)
                images = np.stack([self.frame[k] for k in self.policy.image_keys])
            self.queue = list(self.policy.predict(obs, images)[: self.policy.cfg.execute])
        return self.queue.pop(0)


class ExpertAgent:
    """The task's scripted expert as a policy (a known reference for the evaluation itself)."""

    def reset(self, env: SimEnv, task: Task, rng: np.random.Generator) -> None:
        self.stream = task.expert(env, rng)
        arms = len(env.arms)
        here = env.eef_pose() if arms == 1 else np.stack([env.eef_pose(i) for i in range(arms)])
        self.last: tuple[np.ndarray, float | np.ndarray] = (here, -1.0 if arms == 1 else np.full(arms, -1.0))

    def act(self, env: SimEnv, task: Task) -> np.ndarray:
        self.last = next(self.stream, self.last)
        target, gripper = self.last
        if len(env.arms) == 1:
            return target_to_action(env.eef_pose(), env.world_T_base, target, gripper)
        return np.concatenate([target_to_action(env.eef_pose(i), arm.world_T_base, target[i], float(gripper[i]))
                               for i, arm in enumerate(env.arms)])


def check_policy_task(trained_on: str, task: str, policy: str | Path) -> None:
    """A policy acts only in the task it was trained on (its inputs are that task's objects)."""
    if trained_on and trained_on != task:
        raise DemoforgeError(
            f"{policy}: the policy was trained on task {trained_on!r}, not {task!r}: its input features are that "
            f"task's objects. Evaluate it with --task {trained_on}, or train a policy on data of another task"
        )


def make_agent(policy: str) -> Agent:
    return ExpertAgent() if policy == EXPERT else PolicyAgent(policy)


@dataclass(frozen=True)
class EpisodeJob:
    policy: str
    task: str
    variation: str
    seed: int
    index: int
    video_size: int = 0  # 0: no frames
    camera: str = "agentview"


@dataclass
class Episode:
    index: int
    success: bool
    steps: int
    frames: np.ndarray | None = None


_CACHE: dict = {}  # per process: the world and agent of the current evaluation


def run_episode(job: EpisodeJob) -> Episode:
    """One rollout (module-level so worker processes can run it)."""
    key = (job.policy, job.task)
    if key not in _CACHE:
        _CACHE.clear()
        _limit_threads()
        _CACHE[key] = (make_world(get_task(job.task)), make_agent(job.policy))
    world, agent = _CACHE[key]
    return rollout(world, agent, job)


def rollout(world: World, agent: Agent, job: EpisodeJob) -> Episode:
    env, task = world.env, world.task
    rng = np.random.default_rng([job.seed, job.index])
    task.reset(env, rng, job.variation)
    agent.reset(env, task, rng)
    renderer = None
    frames = []
    if job.video_size:
        (camera,) = resolve_cameras(env.model, [job.camera])
        renderer = offscreen_renderer(env.model, job.video_size * 3 // 4, job.video_size)
    held, step = 0, 0
    try:
        for step in range(1, task.max_steps + 1):
            if renderer is not None:
                renderer.update_scene(env.data, camera=camera)
                frames.append(renderer.render().copy())
            env.step(agent.act(env, task))
            if env.unstable():
                break
            held = held + 1 if task.success(env) else 0
            if held >= task.success_hold_steps:
                break
    finally:
        if renderer is not None:
            renderer.close()
    success = held >= task.success_hold_steps
    return Episode(job.index, success, step, np.stack(frames) if frames else None)


def _limit_threads() -> None:
    try:
        import torch

        torch.set_num_threads(1)  # one core per worker process; parallelism comes from the workers
    except ImportError:
        pass


@dataclass
class EvalResult:
    task: str
    variation: str
    episodes: int
    successes: int
    success_rate: float
    ci_low: float  # 95% Wilson interval
    ci_high: float
    mean_steps: float
    policy: str
    seed: int

    def to_dict(self) -> dict:
        return asdict(self)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a success rate (sound for small n and rates near 0 or 1)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def evaluate(
    policy: str,
    task: str,
    variation: str = "D0",
    episodes: int = 50,
    seed: int = 1000,
    workers: int = 1,
    video_episodes: int = 0,
    video_size: int = 160,
    on_episode: Callable[[Episode], None] | None = None,
) -> tuple[EvalResult, list[Episode]]:
    """Success rate of ``policy`` (a policy folder, or ``"expert"``) over ``episodes`` rollouts."""
    get_task(task).variation(variation)  # unknown task or variation: a clear error before any work
    if policy != EXPERT:
        check_policy_task(PolicyAgent(policy).policy.cfg.task, task, policy)  # a bad folder fails here, not in a worker
    jobs = [
        EpisodeJob(str(policy), task, variation, seed, i, video_size if i < video_episodes else 0)
        for i in range(episodes)
    ]
    results = []
    for episode in ordered_map(run_episode, jobs, workers, per_worker_bytes=EVAL_WORKER_BYTES):
        results.append(episode)
        if on_episode is not None:
            on_episode(episode)
    successes = sum(e.success for e in results)
    low, high = wilson_interval(successes, episodes)
    return (
        EvalResult(task, variation, episodes, successes, successes / max(episodes, 1), low, high,
                   float(np.mean([e.steps for e in results])) if results else 0.0, str(policy), seed),
        results,
    )
