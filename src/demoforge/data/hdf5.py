"""robomimic-layout HDF5: write demos atomically, read them back with clear errors.

Layout (docs/formats.md has every key)::

    data                  attrs: total, env_args (JSON)
    data/demo_<i>         attrs: num_samples, model_file, scene, source, meta (JSON)
      actions actions_abs states rewards dones obs/<key> datagen_info/...
    mask/train mask/valid demo names as byte strings
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import TracebackType

import h5py
import numpy as np

from demoforge.data.demo import DatagenInfo, Demo
from demoforge.errors import InputFileError

ACTION_DIM = 7
VALID_FRACTION = 0.1


def demo_key(index: int) -> str:
    return f"demo_{index}"


def _demo_sort_key(name: str) -> int:
    return int(name.split("_", 1)[1])


class DatasetWriter:
    """Append demos to ``<path>.partial``; on ``close`` write the index and rename into place atomically.

    If the block inside ``with`` raises, the partial file is removed: no corrupted dataset is left.
    """

    def __init__(self, path: str | Path, env_args: dict, keep_partial: bool = False) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = h5py.File(self.tmp, "w")
        self.data = self.file.create_group("data")
        self.data.attrs["env_args"] = json.dumps(env_args)
        self.count = 0
        self.total = 0
        self.keep_partial = keep_partial

    def add(self, demo: Demo) -> str:
        name = demo_key(self.count)
        write_demo(self.data.create_group(name), demo)
        self.count += 1
        self.total += len(demo)
        return name

    def add_copy(self, group: h5py.Group) -> str:
        """Append a demo group of another file unchanged (arrays copied bit for bit)."""
        name = demo_key(self.count)
        group.file.copy(group, self.data, name=name)
        self.count += 1
        self.total += int(group.attrs["num_samples"])
        return name

    def close(self) -> Path:
        names = [demo_key(i) for i in range(self.count)]
        self.data.attrs["total"] = self.total
        n_valid = int(round(len(names) * VALID_FRACTION)) if len(names) >= 10 else 0
        mask = self.file.create_group("mask")
        mask.create_dataset("train", data=np.array(names[: len(names) - n_valid], dtype="S"))
        mask.create_dataset("valid", data=np.array(names[len(names) - n_valid :], dtype="S"))
        self.file.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        self.file.close()
        if not self.keep_partial:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def next_obs(value: np.ndarray) -> np.ndarray:
    """Observations one step ahead (the last step repeats): robomimic's ``next_obs`` for each ``obs`` key."""
    return np.concatenate([value[1:], value[-1:]]) if len(value) else value


def write_demo(group: h5py.Group, demo: Demo, with_next_obs: bool = True) -> None:
    group.attrs["num_samples"] = len(demo)
    group.attrs["model_file"] = demo.model_file
    group.attrs["scene"] = demo.scene
    group.attrs["source"] = json.dumps(demo.source)
    group.attrs["meta"] = json.dumps(demo.meta)
    for key in ("actions", "actions_abs", "states", "rewards", "dones"):
        group.create_dataset(key, data=getattr(demo, key))
    obs = group.create_group("obs")
    for key, value in demo.obs.items():
        obs.create_dataset(key, data=value)
    if with_next_obs:  # robomimic's default config reads it (train.hdf5_load_next_obs)
        following = group.create_group("next_obs")
        for key, value in demo.obs.items():
            following.create_dataset(key, data=next_obs(value))
    write_datagen(group, demo.datagen)


def write_datagen(group: h5py.Group, datagen: DatagenInfo) -> None:
    """``<demo>/datagen_info``: what the generator needs to use this demo as a source."""
    info = group.create_group("datagen_info")
    info.create_dataset("eef_pose", data=datagen.eef_pose)
    info.create_dataset("target_pose", data=datagen.target_pose)
    info.create_dataset("gripper_action", data=datagen.gripper_action)
    for key, value in datagen.object_poses.items():
        info.create_dataset(f"object_poses/{key}", data=value)
    for key, value in datagen.subtask_term_signals.items():
        info.create_dataset(f"subtask_term_signals/{key}", data=value)


def write_dataset(path: str | Path, demos: list[Demo], env_args: dict) -> Path:
    with DatasetWriter(path, env_args) as writer:
        for demo in demos:
            writer.add(demo)
    return Path(path)


# ---- reading --------------------------------------------------------------------------------------
def open_dataset(path: str | Path) -> h5py.File:
    """Open an HDF5 dataset for reading, or raise an error naming the file and the problem."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file does not exist")
    if path.is_dir():
        raise InputFileError(path, "is a folder; expected an HDF5 file (for a run folder use <run>/demos.hdf5)")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputFileError(path, f"not a readable HDF5 file ({exc})") from None
    if "data" not in f or not isinstance(f["data"], h5py.Group):
        f.close()
        raise InputFileError(path, "missing group; expected the robomimic layout with demos under /data", field="data")
    return f


def read_env_args(path: str | Path) -> dict:
    with open_dataset(path) as f:
        raw = f["data"].attrs.get("env_args")
        if raw is None:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise InputFileError(path, "is not valid JSON", field="data.attrs[env_args]") from None


def demo_names(f: h5py.File) -> list[str]:
    names = [k for k in f["data"].keys() if k.startswith("demo_") and k[5:].isdigit()]
    return sorted(names, key=_demo_sort_key)


def read_demos(path: str | Path, require_datagen: bool = True, names: list[str] | None = None) -> list[Demo]:
    """All demos of a file (or the listed ones), validated; ``require_datagen`` for generator sources."""
    path = Path(path)
    with open_dataset(path) as f:
        available = demo_names(f)
        if not available:
            raise InputFileError(path, "holds no demos (expected groups data/demo_0, data/demo_1, ...)", field="data")
        wanted = available if names is None else names
        demos = []
        for name in wanted:
            if name not in f["data"]:
                raise InputFileError(path, f"no demo {name!r} (it has {available[0]} .. {available[-1]})")
            try:
                demos.append(_read_demo(path, f["data"][name], require_datagen))
            except (KeyError, OSError, ValueError, TypeError) as exc:
                raise InputFileError(path, f"cannot read: {exc}", field=f"data/{name}") from None
        return demos


def _need(path: Path, group: h5py.Group, key: str) -> np.ndarray:
    if key not in group:
        raise InputFileError(path, "is missing", field=f"{group.name}/{key}")
    return np.asarray(group[key][()])


def _read_demo(path: Path, group: h5py.Group, require_datagen: bool) -> Demo:
    actions = _need(path, group, "actions")
    if actions.ndim != 2 or actions.shape[1] != ACTION_DIM:
        raise InputFileError(
            path, f"has shape {actions.shape}; expected (T, {ACTION_DIM}) delta-pose actions", field=f"{group.name}/actions"
        )
    T = len(actions)
    if not np.all(np.isfinite(actions)):
        raise InputFileError(path, "contains NaN or infinite values", field=f"{group.name}/actions")
    states = _need(path, group, "states")
    if len(states) != T:
        raise InputFileError(path, f"has {len(states)} rows; expected {T} (one per action)", field=f"{group.name}/states")
    arrays = {
        key: np.asarray(group[key][()]) if key in group else default
        for key, default in (
            ("actions_abs", np.zeros((T, ACTION_DIM))),
            ("rewards", np.zeros(T)),
            ("dones", np.eye(1, T, T - 1, dtype=np.int64)[0] if T else np.zeros(0, dtype=np.int64)),
        )
    }
    obs = {k: np.asarray(v[()]) for k, v in group["obs"].items()} if "obs" in group else {}
    datagen = _read_datagen(path, group, T, require_datagen)
    attrs = group.attrs

    def text(key: str, default: str) -> str:
        value = attrs.get(key, default)
        return value.decode() if isinstance(value, bytes) else str(value)

    return Demo(
        actions=actions,
        actions_abs=arrays["actions_abs"],
        states=states,
        rewards=arrays["rewards"],
        dones=arrays["dones"],
        obs=obs,
        datagen=datagen,
        model_file=text("model_file", ""),
        scene=text("scene", "{}"),
        source=json.loads(text("source", "[]")),
        meta={**json.loads(text("meta", "{}")), "name": group.name.rsplit("/", 1)[-1]},
    )


def _read_datagen(path: Path, group: h5py.Group, T: int, required: bool) -> DatagenInfo:
    if "datagen_info" not in group:
        if required:
            raise InputFileError(
                path, "is missing; run `demoforge annotate` on this file first", field=f"{group.name}/datagen_info"
            )
        empty = np.zeros((T, 4, 4))
        return DatagenInfo(empty, empty, np.zeros((T, 1)), {}, {})
    info = group["datagen_info"]
    out = {}
    for key in ("eef_pose", "target_pose"):
        value = _need(path, info, key)
        if value.shape != (T, 4, 4):
            raise InputFileError(path, f"has shape {value.shape}; expected ({T}, 4, 4)", field=f"{info.name}/{key}")
        if not np.all(np.isfinite(value)):
            raise InputFileError(path, "contains NaN or infinite values", field=f"{info.name}/{key}")
        out[key] = value
    gripper = _need(path, info, "gripper_action").reshape(T, -1)
    objects = {k: np.asarray(v[()]) for k, v in info["object_poses"].items()} if "object_poses" in info else {}
    for key, value in objects.items():
        if value.shape != (T, 4, 4) or not np.all(np.isfinite(value)):
            raise InputFileError(path, f"expected ({T}, 4, 4) finite poses", field=f"{info.name}/object_poses/{key}")
    signals = (
        {k: np.asarray(v[()]).astype(np.int8) for k, v in info["subtask_term_signals"].items()}
        if "subtask_term_signals" in info
        else {}
    )
    return DatagenInfo(out["eef_pose"], out["target_pose"], gripper, objects, signals)
