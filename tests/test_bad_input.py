"""Bad input, as a user gives it: a clear message naming the file and field, exit code 2, no traceback,
and no output left behind (or an existing output left unchanged). Plus a fuzz test of the HDF5 readers.
"""

from __future__ import annotations

import faulthandler
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli import assert_user_error, run

import demoforge as df
from demoforge.data.hdf5 import read_demos, read_env_args
from demoforge.errors import DemoforgeError

FAST = ("--workers", "1", "--num-demos", "1", "--max-attempts", "2")
COMMANDS = ("generate", "replay", "annotate", "render", "export", "video")


def command(name: str, src: Path, out: Path) -> list[str]:
    """CLI arguments that make ``name`` read ``src`` and write to ``out`` (replay --check writes nothing)."""
    return {
        "generate": ["generate", "--task", "stack", "--source", str(src), *FAST, "--out", str(out)],
        "replay": ["replay", str(src), "--check"],
        "annotate": ["annotate", str(src), "--task", "stack", "--out", str(out)],
        "render": ["render", str(src), "--cameras", "agentview", "--image-size", "16", "--workers", "1", "--out", str(out)],
        "export": ["export", "lerobot", str(src), "--out", str(out)],
        "video": ["video", str(src), "--num", "1", "--size", "32x32", "--workers", "1", "--out", str(out)],
    }[name]


def snapshot(folder: Path) -> dict[str, bytes] | None:
    """Every file under ``folder`` with its bytes (None if it does not exist); lock files only by name."""
    if not folder.exists():
        return None
    return {
        str(p.relative_to(folder)): b"" if p.name == ".demoforge.lock" else p.read_bytes()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def assert_nothing_written(folder: Path, before: dict[str, bytes] | None) -> None:
    """``folder`` holds exactly what it held before the command: no output, no ``.partial`` leftovers."""
    assert snapshot(folder) == before


def damaged(src: Path, dst: Path, edit: Callable[[h5py.File], None]) -> Path:
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return dst


def replace(f: h5py.File, key: str, value: np.ndarray) -> None:
    del f[key]
    f[key] = value


def set_item(f: h5py.File, key: str, index: tuple, value: float) -> None:
    data = f[key][()]
    data[index] = value
    f[key][...] = data


# ---- files that are not readable demo datasets ------------------------------------------------------
def _truncated(src: Path, dst: Path) -> None:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])


UNREADABLE: dict[str, tuple[Callable[[Path, Path], object], tuple[str, ...]]] = {
    "missing": (lambda src, dst: None, ()),
    "truncated": (_truncated, ("not a readable HDF5 file",)),
    "text": (lambda src, dst: dst.write_text("demo_0,1,2,3\n"), ("not a readable HDF5 file",)),
    "empty": (lambda src, dst: dst.write_bytes(b""), ("is empty",)),
    "png": (lambda src, dst: dst.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200)), ("not a readable HDF5 file",)),
    "no_data": (lambda src, dst: damaged(src, dst, lambda f: f.move("data", "episodes")), ("[data]", "missing group")),
}


@pytest.mark.parametrize("cmd", COMMANDS)
@pytest.mark.parametrize("kind", list(UNREADABLE))
def test_unreadable_input_file(stack_sources: Path, tmp_path: Path, kind: str, cmd: str) -> None:
    make, needles = UNREADABLE[kind]
    work = tmp_path / "work"
    work.mkdir()
    src = work / f"{kind}.hdf5"
    make(stack_sources, src)
    before = snapshot(work)
    out = work / ("out.mp4" if cmd == "video" else "out.hdf5" if cmd in ("annotate", "render") else "out")
    assert_user_error(run(*command(cmd, src, out)), src.name, *needles)
    assert_nothing_written(work, before)


# ---- readable files with bad content -------------------------------------------------------------------
CONTENT: dict[str, tuple[Callable[[h5py.File], None], tuple[str, ...]]] = {
    "action_width": (
        lambda f: replace(f, "data/demo_0/actions", f["data/demo_0/actions"][:, :6]),
        ("data/demo_0/actions", "has shape", "expected (T, 7)"),
    ),
    "nan_actions": (
        lambda f: set_item(f, "data/demo_0/actions", (3, 1), np.nan),
        ("data/demo_0/actions", "NaN"),
    ),
    "nan_states": (
        lambda f: set_item(f, "data/demo_0/states", (5, 2), np.inf),
        ("data/demo_0/states", "NaN or infinite"),
    ),
    "nan_eef_pose": (
        lambda f: set_item(f, "data/demo_0/datagen_info/eef_pose", (4, 0, 3), np.nan),
        ("data/demo_0/datagen_info/eef_pose", "NaN"),
    ),
    "short_states": (
        lambda f: replace(f, "data/demo_0/states", f["data/demo_0/states"][:-5]),
        ("data/demo_0/states", "rows; expected", "one per step"),
    ),
    "num_samples": (
        lambda f: f["data/demo_0"].attrs.__setitem__("num_samples", 7),
        ("data/demo_0.attrs[num_samples]", "is 7 but the demo has"),
    ),
    "meta_json": (
        lambda f: f["data/demo_0"].attrs.__setitem__("meta", '{"success": tru'),
        ("data/demo_0.attrs[meta]", "not valid JSON"),
    ),
    "no_actions": (
        lambda f: f["data/demo_0"].__delitem__("actions"),
        ("data/demo_0/actions", "is missing"),
    ),
}


@pytest.mark.parametrize("cmd", COMMANDS)
@pytest.mark.parametrize("kind", list(CONTENT))
def test_bad_content(stack_sources: Path, tmp_path: Path, kind: str, cmd: str) -> None:
    edit, needles = CONTENT[kind]
    work = tmp_path / "work"
    work.mkdir()
    src = damaged(stack_sources, work / f"{kind}.hdf5", edit)
    before = snapshot(work)
    out = work / ("out.mp4" if cmd == "video" else "out.hdf5" if cmd in ("annotate", "render") else "out")
    assert_user_error(run(*command(cmd, src, out)), src.name, *needles)
    assert_nothing_written(work, before)


def test_generate_needs_datagen_info(stack_sources: Path, tmp_path: Path) -> None:
    src = damaged(stack_sources, tmp_path / "plain.hdf5", lambda f: f["data/demo_1"].__delitem__("datagen_info"))
    out = tmp_path / "run"
    assert_user_error(
        run(*command("generate", src, out)), "plain.hdf5", "data/demo_1/datagen_info", "run `demoforge annotate`"
    )
    assert not out.exists()


def test_generate_rejects_a_source_whose_model_does_not_load(stack_sources: Path, tmp_path: Path) -> None:
    src = damaged(stack_sources, tmp_path / "model.hdf5", lambda f: f["data/demo_0"].attrs.__setitem__("model_file", "<mujoco"))
    out = tmp_path / "run"
    assert_user_error(run(*command("generate", src, out)), "model.hdf5", "demo_0", "model_file", "not a loadable MuJoCo model")
    assert not out.exists()


# ---- annotation files ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def three_sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One stack_three source demo (277 steps): three boundaries to get wrong."""
    path = tmp_path_factory.mktemp("three") / "s3.hdf5"
    df.record_sources("stack_three", num=1, out=path, seed=0)
    return path


ANNOTATIONS = {
    "non_monotonic": ('{"demo_0": [150, 100, 200]}', ("increase strictly", "150 then 100")),
    "overlapping": ('{"demo_0": {"grasp_cube_a": 90, "place_a_on_b": 90, "grasp_cube_c": 200}}', ("increase strictly",)),
    "out_of_range": ('{"demo_0": [50, 100, 100000]}', ("100000 is outside the demo",)),
    "zero": ('{"demo_0": [0, 100, 200]}', ("0 is outside the demo",)),
    "non_integer": ('{"demo_0": [50, 100.5, 200]}', ("100.5 is not an integer",)),
    "string": ('{"demo_0": [50, "100", 200]}', ("'100' is not an integer",)),
    "too_few": ('{"demo_0": [50, 100]}', ("expected 3 boundaries", "got 2")),
    "unknown_demo": ('{"demo_7": [50, 100, 200]}', ("demo_7", "not in")),
    "unknown_subtask": (
        '{"demo_0": {"grasp_cube_a": 50, "place_a_on_b": 100, "grasp_cube_c": 150, "juggle": 200}}',
        ("unknown subtasks ['juggle']",),
    ),
    "not_json": ('{"demo_0": [50, 100, 200]', ("not valid JSON",)),
    "not_an_object": ("[50, 100, 200]", ("expected an object",)),
    "not_a_list": ('{"demo_0": 50}', ("demo_0", "expected a list")),
}


@pytest.mark.parametrize("kind", list(ANNOTATIONS))
def test_bad_annotation_file(three_sources: Path, tmp_path: Path, kind: str) -> None:
    content, needles = ANNOTATIONS[kind]
    ann = tmp_path / "ann.json"
    ann.write_text(content)
    out = tmp_path / "run"
    args = ["generate", "--task", "stack_three", "--source", str(three_sources), "--annotations", str(ann)]
    assert_user_error(run(*args, *FAST, "--out", str(out)), "ann.json", *needles)
    assert not out.exists()


def test_annotation_file_that_is_binary_or_missing(three_sources: Path, tmp_path: Path) -> None:
    png = tmp_path / "ann.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    for ann, needle in ((png, "not valid JSON"), (tmp_path / "nope.json", "does not exist")):
        out = tmp_path / "run"
        args = ["generate", "--task", "stack_three", "--source", str(three_sources), "--annotations", str(ann)]
        assert_user_error(run(*args, *FAST, "--out", str(out)), ann.name, needle)
        assert not out.exists()
    before = three_sources.read_bytes()
    assert_user_error(run("annotate", str(three_sources), "--task", "stack_three", "--annotations", str(png)), "ann.png")
    assert three_sources.read_bytes() == before


# ---- options ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "needles"),
    [
        (("--task", "juggle"), ("unknown task 'juggle'", "stack")),
        (("--scenes", "moon"), ("unknown scene family 'moon'", "kitchen")),
        (("--variation", "D9"), ("no variation 'D9'", "D0, D1, D2")),
    ],
)
def test_unknown_names(stack_sources: Path, tmp_path: Path, option: tuple[str, str], needles: tuple[str, ...]) -> None:
    out = tmp_path / "run"
    args = ["generate", "--source", str(stack_sources), *FAST, "--out", str(out)]
    if option[0] != "--task":
        args[1:1] = ["--task", "stack"]
    assert_user_error(run(*args, *option), *needles)
    assert not out.exists()


def test_replay_with_an_unknown_task(stack_sources: Path) -> None:
    assert_user_error(run("replay", str(stack_sources), "--check", "--task", "juggle"), "unknown task 'juggle'")


# ---- output locations ----------------------------------------------------------------------------------
def test_resume_in_a_folder_of_a_different_run(stack_run: tuple[Path, dict], stack_sources: Path, tmp_path: Path) -> None:
    finished, _ = stack_run
    out = tmp_path / "other_seed"
    shutil.copytree(finished, out)
    before = snapshot(out)
    args = ["generate", "--task", "stack", "--source", str(stack_sources), "--seed", "4", *FAST, "--out", str(out)]
    assert_user_error(run(*args, "--resume"), str(out), "different run", "seed")
    assert snapshot(out) == before


def test_resume_never_deletes_an_existing_folder(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"seed": 5}))
    (out / "notes.txt").write_text("keep me")
    before = snapshot(out)
    bogus = tmp_path / "bogus.hdf5"
    bogus.write_text("not hdf5")
    args = ["generate", "--task", "stack", "--source", str(bogus), *FAST, "--out", str(out), "--resume"]
    assert_user_error(run(*args), "bogus.hdf5")
    assert snapshot(out) == before


@pytest.mark.parametrize("cmd", ["generate", "export"])
def test_out_is_an_existing_file(stack_sources: Path, tmp_path: Path, cmd: str) -> None:
    out = tmp_path / "taken"
    out.write_text("user data")
    assert_user_error(run(*command(cmd, stack_sources, out)), "taken", "not a folder")
    assert out.read_text() == "user data"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


@pytest.mark.parametrize("cmd", ["video", "render", "annotate"])
def test_out_file_is_an_existing_folder(stack_sources: Path, tmp_path: Path, cmd: str) -> None:
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    before = snapshot(tmp_path)
    assert_user_error(run(*command(cmd, stack_sources, out)), "taken")
    assert snapshot(tmp_path) == before


def test_video_out_without_a_video_extension(stack_sources: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip"
    assert_user_error(run(*command("video", stack_sources, out)), "clip")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["model_file", "state_width"])
def test_replay_of_a_demo_that_does_not_fit_its_model(stack_sources: Path, tmp_path: Path, kind: str) -> None:
    def edit(f: h5py.File) -> None:
        if kind == "model_file":
            f["data/demo_0"].attrs["model_file"] = "<mujoco"
        else:
            replace(f, "data/demo_0/states", f["data/demo_0/states"][:, :-3])

    src = damaged(stack_sources, tmp_path / "misfit.hdf5", edit)
    assert_user_error(run("replay", str(src), "--check"), "misfit.hdf5", "demo_0")


# ---- fuzzing the readers ---------------------------------------------------------------------------
# read_demos / read_env_args on damaged files: either demos with consistent arrays, or a DemoforgeError.
@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a real one-demo lift source file, a scratch path next to it for the damaged copies)."""
    folder = tmp_path_factory.mktemp("fuzz")
    df.record_sources("lift", num=1, out=folder / "lift.hdf5", seed=0)
    return folder / "lift.hdf5", folder / "damaged.hdf5"


@pytest.fixture
def hang_guard() -> Iterator[None]:
    """A reader stuck in an endless loop inside libhdf5 ends the process with a stack dump, not a CI timeout."""
    faulthandler.dump_traceback_later(120, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


def assert_consistent(demos: list[df.Demo]) -> None:
    for demo in demos:
        T = len(demo.actions)
        assert T > 0 and demo.actions.shape == (T, 7) and demo.actions.dtype == np.float64
        assert demo.states.ndim == 2 and len(demo.states) == T and demo.states.dtype == np.float64
        assert demo.actions_abs.shape == (T, 7) and demo.rewards.shape == (T,) and demo.dones.shape == (T,)
        assert all(value.ndim >= 1 and len(value) == T for value in demo.obs.values())
        info = demo.datagen
        assert info.eef_pose.shape == info.target_pose.shape == (T, 4, 4) and info.gripper_action.shape == (T, 1)
        assert all(pose.shape == (T, 4, 4) for pose in info.object_poses.values())
        assert all(signal.shape == (T,) for signal in info.subtask_term_signals.values())
        for value in (demo.actions, demo.states, info.eef_pose, info.target_pose, info.gripper_action):
            assert np.all(np.isfinite(value))
        assert isinstance(demo.model_file, str) and isinstance(demo.scene, str)
        assert isinstance(demo.meta, dict) and isinstance(demo.source, list)


def check_readers(path: Path) -> None:
    """The property: the readers return consistent demos or raise a DemoforgeError, nothing else."""
    for require_datagen in (True, False):
        try:
            demos = read_demos(path, require_datagen=require_datagen)
        except DemoforgeError:
            continue
        assert_consistent(demos)
    try:
        env_args = read_env_args(path)
    except DemoforgeError:
        return
    assert isinstance(env_args, dict) and isinstance(env_args.get("env_name", ""), str)


FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def byte_damage(draw: st.DrawFn) -> tuple[list[tuple[float, int, int, bool]], float | None]:
    """Overwrite or flip byte ranges (often in the first 4 KiB, where the superblock and root group live); maybe truncate."""
    early = st.sampled_from([True, False, False, False])
    edits = draw(st.lists(st.tuples(st.floats(0, 1), st.integers(1, 64), st.integers(0, 255), early), min_size=1, max_size=4))
    cut = draw(st.one_of(st.none(), st.none(), st.none(), st.floats(0, 1)))
    return edits, cut


@FUZZ
@given(damage=byte_damage())
def test_fuzz_readers_with_damaged_bytes(pristine: tuple[Path, Path], hang_guard: None, damage: tuple) -> None:
    source, path = pristine
    edits, cut = damage
    data = bytearray(source.read_bytes())
    for where, length, value, early in edits:
        start = int(where * ((4096 if early else len(data)) - 1))
        for i in range(start, min(start + length, len(data))):
            data[i] = value if value % 2 else data[i] ^ value
    path.write_bytes(bytes(data[: int(cut * len(data))] if cut is not None else data))
    check_readers(path)


GARBAGE = ["{not json", "[1, 2", "", "null", "3", '"text"', "[]", "{}", '{"env_name": 3}', '[{"a": 1}]', '["x"]',
           3, -1, 2.5, True, np.array([1, 2]), np.float64("nan"), b"\xff\xfe", np.array([], dtype=float)]
ATTRS = ["num_samples", "model_file", "scene", "source", "meta", "env_args", "total"]
DTYPES = ["f8", "f4", "i1", "i8", "u1", "?", "c16", "S5", "str"]
SHAPES = [(), (0,), (1,), (5,), (0, 7), (5, 7), (0, 4, 4), (5, 4, 4), (3, 3, 3, 3), ("T",), ("T", 1), ("T", 4),
          ("T", 6), ("T", 7), ("T", 32), ("T", 4, 4), ("T+1", 7), ("T-1", 32)]
Op = tuple[str, int, tuple, str, str, int, float]


def garbage_array(shape: tuple, dtype: str, T: int) -> tuple[np.ndarray, object]:
    """An array of the given shape template ("T", "T+1", "T-1" resolve against the demo length) and dtype."""
    sizes = {"T": T, "T+1": T + 1, "T-1": T - 1}
    shape = tuple(sizes.get(s, s) for s in shape)
    if dtype == "str":
        return np.full(shape, "abc", dtype=object), h5py.string_dtype()
    if dtype == "S5":
        return np.full(shape, b"abc", dtype="S5"), None
    return np.ones(shape, dtype=dtype), None


def apply_structure_damage(path: Path, ops: list[Op]) -> None:
    with h5py.File(path, "r+") as f:
        T = len(f["data/demo_0/actions"])
        for kind, pick, shape, dtype, attr, junk, bad in ops:
            names: list[str] = []
            f.visit(names.append)
            if not names:
                return
            name = names[pick % len(names)]
            node = f[name]
            if kind == "delete":
                del f[name]
            elif kind == "replace":  # a dataset or a whole group becomes a dataset of another shape/dtype
                value, h5dtype = garbage_array(shape, dtype, T)
                del f[name]
                f.create_dataset(name, data=value, dtype=h5dtype)
            elif kind == "group":  # a dataset becomes an empty group
                del f[name]
                f.create_group(name)
            elif kind == "nonfinite" and isinstance(node, h5py.Dataset) and node.dtype.kind == "f" and node.size:
                flat = node[()].reshape(-1)
                flat[pick % flat.size] = bad
                node[...] = flat.reshape(node.shape)
            elif kind == "attr":
                owners = ["/"] + [n for n in names if n == "data" or (n.startswith("data/") and n.count("/") == 1)]
                f[owners[pick % len(owners)]].attrs[attr] = GARBAGE[junk]
            elif kind == "delattr" and attr in node.attrs:
                del node.attrs[attr]


structure_ops = st.lists(
    st.tuples(
        st.sampled_from(["delete", "replace", "group", "nonfinite", "attr", "attr", "delattr"]),
        st.integers(0, 10_000),
        st.sampled_from(SHAPES),
        st.sampled_from(DTYPES),
        st.sampled_from(ATTRS),
        st.integers(0, len(GARBAGE) - 1),
        st.sampled_from([np.nan, np.inf, -np.inf]),
    ),
    min_size=1,
    max_size=3,
)


@FUZZ
@given(ops=structure_ops)
def test_fuzz_readers_with_damaged_structure(pristine: tuple[Path, Path], hang_guard: None, ops: list[Op]) -> None:
    source, path = pristine
    shutil.copy(source, path)
    apply_structure_damage(path, ops)
    check_readers(path)


def test_fuzz_starts_from_a_file_the_readers_accept(pristine: tuple[Path, Path]) -> None:
    source, _ = pristine
    (demo,) = read_demos(source)
    assert_consistent([demo])
    assert read_env_args(source)["env_name"] == "lift"
