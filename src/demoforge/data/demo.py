"""The in-memory demo: everything one episode stores, as arrays indexed by control step.

Field names and shapes follow the robomimic layout (see docs/formats.md); ``DatagenInfo`` is what the
generator needs to re-use a demo as a source.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class DatagenInfo:
    """Per-step data the generator reads: poses are (T, 4, 4) world-frame matrices."""

    eef_pose: np.ndarray  # measured end-effector pose before the step's action; (T, arms, 4, 4) beyond one arm
    target_pose: np.ndarray  # intended target of the step (before action noise); likewise
    gripper_action: np.ndarray  # (T, k) end-effector command, -1 open .. +1 closed; (T, arms, k) beyond one arm
    object_poses: dict[str, np.ndarray]
    subtask_term_signals: dict[str, np.ndarray]  # (T,) int8, 1 where the signal holds

    def __len__(self) -> int:
        return len(self.eef_pose)

    @property
    def num_arms(self) -> int:
        """1 for robomimic's one-arm shapes (T, 4, 4); else the arm axis of (T, arms, 4, 4)."""
        return 1 if self.eef_pose.ndim == 3 else self.eef_pose.shape[1]

    def arm(self, index: int) -> ArmTrack:
        """One arm's poses and end-effector command, (T, 4, 4) and (T, k), whatever the number of arms."""
        if self.num_arms == 1:
            if index != 0:
                raise IndexError(f"arm {index} of a one-arm demo")
            return ArmTrack(self.eef_pose, self.target_pose, self.gripper_action)
        return ArmTrack(self.eef_pose[:, index], self.target_pose[:, index], self.gripper_action[:, index])


@dataclass(frozen=True)
class ArmTrack:
    """One arm's part of ``DatagenInfo`` (views, not copies)."""

    eef_pose: np.ndarray  # (T, 4, 4)
    target_pose: np.ndarray  # (T, 4, 4)
    gripper_action: np.ndarray  # (T, k): a gripper's one command or a hand's one per actuator


@dataclass
class Demo:
    """One episode. ``states[t]`` is the full physics state at which ``actions[t]`` was applied."""

    actions: np.ndarray  # (T, 6 + k per arm) normalised delta-pose action (each arm's base frame), eef command
    actions_abs: np.ndarray  # (T, 6 + k per arm) executed absolute target: position (m), axis-angle (rad), eef
    states: np.ndarray  # (T, S) mj_getState(mjSTATE_FULLPHYSICS)
    rewards: np.ndarray  # (T,) 1.0 where the task's success predicate holds after the step
    dones: np.ndarray  # (T,) 1 on the last step
    obs: dict[str, np.ndarray]
    datagen: DatagenInfo
    model_file: str  # exact MJCF of the scene
    scene: str = "{}"  # SceneSpec JSON (the fixed task scene until scene variation lands)
    source: list[int] = field(default_factory=list)  # source demo index used for each subtask
    meta: dict = field(default_factory=dict)  # attempt index, seed, success, failure reason, ...

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def success(self) -> bool:
        return bool(self.meta.get("success", False))
