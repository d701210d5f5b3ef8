"""One teleoperation session on the server: a world, the operator's input, the demo being recorded, the file.

The session advances one control tick (50 ms of simulated time) per ``tick`` call. Input messages
queue up between ticks (``submit``, from any thread) and are applied at the next tick, in order; every
applied message is written to the session log with its tick, so feeding the log back (``replay_log``)
repeats the session exactly, demos and all.

A demo: after a reset (a placement of the task's variation drawn from ``(seed, episode)``) the scene
waits; recording starts with the first input that moves a target or a gripper. It is kept once the
task's success has held for a second (so a hand that lets go has opened in the demo), or when the
operator stops it after the task's own ``success_hold_steps``. It is discarded, with the reason, when
the operator discards or stops it unfinished, or when it runs out of steps or the physics blows up.
A kept demo is appended to the output file atomically; then, after a short pause to show the result,
the next placement comes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from demoforge.capture.teleop.inputs import CONTROL_DT, INPUT_MESSAGE, Command, InputMapper, InputMessage
from demoforge.data.hdf5 import read_env_args, rewrite_with, demo_names, open_dataset
from demoforge.errors import DemoforgeError, InputFileError
from demoforge.rollout.episode import Recorder
from demoforge.rollout.world import World, env_args_for, make_world
from demoforge.sim.robot import load_robot
from demoforge.tasks import get_task
from demoforge.version import __version__

PAUSE_TICKS = 20  # after a demo ends, its result shows for a second before the next placement
TIME_LIMIT_S = 60.0  # a person is slower than the scripted expert: a demo may take a minute by default
KEEP_AFTER_S = 1.0  # success holds this long before a demo is kept: a release ends with the hand open, not
# mid-opening, so attempts generated from the demo replay a full release


@dataclass(frozen=True)
class Outcome:
    """How a demo ended."""

    episode: int
    kept: bool
    reason: str
    steps: int


class SessionLog:
    """``session.jsonl``: a header line, then one line per applied message (``tick``, ``msg``), flushed per tick."""

    def __init__(self, path: Path, header: dict) -> None:
        self.path = path
        self.file = path.open("a", encoding="utf-8")
        self.file.write(json.dumps({"header": header}) + "\n")
        self.file.flush()

    def write(self, tick: int, msg: InputMessage) -> None:
        self.file.write(json.dumps({"tick": tick, "msg": msg.model_dump(exclude_none=True)}) + "\n")

    def write_outcome(self, tick: int, outcome: Outcome) -> None:
        """How a demo ended, at the tick it ended (a replay runs at least to here, and can be checked)."""
        self.file.write(json.dumps({"tick": tick, "outcome": outcome.__dict__}) + "\n")
        self.file.flush()

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        self.file.close()


@dataclass
class SessionRecord:
    """A session log read back: its header, its messages and the outcomes it logged, each with its tick."""

    header: dict
    events: list[tuple[int, InputMessage]]
    outcomes: list[tuple[int, Outcome]]

    @property
    def last_tick(self) -> int:
        return max([-1] + [t for t, _ in self.events] + [t for t, _ in self.outcomes])


def read_log(path: Path) -> SessionRecord:
    """The first session of a log. A torn last line (the server was killed while writing it) is ignored;
    anything else malformed is an error naming the line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot be read ({exc})") from None
    header: dict | None = None
    record = SessionRecord({}, [], [])
    last = -1
    for number, line in enumerate(lines, 1):
        try:
            entry = json.loads(line)
            if "header" in entry:
                if header is not None:
                    break  # a second session appended to the same log: replay the first
                header = record.header = dict(entry["header"])
                continue
            tick = int(entry["tick"])
            if "outcome" in entry:
                record.outcomes.append((tick, Outcome(**entry["outcome"])))
            else:
                record.events.append((tick, INPUT_MESSAGE.validate_python(entry["msg"])))
        except (ValueError, TypeError, KeyError) as exc:
            if number == len(lines):
                break
            raise InputFileError(path, f"line {number} is not a session event ({str(exc).splitlines()[0]})") from None
        if header is None:
            raise InputFileError(path, f"line {number} comes before the session header (the first line)")
        if tick < last:
            raise InputFileError(path, f"line {number}: tick {tick} is earlier than the line before")
        last = tick
    if header is None:
        raise InputFileError(path, "has no session header (expected a first line {\"header\": {...}})")
    return record


class TeleopSession:
    """The state of one teleop session; ``tick`` is called every control period by one thread."""

    def __init__(
        self, task: str, out: Path, robot: str | None = None, seed: int = 0, variation: str = "D0",
        log: Path | None = None, existing: str = "refuse", time_limit: float = TIME_LIMIT_S,
        keep_after: float = KEEP_AFTER_S,
    ) -> None:
        """``existing``: what to do with an ``out`` that exists: ``refuse``, ``append`` (same task and robot)
        or ``replace`` (by the new demos, once the first is kept: until then the old file stays).
        ``time_limit``: seconds a demo may last before it is discarded as too long; ``keep_after``: seconds
        success must hold before the demo is kept."""
        self.task = get_task(task)
        self.task.variation(variation)
        self.world: World = make_world(self.task, load_robot(robot or self.task.robot))
        self.env_args = env_args_for(self.world, variation)
        self.out, self.seed, self.variation = Path(out), seed, variation
        self.max_steps = max(1, round(time_limit / CONTROL_DT))
        self.keep_after = max(self.task.success_hold_steps, round(keep_after / CONTROL_DT))
        self.kept = self._existing_demos(existing)
        self.discarded = 0
        self.episode = -1
        self.tick_count = 0
        self.state = "ready"
        self.outcomes: list[Outcome] = []
        self.recorder: Recorder | None = None
        self.finished = False
        self.last_ack = 0
        self._pause = 0
        self._queue: list[InputMessage] = []
        self._lock = threading.Lock()
        header = {"demoforge": __version__, "task": self.task.name, "robot": self.world.env.robot.name,
                  "seed": seed, "variation": variation, "max_steps": self.max_steps,
                  "keep_after_steps": self.keep_after}
        self.log = SessionLog(log, header) if log is not None else None
        self._next_episode()

    def _existing_demos(self, existing: str) -> int:
        """Demos already in the output file (when appending to it); its task and robot must be this session's."""
        if not self.out.exists() or existing == "replace":
            return 0
        if existing != "append":
            raise DemoforgeError(f"{self.out}: exists; pass --append to add demos to it, or --overwrite to replace it")
        args = read_env_args(self.out)
        kwargs = args.get("env_kwargs") or {}
        if args.get("env_name") != self.task.name or kwargs.get("robot") != self.world.env.robot.name:
            raise InputFileError(self.out, f"holds demos of {args.get('env_name')!r} on {kwargs.get('robot')!r}; "
                                 f"this session records {self.task.name!r} on {self.world.env.robot.name!r}",
                                 field="data.attrs[env_args]")
        with open_dataset(self.out) as f:
            return len(demo_names(f))

    # ---- from any thread ------------------------------------------------------------------------
    def submit(self, msg: InputMessage) -> None:
        """Queue a checked message for the next tick."""
        with self._lock:
            self._queue.append(msg)

    # ---- the control thread ---------------------------------------------------------------------
    def tick(self, advance: Callable[[], None] | None = None) -> None:
        """One control period: apply the queued messages, then step the demo being recorded (its physics
        through ``advance`` when given: see ``Recorder.step``)."""
        with self._lock:
            messages, self._queue = self._queue, []
        for msg in messages:
            if self.log is not None:
                self.log.write(self.tick_count, msg)
            if msg.seq is not None:
                self.last_ack = msg.seq
            self._apply(msg)
        if self.log is not None and messages:
            self.log.flush()
        if self.state == "done":
            self._pause -= 1
            if self._pause <= 0:
                self._next_episode()
        elif not self.finished:
            self.mapper.tick()
            if self.state == "ready" and self.mapper.moved:
                self.recorder = self.world.episode([], max_steps=self.max_steps)
                self.state = "recording"
            if self.state == "recording":
                self._step(advance)
        self.tick_count += 1

    def _apply(self, msg: InputMessage) -> None:
        if isinstance(msg, Command):
            self._command(msg.name)
        elif self.state != "done":
            self.mapper.apply(msg)

    def _command(self, name: str) -> None:
        if name == "stop" and self.state == "recording":
            rec = self.recorder
            assert rec is not None
            self._end(rec.succeeded(), "" if rec.succeeded() else self._why_not())
        elif name == "discard" and self.state == "recording":
            self._end(False, "discarded by the operator")
        elif name == "discard_last" and self.kept > 0:
            self.kept = rewrite_with(self.out, self.env_args, keep=self.kept - 1)
        elif name == "disconnect":
            self.disconnect()
        elif name == "quit":
            if self.state == "recording":
                self._end(False, "the session ended during the demo")
            self.finished = True

    def disconnect(self) -> None:
        """The operator's page went away: a demo in progress is discarded (never kept half-done)."""
        if self.state == "recording":
            self._end(False, "the operator disconnected")

    def _step(self, advance: Callable[[], None] | None) -> None:
        rec = self.recorder
        assert rec is not None
        if not rec.step(np.stack(self.mapper.targets), np.array(self.mapper.grippers), advance=advance):
            self._end(False, "physics unstable" if rec.unstable else "too long")
        elif rec.succeeded(self.keep_after):
            self._end(True, "")
        elif rec.full:
            self._end(False, f"too long: not done within {rec.capacity} steps")

    def _why_not(self) -> str:
        if self.world.success():
            return f"success did not hold for {self.task.success_hold_steps} steps yet"
        return self.world.failure_reason() or "the task is not done"

    def _end(self, success: bool, reason: str) -> None:
        rec = self.recorder
        assert rec is not None
        steps = rec.t
        if success:
            demo = rec.finish(variation=self.variation)
            demo.meta.update(seed=self.seed, episode=self.episode, expert="teleop")
            self.kept = rewrite_with(self.out, self.env_args, keep=self.kept, add=demo)
        else:
            self.discarded += 1
        outcome = Outcome(self.episode, success, reason, steps)
        self.outcomes.append(outcome)
        if self.log is not None:
            self.log.write_outcome(self.tick_count, outcome)
        self.recorder = None
        self.state = "done"
        self._pause = PAUSE_TICKS

    def _next_episode(self) -> None:
        self.episode += 1
        self.world.reset(np.random.default_rng([self.seed, self.episode]), self.variation)
        env = self.world.env
        self.mapper = InputMapper(self.world.arm_names, [env.eef_pose(i) for i in range(len(env.arms))],
                                  [arm.config.eef_dim if arm.hand else 0 for arm in env.arms])
        self.state = "ready"

    def close(self) -> None:
        if self.log is not None:
            self.log.close()

    # ---- what the page shows --------------------------------------------------------------------
    def status(self) -> dict:
        last = self.outcomes[-1] if self.outcomes else None
        return {
            "type": "status", "state": self.state, "episode": self.episode, "kept": self.kept,
            "discarded": self.discarded, "task": self.task.name, "description": self.task.description,
            "arms": self.world.arm_names, "active": self.mapper.active,
            "step": self.recorder.t if self.recorder is not None else 0,
            "max_steps": self.max_steps,
            "last": None if last is None else {"episode": last.episode, "kept": last.kept, "reason": last.reason},
        }


def replay_log(log: Path, out: Path, task: str | None = None, robot: str | None = None, existing: str = "refuse",
               on_outcome: Callable[[Outcome], None] | None = None) -> TeleopSession:
    """Drive a session from a saved log, tick by tick as fast as the physics goes, to the last tick the log
    saw (a demo still in progress then is dropped, as the live session dropped it); returns the session."""
    record = read_log(log)
    header = record.header
    try:
        task = task or header["task"]
        max_steps = int(header.get("max_steps") or get_task(task).max_steps)  # a header without it: the task's own
        keep_after = int(header.get("keep_after_steps") or get_task(task).success_hold_steps)  # older logs: the task's
        session = TeleopSession(task, out, robot=robot or header.get("robot"), seed=int(header["seed"]),
                                variation=header.get("variation", "D0"), existing=existing,
                                time_limit=max_steps * CONTROL_DT, keep_after=keep_after * CONTROL_DT)
    except (KeyError, ValueError, TypeError) as exc:
        raise InputFileError(log, f"has an incomplete session header ({exc})", field="header") from None
    seen, i, events = 0, 0, record.events
    while session.tick_count <= record.last_tick and not session.finished:
        while i < len(events) and events[i][0] == session.tick_count:
            session.submit(events[i][1])
            i += 1
        session.tick()
        for outcome in session.outcomes[seen:]:
            if on_outcome is not None:
                on_outcome(outcome)
        seen = len(session.outcomes)
    session.close()
    return session
