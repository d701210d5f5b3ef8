"""Teleop without a browser: the session records what an operator does, keeps only successes, appends them
atomically, and its log replays the session exactly; input is checked and mapped as documented."""

from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
from pydantic import ValidationError

import demoforge as df
from demoforge.capture.teleop.inputs import (
    CONTROL_DT, INPUT_MESSAGE, NUM_JOINTS, WORLD_R_XR, Command, InputMapper, Keys, pinch_to_gripper,
)
from demoforge.capture.teleop.server import frame_of
from demoforge.capture.teleop.session import KEEP_AFTER_S, TeleopSession, read_log, replay_log
from demoforge.sim.web_scene import body_ids, describe
from teleop_driver import Frame, StackOperator
from test_cli import assert_user_error, run


def drive_stack(session: TeleopSession, max_ticks: int = 900, operator: StackOperator | None = None) -> StackOperator:
    """Run the keyboard operator against ``session`` until a demo ends; the session's own ticks, no server."""
    scene = describe(session.world.env.model)
    ids = body_ids(scene)
    operator, held, ended = operator or StackOperator(), frozenset(), len(session.outcomes)
    for _ in range(max_ticks):
        frame = Frame.of(scene, frame_of(session, ids))
        down, tap = operator.keys(frame)
        wanted = frozenset(down) | ({"Space"} if tap else set())
        if wanted != held:
            session.submit(Keys(type="keys", down=sorted(wanted)))
            held = wanted
        session.tick()
        if len(session.outcomes) > ended:
            break
    return operator


def arrays(path: Path) -> dict[str, np.ndarray]:
    found = {}
    with h5py.File(path, "r") as f:
        f["data"].visititems(lambda name, node: found.update({name: node[()]}) if isinstance(node, h5py.Dataset) else None)
    return found


@pytest.fixture(scope="module")
def keyboard_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, TeleopSession]:
    folder = tmp_path_factory.mktemp("teleop")
    out, log = folder / "src.hdf5", folder / "src.session.jsonl"
    session = TeleopSession("stack", out, seed=3, log=log)
    operator = drive_stack(session)
    session.submit(Command(type="command", name="quit"))
    session.tick()
    session.close()
    assert session.outcomes and session.outcomes[0].kept, (session.outcomes, operator.log)
    return out, log, session


def test_a_keyboard_demo_is_kept_and_is_an_ordinary_source(keyboard_session: tuple[Path, Path, TeleopSession]) -> None:
    out, _, session = keyboard_session
    assert session.kept == 1
    demo = df.read_demos(out)[0]  # with datagen_info, like a scripted source
    assert demo.meta["expert"] == "teleop" and demo.success and len(demo) == session.outcomes[0].steps
    keep = round(KEEP_AFTER_S / CONTROL_DT)  # kept after a second of success, not at its first step
    assert demo.rewards[-keep:].all() and not demo.rewards[-keep - 1], demo.rewards[-keep - 3 :]
    assert demo.datagen.subtask_term_signals["grasp_cube_a"].any()
    check = run("replay", str(out), "--check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_session_log_replays_the_demos_bit_for_bit(keyboard_session: tuple[Path, Path, TeleopSession],
                                                       tmp_path: Path) -> None:
    out, log, session = keyboard_session
    record = read_log(log)
    assert record.header["task"] == "stack" and record.header["seed"] == 3
    assert [o for _, o in record.outcomes] == session.outcomes
    again = replay_log(log, tmp_path / "again.hdf5")
    assert again.outcomes == session.outcomes
    first, second = arrays(out), arrays(tmp_path / "again.hdf5")
    assert first.keys() == second.keys()
    for key in first:
        assert np.array_equal(first[key], second[key]), key
    cli = run("teleop", "--replay-input", str(log), "--out", str(tmp_path / "cli.hdf5"))
    assert cli.returncode == 0 and "1 demos in" in cli.stdout + cli.stderr, cli.stderr
    # A log from before the one-second keep (no keep_after_steps in its header) keeps at the task's own hold.
    lines = log.read_text().splitlines()
    header = json.loads(lines[0])
    del header["header"]["keep_after_steps"]
    older = tmp_path / "older.session.jsonl"
    older.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    shorter = replay_log(older, tmp_path / "older.hdf5")
    steps = session.outcomes[0].steps - round(KEEP_AFTER_S / CONTROL_DT) + df.get_task("stack").success_hold_steps
    assert shorter.kept == 1 and shorter.outcomes[0].steps == steps, (shorter.outcomes, steps)


def test_one_teleoperated_demo_generates_on_d1(keyboard_session: tuple[Path, Path, TeleopSession], tmp_path: Path) -> None:
    out, _, _ = keyboard_session
    stats = df.generate(df.GenerateConfig(task="stack", source=str(out), num_demos=20, max_attempts=20,
                                          variation="D1", seed=0), tmp_path / "run")
    assert stats.dgr >= 0.8, stats.failures


def test_a_slow_persons_demo_longer_than_the_task_horizon_still_generates(tmp_path: Path) -> None:
    """A person pauses between moves: the demo outlasts the task's horizon, and the attempts made from it may
    run as long as their source does (1.5x it), so they are not all cut as too long."""
    out = tmp_path / "slow.hdf5"
    session = TeleopSession("stack", out, seed=3)
    operator = drive_stack(session, max_ticks=1500, operator=StackOperator(pause=70))
    session.close()
    assert session.outcomes and session.outcomes[0].kept, (session.outcomes, operator.log)
    horizon = df.get_task("stack").max_steps
    assert session.outcomes[0].steps > horizon, session.outcomes[0].steps
    stats = df.generate(df.GenerateConfig(task="stack", source=str(out), num_demos=10, max_attempts=10,
                                          variation="D1", seed=0), tmp_path / "run")
    assert "episode too long" not in stats.failures and stats.dgr >= 0.5, stats.failures
    assert max(len(d) for d in df.read_demos(tmp_path / "run" / "demos.hdf5")) > horizon


def test_stop_discard_and_discard_last(tmp_path: Path) -> None:
    out = tmp_path / "src.hdf5"
    session = TeleopSession("stack", out, seed=1)
    session.submit(Keys(type="keys", down=["KeyE"]))  # a move starts recording
    for _ in range(5):
        session.tick()
    assert session.state == "recording"
    session.submit(Command(type="command", name="stop"))  # not done: judged and discarded, with the reason
    session.tick()
    assert session.outcomes[-1].kept is False and "not" in session.outcomes[-1].reason and not out.exists()
    for _ in range(30):  # the pause, then the next placement
        session.tick()
    assert session.state in ("ready", "recording") and session.episode == 1
    drive_stack(session)
    assert session.kept == 1 and len(df.read_demos(out)) == 1
    session.submit(Command(type="command", name="discard_last"))
    session.tick()
    assert session.kept == 0
    with h5py.File(out, "r") as f:
        assert len(f["data"]) == 0 and f["data"].attrs["env_args"]


def test_a_demo_over_the_time_limit_is_discarded_and_its_log_replays_with_that_limit(tmp_path: Path) -> None:
    out, log = tmp_path / "src.hdf5", tmp_path / "src.session.jsonl"
    session = TeleopSession("stack", out, log=log, time_limit=1.0)  # 20 control ticks
    assert session.status()["max_steps"] == 20
    session.submit(Keys(type="keys", down=["KeyE"]))  # a move starts recording, and never stacks
    for _ in range(25):
        session.tick()
    session.close()
    assert [(o.kept, o.reason, o.steps) for o in session.outcomes] == [(False, "too long: not done within 20 steps", 20)]
    assert read_log(log).header["max_steps"] == 20 and not out.exists()
    assert replay_log(log, tmp_path / "again.hdf5").outcomes == session.outcomes
    refused = run("teleop", "--out", str(tmp_path / "x.hdf5"), "--time-limit", "0")
    assert_user_error(refused, "--time-limit")


def test_appending_needs_the_same_task_and_robot(keyboard_session: tuple[Path, Path, TeleopSession],
                                                 tmp_path: Path) -> None:
    out, _, _ = keyboard_session
    with pytest.raises(df.DemoforgeError, match="--append"):
        TeleopSession("stack", out)
    with pytest.raises(df.DemoforgeError, match="holds demos of 'stack'"):
        TeleopSession("lift", out, existing="append")
    assert TeleopSession("stack", out, existing="append").kept == 1
    taken = run("teleop", "--out", str(out), "--task", "stack", "--port", "0", "--replay-input", "missing.jsonl")
    assert_user_error(taken, str(out), "--overwrite")


def _hand(wrist: tuple[float, float, float], thumb_middle: float, thumb_index: float) -> dict:
    """A hand message: all joints at the wrist, thumb tip, index tip and middle tip placed at the given gaps."""
    joints = [[*wrist, 0.0, 0.0, 0.0, 1.0] for _ in range(NUM_JOINTS)]
    joints[4] = [wrist[0], wrist[1] + 0.1, wrist[2], 0.0, 0.0, 0.0, 1.0]
    joints[9] = [wrist[0] + thumb_index, wrist[1] + 0.1, wrist[2], 0.0, 0.0, 0.0, 1.0]
    joints[14] = [wrist[0], wrist[1] + 0.1, wrist[2] + thumb_middle, 0.0, 0.0, 0.0, 1.0]
    return {"type": "hand", "hand": "right", "joints": joints}


def test_hand_clutch_moves_the_target_relative_and_pinch_drives_the_gripper() -> None:
    start = np.eye(4)
    start[:3, 3] = [0.5, 0.0, 1.0]
    mapper = InputMapper(["arm0"], [start])
    hand = INPUT_MESSAGE.validate_python
    mapper.apply(hand(_hand((0.1, 1.2, -0.3), 0.08, 0.09)))  # tracked, not engaged: nothing moves
    mapper.apply(hand(_hand((0.1, 1.2, -0.5), 0.08, 0.09)))
    assert np.array_equal(mapper.targets[0], start) and not mapper.moved
    mapper.apply(hand(_hand((0.1, 1.2, -0.5), 0.01, 0.09)))  # middle pinch engages
    mapper.apply(hand(_hand((0.1, 1.3, -0.6), 0.01, 0.09)))  # 10 cm forward (XR -z) and 10 cm up (XR +y)
    assert np.allclose(mapper.targets[0][:3, 3], [0.6, 0.0, 1.1]) and mapper.moved
    assert mapper.grippers[0] == -1.0  # thumb-index 9 cm: open
    mapper.apply(hand(_hand((0.1, 1.3, -0.6), 0.03, 0.01)))  # still engaged (hysteresis), index pinched: closed
    assert mapper.grippers[0] == 1.0
    mapper.apply(hand(_hand((0.1, 1.3, -0.6), 0.06, 0.09)))  # let go of the clutch ...
    mapper.apply(hand(_hand((0.3, 1.0, -0.2), 0.06, 0.09)))  # ... and move the hand back: the target stays
    assert np.allclose(mapper.targets[0][:3, 3], [0.6, 0.0, 1.1]) and mapper.grippers[0] == 1.0
    mapper.apply(hand(_hand((0.3, 1.0, -0.2), 0.01, 0.09)))  # engage again, move left (XR -x = world +y)
    mapper.apply(hand(_hand((0.2, 1.0, -0.2), 0.01, 0.09)))
    assert np.allclose(mapper.targets[0][:3, 3], [0.6, 0.1, 1.1])
    assert pinch_to_gripper(0.045) == pytest.approx(0.0)
    assert np.allclose(WORLD_R_XR @ [0, 0, -1], [1, 0, 0]) and np.isclose(np.linalg.det(WORLD_R_XR), 1.0)


def test_keys_move_the_active_arm_at_the_documented_speed() -> None:
    mapper = InputMapper(["right", "left"], [np.eye(4), np.eye(4)])
    mapper.apply(Keys(type="keys", down=["KeyW", "KeyE"]))
    mapper.tick()
    assert np.allclose(mapper.targets[0][:3, 3], [0.005, 0.0, 0.005]) and np.array_equal(mapper.targets[1], np.eye(4))
    mapper.apply(Keys(type="keys", down=["Tab"]))  # Tab: the other arm; nothing held moves
    mapper.apply(Keys(type="keys", down=["ShiftLeft", "KeyA", "Space"]))
    mapper.tick()
    assert mapper.active == 1 and np.allclose(mapper.targets[1][:3, 3], [0.0, 0.00125, 0.0])
    assert mapper.grippers == [-1.0, 1.0]


def test_a_mouse_drag_moves_and_turns_the_active_arms_target() -> None:
    mapper = InputMapper(["right", "left"], [np.eye(4), np.eye(4)])
    mapper.apply(Keys(type="keys", down=["Tab"]))
    mapper.apply(INPUT_MESSAGE.validate_python({"type": "drag", "move": [0.01, -0.02, 0.0], "yaw": 0.1}))
    assert mapper.moved and np.array_equal(mapper.targets[0], np.eye(4))
    assert np.allclose(mapper.targets[1][:3, 3], [0.01, -0.02, 0.0])
    assert np.allclose(mapper.targets[1][:3, :3], [[math.cos(0.1), -math.sin(0.1), 0], [math.sin(0.1), math.cos(0.1), 0], [0, 0, 1]])


def test_with_two_arms_each_hand_drives_its_own_arm() -> None:
    mapper = InputMapper(["right", "left"], [np.eye(4), np.eye(4)])
    for hand, dx in (("left", 0.0), ("left", -0.05)):  # engage, then 5 cm to the XR left: world +y
        msg = _hand((0.2 + dx, 1.2, -0.4), 0.01, 0.09)
        mapper.apply(INPUT_MESSAGE.validate_python({**msg, "hand": hand}))
    assert np.allclose(mapper.targets[1][:3, 3], [0.0, 0.05, 0.0]) and np.array_equal(mapper.targets[0], np.eye(4))
    session = TeleopSession("handover", Path("/nonexistent/unused.hdf5"))
    assert session.world.arm_names == ["right", "left"] and session.mapper.arm_of("left") == 1


def test_gamepad_sticks_move_and_buttons_toggle() -> None:
    mapper = InputMapper(["right", "left"], [np.eye(4), np.eye(4)])
    pad = INPUT_MESSAGE.validate_python
    mapper.apply(pad({"type": "gamepad", "axes": [0.0, -1.0, 0.1, -0.5], "buttons": [0.0] * 16}))
    mapper.tick()  # left stick up: forward at full speed; right stick up halfway: up at half; 0.1 is in the deadzone
    assert np.allclose(mapper.targets[0][:3, 3], [0.005, 0.0, 0.0025])
    mapper.apply(pad({"type": "gamepad", "axes": [0.0] * 4, "buttons": [1.0] + [0.0] * 4 + [1.0] + [0.0] * 10}))
    mapper.apply(pad({"type": "gamepad", "axes": [0.0] * 4, "buttons": [1.0] + [0.0] * 4 + [1.0] + [0.0] * 10}))
    assert mapper.grippers == [1.0, -1.0] and mapper.active == 1  # A toggled once (held, not re-pressed); RB: next arm
    mapper.apply(pad({"type": "gamepad", "axes": [-1.0, 0.0, 0.0, 0.0], "buttons": [0.0] * 16}))
    mapper.tick()  # stick left: world +y, on the left arm now
    assert np.allclose(mapper.targets[1][:3, 3], [0.0, 0.005, 0.0])


@pytest.mark.parametrize("bad", [
    '{"type": "hand", "hand": "right", "joints": []}',
    '{"type": "controller", "hand": "right", "pose": [0, 0, 0, 0, 0, 0, 1], "squeeze": NaN, "trigger": 0}',
    '{"type": "controller", "hand": "right", "pose": [1e9, 0, 0, 0, 0, 0, 1], "squeeze": 0, "trigger": 0}',
    '{"type": "controller", "hand": "right", "pose": [0, 0, 0, 0, 0, 0, 0], "squeeze": 0, "trigger": 0}',
    '{"type": "controller", "hand": "middle", "pose": [0, 0, 0, 0, 0, 0, 1], "squeeze": 0, "trigger": 0}',
    '{"type": "keys", "down": ["KeyW"], "extra": 1}',
    '{"type": "keys", "down": ["' + "K" * 100 + '"]}',
    '{"type": "gamepad", "axes": [2.0], "buttons": []}',
    '{"type": "drag", "move": [0.5, 0, 0]}',
    '{"type": "drag", "move": [0, 0], "yaw": 0}',
    '{"type": "drag", "move": [0, 0, 0], "yaw": NaN}',
    '{"type": "command", "name": "rm -rf"}',
    '{"type": "teleport"}',
    '[1, 2, 3]',
])
def test_malformed_input_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        INPUT_MESSAGE.validate_python(json.loads(bad))


def test_a_torn_log_line_is_ignored_and_a_bad_one_named(keyboard_session: tuple[Path, Path, TeleopSession],
                                                        tmp_path: Path) -> None:
    _, log, session = keyboard_session
    lines = log.read_text().splitlines()
    torn = tmp_path / "torn.jsonl"
    torn.write_text("\n".join(lines) + '\n{"tick": 99999, "msg": {"type": "ke')  # killed mid-write
    assert len(read_log(torn).events) == len(read_log(log).events)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([lines[0], '{"tick": 1, "msg": {"type": "keys", "down": 5}}', *lines[1:]]) + "\n")
    result = run("teleop", "--replay-input", str(bad), "--out", str(tmp_path / "x.hdf5"))
    assert_user_error(result, str(bad), "line 2")
    assert not (tmp_path / "x.hdf5").exists() and math.isfinite(session.tick_count)


def test_the_page_gets_the_models_own_geometry_textures_and_xyzw_poses() -> None:
    import base64
    import io

    import mujoco
    from PIL import Image

    from demoforge.sim.web_scene import body_poses

    model = mujoco.MjModel.from_xml_string("""
    <mujoco><asset>
      <texture name="t" type="2d" builtin="checker" width="8" height="8" rgb1="1 0 0" rgb2="0 0 1"/>
      <material name="m" texture="t" texrepeat="2 3"/>
      <mesh name="tet" vertex="0 0 0  0.1 0 0  0 0.1 0  0 0 0.1"/>
    </asset><worldbody>
      <geom name="floor" type="plane" size="1 1 0.1" material="m"/>
      <body name="b" pos="0 0 1" quat="0.7071068 0 0 0.7071068"><freejoint/>
        <geom name="tet" type="mesh" mesh="tet"/><geom name="hidden" type="box" size=".1 .1 .1" group="3"/>
      </body>
    </worldbody></mujoco>""")
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    scene = describe(model)
    names = [g["name"] for g in scene["geoms"]]
    assert names == ["floor", "tet"]  # collision-only group 3 is not drawn
    floor, tet = scene["geoms"]
    assert floor["material"]["texture"] == 0 and floor["material"]["repeat"] == [2.0, 3.0]
    image = Image.open(io.BytesIO(base64.b64decode(scene["textures"][0]["png"])))
    assert image.size == (8, 8)
    mesh = scene["meshes"][tet["mesh"]]
    assert len(np.frombuffer(base64.b64decode(mesh["vertices"]), np.float32)) == 12
    assert len(np.frombuffer(base64.b64decode(mesh["faces"]), np.uint32)) == 12
    poses = np.array(body_poses(data, body_ids(scene))).reshape(-1, 7)
    b = [x["name"] for x in scene["bodies"]].index("b")
    assert np.allclose(poses[b], [0, 0, 1, 0, 0, 0.70711, 0.70711], atol=1e-5)  # (x, y, z, qx, qy, qz, qw)
