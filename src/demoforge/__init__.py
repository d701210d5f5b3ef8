"""demoforge: turn a handful of robot demonstrations into thousands of physically verified ones.

    import demoforge as df
    df.record_sources("stack", num=10, out="src.hdf5")
    stats = df.generate(df.GenerateConfig(task="stack", source="src.hdf5", num_demos=100), "runs/stack")
    stats = df.RunFolder("runs/stack").read_stats()   # the same RunStats, from the run's stats.json
"""

from __future__ import annotations

import os

from demoforge.version import __version__  # noqa: F401  (re-exported)

# Headless by default: without a display, render offscreen through EGL (must be set before mujoco loads).
if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"

from demoforge.capture.scripted import record_sources  # noqa: E402
from demoforge.data.demo import DatagenInfo, Demo  # noqa: E402
from demoforge.data.hdf5 import read_demos, write_dataset  # noqa: E402
from demoforge.errors import DemoforgeError  # noqa: E402
from demoforge.mimic.generate import GenerateConfig  # noqa: E402
from demoforge.runner.local import generate  # noqa: E402
from demoforge.runner.run_folder import RunFolder, RunStats  # noqa: E402
from demoforge.scenes.sample import sample_scene  # noqa: E402
from demoforge.scenes.spec import SceneSpec  # noqa: E402
from demoforge.tasks import TASKS, get_task  # noqa: E402
from demoforge.rollout.world import make_world  # noqa: E402
from demoforge.envs import TaskEnv, env_id, register_envs  # noqa: E402

register_envs()  # gymnasium.make("demoforge/Stack-v0", ...) where gymnasium is installed (extra: gym)

__all__ = [
    "TASKS",
    "DatagenInfo",
    "Demo",
    "DemoforgeError",
    "GenerateConfig",
    "RunFolder",
    "RunStats",
    "SceneSpec",
    "TaskEnv",
    "__version__",
    "env_id",
    "generate",
    "get_task",
    "make_world",
    "read_demos",
    "record_sources",
    "sample_scene",
    "write_dataset",
]
