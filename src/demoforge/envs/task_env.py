"""A task's world as reset and step: the one code path of ``demoforge eval`` and the Gymnasium env.

An episode ends as an evaluation counts it: terminated once the task's success has held for
``success_hold_steps`` consecutive steps (a success) or the physics became unstable (a failure),
truncated after ``max_steps``. Observations are rows of a dataset's ``obs/<key>``: the
low-dimensional keys come from the recorder's own ``observe``, the camera keys from the same
``CameraRig`` as ``generate --cameras``. Needs no Gymnasium (``gym_env.py`` wraps it).
"""

from __future__ import annotations

from collections.abc import Sequence

import mujoco
import numpy as np

from demoforge.errors import DemoforgeError
from demoforge.rollout.episode import observe
from demoforge.rollout.world import World, make_world
from demoforge.scenes.spec import SceneSpec
from demoforge.sim.render import CameraRig, offscreen_renderer, resolve_cameras
from demoforge.sim.robot import RobotConfig, load_robot
from demoforge.tasks import get_task
from demoforge.tasks.base import Task


def episode_rng(seed: int, index: int) -> np.random.Generator:
    """The random stream of evaluation episode ``index`` of ``seed``: the reset draws from it, then the agent."""
    return np.random.default_rng([seed, index])


class TaskEnv:
    """One task's world, reset to a start and stepped with dataset actions (7 per arm, normalised)."""

    def __init__(
        self,
        task: str | Task,
        robot: str | RobotConfig | None = None,
        variation: str = "D0",
        cameras: Sequence[str] = (),
        image_size: int = 84,
        depth: bool = False,
        segmentation: bool = False,
        scene: SceneSpec | None = None,
    ) -> None:
        task = get_task(task) if isinstance(task, str) else task
        task.variation(variation)  # an unknown variation fails here, naming the known ones
        if (depth or segmentation) and not cameras:
            raise DemoforgeError("depth and segmentation are rendered per camera: pass cameras too")
        if cameras and image_size < 1:
            raise DemoforgeError(f"image_size must be a positive number of pixels, got {image_size}")
        robot = robot if isinstance(robot, RobotConfig) else load_robot(robot or task.robot)
        self.world: World = make_world(task, robot, scene=scene)
        self.env, self.task, self.variation = self.world.env, task, variation
        self.action_dim = self.env.robot.action_dim
        self.rig: CameraRig | None = (
            self.world.camera_rig(list(cameras), image_size, depth, segmentation) if cameras else None
        )
        self.rng: np.random.Generator | None = None  # the current episode's stream (agents continue it)
        self.steps = self.held = 0
        self.reward = 0.0
        self.unstable = False
        self._frames: dict[tuple[int, int], mujoco.Renderer] = {}

    # ---- an episode ------------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator, variation: str | None = None, state: np.ndarray | None = None) -> None:
        """Start an episode: objects placed by ``rng``'s sample of the variation, or the full physics
        ``state`` given (a dataset's ``states[t]``), restored as the recorder starts a demo."""
        self.rng = rng
        if state is None:
            self.task.reset(self.env, rng, variation or self.variation)
        else:
            state = np.asarray(state, dtype=float)
            if state.shape != (self.env.state_size,):
                raise DemoforgeError(
                    f"a state of shape {state.shape} does not fit this world: its full physics state has "
                    f"{self.env.state_size} numbers (was it recorded with another task, robot or scene?)"
                )
            self.env.reset()
            self.env.set_state(state)
        self.steps = self.held = 0
        self.reward = 0.0
        self.unstable = False

    def step(self, action: np.ndarray) -> None:
        """Execute one action for one control period, then update the success count."""
        if np.shape(action) != (self.action_dim,):
            raise DemoforgeError(
                f"an action of shape {np.shape(action)} for robot {self.env.robot.name!r}: it takes "
                f"({self.action_dim},), {6 + self.env.robot.eef_dim} per arm ({', '.join(a.name for a in self.env.arms)})"
            )
        env = self.env
        env.step(action)
        self.steps += 1
        if env.unstable():
            self.unstable, self.reward = True, 0.0
            return
        self.reward = float(self.task.success(env))
        self.held = self.held + 1 if self.reward else 0

    @property
    def success(self) -> bool:
        """The episode counts as a success: the task's success held for ``success_hold_steps`` steps."""
        return self.held >= self.task.success_hold_steps

    @property
    def terminated(self) -> bool:
        return self.success or self.unstable

    @property
    def truncated(self) -> bool:
        return self.steps >= self.task.max_steps and not self.terminated

    # ---- what is seen ----------------------------------------------------------------------------
    def observation_shapes(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Observation key -> (shape, dtype) of one step, as ``obs/<key>`` stores a row."""
        shapes = {key: (value.shape, value.dtype) for key, value in self.observe(images=False).items()}
        if self.rig is not None:
            shapes.update({key: (shape, np.dtype(dtype)) for key, (shape, dtype) in self.rig.obs_shapes().items()})
        return shapes

    def observe(self, images: bool = True) -> dict[str, np.ndarray]:
        """The current observation, every key exactly as the recorder stores that step (fresh arrays)."""
        obs = {key: value[0] for key, value in observe(self.env, self.task).items()}
        if images and self.rig is not None:
            frames = {key: np.zeros(shape, dtype) for key, (shape, dtype) in self.rig.obs_shapes().items()}
            self.rig.capture(self.env.data, frames)
            obs.update(frames)
        return obs

    def frame(self, camera: str = "agentview", height: int = 480, width: int = 640) -> np.ndarray:
        """An RGB picture of the current state (videos, ``render()``); not an observation, any size the
        scene's framebuffer allows."""
        (name,) = resolve_cameras(self.env.model, [camera])
        key = (height, width)
        if key not in self._frames:
            self._frames[key] = offscreen_renderer(self.env.model, height, width)
        renderer, model, data = self._frames[key], self.env.model, self.env.data
        mujoco.mj_comPos(model, data)  # camera poses of the current bodies (stepping leaves them one behind)
        mujoco.mj_camlight(model, data)
        renderer.update_scene(data, camera=name)
        return renderer.render().copy()

    def close(self) -> None:
        """Free the renderers: the end of this env (closing twice is fine)."""
        for renderer in self._frames.values():
            renderer.close()
        self._frames.clear()
        if self.rig is not None:
            self.rig.close()
