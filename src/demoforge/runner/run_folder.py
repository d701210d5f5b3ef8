"""The run folder contract: the files `demoforge generate` writes, the fields of ``stats.json``, and what
each finished attempt records (docs/formats.md, "Run folder")::

    demos.hdf5   successful demos, robomimic layout, in attempt order
    failed.hdf5  failed attempts, each with meta.reason (if keep_failed)
    config.json  the resolved GenerateConfig plus versions, the source file's hash and the run's identity
    stats.json   RunStats: attempts, successes, dgr, wall_time_s, physics_steps, control_steps, failures, ...
    .shards/     while running: one file per finished attempt, its AttemptSummary inside (runner/shards.py)
    report.html  `demoforge report` (optional)

Everything that reads or writes a run folder takes the names from here and ``stats.json`` as a ``RunStats``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from demoforge.errors import InputFileError
from demoforge.outputs import write_json

DEMOS = "demos.hdf5"
FAILED = "failed.hdf5"
CONFIG = "config.json"
STATS = "stats.json"
SHARDS = ".shards"
REPORT = "report.html"
RUN_FILES = (DEMOS, FAILED, CONFIG, STATS)  # what a finished run holds (failed.hdf5 only with keep_failed)
RUN_ENTRIES = (*RUN_FILES, SHARDS, REPORT)  # all a run folder may hold


@dataclass
class AttemptSummary:
    """What the run needs to know of a finished attempt (the demo itself lives in its shard)."""

    index: int
    success: bool
    reason: str
    control_steps: int = 0
    physics_steps: int = 0
    scenes_rejected: int = 0
    crashed: bool = False
    run_id: str = ""  # identity of the run that made it (runner/identity.py): what resume verifies

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: dict) -> AttemptSummary:
        """From a shard's summary; fields this version does not know are ignored (ValueError if any is missing)."""
        names = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in value.items() if k in names})
        except TypeError as exc:
            raise ValueError(str(exc)) from None


class RunStats(BaseModel):
    """``stats.json``: what a run did. Written whole by every run; read leniently (a field an older or
    hand-made file lacks takes its default), strictly typed (a count that is no number names the field)."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="ignore")

    requested: int | None = Field(None, description="num_demos asked for")
    attempts: int = Field(0, ge=0, description="attempts used (the dataset is the first `requested` successes)")
    successes: int = Field(0, ge=0, description="demos in demos.hdf5")
    physics_steps: int = Field(0, ge=0, description="MuJoCo steps of all attempts")
    control_steps: int = Field(0, ge=0, description="20 Hz control steps of all attempts")
    scenes_rejected: int = Field(0, ge=0, description="impossible scenes resampled (not attempts)")
    crashed: int = Field(0, ge=0, description="attempts lost to worker crashes")
    dgr: float = Field(0.0, description="data generation rate: successes / attempts")
    wall_time_s: float | None = Field(None, description="seconds the attempts took")
    attempts_per_s: float = 0.0
    failures: dict[str, int] = Field(default_factory=dict, description="failed attempts by reason, most first")
    task: str | None = None
    variation: str | None = None
    scene_family: str | None = Field(None, description="the scene family, 'default' without one")
    cpu_count: int | None = Field(None, description="CPUs of the machine that ran it")

    @classmethod
    def of_attempts(
        cls, used: list[AttemptSummary], wall_time_s: float, requested: int, task: str, variation: str,
        scene_family: str | None,
    ) -> RunStats:
        """The stats of a finished run from the attempts it used (in attempt order)."""
        attempts = len(used)
        successes = sum(s.success for s in used)
        failures: dict[str, int] = {}
        for s in used:
            if not s.success:
                failures[s.reason] = failures.get(s.reason, 0) + 1
        return cls(
            requested=requested, attempts=attempts, successes=successes,
            physics_steps=sum(s.physics_steps for s in used), control_steps=sum(s.control_steps for s in used),
            scenes_rejected=sum(s.scenes_rejected for s in used), crashed=sum(s.crashed for s in used),
            dgr=successes / max(attempts, 1), wall_time_s=wall_time_s,
            attempts_per_s=attempts / wall_time_s if wall_time_s > 0 else 0.0,
            failures=dict(sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))),
            task=task, variation=variation, scene_family=scene_family or "default", cpu_count=os.cpu_count(),
        )

    def recorded(self, name: str) -> bool:
        """Whether the file held this field (else it reads as its default)."""
        return name in self.model_fields_set


TEXTS = ("task", "variation", "scene_family")  # the other fields are numbers (and failures)


@dataclass(frozen=True)
class RunFolder:
    """Where each file of the run in ``path`` lives, and ``stats.json`` read and written as ``RunStats``."""

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def demos(self) -> Path:
        return self.path / DEMOS

    @property
    def failed(self) -> Path:
        return self.path / FAILED

    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def stats(self) -> Path:
        return self.path / STATS

    @property
    def shards(self) -> Path:
        return self.path / SHARDS

    @property
    def report(self) -> Path:
        return self.path / REPORT

    @property
    def finished(self) -> bool:
        """The run completed here: its stats and dataset are written and no attempt shards are left."""
        return self.stats.exists() and self.demos.exists() and not self.shards.exists()

    def write_stats(self, stats: RunStats) -> Path:
        return write_json(self.stats, stats.model_dump(mode="json"))

    def read_stats(self) -> RunStats:
        """``stats.json``, or an error naming the file and the first field that is not what it should be."""
        value = {k: v for k, v in read_json(self.stats).items() if v is not None}  # null: not recorded
        try:
            return RunStats.model_validate(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0])
            raise InputFileError(self.stats, _expected(field, value.get(field), first["msg"]), field=field) from None

    def read_config(self) -> dict:
        return read_json(self.config)


def _expected(field: str, value: Any, problem: str) -> str:
    """What a damaged ``stats.json`` field should hold, and what it holds."""
    if field == "failures":
        return "expected an object of failure reason -> count"
    found = json.dumps(value)[:60]
    if field in TEXTS:
        return f"expected text, found {found}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{problem}, found {found}"  # a number, but negative, not whole, or not finite
    return f"expected a number, found {found}"


def read_json(path: Path) -> dict:
    """A JSON object from a run file, or an error naming the file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputFileError(path, "file does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(value, dict):
        raise InputFileError(path, f"expected a JSON object, found {type(value).__name__}")
    return value
