"""Retargeting a person's hand onto a dexterous robot hand, from hand poses recorded by a tracked hand (IWER's
relaxed, point and pinch poses) and from the same hands moved, turned and mirrored; and the targets drive
GR1's Fourier hand into the matching shape."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import mujoco
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from demoforge.capture.teleop.retarget import DIGITS, fractions, targets
from demoforge.sim.gr1 import gr1_spec, hand_actuators, hand_joint

ROOT = Path(__file__).resolve().parents[1]
WEBXR_ORDER = ["wrist"] + [f"thumb-{j}" for j in ("metacarpal", "phalanx-proximal", "phalanx-distal", "tip")] + [
    f"{f}-finger-{j}" for f in ("index", "middle", "ring", "pinky")
    for j in ("metacarpal", "phalanx-proximal", "phalanx-intermediate", "phalanx-distal", "tip")]


@pytest.fixture(scope="module")
def recorded() -> dict[str, np.ndarray]:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "iwer").exists():
        pytest.fail("node and IWER are needed (make setup runs npm ci)")
    out = subprocess.run(["node", str(ROOT / "tests" / "iwer_hand_poses.mjs")], capture_output=True, text=True,
                         cwd=ROOT, timeout=60, check=True).stdout
    poses = {}
    for name, joints in json.loads(out).items():
        assert [j for j, _ in joints] == WEBXR_ORDER
        poses[name] = np.array([p for _, p in joints])
    return poses


def test_recorded_hands_read_as_their_shapes(recorded: dict[str, np.ndarray]) -> None:
    f = {name: dict(zip(DIGITS, fractions(p))) for name, p in recorded.items()}
    relaxed, point, pinch = f["relaxed"], f["point"], f["pinch"]
    assert all(relaxed[d] < 0.2 for d in DIGITS), relaxed  # a relaxed hand is (nearly) open
    assert point["index"] < 0.15 and all(point[d] > 0.7 for d in ("middle", "ring", "pinky")), point
    assert pinch["index"] > 0.45 and pinch["thumb_yaw"] > 0.5, pinch  # index bent, thumb across to meet it
    assert pinch["index"] > max(pinch["ring"], pinch["pinky"]) + 0.3 and point["thumb_yaw"] < 0.2, (pinch, point)


def test_the_same_hand_anywhere_turned_or_mirrored_gives_the_same_fractions(recorded: dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(0)
    for joints in recorded.values():
        moved = Rotation.random(random_state=rng).apply(joints) + rng.uniform(-2, 2, 3)
        mirrored = joints * [-1.0, 1.0, 1.0]  # the other hand
        assert np.allclose(fractions(moved), fractions(joints), atol=1e-9)
        assert np.allclose(fractions(mirrored), fractions(joints), atol=1e-9)


def test_bad_joint_arrays_are_refused() -> None:
    with pytest.raises(ValueError, match="25"):
        fractions(np.zeros((24, 3)))
    bad = np.zeros((25, 3))
    bad[3, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        fractions(bad)


def test_the_targets_shape_gr1s_fourier_hand(recorded: dict[str, np.ndarray]) -> None:
    model = gr1_spec().compile()
    ids = [model.actuator(a).id for a in hand_actuators("right")]
    ranges = model.actuator_ctrlrange[ids]
    for name, joints in recorded.items():
        data = mujoco.MjData(model)
        goal = targets(joints, ranges)
        assert np.all(goal >= ranges[:, 0]) and np.all(goal <= ranges[:, 1])
        data.ctrl[ids] = goal
        for _ in range(500):  # 1 s
            mujoco.mj_step(model, data)
        index = data.qpos[model.joint(hand_joint("right", "index_proximal_joint")).qposadr[0]]
        ring = data.qpos[model.joint(hand_joint("right", "ring_proximal_joint")).qposadr[0]]
        expected = goal[DIGITS.index("index")], goal[DIGITS.index("ring")]
        assert abs(index - expected[0]) < 0.05 and abs(ring - expected[1]) < 0.05, (name, index, ring, expected)


def _xr_hand(joints: np.ndarray, hand: str, shift: tuple[float, float, float]) -> dict:
    """A WebXR hand message from recorded joint positions, moved by ``shift`` (XR frame, metres)."""
    poses = [[*(p + shift), 0.0, 0.0, 0.0, 1.0] for p in joints]
    return {"type": "hand", "hand": hand, "joints": poses}


def test_on_gr1_a_persons_hand_drives_the_wrist_and_every_finger(recorded: dict[str, np.ndarray], tmp_path: Path) -> None:
    """Teleop of a dexterous robot: no pinch clutch (the pinch is the robot's); the tracked wrist moves the palm,
    the six finger fractions become the recorded hand command, and the robot hand takes the shape."""
    from demoforge.capture.teleop.inputs import INPUT_MESSAGE
    from demoforge.capture.teleop.session import TeleopSession
    from demoforge.data.hdf5 import read_demos

    session = TeleopSession("gr1_pick_place", tmp_path / "src.hdf5", seed=0)
    env = session.world.env
    start = env.eef_pose(0)
    pinch = recorded["pinch"] - recorded["pinch"][0]  # wrist at the origin of the shifts below
    for step in range(30):  # the right hand moves 6 cm forward (XR -z) in the pinch shape, the left stays relaxed
        session.submit(INPUT_MESSAGE.validate_python(_xr_hand(pinch, "right", (0.0, 1.2, -0.4 - 0.002 * step))))
        session.submit(INPUT_MESSAGE.validate_python(_xr_hand(recorded["relaxed"], "left", (0.0, 0.0, 0.0))))
        session.tick()
    command = 2.0 * fractions(recorded["pinch"]) - 1.0
    assert np.allclose(session.mapper.grippers[0], command) and np.allclose(session.mapper.grippers[1], 2.0 * fractions(recorded["relaxed"]) - 1.0)
    moved = env.eef_pose(0)[:3, 3] - start[:3, 3]
    assert 0.045 < moved[0] < 0.065 and abs(moved[1]) < 0.01 and abs(moved[2]) < 0.01, moved
    index = env.data.qpos[env.model.joint("gr1_" + hand_joint("right", "index_proximal_joint")).qposadr[0]]
    lo, hi = env.model.actuator_ctrlrange[env.model.actuator("gr1_right_hand_index").id]
    assert index == pytest.approx(lo + (command[2] + 1) / 2 * (hi - lo), abs=0.1)
    session.submit(INPUT_MESSAGE.validate_python({"type": "command", "name": "stop"}))
    session.tick()
    assert session.kept == 0  # stopped before success: discarded, nothing written
    assert not (tmp_path / "src.hdf5").exists() or read_demos(tmp_path / "src.hdf5", require_datagen=False) == []


def test_on_a_hand_robot_keys_and_a_controller_trigger_close_the_whole_hand() -> None:
    from demoforge.capture.teleop.inputs import INPUT_MESSAGE, InputMapper

    mapper = InputMapper(["right", "left"], [np.eye(4), np.eye(4)], [6, 6])
    assert all(np.array_equal(g, -np.ones(6)) for g in mapper.grippers)
    mapper.apply(INPUT_MESSAGE.validate_python({"type": "keys", "down": ["Space"]}))
    assert np.array_equal(mapper.grippers[0], np.ones(6)) and np.array_equal(mapper.grippers[1], -np.ones(6))
    pose = [0.0, 1.2, -0.4, 0.0, 0.0, 0.0, 1.0]
    mapper.apply(INPUT_MESSAGE.validate_python({"type": "controller", "hand": "left", "pose": pose, "squeeze": 1.0,
                                                "trigger": 0.75}))
    assert np.allclose(mapper.grippers[1], np.full(6, 0.5))
