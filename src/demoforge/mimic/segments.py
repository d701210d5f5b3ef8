"""Cut source demos into object-centric subtask segments.

A subtask ends at the first rising edge (0 -> 1) of its termination signal after the previous
boundary; the last subtask ends with the demo. A user annotation file can override the boundaries:
``{"demo_0": [45, 110], ...}`` (end step of every subtask but the last) or
``{"demo_0": {"grasp_cube_a": 45}, ...}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from demoforge.data.demo import Demo
from demoforge.errors import DemoforgeError, InputFileError
from demoforge.sim.env import vertical_extent
from demoforge.sim.scene import model_from_xml
from demoforge.tasks.base import Task


def rising_edge(signal: np.ndarray, after: int) -> int | None:
    """First index ``t > after`` where ``signal`` goes from 0 to 1 (a signal already on counts at ``after + 1``)."""
    s = np.asarray(signal).astype(bool)
    for t in range(max(after + 1, 1), len(s)):
        if s[t] and not s[t - 1]:
            return t
    return None


def boundaries_from_signals(demo: Demo, task: Task, label: str) -> list[int]:
    """End step of each subtask except the last, from the demo's termination signals."""
    bounds: list[int] = []
    prev = 0
    for sub in task.subtasks[:-1]:
        signals = demo.datagen.subtask_term_signals
        if sub.signal not in signals:
            raise DemoforgeError(
                f"{label}: datagen_info/subtask_term_signals/{sub.signal} is missing; "
                f"run `demoforge annotate` with --task {task.name}"
            )
        edge = rising_edge(signals[sub.signal], prev)
        if edge is None:
            raise DemoforgeError(
                f"{label}: signal {sub.signal!r} never rises after step {prev}, so subtask {sub.name!r} has no end; "
                "drop this demo or give boundaries with --annotations"
            )
        bounds.append(edge)
        prev = edge
    return bounds


def validate_boundaries(bounds: list[int], length: int, task: Task, label: str) -> list[int]:
    """Check user boundaries: one per subtask but the last, integers, strictly increasing, inside the demo."""
    expected = len(task.subtasks) - 1
    if len(bounds) != expected:
        names = ", ".join(s.name for s in task.subtasks[:-1])
        raise DemoforgeError(f"{label}: expected {expected} boundaries (ends of {names}); got {len(bounds)}")
    out = []
    for b in bounds:
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)):
            raise DemoforgeError(f"{label}: boundary {b!r} is not an integer step index")
        if not 0 < b < length:
            raise DemoforgeError(f"{label}: boundary {b} is outside the demo (1 .. {length - 1})")
        if out and b <= out[-1]:
            raise DemoforgeError(f"{label}: boundaries must increase strictly; got {out[-1]} then {b}")
        out.append(int(b))
    return out


def load_annotations(path: str | Path, task: Task) -> dict[str, list[int]]:
    """Read a user annotation file: demo name -> list of boundaries (or subtask name -> boundary)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "annotation file does not exist")
    try:
        raw = json.loads(path.read_text())
    except ValueError as exc:
        raise InputFileError(path, f"not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise InputFileError(path, 'expected an object like {"demo_0": [45, 110]}')
    names = [s.name for s in task.subtasks[:-1]]
    out: dict[str, list[int]] = {}
    for demo, value in raw.items():
        if isinstance(value, dict):
            missing = [n for n in names if n not in value]
            if missing:
                raise InputFileError(path, f"missing subtask boundaries {missing}", field=demo)
            value = [value[n] for n in names]
        if not isinstance(value, list):
            raise InputFileError(path, "expected a list of step indices", field=demo)
        out[demo] = value
    return out


def signals_from_boundaries(bounds: list[int], length: int, task: Task) -> dict[str, np.ndarray]:
    """Termination signals that rise exactly at the given boundaries (and stay on)."""
    steps = np.arange(length)
    return {sub.signal: (steps >= b).astype(np.int8) for sub, b in zip(task.subtasks[:-1], bounds)}


@dataclass(frozen=True)
class SourceSet:
    """Source demos with their subtask boundaries: what the generator selects segments from."""

    demos: list[Demo]
    boundaries: list[list[int]]  # per demo: end step of each subtask but the last
    extents: list[dict[str, tuple[float, float]]]  # per demo: object -> (bottom, top) z in its frame, from its model

    def segment_range(self, demo: int, subtask: int, offsets: list[int]) -> tuple[int, int]:
        """[start, end) of a subtask in a source demo, boundaries shifted by the attempt's ``offsets``."""
        length = len(self.demos[demo])
        shifted = [min(b + o, length - 1) for b, o in zip(self.boundaries[demo], offsets)]
        start = 0 if subtask == 0 else shifted[subtask - 1]
        end = length if subtask == len(shifted) else shifted[subtask]
        return start, max(end, start + 1)


def build_source_set(
    demos: list[Demo], task: Task, annotations: dict[str, list[int]] | None = None, label: str = "source"
) -> SourceSet:
    """Boundaries for every source demo (annotations win over signals); errors name the demo."""
    bounds = []
    for i, demo in enumerate(demos):
        name = demo.meta.get("name", f"demo_{i}")
        where = f"{label} {name}"
        missing = [o for o in task.objects if o not in demo.datagen.object_poses]
        if missing:
            raise DemoforgeError(f"{where}: datagen_info/object_poses lacks {missing} needed by task {task.name!r}")
        if annotations is not None and name in annotations:
            bounds.append(validate_boundaries(annotations[name], len(demo), task, where))
        else:
            bounds.append(boundaries_from_signals(demo, task, where))
    return SourceSet(demos, bounds, [object_extents(demo, task) for demo in demos])


def object_extents(demo: Demo, task: Task) -> dict[str, tuple[float, float]]:
    """(bottom, top) of every task object in the demo's own model (empty without a model: centres are used)."""
    if not demo.model_file:
        return {}
    model = model_from_xml(demo.model_file)
    return {name: vertical_extent(model, name) for name in task.objects}
