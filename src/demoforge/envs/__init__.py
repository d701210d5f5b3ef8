"""Every task as an environment: ``TaskEnv`` (reset, step, success; what ``demoforge eval`` runs) and,
with the optional ``gymnasium``, ``gymnasium.make("demoforge/Stack-v0", ...)`` (``gym_env.py``).

    import gymnasium, demoforge   # importing demoforge registers one id per task
    env = gymnasium.make("demoforge/TwoArmStack-v0", variation="D1", cameras="agentview")
"""

from demoforge.envs.registration import env_id, register_envs
from demoforge.envs.task_env import TaskEnv, episode_rng

__all__ = ["TaskEnv", "env_id", "episode_rng", "register_envs"]
