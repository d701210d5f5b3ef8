"""Task files (docs/tasks.md): the shipped ones match the Python tasks array for array, a user's own task
with MJCF and mesh objects builds and its predicates read the real physics, every mistake names its
line and key with exit code 2, and Python tasks are found by module:Class and by entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import h5py
import mujoco
import numpy as np
import pytest
from test_cli import assert_user_error, run
from test_pinned_datasets import arrays_sha256

import demoforge as df
from demoforge import geometry as geo
from demoforge.rollout.world import make_world
from demoforge.sim.scene import set_free_body_pose
from demoforge.tasks import SHIPPED_TASK_FILES, get_task
from demoforge.tasks.predicates import Names, PredicateError, parse_predicate

BIN_MJCF = """<mujoco>
  <worldbody>
    <body name="base">
      <geom type="box" size="0.1 0.1 0.005" pos="0 0 0.005"/>
      <geom type="box" size="0.1 0.005 0.04" pos="0 0.095 0.045"/>
      <geom type="box" size="0.1 0.005 0.04" pos="0 -0.095 0.045"/>
      <geom type="box" size="0.005 0.1 0.04" pos="0.095 0 0.045"/>
      <geom type="box" size="0.005 0.1 0.04" pos="-0.095 0 0.045"/>
      <body name="tab" pos="0 0.13 0.01">
        <joint name="slide" type="slide" axis="1 0 0" range="0 0.1"/>
        <geom type="box" size="0.02 0.02 0.01"/>
      </body>
    </body>
  </worldbody>
</mujoco>
"""

TASK = """\
name = "cube_in_bin"
description = "put the cube in the bin"

[objects.cube]
shape = "box"
size = [0.02, 0.02, 0.02]
symmetry = 4

[objects.puck]
mesh = "puck.obj"
mass = 0.1

[fixtures.bin]
mjcf = "bin.xml"

[variations.D0]
cube = { center = [0.5, 0.15], half = [0.02, 0.02] }
puck = { center = [0.5, -0.25], half = [0.02, 0.02] }
bin = { center = [0.55, -0.05], half = [0, 0], yaw = [0, 0] }

[[subtasks]]
name = "grasp_cube"
reference = "cube"
done = "grasped(arm0, cube)"

[[subtasks]]
name = "drop_in_bin"
reference = "bin"
held = "cube"

[success]
when = "inside(cube, bin) and not grasped(cube)"
"""


def puck_obj(radius: float = 0.03, half_height: float = 0.015, sides: int = 8) -> str:
    """An octagonal prism as OBJ text."""
    angles = np.arange(sides) * 2 * np.pi / sides
    ring = [(radius * np.cos(a), radius * np.sin(a)) for a in angles]
    lines = [f"v {x:.5f} {y:.5f} {z:.5f}" for z in (-half_height, half_height) for x, y in ring]
    for i in range(sides):
        j = (i + 1) % sides
        lines.append(f"f {i + 1} {j + 1} {sides + j + 1} {sides + i + 1}")
    lines.append("f " + " ".join(str(i + 1) for i in reversed(range(sides))))
    lines.append("f " + " ".join(str(sides + i + 1) for i in range(sides)))
    return "\n".join(lines) + "\n"


@pytest.fixture
def bin_task(tmp_path: Path) -> Path:
    (tmp_path / "bin.xml").write_text(BIN_MJCF)
    (tmp_path / "puck.obj").write_text(puck_obj())
    path = tmp_path / "cube_in_bin.toml"
    path.write_text(TASK)
    return path


@pytest.mark.parametrize("name", ["stack", "lift", "stack_three"])
def test_shipped_task_file_records_the_python_tasks_arrays(tmp_path: Path, name: str) -> None:
    python, file = tmp_path / "python.hdf5", tmp_path / "file.hdf5"
    df.record_sources(name, num=2, out=python, seed=3, variation="D1")
    df.record_sources(f"{name}.toml", num=2, out=file, seed=3, variation="D1")
    assert arrays_sha256(python) == arrays_sha256(file)
    task = get_task(f"{name}.toml")
    assert (task.name, task.objects, task.subtasks) == (name, get_task(name).objects, get_task(name).subtasks)


def test_generation_from_a_task_file_matches_the_python_task(tmp_path: Path, stack_sources: Path) -> None:
    runs = {}
    for ref in ("stack", "stack.toml"):
        cfg = df.GenerateConfig(task=ref, source=str(stack_sources), num_demos=3, max_attempts=12, variation="D1", seed=5)
        df.generate(cfg, tmp_path / ref)
        runs[ref] = tmp_path / ref / "demos.hdf5"
    assert arrays_sha256(runs["stack"]) == arrays_sha256(runs["stack.toml"])
    with h5py.File(runs["stack.toml"]) as f:
        kwargs = json.loads(f["data"].attrs["env_args"])["env_kwargs"]
    assert kwargs["task"] == "stack.toml"  # a shipped file by its name: found again after a reinstall
    assert kwargs["task_file"] == (SHIPPED_TASK_FILES / "stack.toml").read_text()
    assert run("replay", str(runs["stack.toml"]), "--check").returncode == 0


def test_a_users_task_with_mjcf_and_mesh_objects_reads_the_physics(bin_task: Path) -> None:
    task = get_task(str(bin_task))
    assert task.objects == ("cube", "puck", "bin") and task.subtasks[1].object == "bin"
    world = make_world(task)
    env, model = world.env, world.env.model
    assert {"bin_base", "bin_tab"} <= {model.body(i).name for i in range(model.nbody)}
    assert model.geom("puck_geom").type == mujoco.mjtGeom.mjGEOM_MESH
    assert abs(float(model.body_subtreemass[model.body("puck").id]) - 0.1) < 1e-9  # mass given: density ignored
    task.reset(env, np.random.default_rng(0), "D0")
    # the mesh puck is set down on the table by its own box (not dropped from its bounding sphere's height)
    assert abs(env.body_position("puck")[2] - 0.015 - env.table_z) < 1e-6
    for _ in range(40):
        env.step_physics()
    assert abs(env.body_position("puck")[2] - 0.015 - env.table_z) < 0.002
    assert not task.success(env) and not task.signals(env)["grasp_cube"]
    bin_pose = env.body_pose("bin")
    set_free_body_pose(model, env.data, "cube", geo.make_pose(bin_pose[:3, 3] + [0, 0, 0.04], np.eye(3)))
    mujoco.mj_forward(model, env.data)
    for _ in range(40):  # the cube falls to the bin's floor and stays inside
        env.step_physics()
    assert task.success(env)
    assert abs(env.body_position("cube")[2] - (env.table_z + 0.01 + 0.02)) < 0.003
    cube = env.body_pose("cube")  # the mesh puck set on the cube: its bottom from the mesh's own box, not a sphere
    set_free_body_pose(model, env.data, "puck", geo.make_pose(cube[:3, 3] + [0, 0, 0.02 + 0.015 + 0.002], np.eye(3)))
    mujoco.mj_forward(model, env.data)
    for _ in range(20):
        env.step_physics()
    assert parse_predicate("on(puck, cube)", Names(task.objects, ("arm0",)))(env)


def test_predicates_read_joints_heights_distances_and_tilt(bin_task: Path) -> None:
    task = get_task(str(bin_task))
    world = make_world(task)
    env, model = world.env, world.env.model
    task.reset(env, np.random.default_rng(0), "D0")
    names = Names(task.objects, ("arm0",))
    pred = lambda text: parse_predicate(text, names)(env)  # noqa: E731
    assert not pred("joint_at_least(bin_slide, 0.05)")
    env.data.qpos[model.joint("bin_slide").qposadr[0]] = 0.06
    mujoco.mj_forward(model, env.data)
    assert pred("joint_at_least(bin_slide, 0.05)") and not pred("not(joint_at_least(bin_slide, 0.05))")
    assert pred("upright(cube)") and not pred("lifted(cube, 0.03)")
    cube = env.body_pose("cube")
    set_free_body_pose(model, env.data, "cube", geo.make_pose(cube[:3, 3] + [0, 0, 0.05], geo.axisangle_to_mat([0.0, 1.2, 0.0])))
    mujoco.mj_forward(model, env.data)
    assert pred("lifted(cube, 0.03)") and not pred("upright(cube)") and pred("upright(cube, 80)")
    gap = float(np.linalg.norm(env.body_position("cube") - env.body_position("puck")))
    assert pred(f"near(cube, puck, {gap + 0.001})") and not pred(f"near(cube, puck, {gap - 0.001})")
    assert pred("any(near(cube, puck, 0.001), upright(cube, 80))") and not pred("all(near(cube, puck, 0.001), upright(cube, 80))")
    assert not pred("inside(cube, bin)") and not pred("grasped(arm0, cube)")


@pytest.mark.parametrize(("text", "problem"), [
    ("on(cube)", "on() takes 2 arguments"),
    ("onto(cube, bin)", "unknown predicate 'onto'"),
    ("on(cube, table)", "unknown object 'table'"),
    ("grasped(left, cube)", "unknown arm 'left'"),
    ("lifted(cube, high)", "'high' is not a finite number"),
    ("on(cube, bin", "cannot parse"),
    ("cube", "expected a predicate call"),
    ("all()", "at least one"),
])
def test_predicate_mistakes_are_named(text: str, problem: str) -> None:
    with pytest.raises(PredicateError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_predicate(text, Names(("cube", "bin"), ("arm0",)))


SHIPPED_STACK = (SHIPPED_TASK_FILES / "stack.toml").read_text()


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.mark.parametrize(("edit", "needle", "key", "problem"), [
    (("reference = \"cube_b\"", "refrence = \"cube_b\""), "refrence", "subtasks[1].refrence",
     "unknown key 'refrence' (did you mean 'reference'?)"),
    (("when = \"on(cube_a, cube_b)\"", "when = \"on(cube_a, cube_z)\""), "cube_z", "success.when", "unknown object 'cube_z'"),
    (("reference = \"cube_a\"           # its segment follows cube_a wherever it is now\n", ""), "[[subtasks]]",
     "subtasks[0].reference", "missing key 'reference'"),
    (("cube_b = { center = [0.55, 0.0], half = [0.2, 0.25] }", "cube_b = { center = [1.55, 0.0], half = [0.2, 0.25] }"),
     "center = [1.55", "variations.D1.cube_b", "out of reach"),
    (("done = \"grasped(arm0, cube_a)\"\n", ""), "[[subtasks]]", "subtasks[0].done", "is not its arm's last"),
    (("place_on = \"cube_b\"", "place_on = \"cube_c\""), "cube_c", "expert[1].place_on", "unknown object 'cube_c'"),
    (("size = [0.025, 0.025, 0.025]", "size = [0.025, 0.025]"), "size = [0.025, 0.025]", "objects.cube_b.size",
     "a box needs size = [3 positive numbers]"),
    (("hold_steps = 5", "hold_steps = 0"), "hold_steps", "success.hold_steps", "greater than or equal to 1"),
    (("when = \"on(cube_a, cube_b)\"", "when = \"joint_at_least(lid_hinge, 1.0)\""), "lid_hinge", "success.when",
     "no joint named 'lid_hinge'"),
    (("when = \"on(cube_a, cube_b)\"", "when = \"joint_at_least(cube_a_joint, 0.3)\""), "cube_a_joint", "success.when",
     "not a hinge or slide joint: 'cube_a_joint'"),
    (("when = \"on(cube_a, cube_b)\"", "when = \"lifted(cube_a, 1e999)\""), "1e999", "success.when",
     "is not a finite number"),
    (("[objects.cube_b]", "[objects.lambda]"), "[objects.lambda]", "objects.lambda", "not a Python keyword"),
    (("place_on = \"cube_b\"", "place_on = \"cube_a\""), "place_on = \"cube_a\"", "expert[1].place_on",
     "cannot place 'cube_a' on or in itself"),
    (("pick = \"cube_a\"", "pick = \"cube_a\"\ncareful = true"), "careful = true", "expert[0].careful",
     "careful is not an option of pick (its options: lift, settle)"),
    (("[objects.cube_b]", "[objects.table]"), "[objects.table]", "objects.table", "the scene already has a body named 'table'"),
])
def test_task_file_mistakes_exit_2_naming_line_and_key(tmp_path: Path, edit: tuple[str, str], needle: str | None,
                                                      key: str | None, problem: str) -> None:
    assert edit[0] in SHIPPED_STACK
    text = SHIPPED_STACK.replace(edit[0], edit[1], 1)
    if "lambda" in edit[1] or "table" in edit[1]:  # the object renamed everywhere it is named
        text = text.replace("cube_b", edit[1][len("[objects."):-1])
    path = tmp_path / "my_task.toml"
    path.write_text(text)
    where = f"my_task.toml:{_line(text, needle)} [{key}]" if needle else "my_task.toml"
    assert_user_error(run("task", "check", str(path)), where, problem)
    if key in ("subtasks[1].refrence", "success.when", "variations.D1.cube_b"):  # the file read by another command
        out = tmp_path / "src.hdf5"
        assert_user_error(run("source", "--task", str(path), "--num", "1", "--out", str(out)), where.split(" ")[0])
    assert [p.name for p in tmp_path.iterdir()] == ["my_task.toml"]  # nothing written


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(SHIPPED_STACK.replace("max_steps = 400", "max_steps = 400 steps"))
    assert_user_error(run("task", "check", str(path)), f"broken.toml:{_line(SHIPPED_STACK, 'max_steps')}", "not valid TOML")
    assert_user_error(run("task", "check", str(tmp_path / "nothing.toml")), "nothing.toml", "no such task file")


def test_task_check_prints_the_task(bin_task: Path) -> None:
    result = run("task", "check", str(bin_task), "--resets", "5")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for needle in ("cube_in_bin: put the cube in the bin", "grasp_cube", "drop_in_bin", "bin", "0/5",
                   "no expert: give sources by teleop or import"):
        assert needle in text, text


def test_a_task_file_without_expert_cannot_record_sources(bin_task: Path, tmp_path: Path) -> None:
    out = tmp_path / "src.hdf5"
    assert_user_error(run("source", "--task", str(bin_task), "--num", "1", "--out", str(out)), "names no expert")
    assert not out.exists()


PLUGIN = '''
from demoforge.tasks.stack import Stack


class RedOnGreen(Stack):
    name = "red_on_green"
    description = "the red cube on the green one, from a user's own package"
'''


def plugin_cli(folder: Path, dist: str, entry_point: str) -> Callable[..., subprocess.CompletedProcess]:
    """The CLI run with ``folder`` importable and holding an installed distribution ``dist`` whose entry point group
    ``demoforge.tasks`` has ``entry_point`` (a real dist-info: importlib.metadata finds it as pip's)."""
    info = folder / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[demoforge.tasks]\n{entry_point}\n")
    env = {**os.environ, "MUJOCO_GL": "egl", "COLUMNS": "200", "PYTHONPATH": str(folder)}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "demoforge.cli", *args], capture_output=True, text=True, env=env,
                              timeout=600, cwd=folder)

    return cli


def test_python_tasks_by_module_class_and_by_entry_point(tmp_path: Path, stack_sources: Path) -> None:
    (tmp_path / "my_tasks.py").write_text(PLUGIN)
    cli = plugin_cli(tmp_path, "my_tasks", "red_on_green = my_tasks:RedOnGreen")
    for ref in ("my_tasks:RedOnGreen", "red_on_green"):
        result = cli("task", "check", ref, "--resets", "2")
        assert result.returncode == 0 and "red_on_green" in result.stdout, result.stderr
    assert "red_on_green" in " ".join(cli("tasks").stdout.split())
    src = tmp_path / "src.hdf5"
    assert cli("source", "--task", "red_on_green", "--num", "1", "--out", str(src)).returncode == 0
    with h5py.File(src) as f:
        kwargs = json.loads(f["data"].attrs["env_args"])["env_kwargs"]
    assert kwargs["task"] == "my_tasks:RedOnGreen"
    bad = cli("task", "check", "my_tasks:Nope")
    assert_user_error(bad, "module 'my_tasks' has no 'Nope'")
    assert_user_error(cli("task", "check", "json:dumps"), "is not a subclass of demoforge.tasks.Task")
    assert_user_error(cli("task", "check", "no_such_task"), "unknown task 'no_such_task'", "stack.toml")


def test_the_worked_example_of_docs_tasks_md_generates(tmp_path: Path) -> None:
    example = Path(__file__).parent.parent / "docs" / "examples" / "cube_on_plate.toml"
    result = run("task", "check", str(example), "--resets", "5")
    assert result.returncode == 0 and "ok: cube_on_plate builds and resets in 2 variations" in result.stdout
    src = tmp_path / "src.hdf5"
    assert run("source", "--task", str(example), "--num", "2", "--out", str(src)).returncode == 0
    out = tmp_path / "run"
    result = run("generate", "--task", str(example), "--source", str(src), "--num-demos", "3", "--workers", "1",
                 "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "stats.json").read_text())["successes"] == 3


def test_an_expert_puts_a_cube_in_an_mjcf_bin_and_generation_follows(bin_task: Path, tmp_path: Path) -> None:
    """``place_in``: the cube let go of over the bin's centre, level with its rim; success is the task file's
    ``inside(cube, bin) and not grasped(cube)``."""
    path = bin_task.with_name("with_expert.toml")
    path.write_text(TASK + '\n[[expert]]\npick = "cube"\n\n[[expert]]\nplace_in = "bin"\n\n[[expert]]\npause = [3, 7]\n')
    src = tmp_path / "src.hdf5"
    result = run("source", "--task", str(path), "--num", "3", "--out", str(src))
    assert result.returncode == 0 and "(3 expert runs, 0 discarded)" in " ".join(result.stderr.split()), result.stderr
    out = tmp_path / "run"
    assert run("generate", "--task", str(path), "--source", str(src), "--num-demos", "5", "--variation", "D0",
               "--workers", "1", "--out", str(out)).returncode == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["successes"] == 5 and stats["attempts"] <= 7, stats


def test_a_task_file_runs_as_a_gymnasium_env(bin_task: Path) -> None:
    from demoforge.envs.gym_env import DemoforgeEnv

    env = DemoforgeEnv(task=str(bin_task))
    obs, _ = env.reset(seed=0)
    assert obs["object"].shape == (21,)  # cube, puck, bin: position and quaternion each
    _, reward, terminated, _, info = env.step(np.zeros(7))
    assert reward == 0.0 and not terminated and not info["success"]


def test_a_task_file_and_the_files_it_names_are_part_of_the_run(bin_task: Path, stack_sources: Path) -> None:
    """Resuming a run checks its identity: editing the task file, or a mesh it names, makes another run."""
    from demoforge.runner.identity import run_identity

    def identity() -> str:
        return run_identity(df.GenerateConfig(task=str(bin_task), source=str(stack_sources), num_demos=1), "x")

    first = identity()
    assert identity() == first
    bin_task.write_text(TASK.replace("size = [0.02, 0.02, 0.02]", "size = [0.021, 0.021, 0.021]"))
    edited = identity()
    assert edited != first
    mesh = bin_task.parent / "puck.obj"
    mesh.write_text(puck_obj(radius=0.031))
    assert identity() not in (first, edited)


@pytest.mark.parametrize(("edit", "key", "problem"), [
    (("mjcf = \"bin.xml\"", "mjcf = \"nope.xml\""), "fixtures.bin.mjcf", "no such file"),
    (("mesh = \"puck.obj\"", "mesh = \"nope.obj\""), "objects.puck.mesh", "no such file"),
    (("mjcf = \"bin.xml\"", "mjcf = \"free.xml\""), "fixtures.bin", "has a free joint (loose); demoforge gives"),
    (("mjcf = \"bin.xml\"", "mjcf = \"broken.xml\""), "fixtures.bin", "broken.xml"),
    (("done = \"grasped(arm0, cube)\"", "done = \"grasped(left, cube)\"\narm = \"right\""), "",
     "needs a robot with 2 arms"),
])
def test_a_users_files_that_mujoco_refuses_are_named(bin_task: Path, edit: tuple[str, str], key: str,
                                                     problem: str) -> None:
    (bin_task.parent / "free.xml").write_text(BIN_MJCF.replace('<body name="base">', '<body name="base"><freejoint name="loose"/>'))
    (bin_task.parent / "broken.xml").write_text(BIN_MJCF[:-20])
    text = TASK.replace(*edit)
    if "left" in edit[1]:  # a two-arm robot's arms named: a one-arm robot is refused before anything runs
        text = text.replace('description = "put the cube in the bin"', 'robot = "bimanual_panda"')
        text = text.replace('name = "drop_in_bin"', 'name = "drop_in_bin"\narm = "right"')
    bin_task.write_text(text)
    if "left" in edit[1]:
        assert run("task", "check", str(bin_task), "--resets", "2").returncode == 0
        assert_user_error(run("task", "check", str(bin_task), "--robot", "panda"), problem)
        return
    header = "[fixtures.bin]" if key == "fixtures.bin" else edit[1].split(chr(10))[0]
    where = f"cube_in_bin.toml:{_line(text, header)} [{key}]"
    assert_user_error(run("task", "check", str(bin_task)), where, problem)


def test_a_changed_task_file_is_not_used_to_judge_its_datasets(tmp_path: Path, stack_sources: Path) -> None:
    task = tmp_path / "my_stack.toml"
    task.write_text(SHIPPED_STACK)
    src = tmp_path / "src.hdf5"
    assert run("source", "--task", str(task), "--num", "1", "--out", str(src)).returncode == 0
    assert run("replay", str(src), "--check").returncode == 0
    task.write_text(SHIPPED_STACK.replace("hold_steps = 5", "hold_steps = 6"))
    assert_user_error(run("replay", str(src), "--check"), "my_stack.toml changed since the dataset was made")


def test_broken_python_tasks_are_named_not_tracebacks(tmp_path: Path) -> None:
    (tmp_path / "bad_tasks.py").write_text("import not_a_module_anywhere\n")
    (tmp_path / "odd_tasks.py").write_text(
        "from demoforge.tasks.stack import Stack\n\n\nclass Outer:\n    class Inner(Stack):\n        name = 'inner'\n\n\n"
        "class Fails(Stack):\n    def __init__(self):\n        raise RuntimeError('no GPU here')\n")
    cli = plugin_cli(tmp_path, "bad", "broken = bad_tasks:Task")
    assert_user_error(cli("task", "check", "broken"), "entry point 'broken'", "does not load", "ModuleNotFoundError")
    assert_user_error(cli("task", "check", ":Stack"), "cannot import module ''")
    assert_user_error(cli("task", "check", "odd_tasks:Fails"), "Fails() failed: RuntimeError: no GPU here")
    result = cli("task", "check", "odd_tasks:Outer.Inner", "--resets", "1")
    assert result.returncode == 0 and "inner" in result.stdout, result.stderr
    listing = cli("tasks")  # one broken plugin does not hide the rest
    assert listing.returncode == 0 and "stack_three.toml" in listing.stdout and "broken" in listing.stderr
