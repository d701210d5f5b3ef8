"""Training samples from a dataset: policy features of the observations and chunks of future actions.

Observations are the robomimic ``obs`` keys turned into features (learn/features.py); the target for step t is
the chunk ``actions[t : t + chunk]``, padded past the end of the episode with a hold action (no
motion, the last gripper command), so a policy learns to stay put once the task is done.
Every value a policy learns from is checked first: one NaN would turn every weight into NaN.
Also ``write_atomic`` (and ``write_partial``, its first half), the one way learn/ writes a file (torch-free, so
``eval --policy expert`` uses it too).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from demoforge.data.hdf5 import demo_names, open_dataset, read_demos, read_env_args, read_meta
from demoforge.data.keys import ActionLayout
from demoforge.data.values import ACTION_LIMIT, check_values
from demoforge.errors import InputFileError, OutputError
from demoforge.learn.features import features
from demoforge.outputs import NOT_WRITABLE, is_disk_full, remove_quietly

# Joint velocities tell a resting arm about to start from one mid-motion: without them a policy that
# re-plans often stalls at the start (measured on stack: 33% vs 0% re-planning every step, 97% vs 90.5% every 4 steps).
PROPRIO_KEYS = ("robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "robot0_joint_vel")
LOW_DIM_KEYS = (*PROPRIO_KEYS, "object")  # the state policy's input; image policies see PROPRIO_KEYS + images


def default_obs_keys(env_args: dict, with_objects: bool = True) -> list[str]:
    """The state inputs for a dataset's robot: ``PROPRIO_KEYS`` for every arm (``robot1_eef_pos`` ...), then objects."""
    layout = (env_args.get("env_kwargs") or {}).get("action_layout") or [{"prefix": "robot0_"}]
    keys = [key.replace("robot0_", arm.get("prefix", "robot0_"), 1) for arm in layout for key in PROPRIO_KEYS]
    return keys + (["object"] if with_objects else [])


@dataclass
class Samples:
    obs: np.ndarray  # (N, D) float32
    actions: np.ndarray  # (N, chunk, A) float32: A = 6 + the end-effector width, per arm
    episodes: int
    images: np.ndarray | None = None  # (N, cameras, H, W, 3) uint8


def split_names(path: str, split: str) -> list[str]:
    """Demo names of ``mask/<split>`` (all demos for ``split == "all"``)."""
    with open_dataset(path) as f:
        if split == "all":
            return demo_names(f)
        key = f"mask/{split}"
        if key not in f or not isinstance(f[key], h5py.Dataset):
            raise InputFileError(path, "is missing (use split 'all')", field=key)
        return [n.decode() if isinstance(n, bytes) else str(n) for n in f[key][()]]


def failed_attempts(path: str, names: list[str]) -> list[str]:
    """The named demos whose meta marks a failed attempt (``failed.hdf5``); demos without the flag count as good."""
    meta = read_meta(path)
    return [n for n in names if meta.get(n, {}).get("success") is False or meta.get(n, {}).get("reason")]


def action_chunks(actions: np.ndarray, chunk: int, eef_columns: np.ndarray) -> np.ndarray:
    """(T, chunk, A): the next ``chunk`` actions from every step, held still past the end (the pose columns
    zero, the end-effector columns, ``eef_columns``, at their last command)."""
    hold = np.zeros((chunk, actions.shape[1]), dtype=actions.dtype)
    hold[:, eef_columns] = actions[-1, eef_columns]  # every arm keeps its last gripper or hand command
    padded = np.concatenate([actions, hold])
    index = np.arange(len(actions))[:, None] + np.arange(chunk)[None]
    return padded[index].astype(np.float32)


def load_samples(
    path: str, names: list[str], keys: tuple[str, ...], chunk: int, cameras: tuple[str, ...] = ()
) -> Samples:
    """Every step of the named demos as (observation [, images], action chunk) samples."""
    if not names:
        raise InputFileError(path, "holds no demos to train on", field="data")
    obs, acts, images = [], [], []
    image_keys = [f"{camera}_image" for camera in cameras]
    eef_columns = ActionLayout.from_env_args(read_env_args(path)).eef_mask()
    for demo in read_demos(path, require_datagen=False, names=names):
        where = f"data/{demo.meta['name']}/obs"
        missing = [k for k in (*keys, *image_keys) if k not in demo.obs]
        if missing:
            hint = " (add camera images with: demoforge render)" if set(missing) & set(image_keys) else ""
            raise InputFileError(path, f"missing observation keys {missing}{hint}", field=where)
        for key in keys:
            check_values(path, f"{where}/{key}", demo.obs[key])
        check_values(path, f"data/{demo.meta['name']}/actions", demo.actions, ACTION_LIMIT)
        try:
            obs.append(features(demo.obs, keys))
        except ValueError as exc:
            raise InputFileError(path, str(exc), field=where) from None
        acts.append(action_chunks(demo.actions, chunk, eef_columns))
        if image_keys:
            frames = [demo.obs[k] for k in image_keys]
            if any(f.dtype != np.uint8 or f.ndim != 4 or f.shape[1:] != frames[0].shape[1:] or f.shape[-1] != 3
                   or f.shape[1] != f.shape[2] for f in frames):
                raise InputFileError(path, "camera images must be uint8 (T, S, S, 3), all the same size", field=where)
            images.append(np.stack(frames, axis=1))
    stacked = np.concatenate(images) if images else None
    return Samples(np.concatenate(obs), np.concatenate(acts), len(names), stacked)


# ---- writing files ----------------------------------------------------------------------------------
def write_error(path: Path, exc: OSError) -> Exception:
    """The error to show for ``exc`` while writing ``path``: a full or read-only disk in words, else ``exc``."""
    if is_disk_full(exc):
        return OutputError(path, "cannot be written: the disk is full (free some space and run again)", disk_full=True)
    if exc.errno in NOT_WRITABLE:
        why = "the file system is read-only" if exc.errno == errno.EROFS else exc.strerror
        return OutputError(path, f"cannot be written: {why}; choose another --out")
    return exc


def make_folder(folder: Path) -> None:
    """``mkdir -p`` with the same clear errors as ``write_atomic``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(folder, exc) from None


def write_partial(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``<path>.partial``, synced, and return that name: the caller renames it into place.

    On an error nothing is left behind; a full or read-only disk is said in words (``write_error``).
    """
    tmp = path.with_name(path.name + ".partial")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        remove_quietly(tmp)
        raise write_error(path, exc) from None
    except BaseException:
        remove_quietly(tmp)
        raise
    return tmp


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a temp file beside it, synced, then renamed over it.

    A full disk otherwise leaves a truncated file that looks finished (a policy.pt that fails to load).
    """
    tmp = write_partial(path, data)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        remove_quietly(tmp)
        raise write_error(path, exc) from None
