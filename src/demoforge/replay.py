"""Replay stored demos: re-simulate from the first state and the actions, or render frames.

Needs nothing but the demo itself: the model comes from its stored MJCF and the controller is
stateless, so ``states[0]`` plus ``actions`` determine every later state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from demoforge.data.demo import Demo
from demoforge.sim.render import offscreen_renderer, resolve_cameras
from demoforge.sim.robot import load_robot
from demoforge.tasks import get_task
from demoforge.world import env_for_demo


@dataclass
class ReplayCheck:
    name: str
    steps: int
    max_state_error: float  # largest absolute difference between stored and re-simulated states
    stored_success: bool
    replayed_success: bool

    @property
    def ok(self) -> bool:
        return self.max_state_error <= 1e-6 and self.stored_success == self.replayed_success


def check_demo(demo: Demo, task_name: str, robot: str = "panda") -> ReplayCheck:
    """Re-simulate ``demo`` from ``states[0]`` with its actions; compare states and the final success."""
    task = get_task(task_name)
    env = env_for_demo(demo, load_robot(robot))
    env.set_state(demo.states[0])
    err = 0.0
    rewards = np.zeros(len(demo))
    for t, action in enumerate(demo.actions):
        if t > 0:
            err = max(err, float(np.max(np.abs(env.get_state() - demo.states[t]))))
        env.step(action)
        rewards[t] = float(task.success(env))
    hold = task.success_hold_steps
    replayed = len(demo) >= hold and bool(np.all(rewards[-hold:] > 0))
    stored = len(demo) >= hold and bool(np.all(demo.rewards[-hold:] > 0))
    return ReplayCheck(demo.meta.get("name", "?"), len(demo), err, stored, replayed)


def render_frames(
    demo: Demo, robot: str = "panda", camera: str = "agentview", width: int = 320, height: int = 240
) -> Iterator[np.ndarray]:
    """RGB frames (H, W, 3, uint8) of a demo, one per control step, from its stored states."""
    env = env_for_demo(demo, load_robot(robot))
    (camera,) = resolve_cameras(env.model, [camera])
    renderer = offscreen_renderer(env.model, height, width)
    try:
        for state in demo.states:
            env.set_state(state)
            renderer.update_scene(env.data, camera=camera)
            yield renderer.render().copy()
    finally:
        renderer.close()
