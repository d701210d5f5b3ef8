"""A demoforge task as a Gymnasium environment (optional extra ``demoforge[gym]``).

    import gymnasium, demoforge
    env = gymnasium.make("demoforge/Stack-v0", variation="D1", cameras=["agentview", "wrist"], image_size=84)

Observations and actions are a dataset's: ``obs`` is a dict of its ``obs/<key>`` rows (same keys,
shapes and dtypes), an action is a row of ``actions`` (7 per arm, normalised to [-1, 1]). Stepping,
success and episode ends are ``TaskEnv``'s, which ``demoforge eval`` runs too; ``reset(seed=s)``
starts evaluation episode 0 of seed ``s`` and every later ``reset()`` the next one, so a loop of
resets faces exactly the starts of ``demoforge eval --seed s``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from demoforge.envs.task_env import TaskEnv, episode_rng
from demoforge.errors import DemoforgeError
from demoforge.scenes.spec import SceneSpec
from demoforge.sim.render import check_image_size, resolve_cameras
from demoforge.sim.robot import RobotConfig


class DemoforgeEnv(gymnasium.Env):
    """``task`` in demoforge's world: ``robot`` (default: the task's), reset distribution ``variation``,
    camera observations ``cameras`` (``<camera>_image``, square ``image_size``; ``depth``, ``segmentation``
    add those channels), an optional fixed ``scene`` (a ``SceneSpec`` or its JSON).

    ``reset(options=...)``: ``{"episode": i}`` starts evaluation episode ``i`` of the seed; ``{"state": s}``
    restores a full physics state instead of sampling a start (a dataset's ``states[0]``). ``reward`` is
    1.0 while the task's success holds (a dataset's ``rewards``); ``info["success"]`` and
    ``info["is_success"]`` say whether it has held for ``success_hold_steps`` steps, which terminates the
    episode (as does unstable physics, ``info["unstable"]``); ``max_steps`` truncates it.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(
        self,
        task: str = "stack",
        robot: str | RobotConfig | None = None,
        variation: str = "D0",
        cameras: Sequence[str] | str = (),
        image_size: int = 84,
        depth: bool = False,
        segmentation: bool = False,
        scene: SceneSpec | str | None = None,
        render_mode: str | None = None,
        render_camera: str = "agentview",
        render_size: tuple[int, int] = (480, 640),
    ) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise DemoforgeError(f"unknown render_mode {render_mode!r} (known: {', '.join(self.metadata['render_modes'])})")
        if isinstance(cameras, str):  # "agentview,wrist", as the command line takes them
            cameras = [c.strip() for c in cameras.split(",") if c.strip()]
        if isinstance(scene, str):
            scene = SceneSpec.model_validate_json(scene)
        self.core = TaskEnv(task, robot, variation, cameras, image_size, depth, segmentation, scene)
        self.render_mode = render_mode
        self.render_camera, self.render_size = render_camera, tuple(render_size)
        if render_mode is not None:  # a bad camera or size fails now, not at the first picture
            resolve_cameras(self.core.env.model, [render_camera])
            check_image_size(self.core.env.model, *self.render_size)
        self.observation_space = spaces.Dict(
            {key: _box(shape, dtype) for key, (shape, dtype) in self.core.observation_shapes().items()}
        )
        self.action_space = spaces.Box(-1.0, 1.0, (self.core.action_dim,), np.float64)
        self.seed_of_episodes: int | None = None
        self.episode = -1  # index of the current episode under that seed

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if seed is not None:
            self.seed_of_episodes, self.episode = int(seed), -1
        elif self.seed_of_episodes is None:  # never seeded: a random seed, drawn once
            self.seed_of_episodes = int(self.np_random.integers(2**63))
        self.episode = int(options.get("episode", self.episode + 1))
        self.core.reset(episode_rng(self.seed_of_episodes, self.episode), state=options.get("state"))
        return self.core.observe(), self._info()

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        core = self.core
        core.step(action)
        return core.observe(), core.reward, core.terminated, core.truncated, self._info()

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        return self.core.frame(self.render_camera, *self.render_size)

    def close(self) -> None:
        self.core.close()

    def _info(self) -> dict[str, Any]:
        core = self.core
        return {"success": core.success, "is_success": core.success, "unstable": core.unstable,
                "seed": self.seed_of_episodes, "episode": self.episode}


def _box(shape: tuple[int, ...], dtype: np.dtype) -> spaces.Box:
    """The space of one observation key: images 0-255, labels from 0, depth from 0, the rest unbounded."""
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return spaces.Box(0, 255, shape, dtype)
    if dtype.kind == "i":
        return spaces.Box(0, np.iinfo(dtype).max, shape, dtype)
    return spaces.Box(-np.inf, np.inf, shape, dtype)
