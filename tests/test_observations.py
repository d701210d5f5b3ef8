"""Camera observations: rendered during generation, or added later from stored states, identically."""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import imageio.v2 as imageio
import numpy as np
import pytest

import demoforge as df
from demoforge.data.hdf5 import read_env_args
from demoforge.data.video import caption
from demoforge.render.observations import add_observations
from demoforge.rollout.replay import check_demo
from test_cli import assert_user_error, run

CAMERAS = ["agentview", "wrist"]


def _config(sources: Path, **extra: object) -> df.GenerateConfig:
    return df.GenerateConfig(
        task="stack", source=str(sources), num_demos=1, max_attempts=5, variation="D0", seed=1, **extra
    )


@pytest.fixture(scope="module")
def camera_run(stack_sources: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("camera_run")
    cfg = _config(stack_sources, cameras=CAMERAS, image_size=32, depth=True, segmentation=True)
    assert df.generate(cfg, out).successes == 1
    return out / "demos.hdf5"


def test_camera_observations_during_generation(camera_run: Path) -> None:
    demo = df.read_demos(camera_run)[0]
    T = len(demo)
    front, wrist = demo.obs["agentview_image"], demo.obs["robot0_eye_in_hand_image"]
    assert front.shape == wrist.shape == (T, 32, 32, 3) and front.dtype == np.uint8
    assert front.std() > 5 and wrist.std() > 5  # real pictures
    assert np.abs(front[0].astype(int) - front[-1].astype(int)).mean() > 1  # the scene changes over the episode
    depth = demo.obs["agentview_depth"]
    assert depth.shape == (T, 32, 32, 1) and depth.dtype == np.float32
    assert 0.5 < np.median(depth) < 3.0  # metres from the agentview camera to the table and robot
    labels = demo.obs["agentview_segmentation_instance"]
    assert labels.shape == (T, 32, 32, 1) and labels.dtype == np.int16
    assert {0, 1, 2, 3} <= set(np.unique(labels).tolist())  # scene, robot, both cubes
    names = read_env_args(camera_run)["env_kwargs"]["segmentation_labels"]
    assert names[:2] == ["scene", "robot"] and len(names) == 4
    assert check_demo(demo, "stack").ok  # rendering does not disturb the physics


def test_depth_and_segmentation_need_cameras(stack_sources: Path) -> None:
    with pytest.raises(ValueError, match="cameras"):
        _config(stack_sources, depth=True)


def test_rendering_from_states_equals_rendering_during_generation(
    camera_run: Path, stack_sources: Path, tmp_path: Path
) -> None:
    assert df.generate(_config(stack_sources), tmp_path / "plain").successes == 1
    plain = tmp_path / "plain" / "demos.hdf5"
    rendered = add_observations(plain, CAMERAS, 32, depth=True, segmentation=True, out=tmp_path / "obs.hdf5", workers=2)
    with h5py.File(camera_run) as during, h5py.File(rendered) as after, h5py.File(plain) as before:
        a, b = during["data/demo_0/obs"], after["data/demo_0/obs"]
        assert set(a) == set(b)
        for key in a:  # the moving wrist camera too: camera poses are current, not one step behind
            assert np.array_equal(a[key][()], b[key][()]), key
            following = after[f"data/demo_0/next_obs/{key}"][()]  # robomimic's next_obs kept in step
            assert np.array_equal(following[:-1], b[key][1:]) and np.array_equal(following[-1], b[key][-1]), key
        for key in ("actions", "states", "datagen_info/eef_pose"):
            assert np.array_equal(before[f"data/demo_0/{key}"][()], after[f"data/demo_0/{key}"][()])
        assert list(after["mask/train"][()]) == list(before["mask/train"][()])
        assert after["data"].attrs["env_args"] == before["data"].attrs["env_args"]
        assert dict(after["data/demo_0"].attrs) == dict(before["data/demo_0"].attrs)


def test_render_command_in_place_and_its_errors(stack_run: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = stack_run
    data = tmp_path / "demos.hdf5"
    data.write_bytes((out / "demos.hdf5").read_bytes())
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    assert_user_error(run("render", str(data), "--cameras", "agentview,ceiling"), "unknown camera", "ceiling")
    assert_user_error(run("render", str(tmp_path / "missing.hdf5")), "missing.hdf5", "does not exist")
    assert hashlib.sha256(data.read_bytes()).hexdigest() == digest  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demos.hdf5"]  # no partial file left

    result = run("render", str(data), "--cameras", "wrist", "--image-size", "24", "--workers", "2")
    assert result.returncode == 0, result.stderr
    demos = df.read_demos(data)
    assert len(demos) == 6
    for demo in demos:
        assert demo.obs["robot0_eye_in_hand_image"].shape == (len(demo), 24, 24, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demos.hdf5"]


def test_video_grid_of_kept_and_failed_attempts(mixed_run: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = mixed_run
    video = tmp_path / "grid.mp4"
    result = run("video", str(out), "--num", "2", "--failed", "1", "--size", "64x48", "--columns", "3", "--out", str(video))
    assert result.returncode == 0, result.stderr
    frames = list(imageio.get_reader(video).iter_data())
    lengths = []
    for name, index in (("demos.hdf5", 0), ("demos.hdf5", 1), ("failed.hdf5", 0)):
        with h5py.File(out / name) as f:
            lengths.append(int(f[f"data/demo_{index}"].attrs["num_samples"]))
    assert len(frames) == max(lengths)
    assert frames[0].shape == (48, 192, 3)
    assert_user_error(run("video", str(tmp_path / "nothing")), "nothing", "not a run folder")


def test_video_shows_the_most_telling_failures_first(mixed_run: tuple[Path, dict], tmp_path: Path) -> None:
    import json
    import shutil

    from demoforge.render.grid_video import pick_failures

    failed = tmp_path / "failed.hdf5"
    shutil.copy(mixed_run[0] / "demos.hdf5", failed)  # three demos whatever the MuJoCo version; reasons set below
    reasons = ["subtask grasp_cube_a failed", "subtask grasp_cube_a failed", "spilled 9 of 60 particles"]
    with h5py.File(failed, "r+") as f:
        names = sorted(f["data"], key=lambda n: int(n.split("_")[1]))
        for i, name in enumerate(names):
            meta = json.loads(f["data"][name].attrs["meta"])
            f["data"][name].attrs["meta"] = json.dumps({**meta, "reason": reasons[i % 3]})
    assert len(names) >= 3, names
    # The task's own explanation (a spill) first, then one of each other kind, then the rest in order.
    expected = [names[2], names[0]] + [n for n in names if n not in (names[0], names[2])]
    assert pick_failures(failed, len(names)) == expected
    assert pick_failures(failed, 1) == [names[2]]


def test_caption_draws_text() -> None:
    frame = np.full((60, 80, 3), 128, dtype=np.uint8)
    labelled = caption(frame, ["demo_0", "success"])
    band = labelled[:20]
    assert band.max() > 200 and band.min() < 100  # bright text on a dark band
    assert np.array_equal(labelled[40:], frame[40:])  # the picture below is untouched
