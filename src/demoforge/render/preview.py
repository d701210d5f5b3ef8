"""Contact sheets of sampled scenes: look at a family before generating thousands of demos in it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import imageio.v2 as imageio
import numpy as np

from demoforge.data.video import tile
from demoforge.outputs import atomic_file
from demoforge.scenes.sample import check_family, scene_seed
from demoforge.scenes.spec import SceneAxes
from demoforge.sim.quality import Quality
from demoforge.sim.render import offscreen_renderer, resolve_cameras
from demoforge.sim.robot import load_robot
from demoforge.tasks import get_task
from demoforge.rollout.world import make_world


def render_scenes(
    family: str, num: int, seed: int, task_name: str = "stack", level: str = "D1", camera: str = "agentview",
    width: int = 240, height: int = 180, robot: str | None = None, on_scene: Callable[[], None] | None = None,
    axes: SceneAxes = SceneAxes(), quality: Quality = "fast",
) -> list[np.ndarray]:
    """One frame per sampled scene drawn at ``quality``, objects placed by a reset of ``task_name``."""
    check_family(family, level)
    task = get_task(task_name)
    frames = []
    for i in range(num):
        scene = task.sample_scene(family, level, scene_seed(seed, i), axes)
        world = make_world(task, load_robot(robot) if robot else None, scene=scene, quality=quality)
        task.reset(world.env, np.random.default_rng([seed, i]), level)
        (name,) = resolve_cameras(world.env.model, [camera])
        renderer = offscreen_renderer(world.env.model, height, width)
        renderer.update_scene(world.env.data, camera=name)
        frames.append(renderer.render().copy())
        renderer.close()
        if on_scene is not None:
            on_scene()
    return frames


def contact_sheet(frames: list[np.ndarray], out: str | Path, columns: int | None = None) -> Path:
    """Tile frames into a near-square PNG (written atomically)."""
    columns = columns or int(np.ceil(np.sqrt(len(frames))))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as tmp:
        imageio.imwrite(tmp, tile(frames, columns))
    return out
