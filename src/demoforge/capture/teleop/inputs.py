"""What a teleop page sends, checked, and how it moves each arm's end-effector target and command.

Messages are typed (pydantic): anything malformed, non-finite or out of range is refused before it can
reach the simulation. ``InputMapper`` turns the accepted stream into, per arm, a target pose in the world
frame and a gripper command in [-1, 1] (-1 open, +1 closed), one control tick at a time; the same
messages in the same order at the same ticks give the same targets (``--replay-input`` relies on it).

Frames. WebXR's reference space is y up, -z forward, metres, quaternions (x, y, z, w). The operator is
taken to stand behind the robot looking along the world's +x (the robot's forward), so XR -z is world
+x, XR -x (left) is world +y, and XR +y is world +z: ``WORLD_R_XR`` below. Only relative hand motion
is used (a clutch), so where the operator stands does not matter.

Inputs:
- hand tracking (25 joints per hand): pinching thumb and *middle* finger engages the clutch (the hand's
  motion then moves the target; letting go leaves the target where it is, so the hand can be
  repositioned); while engaged, the thumb-index distance drives the gripper (2 cm closed, 7 cm open);
- controllers: squeeze (grip) engages, the trigger closes the gripper;
- keyboard: W/S forward/back, A/D left/right, E/Q up/down, J/L yaw, I/K pitch, U/O roll (world axes);
  Space toggles the gripper; Shift moves finely; Tab or 1..9 choose the arm the keys drive;
- mouse: Ctrl+drag moves the target in the horizontal plane (the page turns the drag into metres along
  the view's heading), Ctrl+wheel up/down, Alt+drag yaw; plain drag and wheel orbit and zoom the view;
- gamepad (standard mapping): left stick in the horizontal plane, right stick up/down and yaw, A toggles
  the gripper, LB/RB choose the arm.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from demoforge import geometry as geo
from demoforge.capture.teleop import retarget

# XR reference space -> world (columns: the world images of XR's x, y, z axes).
WORLD_R_XR = np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])

CONTROL_DT = 0.05  # seconds per control tick (20 Hz)
KEY_SPEED = 0.10  # m/s of the target under a held key (Shift: FINE times that)
KEY_TURN = 0.6  # rad/s
FINE = 0.25
STICK_DEADZONE = 0.15
CLUTCH_ON = 0.025  # m thumb-middle distance that engages a hand's clutch ...
CLUTCH_OFF = 0.04  # ... and that releases it (hysteresis, so a trembling pinch does not chatter)
GRIP_CLOSED = 0.02  # m thumb-index distance read as a closed gripper ...
GRIP_OPEN = 0.07  # ... and as an open one (linear in between)
MAX_COORD = 10.0  # metres: no tracked pose is this far from the reference space's origin
MAX_DRAG = 0.05  # m per axis and message of a mouse drag (the page sends one per animation frame) ...
MAX_DRAG_YAW = 0.3  # ... and rad of yaw

# Indices of WebXR hand joints (XRHand order: wrist, thumb x4, index x5, middle x5, ring x5, pinky x5).
WRIST, THUMB_TIP, INDEX_TIP, MIDDLE_TIP = 0, 4, 9, 14
NUM_JOINTS = 25

Number = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_COORD, le=MAX_COORD)]
Unit = Annotated[float, Field(allow_inf_nan=False, ge=0.0, le=1.0)]
Axis = Annotated[float, Field(allow_inf_nan=False, ge=-1.0, le=1.0)]
Handedness = Literal["left", "right"]
DragStep = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_DRAG, le=MAX_DRAG)]


class _Message(BaseModel):
    """``seq``: the page's running number of the message, echoed back as ``ack`` in frames (latency)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    seq: Annotated[int, Field(ge=0, le=2**53)] | None = None


def _check_pose(values: list[float]) -> list[float]:
    """(x, y, z, qx, qy, qz, qw): a position and a unit quaternion (any norm near 1 is accepted)."""
    if len(values) != 7:
        raise ValueError(f"a pose is 7 numbers (x, y, z, qx, qy, qz, qw), got {len(values)}")
    norm = math.sqrt(sum(q * q for q in values[3:]))
    if not 0.5 < norm < 1.5:
        raise ValueError(f"the quaternion has norm {norm:.3g}; expected a unit quaternion")
    return values


class HandFrame(_Message):
    """One tracked hand: ``joints`` holds 25 poses (x, y, z, qx, qy, qz, qw) in the XR reference space."""

    type: Literal["hand"]
    hand: Handedness
    joints: list[list[Number]] = Field(min_length=NUM_JOINTS, max_length=NUM_JOINTS)

    @field_validator("joints")
    @classmethod
    def _poses(cls, joints: list[list[float]]) -> list[list[float]]:
        return [_check_pose(j) for j in joints]


class ControllerFrame(_Message):
    """One tracked controller: its grip pose (XR reference space), squeeze and trigger values in [0, 1]."""

    type: Literal["controller"]
    hand: Handedness
    pose: list[Number]
    squeeze: Unit
    trigger: Unit

    @field_validator("pose")
    @classmethod
    def _pose(cls, pose: list[float]) -> list[float]:
        return _check_pose(pose)


class HandLost(_Message):
    """A hand or controller stopped being tracked: its clutch lets go."""

    type: Literal["lost"]
    hand: Handedness


class Keys(_Message):
    """The keys held down now (``KeyboardEvent.code`` values); sent whenever the set changes."""

    type: Literal["keys"]
    down: list[Annotated[str, Field(max_length=24)]] = Field(max_length=32)


class Gamepad(_Message):
    """A standard-mapping gamepad's axes and buttons now."""

    type: Literal["gamepad"]
    axes: list[Axis] = Field(max_length=8)
    buttons: list[Unit] = Field(max_length=32)


class Drag(_Message):
    """A mouse drag since the last one: ``move`` (m, world axes) and ``yaw`` (rad about world z) of the active
    arm's target; the page converts pixels to metres along its view."""

    type: Literal["drag"]
    move: tuple[DragStep, DragStep, DragStep]
    yaw: Annotated[float, Field(allow_inf_nan=False, ge=-MAX_DRAG_YAW, le=MAX_DRAG_YAW)] = 0.0


class Command(_Message):
    """A session command: stop (and judge) the demo, discard it, drop the last kept one, take over the
    driving of the session from another tab, end the session; ``disconnect`` is what the server logs when
    the driving tab goes away (its demo in progress is discarded)."""

    type: Literal["command"]
    name: Literal["stop", "discard", "discard_last", "take_control", "quit", "disconnect"]


InputMessage = Annotated[HandFrame | ControllerFrame | HandLost | Keys | Gamepad | Drag | Command,
                         Field(discriminator="type")]
INPUT_MESSAGE = TypeAdapter(InputMessage)


def xr_pose_to_world_rot(pose: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """(position, rotation) of an XR pose (x, y, z, qx, qy, qz, qw), both expressed in world axes."""
    pos = WORLD_R_XR @ np.asarray(pose[:3], dtype=float)
    quat_wxyz = geo.xyzw_to_wxyz(np.asarray(pose[3:], dtype=float))
    rot = WORLD_R_XR @ geo.quat_to_mat(quat_wxyz / np.linalg.norm(quat_wxyz)) @ WORLD_R_XR.T
    return pos, rot


class Clutch:
    """Relative motion while engaged: the target moves as the hand moves since it engaged, and turns as it
    turned (both in world axes); released, the target stays and the hand may move freely."""

    def __init__(self) -> None:
        self.engaged = False
        self._hand0: tuple[np.ndarray, np.ndarray] | None = None
        self._target0: np.ndarray | None = None

    def update(self, engaged: bool, hand_pos: np.ndarray, hand_rot: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The new target for a hand now at (``hand_pos``, ``hand_rot``), given whether it is engaged."""
        if engaged and not self.engaged:
            self._hand0, self._target0 = (hand_pos, hand_rot), target.copy()
        self.engaged = engaged
        if not engaged or self._hand0 is None or self._target0 is None:
            return target
        pos0, rot0 = self._hand0
        new = self._target0.copy()
        new[:3, 3] += hand_pos - pos0
        new[:3, :3] = hand_rot @ rot0.T @ self._target0[:3, :3]
        return new

    def release(self) -> None:
        self.engaged = False


def _distance(joints: list[list[float]], a: int, b: int) -> float:
    return math.dist(joints[a][:3], joints[b][:3])


def pinch_to_gripper(distance: float) -> float:
    """Thumb-index distance (m) -> gripper command: +1 closed at ``GRIP_CLOSED``, -1 open at ``GRIP_OPEN``."""
    g = (GRIP_OPEN - distance) / (GRIP_OPEN - GRIP_CLOSED)
    return float(np.clip(2.0 * g - 1.0, -1.0, 1.0))


KEY_MOVES = {  # key -> (world axis, sign) for translation
    "KeyW": (0, 1.0), "KeyS": (0, -1.0), "KeyA": (1, 1.0), "KeyD": (1, -1.0), "KeyE": (2, 1.0), "KeyQ": (2, -1.0),
}
KEY_TURNS = {  # key -> (world axis, sign) for rotation of the target about its own position
    "KeyJ": (2, 1.0), "KeyL": (2, -1.0), "KeyI": (1, 1.0), "KeyK": (1, -1.0), "KeyU": (0, 1.0), "KeyO": (0, -1.0),
}


class InputMapper:
    """Per-arm targets and gripper commands from the accepted input stream.

    ``apply`` takes messages in arrival order; ``tick`` advances the held-key and stick motions by one
    control period. ``moved`` turns True at the first input that changes a target or a gripper (teleop
    starts recording then). Arms are matched to hands by name (``left``/``right``); a single arm
    follows either hand.
    """

    def __init__(self, arm_names: list[str], world_T_eefs: list[np.ndarray], hand_widths: list[int] | None = None) -> None:
        self.arm_names = list(arm_names)
        self.targets = [np.array(p, dtype=float) for p in world_T_eefs]
        # per arm: 0 for a gripper (one command), else a dexterous hand's actuator count (one command each)
        self.hand_widths = list(hand_widths or [0] * len(self.targets))
        self.grippers: list[float | np.ndarray] = [self._command(arm, -1.0) for arm in range(len(self.targets))]
        self.active = 0  # the arm keys and gamepad drive
        self.moved = False
        self._clutch = {"left": Clutch(), "right": Clutch()}
        self._keys: frozenset[str] = frozenset()
        self._pad_axes: tuple[float, ...] = ()
        self._pad_buttons: tuple[float, ...] = ()

    def arm_of(self, hand: str) -> int | None:
        """The arm a hand drives: the arm of that name, or the only arm."""
        if len(self.arm_names) == 1:
            return 0
        return self.arm_names.index(hand) if hand in self.arm_names else None

    # ---- messages -------------------------------------------------------------------------------
    def apply(self, msg: HandFrame | ControllerFrame | HandLost | Keys | Gamepad | Drag) -> None:
        if isinstance(msg, HandFrame):
            arm = self.arm_of(msg.hand)
            if arm is not None and self.hand_widths[arm]:
                # a dexterous robot hand: the wrist follows while the hand is tracked, every finger follows the
                # person's (retarget.py); a pinch would be the robot's pinch, so it cannot be the clutch
                fingers = 2.0 * retarget.fractions(np.asarray(msg.joints, dtype=float)[:, :3]) - 1.0
                self._follow(msg.hand, msg.joints[WRIST], True, fingers)
                return
            engaged = self._hand_engaged(msg)
            grip = pinch_to_gripper(_distance(msg.joints, THUMB_TIP, INDEX_TIP)) if engaged else None
            self._follow(msg.hand, msg.joints[WRIST], engaged, grip)
        elif isinstance(msg, ControllerFrame):
            self._follow(msg.hand, msg.pose, msg.squeeze > 0.5, 2.0 * msg.trigger - 1.0)
        elif isinstance(msg, HandLost):
            self._clutch[msg.hand].release()
        elif isinstance(msg, Keys):
            self._keys_changed(frozenset(msg.down))
        elif isinstance(msg, Gamepad):
            self._pad_changed(tuple(msg.axes), tuple(msg.buttons))
        elif isinstance(msg, Drag):
            self._nudge(self.active, np.array(msg.move), np.array([0.0, 0.0, msg.yaw]))

    def _hand_engaged(self, msg: HandFrame) -> bool:
        d = _distance(msg.joints, THUMB_TIP, MIDDLE_TIP)
        return d < (CLUTCH_OFF if self._clutch[msg.hand].engaged else CLUTCH_ON)

    def _follow(self, hand: str, pose: list[float], engaged: bool, grip: float | np.ndarray | None) -> None:
        arm = self.arm_of(hand)
        if arm is None:
            return
        clutch = self._clutch[hand]
        pos, rot = xr_pose_to_world_rot(pose)
        before = self.targets[arm]
        self.targets[arm] = clutch.update(engaged, pos, rot, before)
        if clutch.engaged and not np.array_equal(before, self.targets[arm]):
            self.moved = True
        if grip is not None and np.ndim(grip) == 0:
            grip = self._command(arm, grip)  # a trigger closes every finger of a hand at once
        if grip is not None and not np.array_equal(grip, self.grippers[arm]):
            self.grippers[arm] = grip
            self.moved = True

    def _keys_changed(self, down: frozenset[str]) -> None:
        pressed = down - self._keys
        self._keys = down
        if "Space" in pressed:
            self._toggle_gripper(self.active)
        if "Tab" in pressed:
            self.active = (self.active + 1) % len(self.targets)
        for key in pressed:
            if key.startswith("Digit") and key[5:].isdigit() and 1 <= int(key[5:]) <= len(self.targets):
                self.active = int(key[5:]) - 1

    def _pad_changed(self, axes: tuple[float, ...], buttons: tuple[float, ...]) -> None:
        def pressed(i: int) -> bool:
            was = self._pad_buttons[i] > 0.5 if i < len(self._pad_buttons) else False
            return i < len(buttons) and buttons[i] > 0.5 and not was

        if pressed(0):
            self._toggle_gripper(self.active)
        if pressed(4):
            self.active = (self.active - 1) % len(self.targets)
        if pressed(5):
            self.active = (self.active + 1) % len(self.targets)
        self._pad_axes, self._pad_buttons = axes, buttons

    def _command(self, arm: int, value: float) -> float | np.ndarray:
        """``value`` as ``arm``'s end-effector command: a gripper's float, or the same target for every actuator."""
        width = self.hand_widths[arm]
        return np.full(width, float(value)) if width else float(value)

    def _toggle_gripper(self, arm: int) -> None:
        """Close an open gripper or hand (a hand makes a fist), open a closed one."""
        closed = float(np.max(self.grippers[arm])) >= 0
        self.grippers[arm] = self._command(arm, -1.0 if closed else 1.0)
        self.moved = True

    # ---- one control period ---------------------------------------------------------------------
    def tick(self) -> None:
        """Move the active arm's target by the held keys and the gamepad's sticks for one control period."""
        move, turn = np.zeros(3), np.zeros(3)
        scale = FINE if ("ShiftLeft" in self._keys or "ShiftRight" in self._keys) else 1.0
        for key in self._keys:
            if key in KEY_MOVES:
                axis, sign = KEY_MOVES[key]
                move[axis] += sign
            elif key in KEY_TURNS:
                axis, sign = KEY_TURNS[key]
                turn[axis] += sign
        axes = [a if abs(a) > STICK_DEADZONE else 0.0 for a in self._pad_axes] + [0.0] * (4 - len(self._pad_axes))
        move += [-axes[1], -axes[0], -axes[3]]  # stick up is negative: forward, left, up
        turn[2] += -axes[2]
        if move.any() or turn.any():
            self._nudge(self.active, np.clip(move, -1.0, 1.0) * KEY_SPEED * scale * CONTROL_DT,
                        np.clip(turn, -1.0, 1.0) * KEY_TURN * scale * CONTROL_DT)

    def _nudge(self, arm: int, move: np.ndarray, angle: np.ndarray) -> None:
        """Move ``arm``'s target by ``move`` (m) and turn it by the axis-angle ``angle`` (rad), in world axes."""
        target = self.targets[arm].copy()
        target[:3, 3] += move
        target[:3, :3] = geo.axisangle_to_mat(angle) @ target[:3, :3]
        self.targets[arm] = target
        self.moved = True
