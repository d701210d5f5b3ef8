"""LeRobot v3.0 export on real demos with real camera images: every file and field of the layout.

The dataset is made once per test process (two lift demos, two 64 px cameras) and read back with
pyarrow and PyAV, the way LeRobot reads it (scripts/check_lerobot_reader.py runs LeRobot itself).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest

import demoforge as df
from demoforge.data import lerobot as lr
from demoforge.data.lerobot import export_lerobot
from demoforge.errors import DemoforgeError, InputFileError
from demoforge.render.observations import add_observations

FPS = 20
CAMERAS = ("agentview", "robot0_eye_in_hand")
QUANTILE_KEYS = ("q01", "q10", "q50", "q90", "q99")


@pytest.fixture(scope="session")
def lift_sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(state-only file, the same demos with agentview and wrist images)."""
    folder = tmp_path_factory.mktemp("lerobot_src")
    src = folder / "lift_src.hdf5"
    df.record_sources("lift", num=2, out=src, seed=0)
    images = add_observations(src, ["agentview", "wrist"], size=64, out=folder / "lift_images.hdf5")
    return src, images


@pytest.fixture(scope="session")
def exported(lift_sources: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    """(dataset folder, source HDF5, source demos) of one export with videos."""
    _, images = lift_sources
    out = tmp_path_factory.mktemp("lerobot_out") / "lift_lerobot"
    progress = []
    result = export_lerobot(images, out, on_episode=lambda done, total: progress.append((done, total)))
    assert progress == [(1, 2), (2, 2)]
    demos = df.read_demos(images, require_datagen=False)
    assert result.out == out and result.episodes == 2 and result.frames == sum(len(d) for d in demos)
    assert result.cameras == CAMERAS
    assert result.video_keys == [f"observation.images.{c}" for c in CAMERAS]
    return out, images, demos


def read_table(root: Path, pattern: str) -> dict[str, np.ndarray]:
    """All Parquet files matching ``pattern`` under ``root``, concatenated, as numpy columns."""
    files = sorted(root.glob(pattern))
    assert files, pattern
    tables = [pq.read_table(f) for f in files]
    return {name: np.concatenate([_column(t, name) for t in tables]) for name in tables[0].column_names}


def _column(table, name: str) -> np.ndarray:
    column = table.column(name).combine_chunks()
    if hasattr(column.type, "list_size"):  # fixed-size list: (rows, width)
        return column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), column.type.list_size)
    return np.asarray(column.to_pylist(), dtype=object) if column.type.num_fields else column.to_numpy(zero_copy_only=False)


def decode(path: Path) -> tuple[list[float], np.ndarray]:
    """Presentation times (s) and RGB frames of an mp4."""
    with av.open(str(path)) as container:
        frames = [(float(f.time), f.to_ndarray(format="rgb24")) for f in container.decode(video=0)]
    return [t for t, _ in frames], np.stack([img for _, img in frames])


# ---- meta/info.json --------------------------------------------------------------------------------
def test_info_json_matches_the_v30_layout(exported) -> None:
    out, _, demos = exported
    info = json.loads((out / "meta" / "info.json").read_text())
    assert list(info) == [
        "codebase_version", "robot_type", "total_episodes", "total_frames", "total_tasks", "chunks_size",
        "data_files_size_in_mb", "video_files_size_in_mb", "fps", "splits", "data_path", "video_path", "features",
    ]
    assert info["codebase_version"] == "v3.0" and info["robot_type"] == "panda" and info["fps"] == FPS
    assert info["total_episodes"] == 2 and info["total_frames"] == sum(len(d) for d in demos)
    assert info["total_tasks"] == 1 and info["splits"] == {"train": "0:2"}
    assert info["chunks_size"] == 1000 and info["data_files_size_in_mb"] == 100 and info["video_files_size_in_mb"] == 200
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"

    features = info["features"]
    expected = {
        "observation.state": ("float32", [9]),
        "observation.joint_pos": ("float32", [7]),
        "observation.environment_state": ("float32", [7]),
        "action": ("float32", [7]),
        "absolute_action": ("float32", [7]),
        "next.reward": ("float32", [1]),
        "next.done": ("bool", [1]),
        "observation.images.agentview": ("video", [64, 64, 3]),
        "observation.images.robot0_eye_in_hand": ("video", [64, 64, 3]),
        "timestamp": ("float32", [1]),
        "frame_index": ("int64", [1]),
        "episode_index": ("int64", [1]),
        "index": ("int64", [1]),
        "task_index": ("int64", [1]),
    }
    assert {k: (f["dtype"], f["shape"]) for k, f in features.items()} == expected
    assert features["observation.state"]["names"] == [
        "eef_pos_x", "eef_pos_y", "eef_pos_z", "eef_quat_x", "eef_quat_y", "eef_quat_z", "eef_quat_w",
        "finger_joint1", "finger_joint2",
    ]
    assert features["action"]["names"] == ["dx", "dy", "dz", "rx", "ry", "rz", "gripper"]
    assert features["observation.environment_state"]["names"][:3] == ["cube_pos_x", "cube_pos_y", "cube_pos_z"]
    for key, feature in features.items():
        shape, names = feature["shape"], feature["names"]
        if feature["dtype"] == "video":
            assert names == ["height", "width", "channels"]
        elif shape == [1]:
            assert names is None, key
        else:
            assert len(names) == shape[0], key
    for cam in CAMERAS:
        assert features[f"observation.images.{cam}"]["info"] == {
            "video.height": 64, "video.width": 64, "video.codec": "h264", "video.pix_fmt": "yuv420p",
            "video.is_depth_map": False, "video.fps": FPS, "video.channels": 3, "has_audio": False,
        }
    provenance = json.loads((out / "meta" / "demoforge.json").read_text())
    assert provenance["episode_demos"] == ["demo_0", "demo_1"] and provenance["env_args"]["env_name"] == "lift"


# ---- data/ ------------------------------------------------------------------------------------------
def test_data_parquet_holds_every_frame_in_order(exported) -> None:
    out, _, demos = exported
    assert [p.relative_to(out).as_posix() for p in sorted((out / "data").rglob("*"))] == [
        "data/chunk-000", "data/chunk-000/file-000.parquet",
    ]
    schema = pq.read_schema(out / "data" / "chunk-000" / "file-000.parquet")
    info = json.loads((out / "meta" / "info.json").read_text())
    assert schema.names == [k for k, f in info["features"].items() if f["dtype"] != "video"]
    assert str(schema.field("observation.state").type) == "fixed_size_list<element: float>[9]"
    assert str(schema.field("timestamp").type) == "float" and str(schema.field("next.done").type) == "bool"
    assert str(schema.field("index").type) == "int64"

    data = read_table(out, "data/*/*.parquet")
    lengths = [len(d) for d in demos]
    total = sum(lengths)
    assert len(data["index"]) == total
    np.testing.assert_array_equal(data["index"], np.arange(total))
    np.testing.assert_array_equal(data["frame_index"], np.concatenate([np.arange(n) for n in lengths]))
    np.testing.assert_array_equal(data["episode_index"], np.repeat([0, 1], lengths))
    np.testing.assert_array_equal(data["task_index"], np.zeros(total))
    assert data["timestamp"].dtype == np.float32
    np.testing.assert_array_equal(data["timestamp"], (data["frame_index"] / FPS).astype(np.float32))

    obs = {k: np.concatenate([d.obs[k] for d in demos]) for k in demos[0].obs if not k.endswith("_image")}
    state = np.concatenate([obs["robot0_eef_pos"], obs["robot0_eef_quat"], obs["robot0_gripper_qpos"]], axis=1)
    np.testing.assert_array_equal(data["observation.state"], state.astype(np.float32))
    np.testing.assert_array_equal(data["observation.joint_pos"], obs["robot0_joint_pos"].astype(np.float32))
    np.testing.assert_array_equal(data["observation.environment_state"], obs["object"].astype(np.float32))
    np.testing.assert_array_equal(data["action"], np.concatenate([d.actions for d in demos]).astype(np.float32))
    np.testing.assert_array_equal(data["absolute_action"], np.concatenate([d.actions_abs for d in demos]).astype(np.float32))
    np.testing.assert_array_equal(data["next.reward"], np.concatenate([d.rewards for d in demos]).astype(np.float32))
    done = data["next.done"].astype(bool)
    assert done.sum() == 2 and done[lengths[0] - 1] and done[-1]


# ---- meta/episodes, meta/tasks ------------------------------------------------------------------------
def test_episode_metadata_points_at_the_right_rows_and_video_spans(exported) -> None:
    out, _, demos = exported
    assert (out / "meta" / "episodes" / "chunk-000" / "file-000.parquet").is_file()
    episodes = pq.read_table(out / "meta" / "episodes" / "chunk-000" / "file-000.parquet").to_pylist()
    lengths = [len(d) for d in demos]
    assert [e["episode_index"] for e in episodes] == [0, 1]
    assert [e["length"] for e in episodes] == lengths
    assert [e["tasks"] for e in episodes] == [["lift the red cube"]] * 2
    assert [(e["dataset_from_index"], e["dataset_to_index"]) for e in episodes] == [(0, lengths[0]), (lengths[0], sum(lengths))]
    for e in episodes:
        assert (e["data/chunk_index"], e["data/file_index"]) == (0, 0)
        assert (e["meta/episodes/chunk_index"], e["meta/episodes/file_index"]) == (0, 0)
        for cam in CAMERAS:
            key = f"videos/observation.images.{cam}"
            assert (e[f"{key}/chunk_index"], e[f"{key}/file_index"]) == (0, 0)
    for cam in CAMERAS:
        key = f"videos/observation.images.{cam}"
        assert episodes[0][f"{key}/from_timestamp"] == 0.0
        assert episodes[0][f"{key}/to_timestamp"] == pytest.approx(lengths[0] / FPS)
        assert episodes[1][f"{key}/from_timestamp"] == pytest.approx(lengths[0] / FPS)
        assert episodes[1][f"{key}/to_timestamp"] == pytest.approx(sum(lengths) / FPS)

    # Per-episode stats columns, as LeRobot's compute_episode_stats lays them out.
    data = read_table(out, "data/*/*.parquet")
    stats_columns = [c for c in episodes[0] if c.startswith("stats/")]
    info = json.loads((out / "meta" / "info.json").read_text())
    assert {c.split("/")[1] for c in stats_columns} == set(info["features"])
    for e, (start, end) in zip(episodes, [(0, lengths[0]), (lengths[0], sum(lengths))]):
        action = data["action"][start:end].astype(np.float64)
        np.testing.assert_allclose(e["stats/action/mean"], action.mean(0), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(e["stats/action/q50"], np.quantile(action, 0.5, axis=0))
        assert e["stats/action/count"] == [end - start]
        assert e["stats/timestamp/max"] == [pytest.approx((end - start - 1) / FPS)]
        assert np.array(e["stats/observation.images.agentview/mean"]).shape == (3, 1, 1)
        assert e["stats/observation.images.agentview/count"] == [min(end - start, 100)]


def test_tasks_parquet_is_indexed_by_the_task_string(exported) -> None:
    out, _, _ = exported
    table = pq.read_table(out / "meta" / "tasks.parquet")
    assert table.to_pylist() == [{"task_index": 0, "task": "lift the red cube"}]
    pandas_meta = json.loads(table.schema.metadata[b"pandas"])
    assert pandas_meta["index_columns"] == ["task"]  # pandas reads the task string back as the index


# ---- meta/stats.json ---------------------------------------------------------------------------------
def test_stats_json_has_lerobot_shapes_and_true_values(exported) -> None:
    out, _, demos = exported
    stats = json.loads((out / "meta" / "stats.json").read_text())
    info = json.loads((out / "meta" / "info.json").read_text())
    assert set(stats) == set(info["features"])
    total = sum(len(d) for d in demos)
    for key, feature in info["features"].items():
        s = stats[key]
        assert list(s) == ["min", "max", "mean", "std", "count", *QUANTILE_KEYS], key
        shape = (3, 1, 1) if feature["dtype"] == "video" else tuple(feature["shape"])
        for stat in ("min", "max", "mean", "std", *QUANTILE_KEYS):
            assert np.array(s[stat]).shape == shape, (key, stat)
        if feature["dtype"] == "video":
            assert s["count"] == [sum(min(len(d), 100) for d in demos)]
            values = np.array([s[k] for k in ("min", "q01", "q50", "q99", "max")])
            assert values.min() >= 0.0 and values.max() <= 1.0 and np.all(np.diff(values, axis=0) >= -1e-9)
        else:
            assert s["count"] == [total], key
    data = read_table(out, "data/*/*.parquet")
    for key in ("observation.state", "action", "index", "next.reward"):
        values = data[key].astype(np.float64).reshape(total, -1)
        np.testing.assert_allclose(stats[key]["mean"], values.mean(0), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(stats[key]["std"], values.std(0), rtol=1e-7, atol=1e-10)
        np.testing.assert_array_equal(stats[key]["min"], values.min(0))
        np.testing.assert_array_equal(stats[key]["max"], values.max(0))


def test_image_stats_and_running_merge_match_numpy() -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(30, 8, 6, 3), dtype=np.uint8)
    s = lr.image_stats(frames)
    pixels = frames.reshape(-1, 3).astype(np.float64) / 255.0
    np.testing.assert_allclose(s["mean"].ravel(), pixels.mean(0))
    np.testing.assert_allclose(s["std"].ravel(), pixels.std(0))
    for key, q in lr.QUANTILES.items():
        np.testing.assert_allclose(s[key].ravel(), np.quantile(pixels, q, axis=0), atol=1e-12)
    assert s["count"].tolist() == [30]
    assert len(lr.sample_indices(1000)) == 177 and len(lr.sample_indices(50)) == 50  # LeRobot's sampling

    parts = [rng.normal(i, 1 + i, size=(n, 4)) for i, n in enumerate((5, 40, 1, 17))]
    merged = lr.RunningStats()
    for part in parts:
        merged.add(lr.vector_stats(part))
    whole = np.concatenate(parts)
    result = merged.result()
    np.testing.assert_allclose(result["mean"], whole.mean(0))
    np.testing.assert_allclose(result["std"], whole.std(0))
    np.testing.assert_array_equal(result["min"], whole.min(0))
    assert result["count"].tolist() == [len(whole)]
    assert lr.next_file(0, 998) == (0, 999) and lr.next_file(0, 999) == (1, 0)


# ---- videos/ -----------------------------------------------------------------------------------------
def test_videos_decode_to_every_frame_at_the_episode_timestamps(exported) -> None:
    out, _, demos = exported
    episodes = pq.read_table(out / "meta" / "episodes" / "chunk-000" / "file-000.parquet").to_pylist()
    total = sum(len(d) for d in demos)
    for cam in CAMERAS:
        key = f"observation.images.{cam}"
        files = sorted((out / "videos" / key).rglob("*.mp4"))
        assert [f.relative_to(out / "videos" / key).as_posix() for f in files] == ["chunk-000/file-000.mp4"]
        with av.open(str(files[0])) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264" and stream.pix_fmt == "yuv420p"
            assert (stream.width, stream.height) == (64, 64)
        times, frames = decode(files[0])
        assert len(frames) == total
        np.testing.assert_allclose(times, np.arange(total) / FPS, atol=1e-6)
        for demo, episode in zip(demos, episodes):
            lo, hi = episode[f"videos/{key}/from_timestamp"], episode[f"videos/{key}/to_timestamp"]
            # LeRobot decodes frame t of an episode at from_timestamp + t / fps (tolerance 1e-4 s).
            picked = [i for i, t in enumerate(times) if lo - 1e-4 <= t < hi - 1e-4]
            assert len(picked) == len(demo)
            for t in range(len(demo)):
                assert abs(times[picked[t]] - (lo + t / FPS)) < 1e-4
            truth = demo.obs[f"{cam}_image"].astype(np.float64)
            error = np.abs(frames[picked].astype(np.float64) - truth).mean(axis=(1, 2, 3))
            assert error.max() < 6.0, error.max()  # h264 is lossy: a few grey levels of 255
            shifted = np.abs(frames[picked][1:].astype(np.float64) - truth[:-1]).mean()
            assert error.mean() < shifted  # each frame matches its own step better than the previous one's


# ---- variants ----------------------------------------------------------------------------------------
def test_state_only_export_has_no_videos(lift_sources, tmp_path: Path) -> None:
    src, _ = lift_sources
    out = tmp_path / "state_only"
    result = export_lerobot(src, out, task_description="pick up the cube", fps=10)
    assert result.cameras == () and result.video_keys == []
    assert not (out / "videos").exists()
    info = json.loads((out / "meta" / "info.json").read_text())
    assert info["video_path"] is None and info["fps"] == 10
    assert not [k for k, f in info["features"].items() if f["dtype"] == "video"]
    data = read_table(out, "data/*/*.parquet")
    assert len(data["index"]) == result.frames == info["total_frames"]
    np.testing.assert_array_equal(data["timestamp"], (data["frame_index"] / 10).astype(np.float32))
    assert pq.read_table(out / "meta" / "tasks.parquet").to_pylist() == [{"task_index": 0, "task": "pick up the cube"}]


def test_cameras_option_picks_videos(lift_sources, tmp_path: Path) -> None:
    _, images = lift_sources
    result = export_lerobot(images, tmp_path / "wrist", cameras=["wrist"])
    assert result.cameras == ("robot0_eye_in_hand",)
    assert [p.name for p in (tmp_path / "wrist" / "videos").iterdir()] == ["observation.images.robot0_eye_in_hand"]
    result = export_lerobot(images, tmp_path / "none", cameras=[])
    assert result.cameras == () and not (tmp_path / "none" / "videos").exists()
    with pytest.raises(DemoforgeError, match="no images for camera.*sideview.*agentview"):
        export_lerobot(images, tmp_path / "bad", cameras=["sideview"])
    assert_nothing_written(tmp_path / "bad")


def test_files_roll_over_at_the_size_limits(lift_sources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, images = lift_sources
    # Patched where the writer reads them (the package only re-exports them).
    monkeypatch.setattr("demoforge.data.lerobot.writer.DATA_FILES_SIZE_IN_MB", 0.01)  # ~10 KB: a file per episode
    monkeypatch.setattr("demoforge.data.lerobot.writer.VIDEO_FILES_SIZE_IN_MB", 0.01)
    out = tmp_path / "rolled"
    export_lerobot(images, out)
    assert sorted(p.relative_to(out).as_posix() for p in (out / "data").rglob("*.parquet")) == [
        "data/chunk-000/file-000.parquet", "data/chunk-000/file-001.parquet",
    ]
    episodes = read_table(out, "meta/episodes/*/*.parquet")
    assert episodes["data/file_index"].tolist() == [0, 1]
    data = read_table(out, "data/*/*.parquet")
    np.testing.assert_array_equal(data["index"], np.arange(len(data["index"])))
    for e in range(2):
        rows = pq.read_table(out / f"data/chunk-000/file-00{e}.parquet").column("episode_index").to_pylist()
        assert set(rows) == {e} and len(rows) == episodes["length"][e]
    demos = df.read_demos(images, require_datagen=False)
    for cam in CAMERAS:
        key = f"videos/observation.images.{cam}"
        assert episodes[f"{key}/file_index"].tolist() == [0, 1]
        assert episodes[f"{key}/from_timestamp"].tolist() == [0.0, 0.0]  # a new file starts at time 0
        for e, demo in enumerate(demos):
            times, frames = decode(out / f"videos/observation.images.{cam}/chunk-000/file-00{e}.mp4")
            assert len(frames) == len(demo) and episodes[f"{key}/to_timestamp"][e] == pytest.approx(len(demo) / FPS)
            assert np.abs(frames.astype(float) - demo.obs[f"{cam}_image"]).mean() < 6.0


def test_every_task_records_its_instruction_and_export_uses_it() -> None:
    from demoforge.rollout.world import env_args_for, make_world
    from demoforge.tasks import get_task

    for name in df.TASKS:
        task = get_task(name)
        assert len(task.description.split()) >= 3, name  # a sentence, not a name
        args = env_args_for(make_world(task), "D0")
        assert lr.default_task_description(args) == task.description
    assert lr.default_task_description({"env_name": "stack"}) == "stack"  # a file from before descriptions
    assert lr.default_task_description({"env_name": "pour_water", "env_kwargs": {}}) == "pour water"


# ---- errors: clear message, nothing left behind ---------------------------------------------------------
def assert_nothing_written(out: Path) -> None:
    assert not out.exists()
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(("." + out.name, out.name))) == []


def test_missing_and_non_hdf5_sources_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(InputFileError, match="nope.hdf5: file does not exist"):
        export_lerobot(tmp_path / "nope.hdf5", out)
    assert_nothing_written(out)
    text = tmp_path / "notes.hdf5"
    text.write_text("not an HDF5 file\n")
    with pytest.raises(InputFileError, match="notes.hdf5: not a readable HDF5 file"):
        export_lerobot(text, out)
    assert_nothing_written(out)
    empty = tmp_path / "empty.hdf5"
    with h5py.File(empty, "w") as f:
        f.create_group("data")
    with pytest.raises(InputFileError, match=r"empty.hdf5 \[data\]: holds no demos"):
        export_lerobot(empty, out)
    assert_nothing_written(out)
    with pytest.raises(DemoforgeError, match="fps must be a positive"):
        export_lerobot(empty, out, fps=0)


def test_existing_output_is_refused_unless_overwrite(lift_sources, tmp_path: Path) -> None:
    src, _ = lift_sources
    out = tmp_path / "ds"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    with pytest.raises(DemoforgeError, match="folder is not empty; .* or --overwrite"):
        export_lerobot(src, out)
    with pytest.raises(DemoforgeError, match="was not made by demoforge"):
        export_lerobot(src, out, overwrite=True)  # never delete a folder that is not ours
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]

    fresh = tmp_path / "fresh"
    fresh.mkdir()  # an empty folder is fine
    export_lerobot(src, fresh)
    with pytest.raises(DemoforgeError, match="not empty"):
        export_lerobot(src, fresh)
    (fresh / "meta" / "stale.txt").write_text("from the previous export")
    export_lerobot(src, fresh, overwrite=True, task_description="lift it")
    assert not (fresh / "meta" / "stale.txt").exists()
    assert pq.read_table(fresh / "meta" / "tasks.parquet").column("task").to_pylist() == ["lift it"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "fresh"]


def test_inconsistent_image_frames_are_refused(lift_sources, tmp_path: Path) -> None:
    _, images = lift_sources
    bad = tmp_path / "bad.hdf5"
    shutil.copy(images, bad)
    with h5py.File(bad, "r+") as f:
        obs = f["data/demo_1/obs"]
        frames = obs["agentview_image"][()]
        del obs["agentview_image"]
        obs.create_dataset("agentview_image", data=frames[:-3])
    out = tmp_path / "out"
    with pytest.raises(InputFileError, match=r"bad.hdf5 \[/data/demo_1/obs/agentview_image\]: has \d+ frames; expected"):
        export_lerobot(bad, out)
    assert_nothing_written(out)  # the first episode was already written, then removed


def test_interrupt_leaves_nothing_behind(lift_sources, tmp_path: Path) -> None:
    _, images = lift_sources
    out = tmp_path / "out"

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_lerobot(images, out, on_episode=stop)
    assert_nothing_written(out)
