"""A simulated operator for teleop tests: stacks cube_a on cube_b by watching the stream and pressing keys.

It sees what a person at the page sees (the frame: body poses and the commanded target) and decides which
keys to hold, closed loop, like someone nudging the gripper into place: coarse moves, then fine ones
(Shift), a pause to let the gripper close, a lift, a carry, a careful set-down. The same plan drives the
session directly (no server), a raw WebSocket client, and the real page in a browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

CUBE_HALF = 0.02  # metres: stack's cubes (tasks/stack.py add_cubes)
GRIPPER_DOWN = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])


def pose_from(flat: list[float]) -> np.ndarray:
    """(x, y, z, qx, qy, qz, qw) -> 4x4."""
    pose = np.eye(4)
    pose[:3, 3] = flat[:3]
    pose[:3, :3] = Rotation.from_quat(flat[3:7]).as_matrix()
    return pose


def yaw_of(pose: np.ndarray) -> float:
    return float(np.arctan2(pose[1, 0], pose[0, 0]))


def wrap(angle: float, period: float = 2 * np.pi) -> float:
    return (angle + period / 2) % period - period / 2


@dataclass
class Frame:
    """What the operator sees: each body's pose by name, each arm's target and gripper command."""

    bodies: dict[str, np.ndarray]
    targets: list[np.ndarray]
    grippers: list[float]
    state: str

    @classmethod
    def of(cls, scene: dict, frame: dict) -> Frame:
        flat = frame["bodies"]
        bodies = {b["name"]: pose_from(flat[7 * i : 7 * i + 7]) for i, b in enumerate(scene["bodies"])}
        return cls(bodies, [pose_from(t) for t in frame["targets"]], list(frame["grippers"]), frame["state"])


@dataclass
class StackOperator:
    """Keys to hold next, given the latest frame; ``done`` once the cube is released and the hand lifted."""

    tolerance: float = 0.003
    phase: int = 0
    wait: int = 0
    goal: np.ndarray | None = None
    grasp_yaw: float = 0.0
    log: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.phase >= 7

    def keys(self, frame: Frame) -> tuple[list[str], bool]:
        """(keys to hold, whether to tap Space now)."""
        target = frame.targets[0]
        if self.wait > 0:
            self.wait -= 1
            return [], False
        if self.goal is None:
            self.goal = self._goal(frame, target)
            if self.goal is None:  # a gripper action
                self.phase += 1
                self.wait = 8
                self.log.append(f"phase {self.phase - 1}: gripper")
                return [], True
        down = keys_toward(target, self.goal, self.tolerance)
        if not down:
            self.log.append(f"phase {self.phase}: reached {np.round(self.goal[:3, 3], 3).tolist()}")
            self.phase += 1
            self.goal = None
            self.wait = 2
        return down, False

    def _goal(self, frame: Frame, target: np.ndarray) -> np.ndarray | None:
        a, b = frame.bodies["cube_a"], frame.bodies["cube_b"]
        if self.phase in (0, 1):  # above cube_a, then down to it, fingers across a face
            yaw = yaw_of(target) + wrap(yaw_of(a) - yaw_of(target), np.pi / 2)
            self.grasp_yaw = yaw
            goal = _top_down(a[:3, 3], yaw)
            goal[2, 3] += 0.08 if self.phase == 0 else 0.0
            return goal
        if self.phase == 2:
            return None  # close
        if self.phase == 3:  # lift
            goal = target.copy()
            goal[2, 3] += 0.12
            return goal
        if self.phase in (4, 5):  # over cube_b, turned so the held cube lines up with it, then set down
            turn = wrap(yaw_of(b) - yaw_of(a), np.pi / 2)
            goal = _top_down(b[:3, 3], yaw_of(target) + turn)
            goal[2, 3] += 2 * CUBE_HALF + (0.06 if self.phase == 4 else 0.008)
            return goal
        if self.phase == 6:
            return None  # open
        goal = target.copy()
        goal[2, 3] += 0.08
        return goal


def _top_down(position: np.ndarray, yaw: float) -> np.ndarray:
    pose = np.eye(4)
    c, s = np.cos(yaw), np.sin(yaw)
    pose[:3, :3] = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ GRIPPER_DOWN
    pose[:3, 3] = position
    return pose


def keys_toward(target: np.ndarray, goal: np.ndarray, tolerance: float) -> list[str]:
    """The keys that move ``target`` toward ``goal`` (world axes), with Shift once close; none when there."""
    err = goal[:3, 3] - target[:3, 3]
    down = []
    for axis, (pos, neg) in enumerate((("KeyW", "KeyS"), ("KeyA", "KeyD"), ("KeyE", "KeyQ"))):
        if err[axis] > tolerance:
            down.append(pos)
        elif err[axis] < -tolerance:
            down.append(neg)
    yaw_err = wrap(yaw_of(goal) - yaw_of(target))
    if yaw_err > 0.03:
        down.append("KeyJ")
    elif yaw_err < -0.03:
        down.append("KeyL")
    if down and np.max(np.abs(err)) < 0.015 and abs(yaw_err) < 0.08:
        down.append("ShiftLeft")
    return down
