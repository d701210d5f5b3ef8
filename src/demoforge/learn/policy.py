"""The policy: an MLP from a normalised observation to a chunk of normalised future actions.

Why this design: on low-dimensional state the action chunk removes most of the compounding error
and the hesitation of single-step BC, trains in minutes on a CPU, and runs at thousands of Hz.
Normalisation statistics travel with the weights, so a saved policy acts on raw observations.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from demoforge.errors import DemoforgeError
from demoforge.learn.data import LOW_DIM_KEYS

WEIGHTS = "policy.pt"
CONFIG = "policy.json"


@dataclass
class PolicyConfig:
    """Shape and normalisation of a policy (saved as ``policy.json`` beside the weights)."""

    obs_keys: list[str] = field(default_factory=lambda: list(LOW_DIM_KEYS))
    obs_dim: int = 0
    chunk: int = 16  # actions predicted per query
    execute: int = 8  # actions executed before the next query (receding horizon)
    hidden: int = 512
    layers: int = 3
    obs_mean: list[float] = field(default_factory=list)
    obs_std: list[float] = field(default_factory=list)
    act_mean: list[float] = field(default_factory=list)
    act_std: list[float] = field(default_factory=list)
    task: str = ""


class ChunkMLP(nn.Module):
    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        width, blocks = cfg.obs_dim, []
        for _ in range(cfg.layers):
            blocks += [nn.Linear(width, cfg.hidden), nn.LayerNorm(cfg.hidden), nn.GELU()]
            width = cfg.hidden
        blocks.append(nn.Linear(width, cfg.chunk * 7))
        self.net = nn.Sequential(*blocks)
        self.chunk = cfg.chunk

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).view(-1, self.chunk, 7)


def normaliser(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per feature over all leading axes (std floored so constant features stay finite)."""
    flat = values.reshape(-1, values.shape[-1]).astype(np.float64)
    return flat.mean(0), np.maximum(flat.std(0), 1e-3)


class Policy:
    """A trained policy: raw observation in, raw normalised-delta action chunk out."""

    def __init__(self, cfg: PolicyConfig, model: ChunkMLP) -> None:
        self.cfg = cfg
        self.model = model.eval()
        self._obs_mean, self._obs_std = np.array(cfg.obs_mean), np.array(cfg.obs_std)
        self._act_mean, self._act_std = np.array(cfg.act_mean), np.array(cfg.act_std)

    @torch.no_grad()
    def predict(self, obs: np.ndarray) -> np.ndarray:
        """(D,) flat observation -> (chunk, 7) actions."""
        x = torch.as_tensor(((obs - self._obs_mean) / self._obs_std)[None], dtype=torch.float32)
        out = self.model(x)[0].numpy()
        return out * self._act_std + self._act_mean

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), folder / WEIGHTS)
        (folder / CONFIG).write_text(json.dumps(asdict(self.cfg), indent=2))

    @classmethod
    def load(cls, folder: str | Path) -> Policy:
        folder = Path(folder)
        if not (folder / CONFIG).is_file() or not (folder / WEIGHTS).is_file():
            raise DemoforgeError(f"{folder}: not a policy folder (expected {CONFIG} and {WEIGHTS}; see demoforge train)")
        try:
            cfg = PolicyConfig(**json.loads((folder / CONFIG).read_text()))
            if cfg.obs_dim < 1 or len(cfg.obs_mean) != cfg.obs_dim:
                raise ValueError(f"{CONFIG} describes no observation (obs_dim {cfg.obs_dim})")
            model = ChunkMLP(cfg)
            model.load_state_dict(torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True))
        except Exception as exc:  # unpickling, shape and key errors all mean the same to the user
            raise DemoforgeError(f"{folder}: cannot load the policy ({type(exc).__name__}: {exc})") from None
        return cls(cfg, model)
