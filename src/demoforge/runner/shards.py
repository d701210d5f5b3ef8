"""Per-attempt shard files: what survives an interrupted run, and what the final merge reads.

A run folder holds ``.shards/attempt_<index>.hdf5`` while it runs (``RunFolder.shards``). Each shard is written to a
``.partial`` file and renamed, so a shard that exists is complete; a killed run loses at most the
attempts in flight. The merge copies kept demos, in attempt order, into ``demos.hdf5``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py

from demoforge.data.demo import Demo
from demoforge.data.hdf5 import demo_bytes, write_demo
from demoforge.outputs import ensure_space

DEMO_KEY = "data/demo_0"


def shard_path(shard_dir: Path, index: int) -> Path:
    return shard_dir / f"attempt_{index:08d}.hdf5"


def write_shard(path: Path, summary: dict, demo: Demo | None, with_next_obs: bool = True) -> None:
    """One attempt: its summary (root attribute ``summary``) and, if given, its demo under ``data/demo_0``."""
    tmp = path.with_name(path.name + ".partial")
    ensure_space(path.parent, demo_bytes(demo, with_next_obs) if demo is not None else 0, growing=tmp)
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["summary"] = json.dumps(summary)
            if demo is not None:
                write_demo(f.create_group(DEMO_KEY), demo, with_next_obs)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_shard_bytes(path: Path, data: bytes) -> None:
    """A shard made elsewhere (a Ray actor), written atomically like ``write_shard``."""
    tmp = path.with_name(path.name + ".partial")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def read_summary(path: Path) -> dict | None:
    """The summary of a finished shard, or None if the file is unreadable (it will be re-run)."""
    try:
        with h5py.File(path, "r") as f:
            return json.loads(f.attrs["summary"])
    except (OSError, KeyError, ValueError):
        return None


def finished_attempts(shard_dir: Path) -> dict[int, dict]:
    """Summaries of all complete shards by attempt index; leftover ``.partial`` files are removed."""
    done: dict[int, dict] = {}
    if not shard_dir.is_dir():
        return done
    for path in shard_dir.iterdir():
        if path.name.endswith(".partial"):
            path.unlink(missing_ok=True)
        elif path.name.startswith("attempt_") and path.suffix == ".hdf5":
            summary = read_summary(path)
            if summary is not None:
                done[int(summary["index"])] = summary
            else:
                path.unlink(missing_ok=True)
    return done
