"""Demos from elsewhere: robosuite recordings (tests/fixtures/robosuite_stack.hdf5, recorded by robosuite 1.5.2
itself with scripts/record_robosuite_stack.py) and LeRobot datasets, imported as demoforge source demos."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_cli import assert_user_error, run

from demoforge.capture.imports.robomimic import (
    GRIP_SITES, import_robomimic, load_recorded_model, relocate_robosuite_assets,
)
from demoforge.data.hdf5 import read_demos

FIXTURE = Path(__file__).parent / "fixtures" / "robosuite_stack.hdf5"
# 3 Stack demos recorded by robosuite 1.4.1 on MuJoCo 2.3.7 (what MimicGen's source datasets were made with):
# scripts/record_robosuite_stack.py, run with robosuite 1.4.1
FIXTURE_14 = Path(__file__).parent / "fixtures" / "robosuite14_stack.hdf5"


def test_poses_recomputed_from_states_match_what_robosuite_observed(tmp_path: Path) -> None:
    """The recording's own observations (taken by robosuite from the same states) agree with the poses demoforge
    recomputes in MuJoCo from model_file and states: the state layout and the asset relocation are right."""
    import mujoco

    with h5py.File(FIXTURE) as f:
        group = f["data/demo_3"]
        xml, missing = relocate_robosuite_assets(group.attrs["model_file"], None)
        states, eef_obs, cube_obs = group["states"][:], group["obs/robot0_eef_pos"][:], group["obs/cubeA_pos"][:]
    assert not missing and "/tmp/rs-venv" not in xml  # every asset found in the installed pack
    model, _ = load_recorded_model(xml)  # (MuJoCo 3.3.0 drops the textures' colorspace 3.3.7 wrote)
    data = mujoco.MjData(model)
    site = model.site(GRIP_SITES[0]).id
    for t in range(0, len(states), 7):
        data.qpos[:], data.qvel[:] = states[t, 1:1 + model.nq], states[t, 1 + model.nq:]
        mujoco.mj_forward(model, data)
        assert np.abs(data.site_xpos[site] - eef_obs[t]).max() < 1e-6
        assert np.abs(data.xpos[model.body("cubeA_main").id] - cube_obs[t]).max() < 1e-6


def test_imported_robosuite_stack_demos_generate_stack(tmp_path: Path) -> None:
    """The issue's bar: 10 robosuite Stack demos give >= 100 demoforge stack demos at DGR >= 80% on D1."""
    src = tmp_path / "src.hdf5"
    result = run("import", "robomimic", str(FIXTURE), "--task", "stack", "--out", str(src))
    assert result.returncode == 0, result.stderr
    demos = read_demos(src)
    assert len(demos) == 10
    for demo in demos:  # the grasp signal rises once, before the end, and success holds at the end
        grasp = demo.datagen.subtask_term_signals["grasp_cube_a"]
        assert 0 < np.argmax(grasp) < len(demo) - 20 and demo.rewards[-5:].all()
        # at the grasp, the end-effector is at the cube (demoforge's frame: z down, fingers across the cube)
        t = int(np.argmax(grasp))
        cube_T_eef = np.linalg.inv(demo.datagen.object_poses["cube_a"][t]) @ demo.datagen.eef_pose[t]
        assert np.linalg.norm(cube_T_eef[:3, 3]) < 0.02 and cube_T_eef[2, 2] < -0.95
        assert abs(demo.datagen.object_poses["cube_b"][0][2, 3] - (0.8 + 0.025)) < 0.012  # on demoforge's table
        for pose in demo.datagen.object_poses.values():  # folded by the cubes' 4-fold symmetry, as demoforge's own
            assert np.all(np.abs(np.arctan2(pose[:, 1, 0], pose[:, 0, 0])) <= np.pi / 4 + 1e-9)
    with h5py.File(src) as f:
        imported = json.loads(f["data"].attrs["env_args"])["env_kwargs"]["imported"]
    assert imported["map"] == {"cubeA": "cube_a", "cubeB": "cube_b"} and imported["env_version"] == "1.5.2"
    out = tmp_path / "run"
    result = run("generate", "--task", "stack", "--source", str(src), "--num-demos", "100", "--variation", "D1",
                 "--workers", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["successes"] >= 100 and stats["successes"] / stats["attempts"] >= 0.8, stats


def test_robosuite_1_4_recordings_import_and_generate(tmp_path: Path) -> None:
    """robosuite 1.4's names (gripper0_grip_site), its asset paths (arenas/../textures, mounts/ for 1.5's bases/)
    and its files' env_args (no env_version) import without --assets."""
    src = tmp_path / "src.hdf5"
    result = run("import", "robomimic", str(FIXTURE_14), "--task", "stack", "--out", str(src))
    assert result.returncode == 0, result.stderr
    with h5py.File(src) as f:
        assert json.loads(f["data"].attrs["env_args"])["env_kwargs"]["imported"]["env_version"] == "1.4.1"
    out = tmp_path / "run"
    assert run("generate", "--task", "stack", "--source", str(src), "--num-demos", "10", "--variation", "D1",
               "--workers", "2", "--out", str(out)).returncode == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["successes"] == 10 and stats["attempts"] <= 13, stats


def test_attributes_a_newer_mujoco_wrote_are_dropped_and_said(tmp_path: Path) -> None:
    """A recording made on a newer MuJoCo loads on this one: attributes it does not know are removed and reported."""
    with h5py.File(FIXTURE) as f:
        xml, _ = relocate_robosuite_assets(f["data/demo_0"].attrs["model_file"], None)
    newer = xml.replace("<texture ", '<texture sparkle="0.5" ', 1).replace("<light ", '<light glow="2" ', 1)
    model, dropped = load_recorded_model(newer)
    assert {"texture.sparkle", "light.glow"} <= set(dropped) and model.nq == 23
    with pytest.raises(ValueError):  # anything else wrong with the model is not papered over
        load_recorded_model(xml.replace("<worldbody>", "<worldbody><body><geom type='bogus'/></body>", 1))


def _copy_with(src: Path, dst: Path, edit: Callable[[h5py.File], None]) -> Path:
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return dst


def _set_attr(key: str, value: str) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        f["data/demo_4"].attrs[key] = value
    return edit


def _narrow_states(f: h5py.File) -> None:
    states = f["data/demo_2/states"][:]
    del f["data/demo_2/states"]
    f["data/demo_2/states"] = states[:, :-3]


@pytest.mark.parametrize(("damage", "args", "needles"), [
    (None, ["--map", "cubeA=cube_a"], ["no counterpart for task 'stack''s object(s) 'cube_b'", "--map RECORDED=cube_b"]),
    (None, ["--map", "cubeA=cube_a,cubeB=cube_z"], ["--map names 'cube_z', not objects of task 'stack'"]),
    (None, ["--map", "cubeA=cube_a,cubeQ=cube_b"], ["--map names 'cubeQ', but the recorded model has no body"]),
    (None, ["--map", "cubeA"], ["expected RECORDED=OBJECT pairs"]),
    (None, ["--task", "stack_three"], ["no counterpart for task 'stack_three''s object(s) 'cube_c'"]),
    (None, ["--assets", "{tmp}"], ["demo_0.attrs[model_file]", "asset file(s) not in --assets"]),
    (_set_attr("model_file", "<mujoco><worldbody><body><geom type='box'/></body></mujoco>"), [],
     ["demo_4.attrs[model_file]", "does not load in MuJoCo"]),
    (_narrow_states, [], ["demo_2/states", "states have 42 numbers per step; its model_file needs 45"]),
    ("not hdf5", [], ["not an HDF5 file"]),
])
def test_damaged_or_mismatched_imports_exit_2_and_write_nothing(tmp_path: Path, damage: object, args: list[str],
                                                               needles: list[str]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    source = FIXTURE
    if damage == "not hdf5":
        source = work / "demos.hdf5"
        source.write_text("robosuite demos, honest")
    elif damage is not None:
        source = _copy_with(FIXTURE, work / "demos.hdf5", damage)
    out = tmp_path / "out" / "src.hdf5"
    args = [a.replace("{tmp}", str(work)) for a in args]
    assert_user_error(run("import", "robomimic", str(source), "--out", str(out), *args), *needles)
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_an_existing_output_is_kept_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "src.hdf5"
    out.write_bytes(b"mine")
    assert_user_error(run("import", "robomimic", str(FIXTURE), "--out", str(out)), "--overwrite")
    assert out.read_bytes() == b"mine"


def test_import_in_process_keeps_the_recordings_arrays(tmp_path: Path) -> None:
    out, tracks = import_robomimic(FIXTURE, "stack", tmp_path / "src.hdf5")
    with h5py.File(FIXTURE) as f, h5py.File(out) as g:
        for i in (0, 9):
            np.testing.assert_array_equal(g[f"data/demo_{i}/actions"][:], f[f"data/demo_{i}/actions"][:])
            np.testing.assert_array_equal(g[f"data/demo_{i}/states"][:], f[f"data/demo_{i}/states"][:])
            meta = json.loads(g[f"data/demo_{i}"].attrs["meta"])
            assert meta["imported_demo"] == f"demo_{i}" and meta["object_extents"]["cube_b"] == [-0.025, 0.025]
    # gripper command: the recording's last action column, -1 open .. +1 closed, as demoforge's
    np.testing.assert_array_equal(tracks[0].gripper[:, 0], np.clip(tracks[0].actions[:, 6], -1, 1))


# ---- LeRobot -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lerobot_export(tmp_path_factory: pytest.TempPathFactory, stack_sources: Path) -> Path:
    """demoforge's own export of its stack sources: the LeRobot dataset a demoforge user would have."""
    from demoforge.data.lerobot import export_lerobot

    out = tmp_path_factory.mktemp("lerobot") / "stack"
    export_lerobot(stack_sources, out)
    return out


def test_a_demoforge_export_imported_back_gives_the_same_source_demos(tmp_path: Path, stack_sources: Path,
                                                                     lerobot_export: Path) -> None:
    src = tmp_path / "src.hdf5"
    result = run("import", "lerobot", str(lerobot_export), "--task", "stack", "--out", str(src))
    assert result.returncode == 0, result.stderr
    for before, after in zip(read_demos(stack_sources), read_demos(src), strict=True):
        a, b = before.datagen, after.datagen
        assert len(before) == len(after)
        np.testing.assert_allclose(b.eef_pose, a.eef_pose, atol=1e-6)  # float32 in the Parquet files
        # the target: the one the action executed (absolute_action), which is the intended one unless clipped
        unclipped = np.abs(before.actions[:, :6]).max(axis=1) < 0.999
        assert unclipped.mean() > 0.8
        np.testing.assert_allclose(b.target_pose[unclipped], a.target_pose[unclipped], atol=1e-6)
        for obj in a.object_poses:
            np.testing.assert_allclose(b.object_poses[obj], a.object_poses[obj], atol=1e-6)
        np.testing.assert_array_equal(b.gripper_action, a.gripper_action)
        for signal in a.subtask_term_signals:  # read again in demoforge's world set to each frame: the same steps
            np.testing.assert_array_equal(b.subtask_term_signals[signal], a.subtask_term_signals[signal])
        np.testing.assert_allclose(after.actions, before.actions, atol=1e-6)
    out = tmp_path / "run"
    assert run("generate", "--task", "stack", "--source", str(src), "--num-demos", "5", "--workers", "1",
               "--out", str(out)).returncode == 0
    assert json.loads((out / "stats.json").read_text())["successes"] == 5


def _without_joints(src: Path, dst: Path) -> Path:
    """A copy of a LeRobot dataset without observation.joint_pos: poses only, as other recorders write."""
    import pyarrow.parquet as pq

    shutil.copytree(src, dst)
    info = json.loads((dst / "meta/info.json").read_text())
    del info["features"]["observation.joint_pos"]
    (dst / "meta/info.json").write_text(json.dumps(info))
    for file in (dst / "data").rglob("*.parquet"):
        table = pq.read_table(file)
        pq.write_table(table.drop_columns(["observation.joint_pos"]), file)
    return dst


def test_a_dataset_without_joint_positions_is_read_by_inverse_kinematics(tmp_path: Path, stack_sources: Path,
                                                                        lerobot_export: Path) -> None:
    from demoforge.capture.imports.lerobot import import_lerobot

    folder = _without_joints(lerobot_export, tmp_path / "poses_only")
    out, tracks = import_lerobot(folder, "stack", tmp_path / "src.hdf5")
    for before, track in zip(read_demos(stack_sources), tracks, strict=True):
        grasp_before = int(np.argmax(before.datagen.subtask_term_signals["grasp_cube_a"]))
        grasp_after = int(np.argmax(track.signals["grasp_cube_a"]))
        assert abs(grasp_after - grasp_before) <= 2 and track.success[-5:].all()
    with h5py.File(out) as f:
        assert json.loads(f["data"].attrs["env_args"])["env_kwargs"]["imported"]["joints"] == "inverse kinematics"


def _edit_info(key: str, value: object) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        info = json.loads((folder / "meta/info.json").read_text())
        info[key] = value
        (folder / "meta/info.json").write_text(json.dumps(info))
    return edit


def _break_parquet(folder: Path) -> None:
    file = next((folder / "data").rglob("*.parquet"))
    file.write_bytes(file.read_bytes()[:200])


@pytest.mark.parametrize(("damage", "args", "needles"), [
    (None, ["--map", "cube_a=cube_a"], ["no counterpart for task 'stack''s object(s) 'cube_b'"]),
    (None, ["--map", "cube_a=cube_a,mug=cube_b"], ["--map names 'mug', but", "has no poses of it"]),
    (_edit_info("codebase_version", "v2.1"), [], ["codebase_version 'v2.1'; demoforge reads v3.0"]),
    (_edit_info("features", {}), [], ["features.observation.state.names", "needs a list of column names"]),
    (_break_parquet, [], ["is not a readable Parquet file"]),
    (None, ["--task", "lift"], ["no counterpart for task 'lift''s object(s) 'cube'"]),
])
def test_damaged_or_mismatched_lerobot_imports_exit_2_and_write_nothing(
        tmp_path: Path, lerobot_export: Path, damage: Callable[[Path], None] | None, args: list[str],
        needles: list[str]) -> None:
    folder = shutil.copytree(lerobot_export, tmp_path / "dataset")
    if damage is not None:
        damage(folder)
    out = tmp_path / "out" / "src.hdf5"
    assert_user_error(run("import", "lerobot", str(folder), "--out", str(out), *args), *needles)
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_imported_files_say_what_they_cannot_do_and_take_hand_boundaries(tmp_path: Path) -> None:
    src = tmp_path / "src.hdf5"
    import_robomimic(FIXTURE, "stack", src)
    assert_user_error(run("replay", str(src), "--check"), "imported from robomimic", "do not re-simulate")
    assert_user_error(run("render", str(src), "--cameras", "agentview", "--image-size", "16", "--workers", "1",
                          "--out", str(tmp_path / "r.hdf5")), "imported from a robosuite recording")
    assert_user_error(run("annotate", str(src), "--task", "stack"), "pass --annotations")
    (tmp_path / "bounds.json").write_text(json.dumps({"demo_0": [40]}))
    out = tmp_path / "annotated.hdf5"
    result = run("annotate", str(src), "--task", "stack", "--annotations", str(tmp_path / "bounds.json"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    before, after = read_demos(src), read_demos(out)
    assert int(np.argmax(after[0].datagen.subtask_term_signals["grasp_cube_a"])) == 40
    np.testing.assert_array_equal(after[0].datagen.eef_pose, before[0].datagen.eef_pose)  # poses kept as imported
    np.testing.assert_array_equal(after[1].datagen.subtask_term_signals["grasp_cube_a"],
                                  before[1].datagen.subtask_term_signals["grasp_cube_a"])
