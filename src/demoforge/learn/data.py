"""Training samples from a dataset: policy features of the observations and chunks of future actions.

Observations are the robomimic ``obs`` keys turned into features (learn/features.py); the target for step t is
the chunk ``actions[t : t + chunk]``, padded past the end of the episode with a hold action (no
motion, the last gripper command), so a policy learns to stay put once the task is done.
"""

from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np

from demoforge.data.hdf5 import demo_names, open_dataset, read_demos
from demoforge.errors import InputFileError
from demoforge.learn.features import features

# Joint velocities tell a resting arm about to start from one mid-motion: without them a policy that
# re-plans often stalls at the start (measured on stack: 33% vs 0% re-planning every step, 97% vs 90.5% every 4 steps).
PROPRIO_KEYS = ("robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "robot0_joint_vel")
LOW_DIM_KEYS = (*PROPRIO_KEYS, "object")  # the state policy's input; image policies see PROPRIO_KEYS + images


@dataclass
class Samples:
    obs: np.ndarray  # (N, D) float32
    actions: np.ndarray  # (N, chunk, 7) float32
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


def action_chunks(actions: np.ndarray, chunk: int) -> np.ndarray:
    """(T, chunk, 7): the next ``chunk`` actions from every step, held still past the end."""
    hold = np.zeros((chunk, actions.shape[1]), dtype=actions.dtype)
    hold[:, 6] = actions[-1, 6]
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
    for demo in read_demos(path, require_datagen=False, names=names):
        where = f"data/{demo.meta['name']}/obs"
        missing = [k for k in (*keys, *image_keys) if k not in demo.obs]
        if missing:
            hint = " (add camera images with: demoforge render)" if set(missing) & set(image_keys) else ""
            raise InputFileError(path, f"missing observation keys {missing}{hint}", field=where)
        try:
            obs.append(features(demo.obs, keys))
        except ValueError as exc:
            raise InputFileError(path, str(exc), field=where) from None
        acts.append(action_chunks(demo.actions, chunk))
        if image_keys:
            frames = [demo.obs[k] for k in image_keys]
            if any(f.dtype != np.uint8 or f.ndim != 4 or f.shape[1:] != frames[0].shape[1:] or f.shape[-1] != 3
                   or f.shape[1] != f.shape[2] for f in frames):
                raise InputFileError(path, "camera images must be uint8 (T, S, S, 3), all the same size", field=where)
            images.append(np.stack(frames, axis=1))
    stacked = np.concatenate(images) if images else None
    return Samples(np.concatenate(obs), np.concatenate(acts), len(names), stacked)
