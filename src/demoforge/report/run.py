"""Read a run folder cheaply: the JSON files, demo attributes, and t=0 object positions.

Only attributes and the few dataset rows a figure needs are read; full demos are loaded only for the
handful that are rendered (``media``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from demoforge.data.hdf5 import demo_names, open_dataset
from demoforge.errors import InputFileError
from demoforge.runner.identity import file_sha256
from demoforge.runner.shards import SHARD_DIR

RUN_FILES = ("stats.json", "config.json", "demos.hdf5")
# stats.json fields the report reads, and what each must hold (anything else is named as damaged)
STATS_NUMBERS = ("attempts", "successes", "physics_steps", "control_steps", "scenes_rejected", "crashed", "dgr",
                 "wall_time_s", "attempts_per_s", "cpu_count")
CONFIG_TEXTS = ("task", "variation", "source", "source_sha256", "robot", "scenes", "selection")


@dataclass
class DemoRow:
    """One demo's attributes: what tables, labels and histograms need."""

    name: str
    length: int
    meta: dict
    source: list
    scene: str


@dataclass
class DemoFile:
    path: Path | None  # None: the file is not there (failed.hdf5 of a run without keep_failed)
    rows: list[DemoRow] = field(default_factory=list)

    @property
    def lengths(self) -> list[int]:
        return [r.length for r in self.rows]


@dataclass
class Run:
    folder: Path
    config: dict
    stats: dict
    kept: DemoFile
    failed: DemoFile


def load_run(folder: Path) -> Run:
    """The run's JSON files and demo attributes, or an error naming the first missing or broken file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, "is not a folder; expected a run folder written by `demoforge generate`")
    for name in RUN_FILES:
        if not (folder / name).is_file():
            raise InputFileError(folder / name, missing_file_problem(folder))
    stats = check_fields(folder / "stats.json", read_json(folder / "stats.json"), STATS_NUMBERS, (int, float))
    failures = stats.get("failures") or {}
    if not isinstance(failures, dict) or not all(_is_number(v) for v in failures.values()):
        raise InputFileError(folder / "stats.json", "expected an object of failure reason -> count", field="failures")
    config = check_fields(folder / "config.json", read_json(folder / "config.json"), CONFIG_TEXTS, (str,))
    kept = read_rows(folder / "demos.hdf5")
    failed_path = folder / "failed.hdf5"
    failed = read_rows(failed_path) if failed_path.is_file() else DemoFile(None)
    return Run(folder, config, stats, kept, failed)


def missing_file_problem(folder: Path) -> str:
    """Why a run file is missing: the run is still running or was interrupted, or this is no run folder."""
    shards = folder / SHARD_DIR
    if shards.is_dir():
        done = len(list(shards.glob("attempt_*.hdf5")))
        return (f"missing: the run in {folder} has not finished ({done} attempts done in {SHARD_DIR}); finish it with "
                "the same `demoforge generate` command plus --resume, then make the report")
    return (f"missing: {folder} is not a demoforge run folder (a run holds demos.hdf5, config.json and stats.json "
            "from `demoforge generate`)")


def check_fields(path: Path, value: dict, keys: tuple[str, ...], types: tuple[type, ...]) -> dict:
    """``value`` itself, once every present, non-null field of ``keys`` is of ``types``; else an error naming it."""
    for key in keys:
        item = value.get(key)
        if item is not None and (not isinstance(item, types) or isinstance(item, bool) or not _finite(item)):
            kind = "a number" if float in types else "text"
            raise InputFileError(path, f"expected {kind}, found {json.dumps(item)[:60]}", field=key)
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and _finite(value)


def _finite(value: object) -> bool:
    return not isinstance(value, float) or bool(np.isfinite(value))


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


def read_rows(path: Path) -> DemoFile:
    """Attributes of every demo in a dataset file (no arrays are read)."""
    rows = []
    with open_dataset(path) as f:
        for name in demo_names(f):
            attrs = f["data"][name].attrs
            try:
                rows.append(DemoRow(name, int(attrs.get("num_samples", 0)), _json_attr(attrs, "meta", {}),
                                    _json_attr(attrs, "source", []), _text(attrs.get("scene", "{}"))))
            except (TypeError, ValueError) as exc:
                raise InputFileError(path, f"unreadable demo attributes ({exc})", field=f"data/{name}") from None
    return DemoFile(path, rows)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _json_attr(attrs: h5py.AttributeManager, key: str, default: object) -> object:
    return json.loads(_text(attrs[key])) if key in attrs else default


def spread(items: list, count: int) -> list:
    """``count`` items evenly spaced over ``items``, first and last included (all if there are fewer)."""
    if len(items) <= count:
        return list(items)
    if count <= 0:
        return []
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, count).round()]


def initial_xy(path: Path, names: list[str], objects: list[str]) -> dict[str, np.ndarray]:
    """World (x, y) of every object at t=0 from ``datagen_info/object_poses``: one (N, 2) array per object."""
    out: dict[str, list] = {name: [] for name in objects}
    with open_dataset(path) as f:
        for demo in names:
            poses = f["data"][demo].get("datagen_info/object_poses")
            if poses is None:
                continue
            for name in objects:
                if name in poses and poses[name].shape[0] > 0:
                    out[name].append(np.asarray(poses[name][0, :2, 3], dtype=float))
    return {k: np.asarray(v, dtype=float).reshape(-1, 2) for k, v in out.items()}


def source_file(config: dict, folder: Path) -> tuple[Path | None, str]:
    """The source HDF5 named in config.json if it still exists, and a note when it is gone or changed."""
    raw = config.get("source")
    if not raw:
        return None, "config.json names no source file: the source demos are not shown."
    path = Path(raw)
    if not path.is_absolute() and not path.is_file():
        path = folder / raw
    if not path.is_file():
        return None, f"The source file {raw} no longer exists: only the generated demos are shown."
    expected = config.get("source_sha256")
    if expected and file_sha256(path) != expected:
        return path, f"The source file {raw} has changed since the run (its sha256 differs from config.json)."
    return path, ""
