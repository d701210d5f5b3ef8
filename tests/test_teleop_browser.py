"""The teleop page in a real browser: headless Chromium (Playwright) against a real `demoforge teleop` server.

Keyboard: the closed-loop operator of tests/teleop_driver.py watches the frames the page receives and presses keys
on the page (Playwright's keyboard), as a person would: look, hold the keys about as long as the distance takes,
look again, finish with fine (Shift) presses, until the stack demo is kept. Hands: IWER (WebXR emulation, from
node_modules) stands in for a headset with hand tracking; tests/teleop_hands.js moves its right hand like a person
(speed limits, tremor, pauses), pinching thumb and middle finger to hold on, the index to close the gripper,
letting go half way through the carry to pull the hand back, and overshooting a little. Either way the server is stopped
with Ctrl-C (SIGINT) and the file it wrote is checked: it replays exactly, the session log re-records it bit for
bit, and one demo generates D1.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from scipy.spatial.transform import Rotation

import demoforge as df
from demoforge.capture.teleop.inputs import FINE, KEY_MOVES, KEY_SPEED, KEY_TURN, KEY_TURNS
from servers import CHROMIUM_ARGS
from teleop_driver import Frame, HandPickPlaceOperator, HandStackOperator, StackOperator, wrap, yaw_of
from test_cli import run
from test_teleop import arrays

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
IWER = ROOT / "node_modules" / "iwer" / "build" / "iwer.min.js"
HANDS = (IWER, Path(__file__).resolve().parent / "hand_shapes.js", Path(__file__).resolve().parent / "teleop_hands.js")
CONTROLLERS = Path(__file__).resolve().parent / "teleop_controllers.js"
GAMEPAD = Path(__file__).resolve().parent / "teleop_gamepad.js"
VIEWPORT = {"width": 480, "height": 360}  # small: the page is drawn on the CPU
DRIVE_TIMEOUT = 150.0  # seconds of wall time a demo may take (the session's own limit: 60 s of sim time)

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)")
needs_iwer = pytest.mark.skipif(not IWER.exists(), reason=f"IWER is not installed ({IWER} missing: run npm ci)")


@dataclass
class Server:
    """A running `demoforge teleop`: its process, URL, output file and the lines it printed."""

    proc: subprocess.Popen
    url: str
    out: Path
    lines: queue.Queue

    @property
    def log(self) -> Path:
        return self.out.with_name(self.out.stem + ".session.jsonl")

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C: the exit code and everything the server printed."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=60)
        return code, self.output()

    def output(self) -> str:
        printed = []
        while not self.lines.empty():
            printed.append(self.lines.get())
        return "".join(printed)


@contextmanager
def teleop_server(folder: Path, task: str = "stack") -> Iterator[Server]:
    """`demoforge teleop --task TASK --out FOLDER/src.hdf5 --port 0 --seed 0`, ready to connect to."""
    out = folder / "src.hdf5"
    proc = subprocess.Popen(
        [sys.executable, "-m", "demoforge.cli", "teleop", "--task", task, "--out", str(out), "--port", "0",
         "--seed", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=folder,
        env={**os.environ, "MUJOCO_GL": "egl", "COLUMNS": "200"},
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    printed, url, deadline = [], None, time.monotonic() + 60
    while url is None and time.monotonic() < deadline and proc.poll() is None:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        printed.append(line)
        if "open http://" in line:
            url = line.split("open ", 1)[1].split()[0].replace("localhost", "127.0.0.1")
    try:
        assert url is not None, f"the server did not start: {''.join(printed)}"
        yield Server(proc, url, out, lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def real_time_turn(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], AbstractContextManager[None]]:
    """A turn for a browser-driven teleop session: one at a time across pytest-xdist workers.

    A session runs in real time (a demo must be done within the session's time limit) and each headless Chromium
    renders the page on the CPU: two at once on a small, busy machine starve each other's page, key events and
    server, and neither operator finishes in time. Only the recording takes turns; the checks after it do not.
    """
    lock = tmp_path_factory.getbasetemp().parent / "teleop-browser.lock"

    @contextmanager
    def turn() -> Iterator[None]:
        with lock.open("w") as handle:  # closing it lets go of the lock
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    return turn


def open_page(browser: Browser, url: str, init_scripts: tuple[Path, ...] = (),
              viewport: dict = VIEWPORT) -> tuple[Page, list[str]]:
    """The teleop page, connected, driving the session; and the list its uncaught errors go to."""
    page = browser.new_page(viewport=viewport)
    crashes: list[str] = []
    page.on("pageerror", lambda exc: crashes.append(str(exc)))
    for script in init_scripts:
        page.add_init_script(path=str(script))
    page.goto(url)
    page.wait_for_function("window.demoforge && window.demoforge.scene && window.demoforge.frame"
                           " && window.demoforge.driver", polling=50, timeout=60_000)
    return page, crashes


def look(page: Page) -> dict:
    """What the page holds now: the newest frame, the status, what it sent, its frame count and clock."""
    return page.evaluate("""() => {
        const d = window.demoforge, h = window.handDriver, hands = Object.entries(window.handDrivers || {});
        return {frame: d.frame, status: d.status, sent: d.sent, frames: d.frames, now: performance.now(),
                busy: h ? h.busy : false, hand: h ? h.measured : null, handError: h ? h.error || null : null,
                busyHands: Object.fromEntries(hands.map(([k, v]) => [k, v.busy])),
                hands: Object.fromEntries(hands.map(([k, v]) => [k, v.measured])),
                handErrors: hands.filter(([, v]) => v.error).map(([k, v]) => `${k}: ${v.error}`)};
    }""")


def rates(before: dict, after: dict) -> tuple[float, float]:
    """Frames per second the page received between two looks, and control ticks per second the server ran."""
    seconds = (after["now"] - before["now"]) / 1000.0
    return (after["frames"] - before["frames"]) / seconds, (after["frame"]["tick"] - before["frame"]["tick"]) / seconds


def check_kept_file(out: Path) -> df.Demo:
    """The one demo in ``out``: kept by teleop, a successful stack, replaying exactly."""
    demos = df.read_demos(out)
    assert len(demos) == 1
    demo = demos[0]
    assert demo.meta["expert"] == "teleop" and demo.success, demo.meta
    check = run("replay", str(out), "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    return demo


def hand_messages(log: Path) -> Counter:
    """How many input messages of each (type, hand) a session log holds."""
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    return Counter((e["msg"]["type"], e["msg"].get("hand")) for e in entries if "msg" in e)


def check_rerecords(server: Server, again: Path) -> None:
    """The session's input log, fed back through `teleop --replay-input`, writes the same arrays bit for bit."""
    replayed = run("teleop", "--replay-input", str(server.log), "--out", str(again))
    assert replayed.returncode == 0 and "1 demos in" in replayed.stdout + replayed.stderr, replayed.stderr
    first, second = arrays(server.out), arrays(again)
    assert first.keys() == second.keys()
    for key in first:
        assert np.array_equal(first[key], second[key]), key


def check_generates(out: Path, folder: Path) -> None:
    stats = df.generate(df.GenerateConfig(task="stack", source=str(out), num_demos=20, max_attempts=20,
                                          variation="D1", seed=0), folder)
    assert stats.dgr >= 0.8, (stats.dgr, stats.failures)


class PageKeyboard:
    """StackOperator's keys, pressed on the page by a person who watches the stream.

    Each decision is made on a frame of a new control tick that already shows every key event sent (the server
    echoes the newest applied seq as ``ack``): the target has stopped where the last keys left it. The keys the
    operator wants are then each held for as long as their distance takes at the keys' speed (fine, with
    Shift, once close), a coarse move stopping a little short, and the result looked at. Holding keys while
    watching a lagging stream instead makes the target swing past its goals on a busy machine (the lag, from a
    decision to the frame that shows it, is then several control ticks); a press timed from the distance does
    not depend on the lag, only the server's clock.
    """

    MIN_PRESS_S = 0.06  # a press a bit longer than a control tick (50 ms), so that some tick sees it
    SHORT = 0.004  # metres a coarse move stops short of its goal (the fine moves finish it)

    def __init__(self, page: Page, scene: dict) -> None:
        self.page, self.scene = page, scene
        self.operator = StackOperator()
        self.want_ack: int | None = 0  # None: whatever the page has sent by the next look
        self.last_tick = -1
        self.presses = 0

    def step(self, seen: dict) -> bool:
        """Act on what the page holds (``look``) if its frame is news: a new tick showing all keys sent."""
        frame = seen["frame"]
        if self.want_ack is None:
            self.want_ack = seen["sent"]
        if frame["tick"] <= self.last_tick or frame["ack"] < self.want_ack:
            return False
        self.last_tick = frame["tick"]
        now = Frame.of(self.scene, frame)
        down, tap = self.operator.keys(now)
        if down:
            self._press_for(self._durations(now, down), fine="ShiftLeft" in down)
        if tap:
            self.page.keyboard.press("Space")
        if down or tap:
            self.want_ack = None
        return True

    def _durations(self, now: Frame, down: list[str]) -> dict[str, float]:
        """Seconds each key is held: its remaining distance at the keys' speed."""
        goal, target = self.operator.goal, now.targets[0]
        assert goal is not None
        scale = FINE if "ShiftLeft" in down else 1.0
        durations = {}
        for key in down:
            if key in KEY_MOVES:
                axis = KEY_MOVES[key][0]
                distance = abs(goal[axis, 3] - target[axis, 3]) - (0.0 if scale < 1.0 else self.SHORT)
                speed = KEY_SPEED
            elif key in KEY_TURNS:
                distance, speed = abs(wrap(yaw_of(goal) - yaw_of(target))), KEY_TURN
            else:
                continue
            durations[key] = max(self.MIN_PRESS_S, distance / (speed * scale))
        return durations

    def _press_for(self, durations: dict[str, float], fine: bool) -> None:
        keyboard = self.page.keyboard
        if fine:
            keyboard.down("ShiftLeft")
        for key in durations:
            keyboard.down(key)
        start = time.monotonic()
        for key, seconds in sorted(durations.items(), key=lambda item: item[1]):
            time.sleep(max(0.0, start + seconds - time.monotonic()))
            keyboard.up(key)
        if fine:
            keyboard.up("ShiftLeft")
        self.presses += 1


@pytest.mark.slow
@needs_chromium
def test_the_keyboard_operator_keeps_a_demo_through_the_page(tmp_path: Path, real_time_turn: Callable) -> None:
    with real_time_turn(), teleop_server(tmp_path) as server, chromium() as browser:
        page, crashes = open_page(browser, server.url)
        first = look(page)  # the stream as the page sees it, over a few seconds
        time.sleep(4.0)
        start = seen = look(page)
        fps, tick_rate = rates(first, start)
        person = PageKeyboard(page, page.evaluate("window.demoforge.scene"))
        deadline = time.monotonic() + DRIVE_TIMEOUT
        while seen["status"]["kept"] < 1:
            status = seen["status"]
            assert not status["discarded"] and time.monotonic() < deadline, (status["last"], person.operator.log)
            if not person.step(seen):
                time.sleep(0.015)
            seen = look(page)
        latencies = page.evaluate("window.demoforge.latencies")
        assert not crashes and page.evaluate("window.demoforge.errors") == []
        code, printed = server.interrupt()
    driving_fps, driving_ticks = rates(start, seen)
    print(f"keyboard: {fps:.1f} frames/s ({tick_rate:.1f} control ticks/s) over 4 s, {driving_fps:.1f} frames/s "
          f"({driving_ticks:.1f} ticks/s) while driving ({(seen['now'] - start['now']) / 1000:.1f} s); "
          f"median input-to-render latency {statistics.median(latencies):.0f} ms over {len(latencies)} key events; "
          f"{person.presses} presses; "
          f"operator: {person.operator.log}")
    assert code == 0, printed
    assert "1 demos in" in " ".join(printed.split()), printed
    assert fps >= 30.0, f"the page saw {fps:.1f} frames/s ({tick_rate:.1f} control ticks/s; the server streams 40)"
    assert latencies and all(v >= 0 for v in latencies)
    demo = check_kept_file(server.out)
    assert demo.datagen.subtask_term_signals["grasp_cube_a"].any()
    check_generates(server.out, tmp_path / "run")


@pytest.mark.slow
@needs_chromium
@needs_iwer
def test_hands_in_webxr_keep_a_demo_that_replays_and_generates(tmp_path: Path, real_time_turn: Callable) -> None:
    with real_time_turn(), teleop_server(tmp_path) as server, chromium() as browser:
        page, crashes = open_page(browser, server.url, HANDS)
        scene = page.evaluate("window.demoforge.scene")
        page.click("#enter-xr", timeout=30_000)  # shown once navigator.xr (IWER) supports immersive-vr
        page.wait_for_function("window.demoforge.xr && window.handDriver.measured", polling=50, timeout=30_000)
        operator, last_tick, shapes = HandStackOperator(), -1, {}
        start = seen = look(page)
        deadline = time.monotonic() + DRIVE_TIMEOUT
        # Until the demo is kept, the hand has let go and the next placement is up (nothing records then).
        while not (operator.done and seen["status"]["kept"] >= 1 and seen["status"]["state"] == "ready"):
            status = seen["status"]
            assert seen["handError"] is None, seen["handError"]
            assert not status["discarded"] and time.monotonic() < deadline, (status["last"], operator.plan.log)
            if seen["hand"] and not seen["busy"]:
                shapes[seen["hand"]["shape"]] = seen["hand"]  # the joints the page reads, per settled hand shape
            frame = seen["frame"]
            if frame["tick"] > last_tick and not operator.done:
                last_tick = frame["tick"]
                commands = operator.step(Frame.of(scene, frame), seen["busy"])
                if commands:
                    page.evaluate("commands => commands.forEach((c) => window.handDriver.apply(c))", commands)
            else:
                time.sleep(0.015)
            seen = look(page)
        latencies = page.evaluate("window.demoforge.latencies")
        assert not crashes and page.evaluate("window.demoforge.errors") == []
        code, printed = server.interrupt()
    fps, tick_rate = rates(start, seen)
    print(f"hands: {fps:.1f} frames/s ({tick_rate:.1f} ticks/s) over {(seen['now'] - start['now']) / 1000:.1f} s; "
          f"median input-to-render latency {statistics.median(latencies):.0f} ms over {len(latencies)} hand frames; "
          f"hand shapes (thumb-middle, thumb-index) "
          f"{ {k: (round(v['thumbMiddle'], 4), round(v['thumbIndex'], 4)) for k, v in shapes.items()} }; "
          f"operator: {operator.log}; plan: {operator.plan.log}")
    assert code == 0, printed

    # The hand shapes are what the server reads as clutch and gripper (inputs.py: thumb-middle < 2.5 cm engages,
    # > 4 cm releases; thumb-index <= 2 cm closed, >= 7 cm open).
    assert set(shapes) >= {"open", "clutch", "clutch_grip", "grip"}, shapes
    assert shapes["open"]["thumbMiddle"] > 0.04 and shapes["open"]["thumbIndex"] > 0.07
    assert shapes["clutch"]["thumbMiddle"] < 0.025 and shapes["clutch"]["thumbIndex"] > 0.07
    assert shapes["clutch_grip"]["thumbMiddle"] < 0.025 and shapes["clutch_grip"]["thumbIndex"] < 0.02
    assert shapes["grip"]["thumbMiddle"] > 0.04 and shapes["grip"]["thumbIndex"] < 0.02
    # Moving the unclutched hand recorded nothing; the carry was interrupted to regrasp and overshot its goal.
    assert operator.state_after_free_move == "ready", operator.log
    assert operator.regrasped and operator.overshot > 0.005, operator.log

    demo = check_kept_file(server.out)
    assert demo.datagen.subtask_term_signals["grasp_cube_a"].any()
    messages = hand_messages(server.log)
    assert messages[("hand", "right")] > 100 and messages[("hand", "left")] > 0, messages
    assert not any(m.startswith("keys") or m.startswith("controller") for m, _ in messages), messages
    check_rerecords(server, tmp_path / "again.hdf5")
    check_generates(server.out, tmp_path / "run")


@pytest.mark.slow
@needs_chromium
@needs_iwer
def test_both_hands_and_their_fingers_keep_a_gr1_pick_place_demo_that_generates(tmp_path: Path,
                                                                                 real_time_turn: Callable) -> None:
    """The humanoid driven by a person's two hands: each emulated hand steers its palm, curls its fingers round
    its object (the robot's six hand actuators take the person's finger bends) and opens them over the mat;
    the demo is kept, replays exactly, re-records from its input log and generates."""
    with real_time_turn(), teleop_server(tmp_path, "gr1_pick_place") as server, chromium() as browser:
        page, crashes = open_page(browser, server.url, HANDS)
        scene = page.evaluate("window.demoforge.scene")
        page.click("#enter-xr", timeout=30_000)
        page.wait_for_function("window.demoforge.xr && window.handDrivers.right.measured"
                               " && window.handDrivers.left.measured", polling=50, timeout=30_000)
        operator, last_tick = HandPickPlaceOperator(), -1
        start = seen = look(page)
        deadline = time.monotonic() + DRIVE_TIMEOUT
        while not (operator.done and seen["status"]["kept"] >= 1):
            status = seen["status"]
            assert not seen["handErrors"], seen["handErrors"]
            assert not status["discarded"] and time.monotonic() < deadline, f"{status['last']}: {operator.log}"
            frame = seen["frame"]
            if frame["tick"] > last_tick:
                last_tick = frame["tick"]
                commands = operator.step(Frame.of(scene, frame), seen["busyHands"])
                if commands:
                    page.evaluate("commands => commands.forEach((c) => window.handDrivers[c.hand].apply(c))",
                                  commands)
            else:
                time.sleep(0.015)
            seen = look(page)
        assert not crashes and page.evaluate("window.demoforge.errors") == []
        code, printed = server.interrupt()
    fps, tick_rate = rates(start, seen)
    print(f"gr1 hands: {fps:.1f} frames/s ({tick_rate:.1f} ticks/s) over {(seen['now'] - start['now']) / 1000:.1f} s;"
          f" operator: {operator.log}")
    assert code == 0, printed

    demo = check_kept_file(server.out)
    signals = demo.datagen.subtask_term_signals
    assert signals["right_grasp"].any() and signals["left_grasp"].any()
    # The hand columns are the person's fingers: open (relaxed) at the start, curled round the objects in the
    # grasps (every finger actuator past its middle, as the expert's wrap), and opening again at the end (the demo
    # is kept as soon as success holds, which may be while the last hand is still straightening its fingers).
    assert demo.actions.shape[1] == 2 * (6 + 6)  # per arm: the palm's delta pose, the hand's six actuators
    for arm, grasped in ((0, "right_grasp"), (1, "left_grasp")):
        fingers = demo.datagen.gripper_action[:, arm]
        assert np.array_equal(fingers, demo.actions[:, 12 * arm + 6 : 12 * arm + 12])
        curling = [0, 2, 3, 4, 5]  # the thumb across, the four fingers
        assert (fingers[0] < -0.5).all() and (fingers[-1, curling] < 0.0).all(), fingers[[0, -1]]
        held = fingers[signals[grasped].astype(bool)][:, curling]
        assert (held > 0.2).all(axis=1).mean() > 0.5, held.max(axis=0)  # most of the hold: the wrap's bends
    messages = hand_messages(server.log)
    assert messages[("hand", "right")] > 100 and messages[("hand", "left")] > 100, messages
    check_rerecords(server, tmp_path / "again.hdf5")
    stats = df.generate(df.GenerateConfig(task="gr1_pick_place", source=str(server.out), num_demos=6,
                                          max_attempts=6, variation="D1", seed=0), tmp_path / "run")
    print(f"generated from the teleop demo: DGR {stats.dgr:.0%} at D1, failures {stats.failures}")
    assert stats.dgr >= 0.5, (stats.dgr, stats.failures)


@needs_chromium
@needs_iwer
def test_controllers_in_webxr_squeeze_to_move_the_target_and_trigger_the_gripper(tmp_path: Path,
                                                                                  real_time_turn: Callable) -> None:
    def target_and_state(page: Page) -> tuple[np.ndarray, float, str]:
        frame = page.evaluate("window.demoforge.frame")
        return np.array(frame["targets"][0][:3]), frame["grippers"][0], frame["state"]

    def settle(page: Page) -> None:
        ack = page.evaluate("window.demoforge.sent")
        page.wait_for_function(f"window.demoforge.frame.ack >= {ack}", polling=20, timeout=10_000)
        time.sleep(0.3)  # a few more ticks for the newest controller pose

    move = "z => { const c = window.iwerDevice.controllers.right; c.position.z += z; }"
    button = "([id, v]) => window.iwerDevice.controllers.right.updateButtonValue(id, v)"
    with real_time_turn(), teleop_server(tmp_path) as server, chromium() as browser:
        page, crashes = open_page(browser, server.url, (IWER, CONTROLLERS))
        page.click("#enter-xr", timeout=30_000)
        page.wait_for_function("window.demoforge.xr && window.demoforge.sent > 5", polling=50, timeout=30_000)
        settle(page)
        start, gripper, state = target_and_state(page)
        page.evaluate(move, -0.1)  # 10 cm forward without squeezing: the target stays, nothing records
        settle(page)
        after_free, _, state_free = target_and_state(page)
        page.evaluate(button, ["squeeze", 1.0])
        settle(page)
        page.evaluate(move, -0.1)  # squeezed: 10 cm forward (XR -z) moves the target 10 cm along world +x
        settle(page)
        moved, _, state_moved = target_and_state(page)
        page.evaluate(button, ["trigger", 1.0])
        settle(page)
        _, closed, _ = target_and_state(page)
        assert not crashes and page.evaluate("window.demoforge.errors") == []
        code, printed = server.interrupt()
    assert code == 0, printed
    assert np.allclose(after_free, start) and gripper == -1.0 and state == state_free == "ready"
    assert np.allclose(moved - start, [0.1, 0.0, 0.0], atol=2e-3), moved - start
    assert state_moved == "recording" and closed == 1.0


@needs_chromium
def test_the_mouse_moves_and_turns_the_target_and_leaves_the_view_alone(tmp_path: Path,
                                                                      real_time_turn: Callable) -> None:
    """Ctrl+drag moves the target with the cursor (horizontally, along the screen), Ctrl+wheel lifts it,
    Alt+drag yaws it, and none of them orbits the view; the demo records from the first drag."""
    def settle(page: Page) -> dict:
        page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")  # sent
        ack = page.evaluate("window.demoforge.sent")
        page.wait_for_function(f"window.demoforge.frame.ack >= {ack}", polling=20, timeout=10_000)
        return page.evaluate("window.demoforge.frame")

    on_screen = """t => {  // the target's position (MuJoCo world) in CSS pixels, and the camera's position
        const v = window.demoforge.view, cam = v.camera, canvas = v.renderer.domElement;
        const root = v.scene.getObjectByName('mujoco-world');
        const p = root.localToWorld(new cam.position.constructor(t[0], t[1], t[2])).project(cam);
        return [(p.x + 1) / 2 * canvas.clientWidth, (1 - p.y) / 2 * canvas.clientHeight,
                cam.position.x, cam.position.y, cam.position.z];
    }"""
    with real_time_turn(), teleop_server(tmp_path) as server, chromium() as browser:
        page, crashes = open_page(browser, server.url, viewport={"width": 1000, "height": 700})  # beside the panel
        start = settle(page)
        target0 = np.array(start["targets"][0])
        screen0 = np.array(page.evaluate(on_screen, start["targets"][0]))
        x, y = float(screen0[0]), float(screen0[1])
        page.keyboard.down("Control")
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 120, y, steps=8)
        page.mouse.up()
        moved = settle(page)
        page.mouse.wheel(0, -500)  # 500 units up: 10 cm, sent over several frames
        page.keyboard.up("Control")
        page.wait_for_function(f"window.demoforge.frame.targets[0][2] > {moved['targets'][0][2] + 0.099}",
                               polling=20, timeout=10_000)
        lifted = settle(page)
        page.keyboard.down("Alt")
        page.mouse.move(x, y + 100)
        page.mouse.down()
        page.mouse.move(x + 60, y + 100, steps=6)  # 60 px: -0.3 rad of yaw
        page.mouse.up()
        page.keyboard.up("Alt")
        turned = settle(page)
        screen1 = np.array(page.evaluate(on_screen, moved["targets"][0]))
        assert not crashes and page.evaluate("window.demoforge.errors") == []
        code, printed = server.interrupt()
    assert code == 0, printed
    target1, target2, target3 = (np.array(f["targets"][0]) for f in (moved, lifted, turned))
    assert abs(target1[2] - target0[2]) < 1e-9 and np.linalg.norm(target1[:2] - target0[:2]) > 0.03
    assert 105 < screen1[0] - screen0[0] < 135 and abs(screen1[1] - screen0[1]) < 15, (screen0, screen1)
    assert np.allclose(screen1[2:], screen0[2:]), "the drag orbited the view"
    assert np.allclose(target2[:2], target1[:2]) and abs(target2[2] - target1[2] - 0.1) < 1e-4
    yaw = [yaw_of(Rotation.from_quat(t[3:]).as_matrix()) for t in (target2, target3)]  # (x, y, z, w)
    assert np.allclose(target3[:3], target2[:3]) and abs(wrap(yaw[1] - yaw[0]) + 0.3) < 0.01, yaw
    assert moved["state"] == "recording"


@needs_chromium
def test_a_gamepad_drives_the_target_through_the_page(tmp_path: Path, real_time_turn: Callable) -> None:
    """The page polls the Gamepad API every animation frame: the left stick moves the target at the keys'
    speed while held, A toggles the gripper."""
    with real_time_turn(), teleop_server(tmp_path) as server, chromium() as browser:
        page, crashes = open_page(browser, server.url, (GAMEPAD,))
        start = page.evaluate("window.demoforge.frame")
        page.evaluate("window.testPad.axes([0, -1, 0, 0])")  # left stick fully forward
        page.wait_for_function(f"window.demoforge.frame.targets[0][0] > {start['targets'][0][0] + 0.05}",
                               polling=20, timeout=20_000)
        page.evaluate("window.testPad.axes([0, 0, 0, 0])")
        page.evaluate("window.testPad.button(0, 1)")  # A
        page.wait_for_function("window.demoforge.frame.grippers[0] === 1", polling=20, timeout=10_000)
        page.evaluate("window.testPad.button(0, 0)")
        ack = page.evaluate("window.demoforge.sent")
        page.wait_for_function(f"window.demoforge.frame.ack >= {ack}", polling=20, timeout=10_000)
        first = page.evaluate("window.demoforge.frame")
        time.sleep(0.5)  # released: nothing moves any more
        second = page.evaluate("window.demoforge.frame")
        assert not crashes and page.evaluate("window.demoforge.errors") == []
        code, printed = server.interrupt()
    assert code == 0, printed
    moved = np.array(first["targets"][0][:3]) - np.array(start["targets"][0][:3])
    assert moved[0] > 0.05 and abs(moved[1]) < 1e-9 and abs(moved[2]) < 1e-9, moved
    assert second["targets"] == first["targets"] and second["grippers"] == [1.0]
    assert first["state"] == "recording"
    messages = [json.loads(line)["msg"] for line in server.log.read_text().splitlines() if "msg" in json.loads(line)]
    assert any(m["type"] == "gamepad" for m in messages)
