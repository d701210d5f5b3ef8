"""Train a chunked-action BC policy on a dataset: resumable, deterministic per seed, with a curve.

A policy folder holds ``policy.pt`` + ``policy.json`` (weights, shape, normalisation), ``train.json``
(the config, plus ``data_sha256``: the SHA-256 of the data file's bytes), ``curve.json`` /
``curve.png`` (loss per logged step) and, while training, ``checkpoint.pt`` (weights, optimiser,
step, curve, config, data hash) that ``resume`` continues from, only with the same settings and the
same data bytes. All but the checkpoint are written when training ends, all whole or none, ``policy.pt``
last: a folder with a ``policy.pt`` holds a finished policy, which ``resume`` refuses to train over.
A loss that turns NaN or infinite stops training with an error and saves nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from demoforge.errors import DemoforgeError, InputFileError, OutputError
from demoforge.data.keys import resolve_alias
from demoforge.learn.data import (
    Samples,
    default_obs_keys,
    failed_attempts,
    load_samples,
    make_folder,
    split_names,
    write_atomic,
    write_error,
    write_partial,
)
from demoforge.learn.policy import WEIGHTS, ChunkPolicyNet, Policy, PolicyConfig, normaliser
from demoforge.outputs import remove_quietly

CHECKPOINT = "checkpoint.pt"


class TrainingDiverged(DemoforgeError):
    """The loss became NaN or infinite: the weights are garbage, so nothing is saved."""


class TrainConfig(BaseModel):
    """Everything that decides a trained policy (saved as ``train.json``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    data: str
    steps: int = Field(20_000, ge=1, description="gradient steps")
    batch_size: int = Field(256, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    warmup: int = Field(500, ge=0, description="steps of linear learning-rate warm-up, then cosine decay")
    chunk: int = Field(16, ge=1, description="actions predicted per query")
    execute: int = Field(4, ge=1, description="actions executed per query at run time")
    hidden: int = Field(512, ge=8)
    layers: int = Field(3, ge=1)
    obs_keys: list[str] | None = Field(
        None, description="state inputs (default: every arm's proprioception, then the objects without cameras)")
    cameras: list[str] = Field(default_factory=list, description="image inputs obs/<camera>_image (CNN encoder)")
    shift: int = Field(4, ge=0, description="random-shift augmentation of images, pixels")
    obs_noise: float = Field(0.0, ge=0, description="Gaussian noise on the normalised state inputs (std): robustness to drift")
    log_every: int = Field(250, ge=1, description="steps between loss log points (and validation)")
    checkpoint_every: int = Field(2000, ge=1)
    seed: int = Field(0, ge=0)
    include_failed: bool = Field(False, description="also train on demos whose meta says the attempt failed")


def _lr_scale(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def _policy_config(cfg: TrainConfig, train: Samples, task: str, keys: tuple[str, ...],
                   cameras: tuple[str, ...]) -> PolicyConfig:
    obs_mean, obs_std = normaliser(train.obs)
    act_mean, act_std = normaliser(train.actions)
    return PolicyConfig(
        obs_keys=list(keys), obs_dim=train.obs.shape[1], cameras=list(cameras),
        image_size=0 if train.images is None else train.images.shape[2], action_dim=train.actions.shape[-1],
        chunk=cfg.chunk,
        execute=min(cfg.execute, cfg.chunk),
        hidden=cfg.hidden, layers=cfg.layers, obs_mean=obs_mean.tolist(), obs_std=obs_std.tolist(),
        act_mean=act_mean.tolist(), act_std=act_std.tolist(), task=task,
    )


def _loss(model: ChunkPolicyNet, obs: torch.Tensor, act: torch.Tensor, images: torch.Tensor | None) -> torch.Tensor:
    return torch.nn.functional.smooth_l1_loss(model(obs, images), act, beta=0.1)


def random_shift(images: torch.Tensor, pad: int, rng: np.random.Generator) -> torch.Tensor:
    """Shift each (B, cameras, H, W, 3) image by up to ``pad`` pixels (edges repeat): cheap, strong augmentation."""
    if pad == 0:
        return images
    b, c, h, w, _ = images.shape
    padded = torch.nn.functional.pad(images.reshape(b * c, h, w, 3).permute(0, 3, 1, 2).float(), (pad,) * 4,
                                     mode="replicate").to(torch.uint8)
    dy, dx = (torch.as_tensor(rng.integers(0, 2 * pad + 1, (2, b * c))))
    rows = (dy[:, None] + torch.arange(h))[:, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, :]
    shifted = padded[torch.arange(b * c)[:, None, None], :, rows, cols]  # (B*C, H, W, 3)
    return shifted.reshape(b, c, h, w, 3)


def _valid_loss(model: ChunkPolicyNet, obs: torch.Tensor, act: torch.Tensor, images: np.ndarray | None) -> float:
    """Mean loss over at most 4096 evenly spaced validation samples, in batches (images are large)."""
    index = np.linspace(0, len(obs) - 1, min(len(obs), 4096)).astype(int)
    total = 0.0
    with torch.no_grad():
        for part in np.array_split(index, max(1, len(index) // 512)):
            pixels = None if images is None else torch.as_tensor(images[part])
            total += float(_loss(model, obs[part], act[part], pixels)) * len(part)
    return total / len(index)


def _atomic_save(obj: object, path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)  # to memory: torch's own file writer turns a full disk into a RuntimeError
    write_atomic(path, buffer.getvalue())


def _check_failed(cfg: TrainConfig, names: list[str]) -> None:
    """Refuse failed attempts (``failed.hdf5``) unless asked: a policy would learn to fail like them."""
    failed = failed_attempts(cfg.data, names)
    if failed and not cfg.include_failed:
        raise InputFileError(
            cfg.data, f"{len(failed)} of its {len(names)} demos are failed attempts (e.g. {failed[0]}); train on "
            "the run's demos.hdf5, or pass --include-failed to train on them anyway"
        )


def _same_settings(saved: dict, cfg: TrainConfig) -> bool:
    """A checkpoint's config equals ``cfg``; settings added since it was written count as their defaults."""
    try:
        return TrainConfig(**saved) == cfg
    except ValueError:  # a setting that no longer exists
        return False


def data_sha256(path: str | Path) -> str:
    """SHA-256 of a data file's bytes: a path alone cannot tell a resume that the file was rewritten since."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    return digest.hexdigest()


def _check_resumable(out: Path) -> None:
    """Refuse to resume over a finished policy: with no checkpoint, training would start again over it."""
    if (out / WEIGHTS).exists() and not (out / CHECKPOINT).exists():
        raise OutputError(
            out, "holds a finished policy (no checkpoint to resume); use --overwrite to train a new one, or another --out"
        )


def _checkpoint(cfg: TrainConfig, out: Path, sha256: str) -> dict | None:
    """The checkpoint in ``out`` to continue, if any, once shown to be this training: same settings, same data.

    Checkpoints written before the data hash existed are matched on the data path alone.
    """
    checkpoint = out / CHECKPOINT
    if not checkpoint.exists():
        return None
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if not _same_settings(state["train"], cfg):
        raise DemoforgeError(f"{checkpoint}: was trained with other settings; use another --out or drop --resume")
    saved = state.get("data_sha256")
    if saved is not None and saved != sha256:
        raise InputFileError(
            cfg.data, f"changed since the checkpoint was written (sha256 differs); resume with the data it was "
            f"trained on, or train anew with --overwrite or another --out than {out}"
        )
    return state


def _diverged(what: str, step: int, cfg: TrainConfig) -> TrainingDiverged:
    return TrainingDiverged(
        f"training diverged: {what} at step {step}, so no policy was saved; lower --lr (now {cfg.lr:g}) and train again"
    )


def train(
    cfg: TrainConfig, out: str | Path, resume: bool = False, on_log: Callable[[int, dict], None] | None = None
) -> dict:
    """Train to ``cfg.steps`` (continuing a checkpoint in ``out`` if ``resume``); returns the final losses."""
    from demoforge.data.hdf5 import read_env_args

    out = Path(out)
    if resume:
        _check_resumable(out)
    task = read_env_args(cfg.data).get("env_name", "")
    sha256 = data_sha256(cfg.data)
    state = _checkpoint(cfg, out, sha256) if resume else None
    keys = tuple(cfg.obs_keys or default_obs_keys(read_env_args(cfg.data), with_objects=not cfg.cameras))
    train_names = _split_or_empty(cfg.data, "train") or split_names(cfg.data, "all")
    valid_names = _split_or_empty(cfg.data, "valid")
    _check_failed(cfg, train_names + valid_names)
    cameras = tuple(resolve_alias(c) for c in cfg.cameras)  # "wrist" is stored as robot0_eye_in_hand
    train_set = load_samples(cfg.data, train_names, keys, cfg.chunk, cameras)
    valid_set = load_samples(cfg.data, valid_names, keys, cfg.chunk, cameras) if valid_names else None
    pcfg = _policy_config(cfg, train_set, task, keys, cameras)
    torch.manual_seed(cfg.seed)
    model = ChunkPolicyNet(pcfg)
    optim = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, curve = 0, []
    checkpoint = out / CHECKPOINT
    if state is not None:
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
        start, curve = state["step"], state["curve"]

    def tensors(samples: Samples) -> tuple[torch.Tensor, torch.Tensor]:
        obs = (samples.obs - np.array(pcfg.obs_mean)) / np.array(pcfg.obs_std)
        act = (samples.actions - np.array(pcfg.act_mean)) / np.array(pcfg.act_std)
        return torch.as_tensor(obs, dtype=torch.float32), torch.as_tensor(act, dtype=torch.float32)

    train_obs, train_act = tensors(train_set)
    valid = tensors(valid_set) if valid_set is not None else None
    n = len(train_obs)
    created = not out.exists()
    make_folder(out)
    wrote_checkpoint = False
    model.train()
    running = []
    try:
        for step in range(start, cfg.steps):
            rng = np.random.default_rng([cfg.seed, step])  # per step, so a resumed run draws the same batches
            index = np.sort(rng.integers(0, n, cfg.batch_size))
            pixels = None
            if train_set.images is not None:
                pixels = random_shift(torch.as_tensor(train_set.images[index]), cfg.shift, rng)
            for group in optim.param_groups:
                group["lr"] = cfg.lr * _lr_scale(step, cfg)
            obs = train_obs[index]
            if cfg.obs_noise > 0:
                obs = obs + torch.as_tensor(rng.normal(0.0, cfg.obs_noise, obs.shape), dtype=torch.float32)
            loss = _loss(model, obs, train_act[index], pixels)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise _diverged(f"the loss became {value}", step + 1, cfg)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            running.append(value)
            if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
                point = {"step": step + 1, "train_loss": float(np.mean(running))}
                running = []
                if valid is not None:
                    model.eval()
                    point["valid_loss"] = _valid_loss(model, *valid, valid_set.images)
                    model.train()
                    if not math.isfinite(point["valid_loss"]):
                        raise _diverged(f"the validation loss became {point['valid_loss']}", step + 1, cfg)
                curve.append(point)
                if on_log is not None:
                    on_log(step + 1, point)
            if (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.steps:
                _atomic_save(
                    {"model": model.state_dict(), "optim": optim.state_dict(), "step": step + 1, "curve": curve,
                     "train": cfg.model_dump(mode="json"), "data_sha256": sha256},
                    checkpoint,
                )
                wrote_checkpoint = True
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            raise _diverged("the weights became NaN or infinite", cfg.steps, cfg)
        _write_all(out, {
            "train.json": json.dumps({**cfg.model_dump(mode="json"), "data_sha256": sha256}, indent=2).encode(),
            "curve.json": json.dumps(curve, indent=1).encode(),
            "curve.png": _curve_png(curve),
            **Policy(pcfg, model).files(),
        })
    except DemoforgeError as exc:
        if isinstance(exc, TrainingDiverged) and wrote_checkpoint:
            checkpoint.unlink(missing_ok=True)  # resuming it would diverge the same way
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise
    checkpoint.unlink(missing_ok=True)
    final = curve[-1] if curve else {}
    return {**final, "train_samples": n, "train_episodes": train_set.episodes, "policy": asdict(pcfg)["task"]}


def _write_all(out: Path, files: dict[str, bytes]) -> None:
    """Write every file to a temp name, then rename them all into place, ``policy.pt`` last.

    A write that fails (a full disk) removes only the temp files: what ``out`` held stays as it was,
    never an old ``policy.pt`` beside a new ``policy.json``. Renames within a folder take no space.
    """
    names = sorted(files, key=lambda name: name == WEIGHTS)  # stable: the given order, the weights last
    temps: list[Path] = []
    try:
        for name in names:
            temps.append(write_partial(out / name, files[name]))
        for tmp, name in zip(temps, names):
            try:
                os.replace(tmp, out / name)
            except OSError as exc:
                raise write_error(out / name, exc) from None
    except BaseException:
        for tmp in temps:
            remove_quietly(tmp)  # those already renamed are gone from this name
        raise


def _split_or_empty(path: str, split: str) -> list[str]:
    """The demos of ``mask/<split>``, or none when the file has no such mask."""
    try:
        return split_names(path, split)
    except DemoforgeError:
        return []


def _curve_png(curve: list[dict]) -> bytes:
    """The loss curve as PNG bytes (written with the other files, atomically)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    steps = [p["step"] for p in curve]
    ax.plot(steps, [p["train_loss"] for p in curve], label="train")
    if curve and "valid_loss" in curve[0]:
        ax.plot(steps, [p["valid_loss"] for p in curve], label="valid")
    ax.set(xlabel="gradient step", ylabel="smooth L1 loss (normalised actions)", yscale="log", title="training curve")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
