"""Roll policies out in MuJoCo and measure their success rate, on every core.

Episode i of an evaluation resets the task from ``(seed, i)``, so two policies evaluated with the
same seed face exactly the same starts. An episode succeeds once the task's success predicate has
held for ``success_hold_steps`` consecutive steps (the same rule generation uses). Episodes run
through ``envs.TaskEnv``, the code the Gymnasium env steps too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from demoforge.envs.task_env import TaskEnv, episode_rng
from demoforge.errors import DemoforgeError, SceneUnsupported
from demoforge.learn.features import features
from demoforge.runner.pool import EVAL_WORKER_BYTES, ordered_map
from demoforge.scenes.sample import MAX_SCENE_RETRIES, check_family, scene_seed
from demoforge.scenes.spec import SceneSpec
from demoforge.sim.controller import per_arm_commands, target_to_action
from demoforge.tasks import get_task

EXPERT = "expert"  # the --policy value that evaluates the task's scripted expert


class Agent(Protocol):
    cameras: tuple[str, ...]  # camera observations it needs (``<camera>_image``), of ``image_size`` pixels
    image_size: int

    def reset(self, episode: TaskEnv) -> None:
        """A new episode has started (``episode.rng`` is its random stream, after the reset's draws)."""
        ...

    def act(self, episode: TaskEnv) -> np.ndarray:
        """The next normalised delta action (7 per arm)."""
        ...


class PolicyAgent:
    """A trained policy, queried every ``execute`` steps for a chunk of actions.

    A policy with cameras sees images rendered exactly as ``generate --cameras`` stores them.
    """

    def __init__(self, folder: str | Path) -> None:
        from demoforge.learn.policy import Policy

        self.policy = Policy.load(folder)
        self.cameras, self.image_size = tuple(self.policy.cfg.cameras), self.policy.cfg.image_size
        self.queue: list[np.ndarray] = []

    def reset(self, episode: TaskEnv) -> None:
        self.queue = []

    def act(self, episode: TaskEnv) -> np.ndarray:
        if not self.queue:
            cfg = self.policy.cfg
            seen = episode.observe(images=bool(cfg.cameras))
            obs = features({key: seen[key][None] for key in cfg.obs_keys}, tuple(cfg.obs_keys))[0]
            images = np.stack([seen[key] for key in self.policy.image_keys]) if cfg.cameras else None
            self.queue = list(self.policy.predict(obs, images)[: cfg.execute])
        return self.queue.pop(0)


class ExpertAgent:
    """The task's scripted expert as a policy (a known reference for the evaluation itself)."""

    cameras: tuple[str, ...] = ()
    image_size = 0

    def reset(self, episode: TaskEnv) -> None:
        env = episode.env
        self.stream = episode.task.expert(env, episode.rng)
        arms = len(env.arms)
        here = env.eef_pose() if arms == 1 else np.stack([env.eef_pose(i) for i in range(arms)])
        self.last: tuple[np.ndarray, float | np.ndarray] = (here, -np.ones((arms, env.robot.eef_dim)))  # open

    def act(self, episode: TaskEnv) -> np.ndarray:
        env = episode.env
        self.last = next(self.stream, self.last)
        target, gripper = self.last
        targets = np.reshape(target, (len(env.arms), 4, 4))
        commands = per_arm_commands(gripper, len(env.arms), env.robot.eef_dim)
        return np.concatenate([target_to_action(env.eef_pose(i), arm.world_T_base, targets[i], commands[i])
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
    scenes: EvalScenes | None = None  # None: the task's plain scene


@dataclass(frozen=True)
class EvalScenes:
    """Episode i runs in the scene ``generate --scenes FAMILY --seed SEED --distinct-scenes N`` gives attempt i:
    the same seed and pool evaluate on the training kitchens, another seed on kitchens never seen."""

    family: str
    seed: int
    distinct: int | None = None


@dataclass
class Episode:
    index: int
    success: bool
    steps: int
    frames: np.ndarray | None = None


_CACHE: dict = {}  # per process: the environment and agent of the current evaluation


def run_episode(job: EpisodeJob) -> Episode:
    """One rollout (module-level so worker processes can run it)."""
    key = (job.policy, job.task)
    if key not in _CACHE:
        _CACHE.clear()
        _limit_threads()
        _CACHE[key] = (make_agent(job.policy), {})
    agent, envs = _CACHE[key]
    return rollout(_episode_env(job, agent, envs), agent, job)


def _episode_env(job: EpisodeJob, agent: Agent, envs: dict[int | None, TaskEnv]) -> TaskEnv:
    """The world of episode ``job.index``: the task's plain scene, or the first scene of the episode's draw the
    task can be built in (resampled as generation does). One world is kept, keyed by its scene seed."""
    def build(scene: SceneSpec | None) -> TaskEnv:
        return TaskEnv(job.task, variation=job.variation, cameras=agent.cameras, image_size=agent.image_size,
                       scene=scene)

    if job.scenes is None:
        if None not in envs:
            envs.clear()
            envs[None] = build(None)
        return envs[None]
    task = get_task(job.task)
    for retry in range(MAX_SCENE_RETRIES):
        seed = scene_seed(job.scenes.seed, job.index, retry, job.scenes.distinct)
        if seed in envs:
            return envs[seed]
        try:
            env = build(task.sample_scene(job.scenes.family, job.variation, seed))
        except SceneUnsupported:
            continue
        envs.clear()
        envs[seed] = env
        return env
    raise DemoforgeError(f"scene family {job.scenes.family!r}: {MAX_SCENE_RETRIES} scenes in a row were impossible "
                         f"for {job.task}")


def rollout(episode: TaskEnv, agent: Agent, job: EpisodeJob) -> Episode:
    """Episode ``job.index``: reset from ``(seed, index)``, act until success held, unstable physics or
    ``max_steps``."""
    episode.reset(episode_rng(job.seed, job.index), job.variation)
    agent.reset(episode)
    frames = []
    while not (episode.terminated or episode.truncated):
        if job.video_size:
            frames.append(episode.frame(job.camera, job.video_size * 3 // 4, job.video_size))
        episode.step(agent.act(episode))
    return Episode(job.index, episode.success, episode.steps, np.stack(frames) if frames else None)


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
    scenes: EvalScenes | None = None

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
    scenes: EvalScenes | None = None,
) -> tuple[EvalResult, list[Episode]]:
    """Success rate of ``policy`` (a policy folder, or ``"expert"``) over ``episodes`` rollouts, in the task's plain
    scene or in ``scenes``."""
    get_task(task).variation(variation)  # unknown task or variation: a clear error before any work
    if scenes is not None:
        check_family(scenes.family, variation)
    if policy != EXPERT:
        check_policy_task(PolicyAgent(policy).policy.cfg.task, task, policy)  # a bad folder fails here, not in a worker
    jobs = [
        EpisodeJob(str(policy), task, variation, seed, i, video_size if i < video_episodes else 0, scenes=scenes)
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
                   float(np.mean([e.steps for e in results])) if results else 0.0, str(policy), seed, scenes),
        results,
    )
