"""Gymnasium ids of the built-in tasks (``stack`` -> ``demoforge/Stack-v0``), registered without
importing Gymnasium where it is not installed."""

from __future__ import annotations

from demoforge.tasks import TASKS

NAMESPACE = "demoforge"
VERSION = 0
ENTRY_POINT = "demoforge.envs.gym_env:DemoforgeEnv"


def env_id(task: str) -> str:
    """``two_arm_stack`` -> ``demoforge/TwoArmStack-v0``."""
    return f"{NAMESPACE}/{''.join(part.capitalize() for part in task.split('_'))}-v{VERSION}"


def register_envs() -> list[str]:
    """Register one Gymnasium id per task in ``TASKS`` (again: no-op); returns the ids, none without gymnasium."""
    try:
        import gymnasium
    except ImportError:
        return []
    ids = []
    for name, task in TASKS.items():
        ids.append(env_id(name))
        if ids[-1] not in gymnasium.registry:
            gymnasium.register(id=ids[-1], entry_point=ENTRY_POINT, kwargs={"task": name},
                               max_episode_steps=task.max_steps)
    return ids
