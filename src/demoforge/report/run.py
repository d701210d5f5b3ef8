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
from demoforge.runner.run_folder import CONFIG, DEMOS, SHARDS, STATS, RunFolder, RunStats

# config.json fields the report reads as text (anything else there is named as damaged)
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
    stats: RunStats
    kept: DemoFile
    failed: DemoFile


def load_run(folder: Path) -> Run:
    """The run's JSON files and demo attributes, or an error naming the first missing or broken file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, "is not a folder; expected a run folder written by `demoforge generate`")
    run = RunFolder(folder)
    for path in (run.stats, run.config, run.demos):  # failed.hdf5 is optional (keep_failed)
        if not path.is_file():
            raise InputFileError(path, missing_file_problem(folder))
    stats = run.read_stats()
    config = check_fields(run.config, run.read_config(), CONFIG_TEXTS, (str,))
    kept = read_rows(run.demos)
    failed = read_rows(run.failed) if run.failed.is_file() else DemoFile(None)
    return Run(folder, config, stats, kept, failed)


def missing_file_problem(folder: Path) -> str:
    """Why a run file is missing: the run is still running or was interrupted, or this is no run folder."""
    shards = RunFolder(folder).shards
    if shards.is_dir():
        done = len(list(shards.glob("attempt_*.hdf5")))
        return (f"missing: the run in {folder} has not finished ({done} attempts done in {SHARDS}); finish it with "
                "the same `demoforge generate` command plus --resume, then make the report")
    return (f"missing: {folder} is not a demoforge run folder (a run holds {DEMOS}, {CONFIG} and {STATS} "
            "from `demoforge generate`)")


def check_fields(path: Path, value: dict, keys: tuple[str, ...], types: tuple[type, ...]) -> dict:
    """``value`` itself, once every present, non-null field of ``keys`` is of ``types``; else an error naming it."""
    for key in keys:
        item = value.get(key)
        if item is not None and (not isinstance(item, types) or isinstance(item, bool) or not _finite(item)):
            kind = "a number" if float in types else "text"
            raise InputFileError(path, f"expected {kind}, found {json.dumps(item)[:60]}", field=key)
    return value


def _finite(value: object) -> bool:
    return not isinstance(value, float) or bool(np.isfinite(value))


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
