"""Cut source demos into object-centric subtask segments.

A subtask ends at the first rising edge (0 -> 1) of its termination signal after the previous
boundary; the last subtask ends with the demo. A user annotation file can override the boundaries:
``{"demo_0": [45, 110], ...}`` (end step of every subtask but the last) or
``{"demo_0": {"grasp_cube_a": 45}, ...}``; with several arms, by subtask name only, every subtask of
every arm but each arm's last (``boundary_names``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from demoforge.data.demo import Demo
from demoforge.errors import DemoforgeError, InputFileError
from demoforge.tasks.base import Task


def rising_edge(signal: np.ndarray, after: int) -> int | None:
    """First index ``t > after`` where ``signal`` goes from 0 to 1 (a signal already on counts at ``after + 1``)."""
    s = np.asarray(signal).astype(bool)
    for t in range(max(after + 1, 1), len(s)):
        if s[t] and not s[t - 1]:
            return t
    return None


def boundaries_from_signals(demo: Demo, task: Task, label: str, arm: int = 0) -> list[int]:
    """End step of each of an arm's subtasks except its last, from the demo's termination signals."""
    bounds: list[int] = []
    prev = 0
    for sub in task.arm_subtasks(arm)[:-1]:
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


def boundary_names(task: Task) -> list[str]:
    """The subtasks whose ends a user may set, arm after arm: every subtask of an arm but its last."""
    return [sub.name for arm in range(task.num_arms) for sub in task.arm_subtasks(arm)[:-1]]


def split_by_arm(bounds: list[int], task: Task) -> list[list[int]]:
    """Boundaries in ``boundary_names`` order as one list per arm."""
    out, start = [], 0
    for arm in range(task.num_arms):
        n = len(task.arm_subtasks(arm)) - 1
        out.append(list(bounds[start : start + n]))
        start += n
    return out


def validate_boundaries(bounds: list[int], length: int, task: Task, label: str) -> list[int]:
    """Check user boundaries: one per subtask but each arm's last (``boundary_names`` order), integers inside the
    demo, strictly increasing along each arm."""
    names = boundary_names(task)
    if len(bounds) != len(names):
        raise DemoforgeError(f"{label}: expected {len(names)} boundaries (ends of {', '.join(names)}); got {len(bounds)}")
    for b in bounds:
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)):
            raise DemoforgeError(f"{label}: boundary {b!r} is not an integer step index")
        if not 0 < b < length:
            raise DemoforgeError(f"{label}: boundary {b} is outside the demo (1 .. {length - 1})")
    for arm_bounds in split_by_arm(bounds, task):
        for before, after in zip(arm_bounds, arm_bounds[1:]):
            if after <= before:
                raise DemoforgeError(f"{label}: boundaries must increase strictly along an arm; got {before} then {after}")
    return [int(b) for b in bounds]


class Annotations(dict[str, list]):
    """User boundaries, demo name -> end step of every subtask but the last; ``path`` names the file in errors."""

    def __init__(self, path: Path, boundaries: dict[str, list]) -> None:
        super().__init__(boundaries)
        self.path = path


def load_annotations(path: str | Path, task: Task) -> Annotations:
    """Read a user annotation file: demo name -> list of boundaries (or subtask name -> boundary)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "annotation file does not exist")
    try:
        raw = json.loads(path.read_text())
    except OSError as exc:
        raise InputFileError(path, f"cannot read the annotation file ({exc.strerror})") from None
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError (a binary file) is a ValueError too
        raise InputFileError(path, f"not valid JSON ({exc})") from None
    return parse_annotations(raw, task, path)


def parse_annotations(raw: object, task: Task, path: str | Path) -> Annotations:
    """An annotation file's parsed JSON as demo name -> boundaries (``boundary_names`` order); the file's rules
    without its reading (``annotate --ui`` checks what the page sends with it). Errors name ``path``."""
    path = Path(path)
    if not isinstance(raw, dict):
        raise InputFileError(path, 'expected an object like {"demo_0": [45, 110]}')
    names = boundary_names(task)
    out: dict[str, list] = {}
    for demo, value in raw.items():
        if isinstance(value, dict):
            unknown = [n for n in value if n not in names]
            if unknown:
                raise InputFileError(path, f"unknown subtasks {unknown}; task {task.name!r} has {names}", field=demo)
            missing = [n for n in names if n not in value]
            if missing:
                raise InputFileError(path, f"missing subtask boundaries {missing}", field=demo)
            value = [value[n] for n in names]
        if not isinstance(value, list):
            raise InputFileError(path, "expected a list of step indices", field=demo)
        if task.num_arms > 1 and not isinstance(raw[demo], dict):
            raise InputFileError(path, f"a {task.num_arms}-arm task needs subtask names: {{{', '.join(names)}}}",
                                 field=demo)
        out[demo] = value
    return Annotations(path, out)


def signals_from_boundaries(bounds: list[int], length: int, task: Task) -> dict[str, np.ndarray]:
    """Termination signals that rise exactly at the given boundaries (``boundary_names`` order) and stay on."""
    steps = np.arange(length)
    subtasks = [sub for arm in range(task.num_arms) for sub in task.arm_subtasks(arm)[:-1]]
    return {sub.signal: (steps >= b).astype(np.int8) for sub, b in zip(subtasks, bounds) if sub.signal is not None}


@dataclass(frozen=True)
class SourceSet:
    """Source demos with their subtask boundaries: what the generator selects segments from."""

    demos: list[Demo]
    boundaries: list[list[int]]  # per demo: end step of each subtask but the last (the first arm's, with more)
    extents: list[dict[str, tuple[float, float]]]  # per demo: object -> (bottom, top) z in its frame, from its model
    arm_boundaries: list[list[list[int]]] | None = None  # per demo, per arm: its subtasks' ends but its last

    def segment_range(self, demo: int, subtask: int, offsets: list[int], arm: int = 0) -> tuple[int, int]:
        """[start, end) of an arm's subtask (index among the arm's) in a source demo, boundaries shifted by the
        attempt's ``offsets``."""
        length = len(self.demos[demo])
        ends = self.boundaries[demo] if self.arm_boundaries is None else self.arm_boundaries[demo][arm]
        shifted = [min(b + o, length - 1) for b, o in zip(ends, offsets)]
        start = 0 if subtask == 0 else shifted[subtask - 1]
        end = length if subtask == len(shifted) else shifted[subtask]
        return start, max(end, start + 1)

    def horizon(self, task_max_steps: int) -> int:
        """Control steps an attempt may take: the task's horizon, or 1.5x the longest source demo when that is
        longer. A person's demo is slower than a script's, and an attempt replays its segments at their own
        pace plus the bridges between them; the cap is for attempts that have gone astray, not for slow sources."""
        return max(task_max_steps, -(-3 * max(len(d) for d in self.demos) // 2))


def build_source_set(
    demos: list[Demo], task: Task, extents_of: Callable[[Demo, str], dict[str, tuple[float, float]]],
    annotations: dict[str, list] | None = None, label: str = "source",
) -> SourceSet:
    """Boundaries for every source demo (annotations win over signals) and, from ``extents_of(demo, label)``
    (the simulator's business, e.g. ``rollout.world.object_extents``), its objects' extents; errors name the demo."""
    bounds, per_arm = source_boundaries(demos, task, annotations, label)
    return SourceSet(demos, bounds, [extents_of(demo, label) for demo in demos], per_arm)


def source_boundaries(
    demos: list[Demo], task: Task, annotations: dict[str, list] | None = None, label: str = "source"
) -> tuple[list[list[int]], list[list[list[int]]] | None]:
    """End steps of the subtasks of every source demo (the first arm's), and per arm with several arms."""
    given = getattr(annotations, "path", "annotations")
    if annotations is not None:
        known = {demo.meta.get("name", f"demo_{i}") for i, demo in enumerate(demos)}
        unknown = sorted(set(annotations) - known)
        if unknown:
            raise InputFileError(given, f"demos {unknown} are not in {label}", field=unknown[0])
    per_arm = []
    for i, demo in enumerate(demos):
        name = demo.meta.get("name", f"demo_{i}")
        where = f"{label} {name}"
        missing = [o for o in task.objects if o not in demo.datagen.object_poses]
        if missing:
            raise DemoforgeError(f"{where}: datagen_info/object_poses lacks {missing} needed by task {task.name!r}")
        if annotations is not None and name in annotations:
            per_arm.append(split_by_arm(validate_boundaries(annotations[name], len(demo), task, f"{given} [{name}]"), task))
        else:
            per_arm.append([boundaries_from_signals(demo, task, where, arm) for arm in range(task.num_arms)])
    return [arms[0] for arms in per_arm], (per_arm if task.num_arms > 1 else None)
