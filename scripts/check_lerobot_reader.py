"""Check an exported dataset with LeRobot's own reader (LeRobotDataset 0.4.4), against its source HDF5.

Runs in a throwaway venv, never in the project's .venv (LeRobot pins torch<2.11, whose PyPI build pulls
gigabytes of CUDA). Setup, once (torch 2.13.0 is a local CPU wheel on the dev machines; the FFmpeg
libraries are for torchcodec, LeRobot's default video decoder):

    apt-get install -y --no-install-recommends ffmpeg
    python3 -m venv /tmp/lrvenv
    /tmp/lrvenv/bin/pip install torch==2.13.0
    /tmp/lrvenv/bin/pip install --no-deps lerobot==0.4.4 torchvision==0.28.0 torchcodec==0.13.0
    /tmp/lrvenv/bin/pip install "datasets>=4,<5" "huggingface_hub>=0.34.2,<0.36" pandas "av>=15,<16" \
        jsonlines "packaging>=24.2,<26" draccus==0.10.0 "einops>=0.8,<0.9" "deepdiff>=7,<9" \
        "termcolor>=2.4,<4" "accelerate>=1.10,<2" pillow numpy h5py

Then export with demoforge and check:

    .venv/bin/python -c "from pathlib import Path; from demoforge.data.lerobot import export_lerobot; \
        export_lerobot(Path('demos.hdf5'), Path('/tmp/lerobot_ds'), overwrite=True)"
    /tmp/lrvenv/bin/python scripts/check_lerobot_reader.py /tmp/lerobot_ds demos.hdf5

Two workarounds, both for the mismatched torch/torchvision pair only (not for the dataset):
- PyPI's torchvision 0.28.0 is built against CUDA torch, so its C ops (nms, roi_align: detection
  only) cannot load beside CPU torch and ``import torchvision`` fails registering their fake kernels.
  The shim below skips those registrations; LeRobot's dataset code uses only torchvision's Python parts.
- torchvision 0.28 no longer has ``torchvision.io.VideoReader``, which LeRobot 0.4.4's ``pyav`` video
  backend needs, so this checks with the ``torchcodec`` backend (LeRobot's default on Linux x86-64).
  ``--backend pyav`` tries it anyway and says why it cannot run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import h5py
import numpy as np
import torch
import torch.library


def import_torchvision_without_ops() -> None:
    """``import torchvision`` with CPU torch: skip fake-kernel registration for its unloadable C ops."""
    original = torch.library.register_fake

    def register_fake(op, func=None, /, **kwargs):  # noqa: ANN001, ANN202 (mirrors torch's signature)
        def decorate(fn):  # noqa: ANN001, ANN202
            try:
                return original(op, **kwargs)(fn)
            except RuntimeError:
                if str(op).startswith("torchvision::"):
                    return fn
                raise

        return decorate(func) if func is not None else decorate

    torch.library.register_fake = register_fake
    try:
        import torchvision  # noqa: F401
    finally:
        torch.library.register_fake = original


def check(root: Path, hdf5: Path, backend: str) -> None:
    import_torchvision_without_ops()
    from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata
    from lerobot.datasets.utils import dataset_to_policy_features

    meta = LeRobotDatasetMetadata("local/demoforge", root=root)
    demos = json.loads((root / "meta" / "demoforge.json").read_text())["episode_demos"]
    assert meta.total_episodes == len(demos) == len(meta.episodes), (meta.total_episodes, len(demos))
    video_keys = meta.video_keys
    print(f"metadata: {meta.total_episodes} episodes, {meta.total_frames} frames, fps {meta.fps}, videos {video_keys}")
    print("policy features:", {k: (f.type.name, f.shape) for k, f in dataset_to_policy_features(meta.features).items()})
    for key in video_keys:
        for stat in ("min", "max", "mean", "std", "q01", "q99"):
            assert meta.stats[key][stat].shape == (3, 1, 1), (key, stat, meta.stats[key][stat].shape)

    if backend == "pyav":
        import torchvision.io

        if not hasattr(torchvision.io, "VideoReader"):
            sys.exit(
                "pyav backend: LeRobot 0.4.4 decodes through torchvision.io.VideoReader, which torchvision "
                f"{torchvision.__version__} no longer has (LeRobot pins torchvision<0.26); use --backend torchcodec"
            )

    ds = LeRobotDataset("local/demoforge", root=root, video_backend=backend)
    assert len(ds) == meta.total_frames
    worst = 0.0
    with h5py.File(hdf5, "r") as f:
        for ep, name in enumerate(demos):
            group = f["data"][name]
            start = meta.episodes[ep]["dataset_from_index"]
            T = meta.episodes[ep]["length"]
            assert T == group["actions"].shape[0], (name, T)
            for t in sorted({0, 1, T // 2, T - 1}):
                item = ds[start + t]
                assert item["episode_index"].item() == ep and item["frame_index"].item() == t
                np.testing.assert_array_equal(item["action"].numpy(), group["actions"][t].astype(np.float32))
                np.testing.assert_array_equal(item["observation.state"][:3].numpy(), group["obs/robot0_eef_pos"][t].astype(np.float32))
                for key in video_keys:
                    frame = item[key].numpy()  # (3, H, W) float in [0, 1]
                    truth = group[f"obs/{key.removeprefix('observation.images.')}_image"][t].transpose(2, 0, 1) / 255.0
                    err = float(np.abs(frame - truth).mean())
                    worst = max(worst, err)
                    assert err < 0.03, f"{key} episode {ep} frame {t}: mean abs error {err:.4f}"
    print(f"frames: state/action exact, video frames mean abs error <= {worst:.4f} (of 1.0)")

    # Action chunks and frame history across episode ends: LeRobot pads and decodes several timestamps.
    deltas = {"action": [0.0, 1 / meta.fps, 2 / meta.fps]}
    deltas.update({key: [-1 / meta.fps, 0.0] for key in video_keys})
    chunked = LeRobotDataset("local/demoforge", root=root, video_backend=backend, delta_timestamps=deltas)
    last = meta.episodes[0]["dataset_to_index"] - 1
    item = chunked[last]
    assert item["action"].shape == (3, 7) and item["action_is_pad"].tolist() == [False, True, True]
    for key in video_keys:
        assert item[key].shape[0] == 2 and item[f"{key}_is_pad"].tolist() == [False, False]
    print("delta_timestamps: padding at the episode end and 2-frame video history OK")

    if meta.total_episodes > 1:  # one episode alone: its video frames start at from_timestamp
        one = LeRobotDataset("local/demoforge", root=root, video_backend=backend, episodes=[1])
        item = one[0]
        assert item["episode_index"].item() == 1 and len(one) == meta.episodes[1]["length"]
        with h5py.File(hdf5, "r") as f:
            for key in video_keys:
                truth = f["data"][demos[1]][f"obs/{key.removeprefix('observation.images.')}_image"][0]
                assert np.abs(item[key].numpy() - truth.transpose(2, 0, 1) / 255.0).mean() < 0.03
        print("episodes=[1]: subset loads, its first video frame is the right one")

    loader = torch.utils.data.DataLoader(ds, batch_size=8, shuffle=True, num_workers=0)
    batch = next(iter(loader))
    print("DataLoader batch:", {k: tuple(v.shape) for k, v in batch.items() if hasattr(v, "shape")})
    import lerobot

    print(f"OK: LeRobot {getattr(lerobot, '__version__', '?')} reads {root} ({backend} backend)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="exported LeRobot dataset folder")
    parser.add_argument("hdf5", type=Path, help="the HDF5 file it was exported from")
    parser.add_argument("--backend", default="torchcodec", choices=["torchcodec", "pyav"])
    args = parser.parse_args()
    check(args.root, args.hdf5, args.backend)


if __name__ == "__main__":
    main()
