"""A simulated operator for teleop tests: stacks cube_a on cube_b by watching the stream and pressing keys.

It sees what a person at the page sees (the frame: body poses and the commanded target) and decides which
keys to hold, closed loop, like someone nudging the gripper into place: coarse moves, then fine ones
(Shift), a pause to let the gripper close, a lift, a carry, a careful set-down. The same plan drives the
session directly (no server), a raw WebSocket client, and the real page in a browser; ``HandStackOperator``
follows the same goals with a tracked hand (WebXR: tests/teleop_hands.js moves the emulated hand).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from demoforge.capture.teleop.inputs import WORLD_R_XR

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
    pause: int = 2  # ticks of rest after each goal is reached (a slow person pauses longer)
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
            self.goal = self.next_goal(frame)
            if self.goal is None:  # a gripper action
                self.advance("gripper")
                self.wait = 8
                return [], True
        down = keys_toward(target, self.goal, self.tolerance)
        if not down:
            self.advance(f"reached {np.round(self.goal[:3, 3], 3).tolist()}")
            self.goal = None
            self.wait = self.pause
        return down, False

    def advance(self, note: str) -> None:
        """The current phase is over (``note`` says how): on to the next."""
        self.log.append(f"phase {self.phase}: {note}")
        self.phase += 1

    @property
    def closes(self) -> bool:
        """Whether the current phase's gripper action closes the gripper (it opens it otherwise)."""
        return self.phase == 2

    def next_goal(self, frame: Frame) -> np.ndarray | None:
        """The pose the target goes to in the current phase, from the scene as it is now; None when the phase
        is a gripper action (close in phase 2, open in phase 6)."""
        target = frame.targets[0]
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


Command = dict  # an instruction for the emulated hand (tests/teleop_hands.js: handDriver.apply)


def world_to_xr(v: np.ndarray) -> list[float]:
    """A world vector in the XR reference space's axes (inputs.py maps XR to world with WORLD_R_XR)."""
    return [float(x) for x in WORLD_R_XR.T @ v]


@dataclass
class HandStackOperator:
    """StackOperator's goals reached with a tracked right hand, the way a person would do it.

    The hand starts relaxed and drifts to a comfortable spot (nothing records: the clutch is not held), then
    pinches thumb and middle finger (the clutch) and brings the target to each of the plan's goals, closed loop
    on the target the server streams back; it pauses between moves, closes the gripper by pinching the index
    finger too, and during the carry lets go of the clutch half way, pulls the hand back and takes hold again,
    overshoots the spot above cube_b a little and corrects. Once the demo is kept it lets go.

    ``step`` is called once per control tick seen, with the streamed frame and whether the hand is still busy
    with the last motion or shape change; it returns the commands for the hand (tests/teleop_hands.js).
    """

    tolerance: float = 0.004
    overshoot: float = 0.015  # metres past the spot above cube_b, along the carry
    plan: StackOperator = field(default_factory=StackOperator)
    log: list[str] = field(default_factory=list)
    done: bool = False
    overshot: float = 0.0  # how far past that spot the target actually went (metres)
    regrasped: bool = False
    state_after_free_move: str = ""  # the session's state once the unclutched hand has moved ("ready": not recording)

    def __post_init__(self) -> None:
        self._frame: Frame | None = None
        self._busy = False
        self._script: Iterator[Command | None] = self._stack()
        self._letting_go = False

    def step(self, frame: Frame, busy: bool) -> list[Command]:
        self._frame, self._busy = frame, busy
        if frame.state == "done" and not self._letting_go:  # kept (or ended): let go, start nothing new
            self._letting_go = True
            self._script = self._let_go()
        commands: list[Command] = []
        while not self.done:
            try:
                command = next(self._script)
            except StopIteration:
                self.done = True
                break
            if command is None:
                break
            commands.append(command)
        return commands

    # ---- the script ------------------------------------------------------------------------------
    def _stack(self) -> Iterator[Command | None]:
        plan = self.plan
        yield from pause(6)  # look at the scene
        yield {"move": [0.03, -0.04, 0.05]}  # the hand to a comfortable spot, the clutch not held
        yield from self._settle()
        self.state_after_free_move = self._frame.state
        self.log.append(f"hand placed, the session is {self._frame.state}")
        yield {"shape": "clutch", "frames": 6}  # pinch thumb and middle finger: hold on to the target
        yield from self._settle()
        yield from pause(4)
        pauses = {0: 6, 1: 10, 3: 4, 4: 4, 5: 8, 7: 2}
        while plan.phase <= 7:
            goal = plan.next_goal(self._frame)
            if goal is None:  # pinch the index too (close), or open it again
                yield {"shape": "clutch_grip" if plan.closes else "clutch", "frames": 10}
                yield from self._settle()
                yield from pause(8)
                plan.advance("gripper closed" if plan.closes else "gripper opened")
                continue
            phase = plan.phase
            if phase == 4:
                yield from self._carry(goal)
            else:
                yield from self._reach(goal, self.tolerance)
            plan.advance(f"reached {np.round(goal[:3, 3], 3).tolist()}")
            yield {"hold": True}
            yield from pause(pauses.get(phase, 2))
        yield from self._let_go()

    def _carry(self, goal: np.ndarray) -> Iterator[Command | None]:
        start = self._target()[:3, 3].copy()
        way = goal[:3, 3] - start
        way[2] = 0.0
        length = float(np.linalg.norm(way))
        along = way / length
        past = goal.copy()
        past[:3, 3] += self.overshoot * along
        yield self._track(past)
        while float((self._target()[:3, 3] - start) @ along) < 0.5 * length:
            yield None
        # half way: stop, let go of the clutch (the gripper stays closed), pull the hand back, take hold again
        yield {"hold": True}
        yield from pause(3)
        yield {"shape": "grip", "frames": 5}
        yield from self._settle()
        yield {"move": world_to_xr(-0.08 * along + np.array([0.0, 0.0, -0.02]))}
        yield from self._settle()
        yield from pause(3)
        yield {"shape": "clutch_grip", "frames": 5}
        yield from self._settle()
        self.regrasped = True
        self.log.append(f"regrasped at {np.round(self._target()[:3, 3], 3).tolist()}")
        yield from pause(2)
        yield self._track(past)
        while keys_toward(self._target(), past, 0.006):
            self.overshot = max(self.overshot, float((self._target()[:3, 3] - goal[:3, 3]) @ along))
            yield None
        yield {"hold": True}
        yield from pause(4)
        for _ in range(4):  # the hand was still moving when it stopped
            self.overshot = max(self.overshot, float((self._target()[:3, 3] - goal[:3, 3]) @ along))
            yield None
        self.log.append(f"overshot by {1000 * self.overshot:.1f} mm")
        yield from self._reach(goal, self.tolerance)

    def _let_go(self) -> Iterator[Command | None]:
        yield {"hold": True}
        yield {"shape": "open", "frames": 6}
        yield from self._settle()
        self.log.append("let go")

    # ---- pieces ----------------------------------------------------------------------------------
    def _target(self) -> np.ndarray:
        assert self._frame is not None
        return self._frame.targets[0]

    @staticmethod
    def _track(goal: np.ndarray) -> Command:
        return {"track": [float(v) for v in goal[:3, 3]], "yaw": yaw_of(goal)}

    def _reach(self, goal: np.ndarray, tolerance: float) -> Iterator[Command | None]:
        yield self._track(goal)
        while keys_toward(self._target(), goal, tolerance):
            yield None

    def _settle(self) -> Iterator[None]:
        return settle(lambda: self._busy)


def pause(ticks: int) -> Iterator[None]:
    """A person's pause: ``ticks`` frames with no new command."""
    for _ in range(ticks):
        yield None


def settle(busy: Callable[[], bool]) -> Iterator[None]:
    """Frames until the emulated hand has carried out its last command (``busy`` turns false)."""
    yield None  # the command reaches the hand before it reports busy
    while busy():
        yield None


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


def quat_of(pose: np.ndarray) -> list[float]:
    """A pose's rotation as (x, y, z, w), the order WebXR and the hand driver use."""
    return [float(v) for v in Rotation.from_matrix(pose[:3, :3]).as_quat()]


def rotation_angle(a: np.ndarray, b: np.ndarray) -> float:
    """The angle (rad) between two poses' rotations."""
    return float(np.arccos(np.clip((np.trace(a[:3, :3].T @ b[:3, :3]) - 1.0) / 2.0, -1.0, 1.0)))


@dataclass
class HandPickPlaceOperator:
    """gr1_pick_place with both tracked hands at once, as a person in a headset would do it.

    The robot's palms follow the person's wrists and its fingers the person's (teleop/retarget.py), so each
    hand moves its palm, closed loop on the target streamed back for its arm: over its object, down beside
    it, in against it with the palm facing the robot's midline and fingers forward (the side power grasp of
    the task's expert); then it closes round the object (the wrap shape: fingers and thumb curl), lifts,
    carries it over its mat, sets it down, opens and backs away. The two hands work at the same time, each
    at its own pace. ``step`` is called once per control tick seen, with the streamed frame and whether each
    hand is busy; it returns the commands for the hands (tests/teleop_hands.js), each naming its hand.
    """

    tolerance: float = 0.004  # metres from a precise goal
    turn_tolerance: float = np.radians(3.0)
    careful: float = 0.05  # m/s: how fast a hand moves in against an object, sets it down or backs away
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        from demoforge.tasks.gr1_pick_place import ITEMS

        self._frame: Frame | None = None
        self._busy: dict[str, bool] = {}
        self._scripts = {("right" if arm == 0 else "left"): self._move(arm, item, mat) for item, mat, arm in ITEMS}
        self.finished: set[str] = set()
        self.ticks = 0  # control ticks seen

    def _note(self, hand: str, what: str) -> None:
        self.log.append(f"{self.ticks} {hand}: {what}")

    @property
    def done(self) -> bool:
        return self.finished == set(self._scripts)

    def step(self, frame: Frame, busy: dict[str, bool]) -> list[Command]:
        self._frame, self._busy = frame, busy
        self.ticks += 1
        commands: list[Command] = []
        for hand, script in self._scripts.items():
            while hand not in self.finished:
                try:
                    command = next(script)
                except StopIteration:
                    self.finished.add(hand)
                    break
                if command is None:
                    break
                commands.append({**command, "hand": hand})
        return commands

    # ---- one hand's script -----------------------------------------------------------------------
    def _move(self, arm: int, item: str, mat: str) -> Iterator[Command | None]:
        from demoforge import geometry as geo
        from demoforge.tasks.gr1_pick_place import MAT_HALF
        from demoforge.tasks.objects import upright_cube_rotation

        hand = "right" if arm == 0 else "left"
        yield from pause(4 + 5 * arm)  # the hands do not start together
        yield {"shape": "flat", "frames": 8}  # open the hand wide before reaching round the object
        yield from self._settle(hand)
        grasp = self._grasp_pose(arm, item)
        outward = -grasp[:3, 2]  # away from the palm's face
        beside = grasp.copy()
        beside[:3, 3] += 0.075 * outward
        above = beside.copy()
        above[2, 3] = self._frame.bodies[item][2, 3] + _half_height(item) + 0.075
        yield from self._reach(arm, above, 0.01)
        yield from self._reach(arm, beside, 0.005)
        yield from self._reach(arm, self._grasp_pose(arm, item), self.tolerance, self.careful)
        self._note(hand, f"at the {item}")
        yield {"hold": True}
        yield from pause(3)
        yield {"shape": "wrap", "frames": 10}
        yield from self._settle(hand)
        yield from pause(8)
        lift = self._target(arm).copy()
        lift[2, 3] += 0.085
        yield from self._reach(arm, lift, 0.006)
        self._note(hand, f"lifted the {item} to {self._frame.bodies[item][2, 3]:.3f} m")
        for clearance, tolerance in ((0.05, 0.006), (0.004, self.tolerance), (0.004, self.tolerance)):
            # over the mat, then on it, set upright (closing the hand tips a tall thing a little): the held
            # object moves with the palm
            held, on = self._frame.bodies[item], self._frame.bodies[mat]
            world_T_goal = geo.make_pose(on[:3, 3] + [0.0, 0.0, MAT_HALF[2] + _half_height(item) + clearance],
                                         upright_cube_rotation(held, on))
            yield from self._reach(arm, world_T_goal @ geo.invert(held) @ self._target(arm), tolerance,
                                   None if clearance > 0.01 else self.careful)
            self._note(hand, f"the {item} {self._off(item, mat):.3f} m from its mat's centre, "
                             f"{self._frame.bodies[item][2, 3] - self._frame.bodies[mat][2, 3]:.3f} m above it")
        yield {"hold": True}
        yield from pause(6)
        yield {"shape": "flat", "frames": 10}
        yield from self._settle(hand)
        yield from pause(14)  # the robot's fingers are slow to open
        self._note(hand, f"let go of the {item} {self._off(item, mat):.3f} m from its mat's centre")
        back = self._target(arm).copy()
        back[:3, 3] += 0.06 * outward
        yield from self._reach(arm, back, 0.006, self.careful)
        up = back.copy()
        up[2, 3] += 0.05
        yield from self._reach(arm, up, 0.01)
        yield {"hold": True}
        self._note(hand, "done")

    def _grasp_pose(self, arm: int, item: str) -> np.ndarray:
        """The task expert's side grasp of ``item``, from the pose the operator sees."""
        from demoforge.tasks.gr1_pick_place import BOX_HALF, CAN_RADIUS, GRASP_HEIGHT, _half_width_along
        from demoforge.tasks.hands import side_grasp

        pose = self._frame.bodies[item]
        axis = pose[:3, 3] + [0.0, 0.0, GRASP_HEIGHT - _half_height(item)]
        inward = np.array([0.0, 1.0 if arm == 0 else -1.0, 0.0])
        radius = CAN_RADIUS if item == "can" else _half_width_along(pose, BOX_HALF, inward)
        return side_grasp(axis, [1.0, 0.0, 0.0], inward, radius)

    # ---- pieces ----------------------------------------------------------------------------------
    def _target(self, arm: int) -> np.ndarray:
        assert self._frame is not None
        return self._frame.targets[arm]

    def _off(self, item: str, mat: str) -> float:
        """How far (m) ``item`` is from its mat's centre, horizontally."""
        return float(np.linalg.norm(self._frame.bodies[item][:2, 3] - self._frame.bodies[mat][:2, 3]))

    def _reach(self, arm: int, goal: np.ndarray, tolerance: float, speed: float | None = None
               ) -> Iterator[Command | None]:
        """Track ``goal`` until the target is there; at ``speed`` (m/s) when given, else the hand's own."""
        yield {"track": [float(v) for v in goal[:3, 3]], "quat": quat_of(goal),
               **({"speed": speed} if speed else {})}
        while (np.linalg.norm(goal[:3, 3] - self._target(arm)[:3, 3]) > tolerance
               or rotation_angle(goal, self._target(arm)) > self.turn_tolerance):
            yield None

    def _settle(self, hand: str) -> Iterator[None]:
        return settle(lambda: self._busy.get(hand, False))


def _half_height(item: str) -> float:
    """How far above the table an upright ``item`` of gr1_pick_place has its centre."""
    from demoforge.tasks.gr1_pick_place import BOX_HALF, CAN_HALF_H

    return CAN_HALF_H if item == "can" else BOX_HALF[2]
