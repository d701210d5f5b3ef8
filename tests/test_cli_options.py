"""`generate`'s options are GenerateConfig's fields: none missing, each reaching the config, old names still working."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import pytest
import typer.main

from demoforge.cli import GENERATE_OPTIONS, app
from demoforge.mimic.generate import GenerateConfig
from demoforge.scenes.spec import SceneAxes

from test_cli import assert_user_error, run

FIELDS = list(GenerateConfig.model_fields)


def generate_command() -> Any:
    group = typer.main.get_command(app)
    return group.get_command(group.make_context("demoforge", ["generate"]), "generate")


def parse(*args: str) -> GenerateConfig:
    """The config `demoforge generate ARGS` would run with (the options parsed as the command parses them)."""
    ctx = generate_command().make_context("generate", list(args))
    return GENERATE_OPTIONS.config({k: v for k, v in ctx.params.items() if k in GenerateConfig.model_fields})


# For every field: options that set it to something other than its default, and the value they must give.
NON_DEFAULT: dict[str, tuple[list[str], Any]] = {
    "task": (["--task", "lift"], "lift"),
    "source": (["--source", "data/src.hdf5"], "data/src.hdf5"),
    "num_demos": (["--num-demos", "7"], 7),
    "max_attempts": (["--max-attempts", "9"], 9),
    "variation": (["--variation", "D2"], "D2"),
    "seed": (["--seed", "5"], 5),
    "robot": (["--robot", "bimanual_panda"], "bimanual_panda"),
    "selection": (["--selection", "random"], "random"),
    "nearest_k": (["--nearest-k", "2"], 2),
    "transition_steps": (["--transition-steps", "8"], 8),
    "transition_max_step": (["--transition-max-step", "0.05"], 0.05),
    "transition_lift": (["--transition-lift", "0"], 0.0),
    "approach_radius": (["--approach-radius", "0.2"], 0.2),
    "boundary_offset": (["--boundary-offset", "3,4"], (3, 4)),
    "action_noise": (["--action-noise", "0.1"], 0.1),
    "grasp_correction": (["--no-grasp-correction"], False),
    "keep_failed": (["--no-keep-failed"], False),
    "annotations": (["--annotations", "ann.json"], "ann.json"),
    "scenes": (["--scenes", "kitchen"], "kitchen"),
    "distinct_scenes": (["--distinct-scenes", "3", "--scenes", "kitchen"], 3),
    "scene_axes": (["--scene-axes", "AXES"], SceneAxes(lights=0, distractors=2)),  # AXES: a JSON file of these
    "cameras": (["--cameras", "agentview, robot0_eye_in_hand"], ["agentview", "robot0_eye_in_hand"]),
    "image_size": (["--image-size", "32"], 32),
    "depth": (["--depth", "--cameras", "agentview"], True),
    "segmentation": (["--segmentation", "--cameras", "agentview"], True),
    "next_obs": (["--no-next-obs"], False),
}


def test_every_config_field_is_an_option() -> None:
    options = {p.name: p for p in generate_command().params}
    missing = [f for f in FIELDS if f not in options]
    assert not missing, f"GenerateConfig fields without a `generate` option: {missing}"
    for field in FIELDS:
        kebab = "--" + field.replace("_", "-")
        param = options[field]
        assert param.opts[0] == kebab, (field, param.opts)
        if GenerateConfig.model_fields[field].annotation is bool:
            assert param.secondary_opts == ["--no-" + kebab[2:]], (field, param.secondary_opts)
        assert param.help.startswith(GenerateConfig.model_fields[field].description), field


def test_defaults_are_the_configs() -> None:
    assert parse() == GenerateConfig(task="stack", source="src.hdf5")  # the two the command line gives a default


@pytest.mark.parametrize("field", FIELDS)
def test_each_option_reaches_the_config(field: str, tmp_path: Path) -> None:
    assert field in NON_DEFAULT, f"add {field} to NON_DEFAULT: how to set it from the command line, and what it gives"
    args, expected = NON_DEFAULT[field]
    if field == "scene_axes":
        (tmp_path / "axes.json").write_text(json.dumps({"lights": 0, "distractors": 2}))
        args = [a.replace("AXES", str(tmp_path / "axes.json")) for a in args]
    default = GenerateConfig(task="stack", source="src.hdf5")
    assert getattr(default, field) != expected, "pick a value other than the default"
    cfg = parse(*args)
    assert getattr(cfg, field) == expected
    changed = {f for f in FIELDS if getattr(cfg, f) != getattr(default, f)}
    companions = {"robot"} | ({"cameras"} if field in ("depth", "segmentation") else set()) | (
        {"scenes"} if field == "distinct_scenes" else set())  # robot follows --task; the others are needed with it
    assert changed - companions == {field} - {"robot"}


def test_older_option_names_still_work() -> None:
    cfg = parse("--offset", "3,4", "--noise", "0.3")
    assert cfg.boundary_offset == (3, 4) and cfg.action_noise == 0.3


@pytest.mark.parametrize("args,needles", [
    (["--offset", "x"], ["--boundary-offset / --offset", "integers"]),
    (["--boundary-offset", "20,10"], ["--boundary-offset", "boundary_offset low 20 is above high 10"]),
    (["--noise", "nan"], ["--action-noise / --noise", "finite"]),
    (["--selection", "farthest"], ["--selection", "'random', 'nearest'"]),
    (["--nearest-k", "0"], ["--nearest-k"]),
])
def test_bad_values_name_the_option(tmp_path: Path, args: list[str], needles: list[str]) -> None:
    result = run("generate", *args, "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert_user_error(result, *needles)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_no_next_obs_reaches_config_json_and_the_dataset(stack_sources: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run("generate", "--source", str(stack_sources), "--num-demos", "1", "--max-attempts", "4",
                 "--variation", "D0", "--workers", "1", "--no-next-obs", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "config.json").read_text())["next_obs"] is False
    with h5py.File(out / "demos.hdf5") as f:
        assert "obs" in f["data/demo_0"] and "next_obs" not in f["data/demo_0"]
