"""robomimic-layout HDF5: write demos atomically, read them back with clear errors.

Layout (docs/formats.md has every key)::

    data                  attrs: total, env_args (JSON)
    data/demo_<i>         attrs: num_samples, model_file, scene, source, meta (JSON)
      actions actions_abs states rewards dones obs/<key> datagen_info/...
    mask/train mask/valid demo names as byte strings
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

from demoforge.data.demo import DatagenInfo, Demo
from demoforge.data.keys import ActionLayout
from demoforge.errors import InputFileError
from demoforge.outputs import (
    array_bytes, ensure_space, partial_path, publish, remove_quietly, remove_stale_partials,
)

READ_ONLY_META = ("name", "file")  # where a demo was read from: added by the reader, never written
VALID_FRACTION = 0.1


def demo_key(index: int) -> str:
    return f"demo_{index}"


def _demo_sort_key(name: str) -> int:
    return int(name.split("_", 1)[1])


class DatasetWriter:
    """Append demos to a temporary file beside ``path``; on ``close`` write the index and publish it atomically.

    If the block inside ``with`` raises, the partial file is removed: no corrupted dataset is left.
    Without ``replace``, a file that appeared at ``path`` meanwhile is never replaced.
    """

    def __init__(self, path: str | Path, env_args: dict, keep_partial: bool = False, replace: bool = True) -> None:
        self.path = Path(path)
        self.tmp = partial_path(self.path)
        self.replace = replace
        self.keep_partial = keep_partial
        self.count = 0
        self.total = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(self.path)
        try:
            self.file = h5py.File(self.tmp, "w")
            self.data = self.file.create_group("data")
            self.data.attrs["env_args"] = json.dumps(env_args)
        except BaseException:
            remove_quietly(self.tmp)
            raise

    def add(self, demo: Demo) -> str:
        ensure_space(self.tmp.parent, demo_bytes(demo), growing=self.tmp)
        name = demo_key(self.count)
        write_demo(self.data.create_group(name), demo)
        self.count += 1
        self.total += len(demo)
        return name

    def add_copy(self, group: h5py.Group, nbytes: int | None = None) -> str:
        """Append a demo group of another file unchanged (arrays copied bit for bit). ``nbytes``: its size if
        known (e.g. its file's size), else its arrays are walked to find out."""
        if nbytes is None:
            datasets: list[h5py.Dataset] = []
            group.visititems(lambda _, node: datasets.append(node) if isinstance(node, h5py.Dataset) else None)
            nbytes = array_bytes(datasets)
        ensure_space(self.tmp.parent, nbytes, growing=self.tmp)
        name = demo_key(self.count)
        group.file.copy(group, self.data, name=name)
        self.count += 1
        self.total += int(group.attrs["num_samples"])
        return name

    def close(self) -> Path:
        names = [demo_key(i) for i in range(self.count)]
        try:
            self.data.attrs["total"] = self.total
            n_valid = int(round(len(names) * VALID_FRACTION)) if len(names) >= 10 else 0
            mask = self.file.create_group("mask")
            mask.create_dataset("train", data=np.array(names[: len(names) - n_valid], dtype="S"))
            mask.create_dataset("valid", data=np.array(names[len(names) - n_valid :], dtype="S"))
            self.file.close()
        except BaseException:
            self.abort()
            raise
        return publish(self.tmp, self.path, self.replace)

    def abort(self) -> None:
        """Close and remove the partial file; also when closing fails (a full disk cannot flush)."""
        try:
            self.file.close()
        except (OSError, RuntimeError, ValueError):
            pass
        finally:
            if not self.keep_partial:
                self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def demo_bytes(demo: Demo, with_next_obs: bool = True) -> int:
    """About what ``write_demo`` puts on disk (to check the space first: see ``outputs.ensure_space``)."""
    info = demo.datagen
    arrays = [demo.actions, demo.actions_abs, demo.states, demo.rewards, demo.dones, *demo.obs.values(),
              *(demo.obs.values() if with_next_obs else ()), info.eef_pose, info.target_pose, info.gripper_action,
              *info.object_poses.values(), *info.subtask_term_signals.values()]
    return array_bytes(arrays) + len(demo.model_file) + len(demo.scene)


def next_obs(value: np.ndarray) -> np.ndarray:
    """Observations one step ahead (the last step repeats): robomimic's ``next_obs`` for each ``obs`` key."""
    return np.concatenate([value[1:], value[-1:]]) if len(value) else value


def write_demo(group: h5py.Group, demo: Demo, with_next_obs: bool = True) -> None:
    group.attrs["num_samples"] = len(demo)
    group.attrs["model_file"] = demo.model_file
    group.attrs["scene"] = demo.scene
    group.attrs["source"] = json.dumps(demo.source)
    group.attrs["meta"] = json.dumps({k: v for k, v in demo.meta.items() if k not in READ_ONLY_META})
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


def rewrite_with(path: str | Path, env_args: dict, keep: int | None = None, add: Demo | None = None) -> int:
    """Rewrite ``path`` as its first ``keep`` demos (all when None) plus ``add``, and return how many it holds.

    The new file is built beside and renamed over the old one, so a process killed at any moment leaves
    either the old file or the new one, never a partial file (teleop appends each kept demo this way).
    """
    path = Path(path)
    with DatasetWriter(path, env_args) as writer:
        if path.exists() and keep != 0:
            with open_dataset(path) as old:
                names = demo_names(old) if "data" in old else []
                for name in names[: len(names) if keep is None else keep]:
                    writer.add_copy(old["data"][name])
        if add is not None:
            writer.add(add)
        count = writer.count
    return count


def write_dataset(path: str | Path, demos: list[Demo], env_args: dict) -> Path:
    with DatasetWriter(path, env_args) as writer:
        for demo in demos:
            writer.add(demo)
    return Path(path)


# ---- reading --------------------------------------------------------------------------------------
# What h5py raises on a damaged file (a bad heap, link or message shows up as any of these).
H5_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError, AttributeError)
NUMBERS = "biuf"  # numpy dtype kinds of numeric arrays: bool, signed, unsigned, float
INTEGERS = "biu"
Shape = tuple  # expected shape: ints must match, a str matches any size (named in messages), ... any trailing dims


@contextmanager
def _reading(path: Path, field: str | None) -> Iterator[None]:
    """Turn h5py's errors on a damaged file into an ``InputFileError`` naming the file and field."""
    try:
        yield
    except H5_ERRORS as exc:
        raise InputFileError(path, f"cannot be read; the file is damaged ({exc})", field=field) from None


def is_dataset_file(path: str | Path) -> bool:
    """Whether ``path`` is an HDF5 file in the robomimic layout (what ``--overwrite`` of a dataset may replace)."""
    try:
        with h5py.File(path, "r") as f:
            return isinstance(f.get("data"), h5py.Group)
    except (OSError, ValueError):
        return False


def open_dataset(path: str | Path) -> h5py.File:
    """Open an HDF5 dataset for reading, or raise an error naming the file and the problem."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file does not exist")
    if path.is_dir():
        raise InputFileError(path, "is a folder; expected an HDF5 file (for a run folder use <run>/demos.hdf5)")
    if path.stat().st_size == 0:
        raise InputFileError(path, "is empty; expected an HDF5 file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputFileError(path, f"not a readable HDF5 file ({exc})") from None
    try:
        data = _child(path, f, "data")
    except InputFileError:
        f.close()
        raise
    if not isinstance(data, h5py.Group):
        f.close()
        raise InputFileError(path, "missing group; expected the robomimic layout with demos under /data", field="data")
    return f


def read_env_args(path: str | Path) -> dict:
    """``data.attrs[env_args]`` as a dict (empty when absent); ``env_name``, if given, is a string."""
    path = Path(path)
    with open_dataset(path) as f:
        env_args = _json_attr(path, f["data"], "env_args", "{}", dict)
    if not isinstance(env_args.get("env_name", ""), str):
        raise InputFileError(path, "env_name is not a string", field="data.attrs[env_args]")
    return env_args


def env_kwargs_of(env_args: dict) -> dict:
    """``env_args["env_kwargs"]``, or an empty dict when a file has none (or not a dict)."""
    kwargs = env_args.get("env_kwargs")
    return kwargs if isinstance(kwargs, dict) else {}


def demo_names(f: h5py.File) -> list[str]:
    """The ``data/demo_<i>`` names of an open file, in index order."""
    path = Path(f.filename)
    keys = _keys(path, _group(path, f, "data"))
    return sorted((k for k in keys if k.startswith("demo_") and k[5:].isdigit()), key=_demo_sort_key)


def read_meta(path: str | Path) -> dict[str, dict]:
    """Demo name -> its ``meta`` attribute (reason, attempt, ...), without reading any arrays."""
    path = Path(path)
    with open_dataset(path) as f:
        data = _group(path, f, "data")
        return {name: _json_attr(path, data[name], "meta", "{}", dict) for name in demo_names(f)}


def read_demos(path: str | Path, require_datagen: bool = True, names: list[str] | None = None) -> list[Demo]:
    """All demos of a file (or the listed ones), validated; ``require_datagen`` for generator sources."""
    path = Path(path)
    with open_dataset(path) as f:
        available = demo_names(f)
        if not available:
            raise InputFileError(path, "holds no demos (expected groups data/demo_0, data/demo_1, ...)", field="data")
        wanted = available if names is None else names
        layout = ActionLayout.from_env_args(_json_attr(path, f["data"], "env_args", "{}", dict))
        demos = []
        for name in wanted:
            if name not in available:
                raise InputFileError(path, f"no demo {name!r} (it has {available[0]} .. {available[-1]})")
            demos.append(_read_demo(path, _group(path, f["data"], name), require_datagen, layout))
        return demos


def _field(group: h5py.Group, key: str) -> str:
    return f"{group.name.rstrip('/')}/{key}"


def _attr_field(group: h5py.Group, key: str) -> str:
    return f"{group.name}.attrs[{key}]"


def _child(path: Path, group: h5py.Group, key: str) -> h5py.Group | h5py.Dataset | None:
    """``group[key]``, or None when it does not exist."""
    with _reading(path, _field(group, key)):
        return group.get(key)


def _keys(path: Path, group: h5py.Group | None) -> list[str]:
    """Member names of ``group`` (none for None)."""
    with _reading(path, group.name if group is not None else None):
        return list(group.keys()) if group is not None else []


def _group(path: Path, parent: h5py.Group, key: str, required: bool = True) -> h5py.Group | None:
    """The group ``parent/key``; None if it is absent and not ``required``."""
    node = _child(path, parent, key)
    if node is None and not required:
        return None
    if not isinstance(node, h5py.Group):
        raise InputFileError(path, "is missing" if node is None else "is a dataset; expected a group", _field(parent, key))
    return node


def _shape_text(shape: Shape) -> str:
    return "(" + ", ".join("..." if s is Ellipsis else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _shape_matches(actual: tuple[int, ...], expected: Shape) -> bool:
    """Ints must be equal, a str matches any size, a trailing ``...`` any further dimensions."""
    if expected and expected[-1] is Ellipsis:
        expected = expected[:-1]
        actual = actual[: len(expected)] if len(actual) >= len(expected) else ()
    return len(actual) == len(expected) and all(not isinstance(e, int) or e == a for a, e in zip(actual, expected))


def _array(
    path: Path, group: h5py.Group, key: str, shape: Shape, kinds: str = NUMBERS, finite: bool = False, unit: str = "rows"
) -> np.ndarray:
    """Read ``group/key`` after checking its shape and dtype kind (and, with ``finite``, that it has no NaN/inf)."""
    field = _field(group, key)
    node = _child(path, group, key)
    if not isinstance(node, h5py.Dataset):
        raise InputFileError(path, "is missing" if node is None else "is a group; expected a dataset", field)
    with _reading(path, field):
        actual, dtype = node.shape, node.dtype
    if actual is None or not _shape_matches(actual, shape):
        if actual and isinstance(shape[0], int) and _shape_matches((shape[0], *actual[1:]), shape):
            raise InputFileError(path, f"has {actual[0]} {unit}; expected {shape[0]} (one per step)", field)
        raise InputFileError(path, f"has shape {actual}; expected {_shape_text(shape)}", field)
    if dtype.kind not in kinds:
        raise InputFileError(path, f"has dtype {dtype}; expected {'integers' if kinds == INTEGERS else 'numbers'}", field)
    with _reading(path, field):
        value = np.asarray(node[()])
    if finite and not np.all(np.isfinite(value)):
        raise InputFileError(path, "contains NaN or infinite values", field)
    return value


def _attr(path: Path, group: h5py.Group, key: str) -> object:
    """A raw attribute of ``group`` (None when absent)."""
    with _reading(path, _attr_field(group, key)):
        return group.attrs.get(key)


def _text_attr(path: Path, group: h5py.Group, key: str, default: str) -> str:
    """A string attribute (bytes are decoded as UTF-8); ``default`` when absent."""
    value = _attr(path, group, key)
    field = _attr_field(group, key)
    if value is None:
        return default
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise InputFileError(path, "is not UTF-8 text", field) from None
    if not isinstance(value, str):
        raise InputFileError(path, f"is {str(value)[:40]} ({type(value).__name__}); expected text", field)
    return value


def _json_attr(path: Path, group: h5py.Group, key: str, default: str, kind: type) -> Any:
    """A JSON attribute that must decode to ``kind`` (dict or list)."""
    text = _text_attr(path, group, key, default)
    field = _attr_field(group, key)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise InputFileError(path, f"is not valid JSON: {text!r:.60}", field) from None
    if not isinstance(value, kind):
        expected = "an object {...}" if kind is dict else "a list [...]"
        raise InputFileError(path, f"is JSON {type(value).__name__}; expected {expected}", field)
    return value


def _check_num_samples(path: Path, group: h5py.Group, T: int) -> None:
    """``num_samples`` (robomimic's demo length), when present, must equal the number of actions."""
    value = _attr(path, group, "num_samples")
    if value is None:
        return
    field = _attr_field(group, "num_samples")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise InputFileError(path, f"is {str(value)[:40]} ({type(value).__name__}); expected an integer", field)
    if value != T:
        raise InputFileError(path, f"is {value} but the demo has {T} steps (rows of actions); they must agree", field)


def _read_demo(path: Path, group: h5py.Group, require_datagen: bool, layout: ActionLayout) -> Demo:
    """One demo group, every array checked against T = the number of actions and the file's action layout."""
    width = layout.width
    actions = _array(path, group, "actions", ("T", width), finite=True).astype(np.float64)
    T = len(actions)
    if T == 0:
        raise InputFileError(path, "has no steps", field=_field(group, "actions"))
    _check_num_samples(path, group, T)
    states = _array(path, group, "states", (T, "S"), finite=True).astype(np.float64)

    def optional(key: str, shape: Shape, default: np.ndarray, kinds: str = NUMBERS) -> np.ndarray:
        present = _child(path, group, key) is not None
        return _array(path, group, key, shape, kinds).astype(default.dtype) if present else default

    dones = np.zeros(T, dtype=np.int64)
    dones[-1] = 1
    obs_group = _group(path, group, "obs", required=False)
    obs = {
        key: _array(path, obs_group, key, (T, ...), unit="frames" if key.endswith("_image") else "rows")
        for key in _keys(path, obs_group)
    }
    source = _json_attr(path, group, "source", "[]", list)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in source):
        raise InputFileError(path, "expected a list of source demo indices", field=_attr_field(group, "source"))
    return Demo(
        actions=actions,
        actions_abs=optional("actions_abs", (T, width), np.zeros((T, width))),
        states=states,
        rewards=optional("rewards", (T,), np.zeros(T)),
        dones=optional("dones", (T,), dones, INTEGERS),
        obs=obs,
        datagen=_read_datagen(path, group, T, require_datagen, len(layout.arms), layout.eef_dim),
        model_file=_text_attr(path, group, "model_file", ""),
        scene=_text_attr(path, group, "scene", "{}"),
        source=source,
        meta={**_json_attr(path, group, "meta", "{}", dict), "name": group.name.rsplit("/", 1)[-1], "file": str(path)},
    )


def _read_datagen(path: Path, group: h5py.Group, T: int, required: bool, arms: int = 1, eef_dim: int = 1) -> DatagenInfo:
    """``<demo>/datagen_info`` (checked when present); empty when absent and not ``required``.

    Per-arm arrays have an arm axis beyond one arm: (T, arms, 4, 4) poses, (T, arms, k) end-effector commands.
    """
    per_arm = () if arms == 1 else (arms,)
    info = _group(path, group, "datagen_info", required=False)
    if info is None:
        if required:
            raise InputFileError(
                path, "is missing; run `demoforge annotate` on this file first", field=_field(group, "datagen_info")
            )
        empty = np.zeros((T, *per_arm, 4, 4))
        return DatagenInfo(empty, empty, np.zeros((T, *per_arm, eef_dim)), {}, {})

    def poses(parent: h5py.Group, key: str, arm_axis: tuple = ()) -> np.ndarray:
        return _array(path, parent, key, (T, *arm_axis, 4, 4), finite=True).astype(np.float64)

    objects = _group(path, info, "object_poses", required=False)
    signals = _group(path, info, "subtask_term_signals", required=False)
    return DatagenInfo(
        eef_pose=poses(info, "eef_pose", per_arm),
        target_pose=poses(info, "target_pose", per_arm),
        gripper_action=_array(path, info, "gripper_action", (T, *per_arm, eef_dim), finite=True).astype(np.float64),
        object_poses={key: poses(objects, key) for key in _keys(path, objects)},
        subtask_term_signals={
            key: (_array(path, signals, key, (T,), INTEGERS) != 0).astype(np.int8)
            for key in _keys(path, signals)
        },
    )
