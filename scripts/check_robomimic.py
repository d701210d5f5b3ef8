#!/usr/bin/env python
"""Check that robomimic's own training code reads a demoforge dataset as it is; prints PASS or FAIL.

What it does, with robomimic 0.3.0 (the current PyPI release):

1. Looks at the file: ``mask/train`` and ``mask/valid`` (non-empty, disjoint, naming existing demos),
   ``data.attrs["env_args"]``, ``actions`` (T, 7), the low-dim obs keys and any ``<camera>_image`` /
   ``<camera>_depth`` keys.
2. Loads it with ``robomimic.utils.dataset.SequenceDataset`` (filter keys ``train`` and ``valid``,
   ``hdf5_cache_mode`` ``low_dim`` and ``all``, ``seq_length`` 10): low-dim obs only, and, if the file has
   images, low-dim + rgb (+ depth) obs; draws one batch from each through a torch ``DataLoader``.
3. Trains robomimic's BC (``config_factory("bc")``, low-dim obs, rollouts off, validation on the ``valid``
   mask) for 2 short epochs through ``robomimic.scripts.train.train``, then reloads the saved checkpoint
   with ``FileUtils.policy_from_checkpoint`` and queries one action.
4. If the file has images: BC-RNN on ``<camera>_image`` (rgb, ResNet-18 VisualCore) + low-dim (+ depth),
   1 epoch of a few steps.

Known differences between demoforge's files and robomimic's defaults (reported as NOTE, not FAIL):

* demoforge writes ``data/<demo>/next_obs`` by default (robomimic's base config has
  ``train.hdf5_load_next_obs = True``, robomimic/config/base_config.py:159, and SequenceDataset then reads
  ``next_obs/<key>`` at robomimic/utils/dataset.py:289 / :396). Files generated with ``next_obs=False``
  have none; this check then sets ``hdf5_load_next_obs = False`` (BC does not use ``next_obs``; robomimic's
  own ``dataset_states_to_obs.py --exclude-next-obs`` writes files like that). ``--next-obs`` keeps
  robomimic's default regardless.
* ``env_args["type"]`` is 4 (demoforge), not a robomimic ``EnvType`` (1 robosuite, 2 gym, 3 iGibson), so
  anything that builds an environment (rollouts during training, ``run_trained_agent.py``,
  ``FileUtils.env_from_checkpoint``) raises ``Exception: code should never reach this point`` at
  robomimic/utils/env_utils.py:44. Training with rollouts off never builds one.

Setup (a throwaway venv, outside demoforge's own; Python 3.11; torch first, from the CPU wheel on disk,
because any other torch pulls a multi-GB CUDA build; packages that pin torch go in with --no-deps)::

    python3.11 -m venv /tmp/rm-venv
    /tmp/rm-venv/bin/pip install /opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl
    /tmp/rm-venv/bin/pip install --no-deps robomimic==0.3.0 torchvision==0.28.0
    /tmp/rm-venv/bin/pip install numpy==2.4.6 h5py==3.16.0 pillow==13.0.0 tqdm==4.70.1 termcolor==3.3.0 \\
        psutil==7.2.2 tensorboardX==2.6.5 imageio==2.38.1 six==1.17.0 matplotlib==3.11.2

(numpy 2 works; egl_probe, robosuite, tensorboard and imageio-ffmpeg are not needed: robomimic imports
them only to build environments or not at all on this path.) torchvision 0.28.0 from PyPI is built
against CUDA torch: its ``_C.so`` cannot load next to the CPU torch, and ``import torchvision`` then dies
in ``torchvision/_meta_registrations.py`` with ``RuntimeError: operator torchvision::nms does not exist``.
robomimic needs only torchvision's pure-Python parts (``transforms``, ``models.resnet18``), so this script,
if that import fails, puts an empty ``torchvision._meta_registrations`` module into ``sys.modules`` and
imports again (nothing is changed on disk).

Make a dataset with demoforge's own venv, then run the check::

    MUJOCO_GL=egl /work/main/.venv/bin/demoforge source --task lift --num 3 --out /tmp/rm/src.hdf5
    MUJOCO_GL=egl /work/main/.venv/bin/demoforge generate --task lift --source /tmp/rm/src.hdf5 \\
        --num-demos 12 --variation D0 --out /tmp/rm/run --cameras agentview --image-size 84
    /tmp/rm-venv/bin/python scripts/check_robomimic.py /tmp/rm/run/demos.hdf5

12 demos or more, so that ``mask/valid`` is not empty (demoforge holds out 10 % from 10 demos up).
robomimic's verbose output goes to ``<out>/robomimic.log`` (``--verbose`` shows it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
import traceback
import types

LOW_DIM = ["robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "object"]
ROBOMIMIC_ENV_TYPES = {1: "robosuite", 2: "gym", 3: "iGibson MOMART"}
SEQ = 10


def import_torchvision() -> str:
    """Import torchvision; with a CUDA-built torchvision beside CPU torch, skip its C-op registrations."""
    try:
        import torchvision  # noqa: F401

        return "torchvision imported as is"
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")
        import torchvision  # noqa: F401, F811

        return f"torchvision's C ops could not load ({exc}); stubbed torchvision._meta_registrations"


class Check:
    def __init__(self, verbose: bool) -> None:
        self.results: list[tuple[str, bool, str]] = []
        self.notes: list[str] = []
        self.verbose = verbose
        self.log = None

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"NOTE  {text}", flush=True)

    @contextlib.contextmanager
    def quiet(self):
        """Send robomimic's prints (configs, model summaries, progress bars) to the log file."""
        if self.verbose or self.log is None:
            yield
            return
        with contextlib.redirect_stdout(self.log), contextlib.redirect_stderr(self.log):
            yield
        self.log.flush()

    def run(self, name: str, fn, *args, **kwargs):
        t = time.time()
        try:
            with self.quiet():
                detail = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure is a FAIL line with its robomimic location
            frames = traceback.extract_tb(exc.__traceback__)
            where = [f"{f.filename.split('site-packages/')[-1]}:{f.lineno}" for f in frames if "site-packages" in f.filename]
            where = [w for i, w in enumerate(where) if i == 0 or w != where[i - 1]][::-1][:4]
            msg = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            msg += f" at {' <- '.join(where)}" if where else ""
            self.results.append((name, False, msg))
            print(f"FAIL  {name}: {msg}", flush=True)
            if self.log is not None:
                traceback.print_exc(file=self.log)
            return None
        self.results.append((name, True, detail or ""))
        print(f"ok    {name} ({time.time() - t:.1f}s){': ' + detail if detail else ''}", flush=True)
        return detail


def inspect_file(path: str) -> dict:
    import h5py
    import numpy as np

    info: dict = {}
    with h5py.File(path, "r") as f:
        if "data" not in f:
            raise ValueError("no /data group")
        demos = [k for k in f["data"] if k.startswith("demo_")]
        if "mask" not in f:
            raise ValueError("no /mask group (robomimic's filter keys)")
        masks = {}
        for key in ("train", "valid"):
            if key not in f["mask"]:
                raise ValueError(f"no mask/{key}")
            names = [e.decode("utf-8") for e in np.array(f[f"mask/{key}"][:])]
            missing = [n for n in names if n not in f["data"]]
            if missing:
                raise ValueError(f"mask/{key} names demos not in /data: {missing[:3]}")
            masks[key] = names
        if not masks["train"] or not masks["valid"]:
            raise ValueError(f"mask/train has {len(masks['train'])} and mask/valid {len(masks['valid'])} demos; "
                             "both must be non-empty (generate 10 demos or more)")
        if set(masks["train"]) & set(masks["valid"]):
            raise ValueError("mask/train and mask/valid overlap")
        env_args = json.loads(f["data"].attrs["env_args"])
        first = f[f"data/{masks['train'][0]}"]
        obs = first["obs"]
        missing = [k for k in LOW_DIM if k not in obs]
        if missing:
            raise ValueError(f"obs keys missing: {missing}")
        if first["actions"].ndim != 2 or first["actions"].shape[1] != 7:
            raise ValueError(f"actions have shape {first['actions'].shape}; expected (T, 7)")
        images = sorted(k for k in obs if k.endswith("_image"))
        depths = sorted(k for k in obs if k.endswith("_depth"))
        for k in images:
            if obs[k].dtype != np.uint8 or obs[k].ndim != 4 or obs[k].shape[-1] != 3:
                raise ValueError(f"obs/{k} is {obs[k].dtype} {obs[k].shape}; robomimic rgb wants uint8 (T, H, W, 3)")
        for k in depths:
            if obs[k].ndim != 4 or obs[k].shape[-1] != 1:
                raise ValueError(f"obs/{k} has shape {obs[k].shape}; robomimic depth wants (T, H, W, 1)")
        info.update(
            demos=len(demos),
            train=masks["train"],
            valid=masks["valid"],
            valid_steps=int(sum(f[f"data/{n}"].attrs["num_samples"] for n in masks["valid"])),
            env_args=env_args,
            images=images,
            depths=depths,
            has_next_obs=all("next_obs" in f[f"data/{n}"] for n in demos),
            obs_shapes={k: (tuple(obs[k].shape[1:]), str(obs[k].dtype)) for k in obs},
        )
    return info


def load_datasets(path: str, rgb: list[str], depth: list[str], load_next_obs: bool) -> str:
    import torch
    from torch.utils.data import DataLoader

    import robomimic.utils.obs_utils as ObsUtils
    from robomimic.utils.dataset import SequenceDataset

    ObsUtils.initialize_obs_utils_with_obs_specs({"obs": {"low_dim": LOW_DIM, "rgb": rgb, "depth": depth}})
    keys = LOW_DIM + rgb + depth
    out = []
    for filter_key in ("train", "valid"):
        for cache in ("low_dim", "all"):
            ds = SequenceDataset(
                hdf5_path=path, obs_keys=keys, dataset_keys=("actions", "rewards", "dones"), seq_length=SEQ,
                hdf5_cache_mode=cache, filter_by_attribute=filter_key, load_next_obs=load_next_obs,
            )
            batch = next(iter(DataLoader(ds, batch_size=4, shuffle=True, num_workers=0, drop_last=True)))
            assert batch["actions"].shape == (4, SEQ, 7), batch["actions"].shape
            assert batch["rewards"].shape == (4, SEQ) and batch["dones"].shape == (4, SEQ)
            for k in rgb:
                assert batch["obs"][k].dtype == torch.uint8 and batch["obs"][k].shape[-1] == 3, (k, batch["obs"][k].shape)
            for k in keys:
                assert batch["obs"][k].shape[:2] == (4, SEQ), (k, batch["obs"][k].shape)
                assert torch.isfinite(batch["obs"][k].float()).all(), f"non-finite values in obs/{k}"
            if load_next_obs:
                assert set(batch["next_obs"]) == set(keys)
            out.append(f"{filter_key}/{cache}: {ds.n_demos} demos {len(ds)} seqs")
    shapes = ", ".join(f"{k} {tuple(batch['obs'][k].shape[2:])} {str(batch['obs'][k].dtype).replace('torch.', '')}"
                       for k in keys)
    return "; ".join(out) + f"; batch obs {shapes}"


def train_bc(path: str, out_dir: str, name: str, rgb: list[str], depth: list[str], load_next_obs: bool,
             batch_size: int, epochs: int, steps: int, valid_steps: int, rnn: bool, losses: dict) -> str:
    import torch

    import robomimic.utils.train_utils as TrainUtils
    from robomimic.config import config_factory
    from robomimic.scripts.train import train

    config = config_factory("bc")
    with config.values_unlocked():
        config.experiment.name = name
        config.train.data = path
        config.train.output_dir = out_dir
        config.train.cuda = False
        config.experiment.rollout.enabled = False
        config.experiment.validate = True
        config.experiment.logging.terminal_output_to_txt = False
        config.train.hdf5_filter_key = "train"
        config.train.hdf5_validation_filter_key = "valid"
        config.train.hdf5_load_next_obs = load_next_obs
        config.train.hdf5_cache_mode = "low_dim" if rgb or depth else "all"
        config.train.batch_size = batch_size
        config.train.num_epochs = epochs
        config.experiment.epoch_every_n_steps = steps
        config.experiment.validation_epoch_every_n_steps = valid_steps
        config.experiment.save.enabled = True
        config.experiment.save.every_n_epochs = epochs
        config.observation.modalities.obs.low_dim = list(LOW_DIM)
        config.observation.modalities.obs.rgb = list(rgb)
        config.observation.modalities.obs.depth = list(depth)
        if rnn:
            config.algo.rnn.enabled = True
            config.algo.rnn.horizon = SEQ
            config.train.seq_length = SEQ
    config.lock()

    # record each epoch's losses by wrapping the function train() calls (robomimic/scripts/train.py:195, :231)
    original = TrainUtils.run_epoch
    record = losses.setdefault(name, [])

    def run_epoch(*args, **kwargs):
        log = original(*args, **kwargs)
        record.append(("valid" if kwargs.get("validate") else "train", kwargs.get("epoch"), log["Loss"]))
        return log

    TrainUtils.run_epoch = run_epoch
    try:
        train(config, device=torch.device("cpu"))
    finally:
        TrainUtils.run_epoch = original
    bad = [r for r in record if not math.isfinite(r[2])]
    if bad or len(record) != 2 * epochs:
        raise RuntimeError(f"expected {epochs} train and {epochs} valid epochs with finite loss, got {record}")

    # the saved checkpoint (its env_metadata is our env_args) must load back and act
    ckpts = sorted(
        os.path.join(root, f) for root, _, files in os.walk(os.path.join(out_dir, name)) for f in files if f.endswith(".pth")
    )
    if not ckpts:
        raise RuntimeError("no checkpoint saved")
    import numpy as np

    import robomimic.utils.file_utils as FileUtils

    policy, ckpt = FileUtils.policy_from_checkpoint(ckpt_path=ckpts[-1], device=torch.device("cpu"))
    shapes = ckpt["shape_metadata"]["all_shapes"]
    obs = {k: np.zeros(shapes[k]) if k in LOW_DIM else np.zeros(shapes[k], dtype=np.float32) for k in shapes}
    policy.start_episode()
    action = policy(ob=obs)
    if np.asarray(action).shape != (7,) or not np.all(np.isfinite(action)):
        raise RuntimeError(f"policy from checkpoint returned {action!r}")
    text = ", ".join(f"{kind} epoch {epoch} loss {loss:.4f}" for kind, epoch, loss in record)
    return f"{text}; checkpoint {os.path.basename(ckpts[-1])} reloaded, action {[round(float(a), 3) for a in action]}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", help="demoforge HDF5, e.g. runs/x/demos.hdf5")
    parser.add_argument("--out", help="robomimic output folder (default: a new temporary folder)")
    parser.add_argument("--steps", type=int, default=5, help="gradient steps per low-dim epoch (default 5)")
    parser.add_argument("--image-steps", type=int, default=3, help="gradient steps in the image epoch (default 3)")
    parser.add_argument("--no-images", action="store_true", help="skip the image (BC-RNN) part even if images exist")
    parser.add_argument("--next-obs", action="store_true",
                        help="keep robomimic's default hdf5_load_next_obs=True even if the file has no next_obs")
    parser.add_argument("--verbose", action="store_true", help="show robomimic's own output")
    args = parser.parse_args()

    start = time.time()
    path = os.path.abspath(args.dataset)
    out_dir = os.path.abspath(args.out) if args.out else tempfile.mkdtemp(prefix="check_robomimic_")
    os.makedirs(out_dir, exist_ok=True)
    check = Check(args.verbose)
    check.log = open(os.path.join(out_dir, "robomimic.log"), "w")
    print(f"dataset {path}\noutput  {out_dir} (robomimic's output in robomimic.log)")

    tv = check.run("import torchvision", import_torchvision)
    if tv is None:
        return finish(check, start)
    check.run("import robomimic", lambda: __import__("robomimic").__version__ + " (torch "
              + __import__("torch").__version__ + ", numpy " + __import__("numpy").__version__ + ")")

    info: dict = {}

    def layout() -> str:
        info.update(inspect_file(path))
        return (f"{info['demos']} demos, mask/train {len(info['train'])}, mask/valid {len(info['valid'])}, "
                f"images {info['images'] or 'none'}, depth {info['depths'] or 'none'}, "
                f"next_obs {'yes' if info['has_next_obs'] else 'no'}")

    if check.run("file layout", layout) is None:
        return finish(check, start)

    env_type = info["env_args"].get("type")
    if env_type not in ROBOMIMIC_ENV_TYPES:
        check.note(f"env_args type {env_type!r} ({info['env_args'].get('env_lib', '?')}) is no robomimic EnvType "
                   f"{sorted(ROBOMIMIC_ENV_TYPES)}: rollouts / run_trained_agent.py cannot build an env "
                   "(robomimic/utils/env_utils.py:44); training with rollouts off is unaffected")
    load_next_obs = True
    if not info["has_next_obs"]:
        if args.next_obs:
            check.note("no data/<demo>/next_obs and --next-obs given: using robomimic's default "
                       "hdf5_load_next_obs=True (expected to fail)")
        else:
            load_next_obs = False
            check.note("no data/<demo>/next_obs: robomimic's default config (train.hdf5_load_next_obs=True) would fail "
                       "at robomimic/utils/dataset.py:289; using hdf5_load_next_obs=False (BC does not use next_obs)")

    rgb = [] if args.no_images else info["images"]
    depth = [] if args.no_images else info["depths"]
    check.run("SequenceDataset low-dim (train/valid x low_dim/all cache)", load_datasets, path, [], [], load_next_obs)
    if rgb or depth:
        check.run(f"SequenceDataset + {'+'.join(rgb + depth)} (train/valid x low_dim/all cache)",
                  load_datasets, path, rgb, depth, load_next_obs)

    losses: dict = {}
    valid_batch = max(1, min(16, info["valid_steps"]))
    check.run("BC low-dim, 2 epochs", train_bc, path, out_dir, "bc_low_dim", [], [], load_next_obs,
              valid_batch, 2, args.steps, 3, False, losses)
    if rgb or depth:
        check.run(f"BC-RNN rgb {'+'.join(rgb + depth)}, 1 epoch", train_bc, path, out_dir, "bc_rnn_image", rgb, depth,
                  load_next_obs, min(8, valid_batch), 1, args.image_steps, 2, True, losses)
    return finish(check, start)


def finish(check: Check, start: float) -> int:
    failed = [name for name, ok, _ in check.results if not ok]
    passed = len(check.results) - len(failed)
    print(f"{passed} passed, {len(failed)} failed")
    print(("FAIL: " + "; ".join(failed)) if failed else "PASS", f"({time.time() - start:.1f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
