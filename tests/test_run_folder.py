"""The run folder contract (runner/run_folder.py): the file names and stats.json's fields in one place."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import demoforge
from demoforge.errors import InputFileError
from demoforge.runner.run_folder import CONFIG, DEMOS, FAILED, SHARDS, STATS, AttemptSummary, RunFolder, RunStats

PACKAGE = Path(demoforge.__file__).parent
BENCHMARKS = PACKAGE.parents[1] / "benchmarks"


def test_stats_of_attempts_round_trip(tmp_path: Path) -> None:
    used = [
        AttemptSummary(0, True, "", 120, 3000),
        AttemptSummary(1, False, "subtask grasp failed", 80, 2000, scenes_rejected=2),
        AttemptSummary(2, False, "physics unstable", 10, 250, crashed=True),
        AttemptSummary(3, False, "subtask grasp failed", 90, 2250),
    ]
    stats = RunStats.of_attempts(used, 2.0, requested=1, task="stack", variation="D1", scene_family=None)
    assert (stats.attempts, stats.successes, stats.dgr, stats.attempts_per_s) == (4, 1, 0.25, 2.0)
    assert (stats.physics_steps, stats.control_steps, stats.scenes_rejected, stats.crashed) == (7500, 300, 2, 1)
    assert list(stats.failures.items()) == [("subtask grasp failed", 2), ("physics unstable", 1)]  # most first
    assert stats.scene_family == "default"
    run = RunFolder(tmp_path)
    run.write_stats(stats)
    assert run.read_stats() == stats
    assert list(json.loads(run.stats.read_text())) == list(RunStats.model_fields)


def test_paths() -> None:
    run = RunFolder("runs/x")  # type: ignore[arg-type]  (a str is taken too)
    assert run.path == Path("runs/x")
    assert [run.demos, run.failed, run.config, run.stats, run.shards] == [
        Path("runs/x") / name for name in (DEMOS, FAILED, CONFIG, STATS, SHARDS)
    ]


def test_an_older_or_partial_stats_file_reads_with_defaults(tmp_path: Path) -> None:
    (tmp_path / STATS).write_text(json.dumps({"attempts": 6, "successes": 6, "failures": {}, "crashed": None,
                                              "a_field_of_a_later_version": [1]}))
    stats = RunFolder(tmp_path).read_stats()
    assert (stats.attempts, stats.successes, stats.crashed, stats.wall_time_s, stats.task) == (6, 6, 0, None, None)
    assert stats.recorded("successes") and not stats.recorded("crashed") and not stats.recorded("dgr")


@pytest.mark.parametrize(("content", "expected"), [
    ({"attempts": "many"}, '[attempts]: expected a number, found "many"'),
    ({"successes": True}, "[successes]: expected a number, found true"),
    ({"attempts": -1}, "[attempts]: Input should be greater than or equal to 0, found -1"),
    ({"dgr": float("nan")}, "[dgr]: Input should be a finite number, found NaN"),
    ({"failures": ["physics unstable"]}, "[failures]: expected an object of failure reason -> count"),
    ({"failures": {"physics unstable": "2"}}, "[failures]: expected an object of failure reason -> count"),
    ({"task": 3}, "[task]: expected text, found 3"),
])
def test_a_damaged_stats_file_names_the_file_and_the_field(tmp_path: Path, content: dict, expected: str) -> None:
    (tmp_path / STATS).write_text(json.dumps(content))
    with pytest.raises(InputFileError) as info:
        RunFolder(tmp_path).read_stats()
    assert str(info.value) == f"{tmp_path / STATS} {expected}"


@pytest.mark.parametrize(("text", "expected"), [
    ('{"attempts": 6, ', "is not valid JSON"),
    ("[1, 2]", "expected a JSON object, found list"),
])
def test_a_stats_file_that_is_no_object(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / STATS).write_text(text)
    with pytest.raises(InputFileError, match=expected):
        RunFolder(tmp_path).read_stats()


def test_only_the_contract_spells_the_run_folder_names() -> None:
    """The CLI, runner, render, report, learn and the benchmarks take the names from runner/run_folder.py."""
    names = {DEMOS, FAILED, CONFIG, STATS, SHARDS}
    files = [p for layer in ("runner", "render", "learn", "report") for p in (PACKAGE / layer).rglob("*.py")]
    files += [PACKAGE / "cli.py", *BENCHMARKS.glob("*.py")]
    spelled = [
        f"{path.relative_to(PACKAGE.parents[1])}:{node.lineno}: {node.value!r}"
        for path in files if path.name != "run_folder.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in names
    ]
    assert not spelled, "use RunFolder's properties or run_folder's names:\n" + "\n".join(spelled)
