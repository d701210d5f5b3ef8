"""What ``annotate --ui`` edits: a source file's demos with their subtask boundaries per arm, automatic (from the
termination signals the stored states give) and the user's, checked by the annotation file's own rules and
saved as an annotation file (docs/formats.md, "Annotation file")."""

from __future__ import annotations

import io
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from demoforge.capture.annotate import compute_datagen
from demoforge.data.demo import Demo
from demoforge.data.hdf5 import read_demos, read_env_args
from demoforge.errors import DemoforgeError, InputFileError
from demoforge.mimic.segments import (
    boundaries_from_signals, boundary_names, load_annotations, parse_annotations, split_by_arm, validate_boundaries,
)
from demoforge.outputs import write_json
from demoforge.rollout.replay import render_frames
from demoforge.rollout.world import robot_for_demo
from demoforge.tasks import get_task

FPS = 20  # the control rate: frame i of a demo is its state at step i, shown at i / FPS seconds
FRAME_WIDTH, FRAME_HEIGHT = 320, 240  # small enough to render quickly on a CPU renderer
JPEG_QUALITY = 85
CAMERA = "agentview"


def default_annotations_path(file: Path) -> Path:
    """``src.hdf5`` -> ``src.annotations.json`` beside it."""
    return file.with_name(f"{file.stem}.annotations.json")


@dataclass
class DemoBounds:
    """One demo's boundaries per arm: the end step of each of the arm's subtasks but its last."""

    name: str
    length: int
    automatic: list[list[int]] | None  # from the termination signals; None when a signal never rises
    boundaries: list[list[int]]  # now: the saved ones, else the automatic ones, else spread evenly
    saved: bool  # ``boundaries`` are in the annotation file
    problem: str | None = None  # why there are no automatic boundaries


@dataclass
class Frames:
    """A demo's frames as JPEG bytes, filled by one render (in a worker thread); ``error`` if it failed."""

    total: int
    jpegs: list[bytes] = field(default_factory=list)
    error: str | None = None
    cancelled: bool = False  # set when the server stops: the render ends after its current frame

    @property
    def finished(self) -> bool:
        return self.error is not None or len(self.jpegs) == self.total

    def status(self) -> dict:
        state = "error" if self.error else "ready" if self.finished else "rendering"
        return {"state": state, "done": len(self.jpegs), "total": self.total, "error": self.error,
                "width": FRAME_WIDTH, "height": FRAME_HEIGHT, "fps": FPS}


class AnnotationSession:
    """A source file's demos and their boundaries; ``save`` checks and writes the annotation file ``out``."""

    def __init__(self, file: str | Path, task_name: str, annotations: str | Path | None = None,
                 robot: str | None = None, on_demo: Callable[[int, int], None] | None = None) -> None:
        self.file = Path(file)
        self.task = get_task(task_name)
        self.robot = robot
        self.out = Path(annotations) if annotations else default_annotations_path(self.file)
        if self.out.is_dir():
            raise DemoforgeError(f"{self.out}: is a folder; pass --annotations with a file name such as ann.json")
        self.names = boundary_names(self.task)
        self.subtasks = [[sub.name for sub in self.task.arm_subtasks(a)] for a in range(self.task.num_arms)]
        self.demos: list[Demo] = read_demos(self.file, require_datagen=False)
        self.arm_names = _arm_names(self.file, self.demos[0], robot, self.task.num_arms)
        for i, demo in enumerate(self.demos):  # first, so demos of another task are named as such
            demo.datagen = compute_datagen(demo, self.task, robot)  # as `annotate` does: from the stored states
            if on_demo is not None:
                on_demo(i + 1, len(self.demos))
        self.started_from = self.out if self.out.is_file() else None
        given = load_annotations(self.out, self.task) if self.started_from else {}
        unknown = sorted(set(given) - {d.meta["name"] for d in self.demos})
        if unknown:
            raise InputFileError(self.out, f"demos {unknown} are not in {self.file}", field=unknown[0])
        self.bounds: dict[str, DemoBounds] = {}
        for demo in self.demos:
            name = demo.meta["name"]
            automatic, problem = self._automatic(demo)
            if name in given:
                valid = validate_boundaries(given[name], len(demo), self.task, f"{self.out} [{name}]")
                now = split_by_arm(valid, self.task)
            else:
                now = automatic or [_spread(len(demo), len(subs) - 1) for subs in self.subtasks]
            self.bounds[name] = DemoBounds(name, len(demo), automatic, now, name in given, problem)
        self.frames: dict[str, Frames] = {}

    def _automatic(self, demo: Demo) -> tuple[list[list[int]] | None, str | None]:
        label = f"{self.file} {demo.meta['name']}"
        try:
            return [boundaries_from_signals(demo, self.task, label, a) for a in range(self.task.num_arms)], None
        except DemoforgeError as exc:
            return None, str(exc)

    def demo(self, name: str) -> Demo:
        """The demo called ``name``; a KeyError for an unknown name."""
        for demo in self.demos:
            if demo.meta["name"] == name:
                return demo
        raise KeyError(name)

    def describe(self) -> dict:
        """Everything the page shows: the task's subtasks per arm, every demo's boundaries, where saving writes."""
        return {
            "file": str(self.file), "task": self.task.name, "description": self.task.description,
            "arms": self.arm_names, "subtasks": self.subtasks, "boundary_names": self.names,
            "annotations": str(self.out), "started_from": str(self.started_from) if self.started_from else None,
            "fps": FPS, "width": FRAME_WIDTH, "height": FRAME_HEIGHT, "commands": self.commands(),
            "demos": [
                {"name": b.name, "length": b.length, "automatic": b.automatic, "boundaries": b.boundaries,
                 "saved": b.saved, "problem": b.problem}
                for b in self.bounds.values()
            ],
        }

    def commands(self) -> list[str]:
        """How to use the saved file: apply it to the source, or hand it to the generator."""
        file, out, task = (shlex.quote(str(p)) for p in (self.file, self.out, self.task.name))
        return [f"demoforge annotate {file} --task {task} --annotations {out}",
                f"demoforge generate --task {task} --source {file} --annotations {out} ..."]

    def save(self, raw: object, label: str = "request") -> list[str]:
        """Check ``raw`` (an annotation file's JSON: demo -> boundaries) by the file loader's rules and write it
        to ``out`` atomically, by subtask name; returns the demos written. Nothing is written if any is invalid."""
        checked = self.check(raw, label)
        order = [name for name in self.bounds if name in checked]
        write_json(self.out, {name: dict(zip(self.names, checked[name])) for name in order})
        for name, b in self.bounds.items():
            b.saved = name in checked
            if b.saved:
                b.boundaries = split_by_arm(checked[name], self.task)
        self.started_from = self.out
        return order

    def check(self, raw: object, label: str = "request") -> dict[str, list[int]]:
        """Demo -> boundaries (``boundary_names`` order) from an annotation file's JSON, or the loader's error."""
        given = parse_annotations(raw, self.task, label)
        unknown = sorted(set(given) - set(self.bounds))
        if unknown:
            raise InputFileError(label, f"demos {unknown} are not in {self.file}", field=unknown[0])
        return {name: validate_boundaries(value, self.bounds[name].length, self.task, f"{label} [{name}]")
                for name, value in given.items()}

    def render(self, name: str, frames: Frames) -> None:
        """Render demo ``name`` into ``frames`` (JPEG per step, from its stored states); run in one worker thread."""
        try:
            for rgb in render_frames(self.demo(name), self.robot, CAMERA, FRAME_WIDTH, FRAME_HEIGHT):
                if frames.cancelled:
                    frames.error = "cancelled"
                    return
                frames.jpegs.append(jpeg(rgb))
        except DemoforgeError as exc:
            frames.error = str(exc)
        except Exception as exc:  # the page shows it; the server keeps serving the other demos
            frames.error = f"rendering failed: {type(exc).__name__}: {exc}"


def jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _spread(length: int, n: int) -> list[int]:
    """``n`` boundaries evenly inside a demo of ``length`` steps (a start for a demo without automatic ones)."""
    return [max(1, min(length - 1, round(length * (k + 1) / (n + 1)))) for k in range(n)]


def _arm_names(file: Path, demo: Demo, robot: str | None, arms: int) -> list[str]:
    """The arms of the robot that recorded ``file`` (its ``env_kwargs.arms``, else the robot's), as many as the
    task has."""
    names = (read_env_args(file).get("env_kwargs") or {}).get("arms")
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        names = [arm.name for arm in robot_for_demo(demo, robot).arms]
    return names[:arms] if len(names) >= arms else [f"arm{a}" for a in range(arms)]
