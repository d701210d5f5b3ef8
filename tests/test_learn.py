"""Behaviour cloning: training lowers the loss, resumes exactly, policies reload and act; evaluation works."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from scipy.spatial.transform import Rotation

from demoforge.errors import DemoforgeError
from demoforge.learn.evaluate import evaluate, wilson_interval
from demoforge.learn.features import features, rotation_6d
from demoforge.learn.policy import Policy
from demoforge.learn.train import CHECKPOINT, TrainConfig, random_shift, train
from demoforge.render.observations import add_observations
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
    # a stack policy on lift (one object fewer) is told apart from a broken run
    mismatch = run("eval", "--policy", str(tmp_path / "policy"), "--task", "lift", "--episodes", "1", "--workers", "1")
    assert_user_error(mismatch, "input features", "another task")


def test_default_inputs_are_every_arms_state(tmp_path: Path) -> None:
    """Without obs_keys, a two-arm dataset trains on both arms' proprioception (study and train alike)."""
    import demoforge as df

    src, _ = df.record_sources("two_arm_stack", 2, tmp_path / "src.hdf5", seed=0)
    train(_config(src, steps=3, log_every=1), tmp_path / "policy")
    keys = Policy.load(tmp_path / "policy").cfg.obs_keys
    assert keys == ["robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "robot0_joint_vel",
                    "robot1_eef_pos", "robot1_eef_quat", "robot1_gripper_qpos", "robot1_joint_vel", "object"]


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


def test_resume_refuses_a_data_file_changed_since_the_checkpoint(stack_run: tuple[Path, dict], tmp_path: Path) -> None:
    data = tmp_path / "demos.hdf5"
    shutil.copy(stack_run[0] / "demos.hdf5", data)
    cfg = _config(data, steps=4, checkpoint_every=2, log_every=1, warmup=0)
    out = tmp_path / "policy"

    def stop_at_3(step: int, point: dict) -> None:
        if step >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfg, out, on_log=stop_at_3)
    with h5py.File(data, "r+") as f:  # same path, other bytes: one action halved
        actions = f["data"][sorted(f["data"])[0]]["actions"]
        actions[0, 0] = actions[0, 0] * 0.5
    checkpoint = (out / CHECKPOINT).read_bytes()
    with pytest.raises(DemoforgeError, match=r"demos.hdf5: changed since the checkpoint was written \(sha256 differs\)"):
        train(cfg, out, resume=True)
    assert (out / CHECKPOINT).read_bytes() == checkpoint and not (out / "policy.pt").exists()
    # a checkpoint written before the data hash existed is matched on the data path, as it was then
    state = torch.load(out / CHECKPOINT, weights_only=False)
    del state["data_sha256"]
    torch.save(state, out / CHECKPOINT)
    train(cfg, out, resume=True)
    saved = json.loads((out / "train.json").read_text())
    assert saved["data_sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert not (out / CHECKPOINT).exists()


def test_observation_noise_changes_training_and_stays_deterministic(stack_run: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = stack_run
    weights = {}
    for name, noise in (("plain", 0.0), ("noisy", 0.1), ("noisy_again", 0.1)):
        train(_config(out / "demos.hdf5", steps=30, obs_noise=noise), tmp_path / name)
        weights[name] = torch.load(tmp_path / name / "policy.pt")
    assert all(torch.equal(weights["noisy"][k], weights["noisy_again"][k]) for k in weights["noisy"])
    assert not all(torch.equal(weights["noisy"][k], weights["plain"][k]) for k in weights["plain"])


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


def test_features_are_continuous_rotations_and_hand_relative_positions() -> None:
    quats = Rotation.random(20, random_state=0).as_quat()  # (x, y, z, w)
    assert np.allclose(rotation_6d(quats), rotation_6d(-quats))  # q and -q: one rotation, one feature
    assert np.allclose(rotation_6d(quats)[:, :3], Rotation.from_quat(quats).as_matrix()[:, :, 0])
    obs = {
        "robot0_eef_pos": np.array([[0.5, 0.0, 1.0]]),
        "robot0_eef_quat": quats[:1],
        "object": np.array([[0.6, 0.1, 0.8, *quats[1], 0.4, -0.1, 0.8, *quats[2]]]),
    }
    flat = features(obs, ("robot0_eef_pos", "robot0_eef_quat", "object"))
    assert flat.shape == (1, 3 + 6 + 2 * (3 + 6 + 3)) and flat.dtype == np.float32
    assert np.allclose(flat[0, 9 + 9 : 9 + 12], [0.1, 0.1, -0.2])  # first object relative to the hand
    assert np.allclose(flat[0, -3:], [-0.1, -0.1, -0.2])


def test_random_shift_moves_whole_images_within_the_padding() -> None:
    images = torch.as_tensor(np.random.default_rng(0).integers(0, 255, (3, 2, 16, 16, 3), dtype=np.uint8))
    assert torch.equal(random_shift(images, 0, np.random.default_rng(1)), images)
    shifted = random_shift(images, 2, np.random.default_rng(1))
    assert shifted.shape == images.shape and shifted.dtype == torch.uint8
    assert torch.equal(shifted, random_shift(images, 2, np.random.default_rng(1)))  # seeded: reproducible
    centre = images[:, :, 2:-2, 2:-2]  # every shifted image holds the untouched centre of its source
    found = [
        any(torch.equal(shifted[b, c, 2 + dy : 14 + dy, 2 + dx : 14 + dx], centre[b, c])
            for dy in range(-2, 3) for dx in range(-2, 3))
        for b in range(3) for c in range(2)
    ]
    assert all(found) and not torch.equal(shifted, images)


def test_image_policy_trains_reloads_and_sees_rendered_images(stack_run: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = stack_run
    images = tmp_path / "images.hdf5"
    add_observations(out / "demos.hdf5", ["agentview", "wrist"], size=32, out=images, workers=1)
    with h5py.File(images, "r+") as f:  # hold out one demo, so validation runs on images too
        names = sorted(f["data"])
        for split, members in (("train", names[:-1]), ("valid", names[-1:])):
            del f[f"mask/{split}"]
            f[f"mask/{split}"] = np.array(members, dtype="S")
    without = run("train", "--data", str(out / "demos.hdf5"), "--out", str(tmp_path / "p"), "--cameras", "agentview")
    assert_user_error(without, "agentview_image", "demoforge render")
    cfg = _config(images, steps=30, batch_size=16, cameras=["agentview", "wrist"], obs_keys=["robot0_eef_pos"])
    result = train(cfg, tmp_path / "policy")
    policy = Policy.load(tmp_path / "policy")
    assert policy.cfg.cameras == ["agentview", "robot0_eye_in_hand"] and policy.cfg.image_size == 32
    assert result["train_loss"] > 0 and np.isfinite(result["valid_loss"])
    frames = np.zeros((2, 32, 32, 3), np.uint8)
    blank = policy.predict(np.asarray(policy.cfg.obs_mean), frames)
    assert blank.shape == (8, 7)
    assert not np.allclose(blank, policy.predict(np.asarray(policy.cfg.obs_mean), frames + 200))  # it looks
    evaluation, episodes = evaluate(str(tmp_path / "policy"), "stack", "D0", episodes=1)
    assert evaluation.episodes == 1 and episodes[0].steps > 1  # rendered its cameras in the rollout


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
    doc = tmp_path / "learning.md"
    doc.write_text("# Intro kept\n\n<!-- study:lift -->\nold lift numbers\n<!-- /study:lift -->\n\n## square kept\n")
    result = run(*args)
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "study" / "results.json").read_text())
    assert results["seconds"] > 0 and (tmp_path / "study" / "study.png").stat().st_size > 5000
    assert {(r["data"], r["demos"]) for r in results["rows"]} == {("source", 3), ("generated", 4)}
    assert all(0.0 <= r["success_rate"] <= 1.0 for r in results["rows"])
    page = doc.read_text()
    assert "| source | 3 | D0 |" in page and "| generated | 4 | D0 |" in page
    assert "# Intro kept" in page and "## square kept" in page and "old lift numbers" not in page
    assert "![lift study](learning_lift.png)" in page and (tmp_path / "learning_lift.png").stat().st_size > 5000
    again = run(*args)  # everything exists: nothing is redone
    assert again.returncode == 0 and "training" not in again.stderr
