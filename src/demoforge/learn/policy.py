"""The policy: normalised observation (and camera images) in, a chunk of future actions out.

Why this design: on low-dimensional state an MLP predicting an action chunk removes most of the
compounding error and hesitation of single-step BC, trains in minutes on a CPU and runs at thousands
of Hz. With cameras, each image goes through a small CNN ending in a spatial soft-argmax (image
keypoints, as robomimic's visuomotor policies use), and the keypoints join the low-dimensional
input of the same MLP head. Normalisation statistics travel with the weights, so a saved policy
acts on raw observations.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from demoforge.errors import DemoforgeError
from demoforge.learn.data import LOW_DIM_KEYS, make_folder, write_atomic

WEIGHTS = "policy.pt"
CONFIG = "policy.json"


@dataclass
class PolicyConfig:
    """Shape and normalisation of a policy (saved as ``policy.json`` beside the weights)."""

    obs_keys: list[str] = field(default_factory=lambda: list(LOW_DIM_KEYS))
    obs_dim: int = 0
    cameras: list[str] = field(default_factory=list)  # image inputs obs/<camera>_image
    image_size: int = 0  # square camera images, pixels
    keypoints: int = 32  # spatial soft-argmax keypoints per camera
    action_dim: int = 7  # 7 per arm
    chunk: int = 16  # actions predicted per query
    execute: int = 4  # actions executed before the next query (receding horizon)
    hidden: int = 512
    layers: int = 3
    obs_mean: list[float] = field(default_factory=list)
    obs_std: list[float] = field(default_factory=list)
    act_mean: list[float] = field(default_factory=list)
    act_std: list[float] = field(default_factory=list)
    task: str = ""


class SpatialSoftArgmax(nn.Module):
    """(B, C, H, W) feature maps -> (B, 2C): the expected image position of each channel, in [-1, 1]."""

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        b, c, h, w = maps.shape
        weights = torch.softmax(maps.flatten(2), dim=-1).view(b, c, h, w)
        ys = torch.linspace(-1, 1, h, device=maps.device)
        xs = torch.linspace(-1, 1, w, device=maps.device)
        x = (weights.sum(2) * xs).sum(-1)
        y = (weights.sum(3) * ys).sum(-1)
        return torch.cat([x, y], dim=1)


class ImageEncoder(nn.Module):
    """A small CNN for one camera: uint8 (B, H, W, 3) -> (B, 2 * keypoints) keypoint coordinates."""

    def __init__(self, keypoints: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.GroupNorm(8, 64), nn.GELU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.GroupNorm(8, 64), nn.GELU(),
            nn.Conv2d(64, keypoints, 1),
            SpatialSoftArgmax(),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images.permute(0, 3, 1, 2).float() / 127.5 - 1.0)


class ChunkPolicyNet(nn.Module):
    def __init__(self, cfg: PolicyConfig) -> None:
        super().__init__()
        self.encoders = nn.ModuleList(ImageEncoder(cfg.keypoints) for _ in cfg.cameras)
        width, blocks = cfg.obs_dim + 2 * cfg.keypoints * len(cfg.cameras), []
        for _ in range(cfg.layers):
            blocks += [nn.Linear(width, cfg.hidden), nn.LayerNorm(cfg.hidden), nn.GELU()]
            width = cfg.hidden
        blocks.append(nn.Linear(width, cfg.chunk * cfg.action_dim))
        self.head = nn.Sequential(*blocks)
        self.chunk, self.action_dim = cfg.chunk, cfg.action_dim

    def forward(self, obs: torch.Tensor, images: torch.Tensor | None = None) -> torch.Tensor:
        """obs (B, D) normalised; images (B, cameras, H, W, 3) uint8 when the policy has cameras."""
        parts = [obs] + [encoder(images[:, i]) for i, encoder in enumerate(self.encoders)]
        return self.head(torch.cat(parts, dim=1)).view(-1, self.chunk, self.action_dim)


def normaliser(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per feature over all leading axes (std floored so constant features stay finite)."""
    flat = values.reshape(-1, values.shape[-1]).astype(np.float64)
    return flat.mean(0), np.maximum(flat.std(0), 1e-3)


class Policy:
    """A trained policy: raw observation (and images) in, a chunk of normalised delta actions out."""

    def __init__(self, cfg: PolicyConfig, model: ChunkPolicyNet) -> None:
        self.cfg = cfg
        self.model = model.eval()
        self._obs_mean, self._obs_std = np.array(cfg.obs_mean), np.array(cfg.obs_std)
        self._act_mean, self._act_std = np.array(cfg.act_mean), np.array(cfg.act_std)

    @property
    def image_keys(self) -> list[str]:
        return [f"{camera}_image" for camera in self.cfg.cameras]

    @torch.no_grad()
    def predict(self, obs: np.ndarray, images: np.ndarray | None = None) -> np.ndarray:
        """(D,) features [, (cameras, H, W, 3) uint8 images] -> (chunk, action_dim) actions."""
        if obs.shape != (self.cfg.obs_dim,):
            raise DemoforgeError(
                f"the policy takes {self.cfg.obs_dim} input features from {', '.join(self.cfg.obs_keys)} but got "
                f"{obs.size}: it was trained on another task or by an older demoforge; train it again"
            )
        x = torch.as_tensor(((obs - self._obs_mean) / self._obs_std)[None], dtype=torch.float32)
        pixels = torch.as_tensor(images[None]) if self.cfg.cameras else None
        out = self.model(x, pixels)[0].numpy()
        return out * self._act_std + self._act_mean

    def files(self) -> dict[str, bytes]:
        """``policy.json`` and ``policy.pt`` as bytes, in the order to write them (the weights last)."""
        weights = io.BytesIO()
        torch.save(self.model.state_dict(), weights)  # to memory: torch's own file writer hides a full disk's OSError
        return {CONFIG: json.dumps(asdict(self.cfg), indent=2).encode(), WEIGHTS: weights.getvalue()}

    def save(self, folder: Path) -> None:
        """Each file whole or not at all, the weights last: a ``policy.pt`` always has its ``policy.json``."""
        make_folder(folder)
        for name, data in self.files().items():
            write_atomic(folder / name, data)

    @classmethod
    def load(cls, folder: str | Path) -> Policy:
        folder = Path(folder)
        if not (folder / CONFIG).is_file() or not (folder / WEIGHTS).is_file():
            raise DemoforgeError(f"{folder}: not a policy folder (expected {CONFIG} and {WEIGHTS}; see demoforge train)")
        try:
            cfg = PolicyConfig(**json.loads((folder / CONFIG).read_text()))
            if cfg.obs_dim < 1 or len(cfg.obs_mean) != cfg.obs_dim:
                raise ValueError(f"{CONFIG} describes no observation (obs_dim {cfg.obs_dim})")
            if cfg.cameras and cfg.image_size < 1:
                raise ValueError(f"{CONFIG} has cameras but no image_size")
            model = ChunkPolicyNet(cfg)
            model.load_state_dict(torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True))
        except Exception as exc:  # unpickling, shape and key errors all mean the same to the user
            raise DemoforgeError(f"{folder}: cannot load the policy ({type(exc).__name__}: {exc})") from None
        return cls(cfg, model)
