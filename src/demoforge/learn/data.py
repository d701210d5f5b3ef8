"""Training samples from a dataset: flat low-dimensional observations and chunks of future actions.

Observations are the robomimic ``obs`` keys concatenated in a fixed order; the target for step t is
the chunk ``actions[t : t + chunk]``, padded past the end of the episode with a hold action (no
motion, the last gripper command), so a policy learns to stay put once the task is done.
"""

from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np

from demoforge.data.hdf5 import demo_names, open_dataset, read_demos
from demoforge.errors import InputFileError

LOW_DIM_KEYS = ("robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "object")


@dataclass
class Samples:
    obs: np.ndarray  # (N, D) float32
    actions: np.ndarray  # (N, chunk, 7) float32
    episodes: int


def split_names(path: str, split: str) -> list[str]:
    """Demo names of ``mask/<split>`` (all demos for ``split == "all"``)."""
    with open_dataset(path) as f:
        if split == "all":
            return demo_names(f)
        key = f"mask/{split}"
        if key not in f or not isinstance(f[key], h5py.Dataset):
            raise InputFileError(path, "is missing (use split 'all')", field=key)
        return [n.decode() if isinstance(n, bytes) else str(n) for n in f[key][()]]


def flat_obs(obs: dict[str, np.ndarray], keys: tuple[str, ...]) -> np.ndarray:
    """Concatenate the ``keys`` of an obs dict (each (T, ...)) into (T, D) float32."""
    return np.concatenate([obs[k].reshape(len(obs[k]), -1) for k in keys], axis=1).astype(np.float32)


def action_chunks(actions: np.ndarray, chunk: int) -> np.ndarray:
    """(T, chunk, 7): the next ``chunk`` actions from every step, held still past the end."""
    hold = np.zeros((chunk, actions.shape[1]), dtype=actions.dtype)
    hold[:, 6] = actions[-1, 6]
    padded = np.concatenate([actions, hold])
    index = np.arange(len(actions))[:, None] + np.arange(chunk)[None]
    return padded[index].astype(np.float32)


def load_samples(path: str, names: list[str], keys: tuple[str, ...], chunk: int) -> Samples:
    """Every step of the named demos as (observation, action chunk) pairs."""
    if not names:
        raise InputFileError(path, "holds no demos to train on", field="data")
    obs, acts = [], []
    for demo in read_demos(path, require_datagen=False, names=names):
        missing = [k for k in keys if k not in demo.obs]
        if missing:
            raise InputFileError(path, f"missing observation keys {missing}", field=f"data/{demo.meta['name']}/obs")
        obs.append(flat_obs(demo.obs, keys))
        acts.append(action_chunks(demo.actions, chunk))
    return Samples(np.concatenate(obs), np.concatenate(acts), len(names))
