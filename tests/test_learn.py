"""Behaviour cloning: training lowers the loss, resumes exactly, policies reload and act; evaluation works."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from demoforge.learn.evaluate import evaluate, wilson_interval
from demoforge.learn.policy import Policy
from demoforge.learn.train import CHECKPOINT, TrainConfig, train
from test_cli import assert_user_error, run


def _config(data: Path, **extra: object) -> TrainConfig:
    base = dict(steps=200, batch_size=64, hidden=64, layers=2, chunk=8, execute=4, warmup=20, log_every=20)
    return TrainConfig(data=str(data), **{**base, **extra})


def test_training_lowers_the_loss_and_the_policy_reloads(stack_run: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = stack_run
    result = train(_config(out / "demos.hdf5"), tmp_path / "policy")
    curve = json.loads((tmp_path / "policy" / "curve.json").read_text())
    assert curve[-1]["train_loss"] < 0.75 * curve[0]["train_loss"], curve  # the rest is the demos' action noise
    assert result["train_episodes"] == 6 and (tmp_path / "policy" / "curve.png").stat().st_size > 1000
    policy = Policy.load(tmp_path / "policy")
    obs = np.asarray(policy.cfg.obs_mean)
    chunk = policy.predict(obs)
    assert chunk.shape == (8, 7) and np.all(np.isfinite(chunk))
    assert np.array_equal(chunk, Policy.load(tmp_path / "policy").predict(obs))  # the same weights act the same
    assert not (tmp_path / "policy" / CHECKPOINT).exists()


def test_interrupted_training_resumes_to_the_same_weights(stack_run: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = stack_run
    cfg = _config(out / "demos.hdf5", checkpoint_every=50, steps=120)
    train(cfg, tmp_path / "whole")

    def stop_at_70(step: int, point: dict) -> None:
        if step >= 70:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "resumed", on_log=stop_at_70)
    assert torch.load(tmp_path / "resumed" / CHECKPOINT, weights_only=False)["step"] == 50
    train(cfg, tmp_path / "resumed", resume=True)
    whole = torch.load(tmp_path / "whole" / "policy.pt")
    resumed = torch.load(tmp_path / "resumed" / "policy.pt")
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_expert_evaluates_at_its_known_success_rate(tmp_path: Path) -> None:
    result = run("eval", "--policy", "expert", "--task", "stack", "--variation", "D0", "--episodes", "8",
                 "--workers", "2", "--json", str(tmp_path / "r.json"), "--video", str(tmp_path / "eval.mp4"),
                 "--video-episodes", "2")
    assert result.returncode == 0, result.stderr
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["successes"] == saved["episodes"] == 8 and saved["success_rate"] == 1.0  # the expert solves D0
    assert {"task", "variation", "episodes", "successes", "success_rate", "ci_low", "ci_high"} <= saved.keys()
    assert (tmp_path / "eval.mp4").stat().st_size > 0


def test_a_trained_policy_acts_in_evaluation(stack_run: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = stack_run
    train(_config(out / "demos.hdf5", steps=40), tmp_path / "policy")
    result, episodes = evaluate(str(tmp_path / "policy"), "stack", "D0", episodes=1)
    assert result.episodes == 1 and episodes[0].steps > 1  # it ran; a 40-step policy is not expected to succeed


def test_wilson_interval() -> None:
    low, high = wilson_interval(50, 100)
    assert low < 0.5 < high and abs((low + high) / 2 - 0.5) < 1e-9
    assert wilson_interval(10, 10)[1] == 1.0 and wilson_interval(0, 10)[0] == 0.0


def test_bad_dataset_or_policy_paths_are_clear_errors(tmp_path: Path) -> None:
    assert_user_error(run("train", "--data", str(tmp_path / "none.hdf5"), "--out", str(tmp_path / "p")), "none.hdf5")
    assert not (tmp_path / "p").exists()
    assert_user_error(run("eval", "--policy", str(tmp_path / "missing")), "missing", "not a policy folder")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "policy.json").write_text("{}")
    (broken / "policy.pt").write_bytes(b"not a checkpoint")
    assert_user_error(run("eval", "--policy", str(broken)), "broken", "cannot load the policy")
    assert_user_error(run("eval", "--policy", "expert", "--task", "fly"), "fly")


def test_study_runs_every_stage_and_resumes(tmp_path: Path) -> None:
    args = ["study", "--task", "lift", "--sources", "3", "--generated", "4", "--seeds", "1", "--variations", "D0",
            "--episodes", "2", "--train-steps", "30", "--workers", "1", "--out", str(tmp_path / "study"),
            "--doc", str(tmp_path / "learning.md")]
    result = run(*args)
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "study" / "results.json").read_text())
    assert {(r["data"], r["demos"]) for r in results["rows"]} == {("source", 3), ("generated", 4)}
    assert all(0.0 <= r["success_rate"] <= 1.0 for r in results["rows"])
    page = (tmp_path / "learning.md").read_text()
    assert "| source | 3 | D0 |" in page and "| generated | 4 | D0 |" in page
    again = run(*args)  # everything exists: nothing is redone
    assert again.returncode == 0 and "training" not in again.stderr
