"""Record a small fixture of real robosuite Stack demos in the robomimic HDF5 layout.

What it is
    A scripted, closed-loop expert drives robosuite's own ``Stack`` environment (Panda, robosuite 1.5's
    default BASIC composite controller: OSC_POSE arm with delta actions in the base frame, 7-D action
    ``dx dy dz drx dry drz gripper``, gripper -1 open / +1 closed, control_freq 20, no cameras, no rendering).
    It keeps only demos whose ``env._check_success()`` holds over the last steps, and writes them as
    robosuite's ``collect_human_demonstrations.py`` followed by robomimic's conversion script would:
    ``data`` (attrs ``env_args``, ``total``, ``repository_version``, ``env``), ``data/demo_<i>`` (attrs
    ``model_file`` = ``env.sim.model.get_xml()`` after that demo's reset, ``num_samples``), datasets
    ``states`` (the flattened sim state ``[time, qpos, qvel]`` BEFORE each action), ``actions``, ``rewards``,
    ``dones``, ``obs/*`` (the observation before each action) and ``mask/train``.

    ``obs/*`` are taken the way robomimic's dataset_states_to_obs.py takes them: from states[t] after
    ``sim.forward()`` with force-updated observables, so recomputing them from ``states`` with
    ``mj_forward`` matches to rounding. (The obs that ``env.step`` returns are built from kinematics one
    2 ms physics substep older than the state: up to ~1 mm off.) Besides the eef and cube poses, obs hold
    ``robot0_eef_quat_site`` (grip-site orientation) and ``robot0_joint_pos``.

    demoforge's tests read the resulting files to check that demoforge imports genuine robosuite demos.
    demoforge itself never imports robosuite: this script runs ONLY in a throwaway virtualenv and does not
    import demoforge.

    It runs on robosuite 1.5 and on robosuite 1.4 (the version MimicGen's source datasets were recorded
    with), which differ in: the controller (1.4: ``load_controller_config(default_controller="OSC_POSE")``,
    the same OSC_POSE delta convention), the grip site (1.4 ``gripper0_grip_site``, 1.5
    ``gripper0_right_grip_site``; ``robot.eef_site_id`` an int in 1.4, a dict per arm in 1.5), the pedestal's
    mesh folder (1.4 ``mounts/``, 1.5 ``bases/``), ``robosuite.make`` taking no ``seed`` (1.4's placement draws
    from numpy's global generator, seeded here), 1.4 returning ``robot0_joint_pos`` only when switched on and
    having no ``robot0_eef_quat_site``, and 1.4-era ``env_args`` without ``env_version``.

Throwaway venvs (exact pins the fixtures were recorded with)
    python3.11 -m venv /tmp/rs-venv
    /tmp/rs-venv/bin/pip install robosuite==1.5.2 mujoco==3.3.7 numpy==1.26.4 h5py==3.16.0
    python3.11 -m venv /tmp/rs14-venv
    /tmp/rs14-venv/bin/pip install robosuite==1.4.1 mujoco==2.3.7 numpy==1.26.4 h5py==3.16.0

    (robosuite 1.5.2 asks for mujoco>=3.3.0 and breaks on much newer MuJoCo: with 3.17 its
    get_joint_qpos_addr assertion fails at env construction. numba needs numpy<2 here. No torch needed.)

Run
    /tmp/rs-venv/bin/python scripts/record_robosuite_stack.py --num 10 --seed 0 \
        --out tests/fixtures/robosuite_stack.hdf5
    /tmp/rs14-venv/bin/python scripts/record_robosuite_stack.py --num 3 --seed 0 \
        --out tests/fixtures/robosuite14_stack.hdf5

    Nothing is rendered (has_renderer=False, has_offscreen_renderer=False, use_camera_obs=False), so no GL
    is needed; if you change that, set MUJOCO_GL=egl.

Note: ``model_file`` holds the MJCF exactly as robosuite produces it, with ABSOLUTE asset paths into the
robosuite install of the venv that recorded it (/tmp/rs-venv/lib/python3.11/site-packages/robosuite/...).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import robosuite  # noqa: E402

ROBOSUITE_14 = robosuite.__version__.startswith("1.4")
if ROBOSUITE_14:
    from robosuite.controllers import load_controller_config  # noqa: E402
else:
    from robosuite.controllers import load_composite_controller_config  # noqa: E402

OBS_KEYS = (
    "robot0_eef_pos",
    "robot0_eef_quat",
    *(() if ROBOSUITE_14 else ("robot0_eef_quat_site",)),
    "robot0_gripper_qpos",
    "robot0_joint_pos",
    *(("robot0_joint_pos_cos", "robot0_joint_pos_sin") if ROBOSUITE_14 else ()),
    "cubeA_pos",
    "cubeA_quat",
    "cubeB_pos",
    "cubeB_quat",
)

POS_SCALE = 0.05  # metres per unit action (OSC_POSE output_max for x y z)
ROT_SCALE = 0.5  # radians per unit action (OSC_POSE output_max for rx ry rz)
MAX_STEPS = 250
HOLD_SUCCESS = 5  # success must hold over this many final steps


# ----------------------------------------------------------------------------------------------- math


def quat_xyzw_to_yaw(q: np.ndarray) -> float:
    x, y, z, w = q
    return float(np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z)))


def wrap(a: float) -> float:
    return float((a + np.pi) % (2.0 * np.pi) - np.pi)


def rot_to_rotvec(R: np.ndarray) -> np.ndarray:
    """Axis-angle vector of rotation matrix R (robust near 0 and pi)."""
    cos = np.clip((np.trace(R) - 1.0) / 2.0, -1.0, 1.0)
    angle = np.arccos(cos)
    if angle < 1e-8:
        return np.zeros(3)
    if np.pi - angle < 1e-4:
        # near pi: axis from the largest diagonal element
        i = int(np.argmax(np.diag(R)))
        axis = R[:, i] + np.eye(3)[:, i]
        axis /= np.linalg.norm(axis)
        return axis * angle
    v = np.array([R[2, 1] - R[1, 2], R[0, 2] - R[2, 0], R[1, 0] - R[0, 1]]) / (2.0 * np.sin(angle))
    return v * angle


def down_frame(yaw: float) -> np.ndarray:
    """Grip-site frame pointing straight down (site z = world -z) with its x axis (the fingers' closing
    axis) at ``yaw`` in the table plane."""
    x = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    z = np.array([0.0, 0.0, -1.0])
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def grasp_yaw(cube_yaw: float, current_yaw: float, avoid_dir=None) -> float:
    """Yaw among cube_yaw + k*90deg closest to the gripper's current yaw.

    With ``avoid_dir`` (xy direction towards a nearby obstacle), the closing axis is instead the one of the
    cube's two face axes most across that direction: the Panda hand is long along its closing axis, and
    an open finger would otherwise land on the other cube."""
    if avoid_dir is not None:
        d = np.asarray(avoid_dir, dtype=float) / np.linalg.norm(avoid_dir)
        axes = [cube_yaw, cube_yaw + np.pi / 2.0]
        axis = min(axes, key=lambda a: abs(np.cos(a) * d[0] + np.sin(a) * d[1]))
        cands = [axis, axis + np.pi]
        return wrap(min(cands, key=lambda a: abs(wrap(a - current_yaw))))
    k = np.round(wrap(current_yaw - cube_yaw) / (np.pi / 2.0))
    return wrap(cube_yaw + k * np.pi / 2.0)


# --------------------------------------------------------------------------------------------- expert


class ScriptedStacker:
    """Closed-loop pick-and-place: every step reads the cubes and the grip site from the env."""

    def __init__(self, env, rng: np.random.Generator):
        self.env = env
        self.rng = rng
        self.sim = env.sim
        robot = env.robots[0]
        self.site_id = robot.eef_site_id if ROBOSUITE_14 else robot.eef_site_id["right"]  # 1.4: an int
        # per-demo "operator style"
        self.gain = rng.uniform(0.7, 1.1)
        self.vmax = rng.uniform(0.55, 0.9)  # cap of the position action
        self.rgain = rng.uniform(0.8, 1.2)
        self.hover = rng.uniform(0.07, 0.11)  # above cubeA before descending
        self.grasp_off = np.r_[rng.uniform(-0.004, 0.004, 2), rng.uniform(-0.006, 0.002)]
        self.carry_clear = rng.uniform(0.025, 0.045)  # cubeA bottom above cubeB top while moving over
        self.place_gap = rng.uniform(0.0, 0.004)
        self.retreat = rng.uniform(0.05, 0.08)
        self.noise_scale = rng.uniform(0.01, 0.04)
        self.noise = np.zeros(6)
        self.phase = "approach"
        self.phase_steps = 0
        self.pause = 0
        self.grip = -1.0
        self.place_yaw = None
        self.pick_yaw = None

    # ---- readings
    def site_pos(self):
        return np.array(self.sim.data.site_xpos[self.site_id])

    def site_rot(self):
        return np.array(self.sim.data.site_xmat[self.site_id]).reshape(3, 3)

    def site_yaw(self):
        R = self.site_rot()
        return float(np.arctan2(R[1, 0], R[0, 0]))

    # ---- primitives
    def move_action(self, target_pos, target_rot, vmax=None):
        vmax = self.vmax if vmax is None else vmax
        err = target_pos - self.site_pos()
        dpos = np.clip(self.gain * err / POS_SCALE, -vmax, vmax)
        rerr = rot_to_rotvec(target_rot @ self.site_rot().T)
        drot = np.clip(self.rgain * rerr / ROT_SCALE, -0.6, 0.6)
        # smooth, small "hand tremor": low-pass filtered noise
        self.noise = 0.8 * self.noise + 0.2 * self.rng.normal(0.0, 1.0, 6)
        a = np.r_[dpos, drot] + self.noise_scale * self.noise * np.r_[1, 1, 1, 0.3, 0.3, 0.3]
        return np.clip(a, -1.0, 1.0), float(np.linalg.norm(err)), float(np.linalg.norm(rerr))

    def next_phase(self, name, max_pause=4):
        self.phase = name
        self.phase_steps = 0
        self.pause = int(self.rng.integers(0, max_pause + 1))

    def act(self, obs) -> np.ndarray:
        self.phase_steps += 1
        cubeA, cubeB = obs["cubeA_pos"], obs["cubeB_pos"]
        if self.pause > 0:  # a short human hesitation: hold still
            self.pause -= 1
            return np.r_[np.zeros(6), self.grip]

        if self.phase == "approach":
            if self.pick_yaw is None:
                to_b = cubeB[:2] - cubeA[:2]
                near = np.linalg.norm(to_b) < 0.14
                self.pick_yaw = grasp_yaw(quat_xyzw_to_yaw(obs["cubeA_quat"]), self.site_yaw(),
                                          avoid_dir=to_b if near else None)
            tgt = cubeA + np.r_[self.grasp_off[:2], self.hover]
            a, e, re = self.move_action(tgt, down_frame(self.pick_yaw))
            if (e < 0.012 and re < 0.04) or self.phase_steps > 60:
                self.next_phase("descend")
            return np.r_[a, -1.0]

        if self.phase == "descend":
            tgt = cubeA + self.grasp_off
            a, e, re = self.move_action(tgt, down_frame(self.pick_yaw), vmax=min(self.vmax, 0.6))
            err = tgt - self.site_pos()
            if (np.linalg.norm(err[:2]) < 0.005 and abs(err[2]) < 0.008) or self.phase_steps > 40:
                self.next_phase("close", max_pause=0)
                self.close_steps = int(self.rng.integers(8, 12))
            return np.r_[a, -1.0]

        if self.phase == "close":
            self.grip = 1.0
            a, _, _ = self.move_action(cubeA + self.grasp_off, down_frame(self.pick_yaw), vmax=0.2)
            if self.phase_steps >= self.close_steps:
                self.next_phase("lift", max_pause=2)
                self.place_yaw = None
            return np.r_[a * 0.5, 1.0]

        if self.phase == "lift":
            top_b = cubeB[2] + 0.025
            z_goal = top_b + 0.02 + self.carry_clear + 0.01  # grip site ~ cubeA centre
            tgt = np.r_[self.site_pos()[:2], z_goal]
            a, e, _ = self.move_action(tgt, down_frame(self.pick_yaw))
            a[:2] *= 0.3
            if self.site_pos()[2] > z_goal - 0.015 or self.phase_steps > 40:
                self.next_phase("carry")
            return np.r_[a, 1.0]

        if self.phase == "carry":
            if self.place_yaw is None:
                # turn the held cube so its faces line up with cubeB's (grasp is square to cubeA)
                self.place_yaw = grasp_yaw(quat_xyzw_to_yaw(obs["cubeB_quat"]), self.site_yaw())
            top_b = cubeB[2] + 0.025
            site = self.site_pos()
            # aim cubeA (not the gripper) above cubeB: correct for where the cube sits in the hand
            tgt_xy = site[:2] + (cubeB[:2] - cubeA[:2])
            tgt_z = site[2] + (top_b + 0.02 + self.carry_clear - cubeA[2])
            a, _, re = self.move_action(np.r_[tgt_xy, tgt_z], down_frame(self.place_yaw))
            xy_err = np.linalg.norm(cubeB[:2] - cubeA[:2])
            if (xy_err < 0.006 and re < 0.05) or self.phase_steps > 60:
                self.next_phase("lower", max_pause=2)
            return np.r_[a, 1.0]

        if self.phase == "lower":
            top_b = cubeB[2] + 0.025
            site = self.site_pos()
            tgt_xy = site[:2] + (cubeB[:2] - cubeA[:2])
            tgt_z = site[2] + (top_b + 0.02 + self.place_gap - cubeA[2])
            a, _, _ = self.move_action(np.r_[tgt_xy, tgt_z], down_frame(self.place_yaw), vmax=0.4)
            dz = cubeA[2] - (top_b + 0.02)
            touching = self.env.check_contact(self.env.cubeA, self.env.cubeB)
            if (dz < 0.006 and touching) or dz < 0.003 or self.phase_steps > 40:
                self.next_phase("release", max_pause=1)
                self.release_steps = int(self.rng.integers(6, 10))
            return np.r_[a, 1.0]

        if self.phase == "release":
            self.grip = -1.0
            if self.phase_steps >= self.release_steps:
                self.next_phase("retreat", max_pause=1)
                self.retreat_from = self.site_pos()
            return np.r_[np.zeros(6), -1.0]

        if self.phase == "retreat":
            tgt = self.retreat_from + np.r_[0.0, 0.0, self.retreat]
            a, e, _ = self.move_action(tgt, down_frame(self.place_yaw), vmax=0.5)
            if e < 0.01 or self.phase_steps > 30:
                self.next_phase("hold", max_pause=0)
            return np.r_[a, -1.0]

        # hold: stay where we are
        a, _, _ = self.move_action(self.retreat_from + np.r_[0.0, 0.0, self.retreat], down_frame(self.place_yaw),
                                   vmax=0.2)
        return np.r_[a * 0.5, -1.0]


# ------------------------------------------------------------------------------------------ recording


def make_env(seed: int):
    if ROBOSUITE_14:
        np.random.seed(seed)  # robosuite 1.4's placement sampler draws from numpy's global generator
        env_kwargs = dict(
            has_renderer=False,
            has_offscreen_renderer=False,
            ignore_done=True,
            use_object_obs=True,
            use_camera_obs=False,
            control_freq=20,
            controller_configs=load_controller_config(default_controller="OSC_POSE"),
            robots=["Panda"],
            camera_depths=False,
            camera_heights=84,
            camera_widths=84,
            reward_shaping=False,
        )
        env = robosuite.make("Stack", **env_kwargs)
        # robosuite 1.4 computes robot0_joint_pos but does not return it unless switched on
        env.modify_observable(observable_name="robot0_joint_pos", attribute="active", modifier=True)
        return env, env_kwargs
    controller_config = load_composite_controller_config(controller="BASIC", robot="Panda")
    env_kwargs = dict(
        robots=["Panda"],
        controller_configs=controller_config,
        has_renderer=False,
        has_offscreen_renderer=False,
        ignore_done=True,
        use_object_obs=True,
        use_camera_obs=False,
        camera_depths=False,
        reward_shaping=False,
        control_freq=20,
    )
    env = robosuite.make("Stack", seed=seed, **env_kwargs)
    return env, env_kwargs


def record_one(env, rng):
    obs = env.reset()
    xml = env.sim.model.get_xml()
    expert = ScriptedStacker(env, rng)
    states, actions, rewards, successes = [], [], [], []
    obs_log = {k: [] for k in OBS_KEYS}
    hold_left = None
    for _ in range(MAX_STEPS):
        states.append(env.sim.get_state().flatten())
        # Observations as robomimic's dataset_states_to_obs.py extracts them from states[t] (set state,
        # sim.forward(), force-updated observables). env.step's own obs come from the kinematics computed
        # before the last physics substep's integration (one 2 ms substep stale, up to ~1 mm), so they do
        # not match states[t] exactly. forward() leaves qpos/qvel untouched: the rollout is unchanged.
        env.sim.forward()
        obs = env._get_observations(force_update=True)
        for k in OBS_KEYS:
            obs_log[k].append(np.array(obs[k], dtype=np.float64))
        a = expert.act(obs)
        actions.append(np.asarray(a, dtype=np.float64))
        obs, r, _, _ = env.step(a)
        rewards.append(float(r))
        successes.append(bool(env._check_success()))
        if expert.phase == "hold":
            if hold_left is None:
                hold_left = int(rng.integers(HOLD_SUCCESS, HOLD_SUCCESS + 4))
            hold_left -= 1
            if hold_left <= 0:
                break
    T = len(actions)
    ok = T >= HOLD_SUCCESS and all(successes[-HOLD_SUCCESS:]) and expert.phase == "hold"
    demo = dict(
        states=np.array(states),
        actions=np.array(actions),
        rewards=np.array(rewards),
        dones=np.r_[np.zeros(T - 1), 1.0].astype(np.int64),
        obs={k: np.array(v) for k, v in obs_log.items()},
        model_file=xml,
    )
    return ok, demo, successes


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--num", type=int, default=10, help="successful demos to record")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="/work/main/tests/fixtures/robosuite_stack.hdf5")
    ap.add_argument("--max-attempts", type=int, default=100)
    args = ap.parse_args(argv)

    env, env_kwargs = make_env(args.seed)
    kept = []
    attempt = 0
    t0 = time.time()
    while len(kept) < args.num and attempt < args.max_attempts:
        rng = np.random.default_rng([args.seed, attempt])  # the expert's style, per demo
        ok, demo, succ = record_one(env, rng)
        T = len(demo["actions"])
        streak = next((i for i, s in enumerate(reversed(succ)) if not s), len(succ))
        print(f"attempt {attempt:3d}: steps {T:3d} success {ok} (success held over the last {streak} steps)"
              + (f" -> demo_{len(kept)}" if ok else ""), flush=True)
        if ok:
            kept.append(demo)
        attempt += 1
    if len(kept) < args.num:
        print(f"only {len(kept)} of {args.num} demos succeeded in {attempt} attempts", file=sys.stderr)
        return 1

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    comp = dict(compression="gzip", compression_opts=9, shuffle=True)
    version = {} if ROBOSUITE_14 else {"env_version": robosuite.__version__}  # 1.4-era env_args had none
    env_args = {"env_name": "Stack", **version, "type": 1, "env_kwargs": env_kwargs}
    with h5py.File(args.out, "w") as f:
        data = f.create_group("data")
        names = []
        for i, d in enumerate(kept):
            name = f"demo_{i}"
            names.append(name)
            g = data.create_group(name)
            g.attrs["model_file"] = d["model_file"]
            g.attrs["num_samples"] = len(d["actions"])
            g.create_dataset("states", data=d["states"], **comp)
            g.create_dataset("actions", data=d["actions"], **comp)
            g.create_dataset("rewards", data=d["rewards"], **comp)
            g.create_dataset("dones", data=d["dones"], **comp)
            og = g.create_group("obs")
            for k, v in d["obs"].items():
                og.create_dataset(k, data=v, **comp)
        data.attrs["env_args"] = json.dumps(env_args)
        data.attrs["total"] = int(sum(len(d["actions"]) for d in kept))
        data.attrs["repository_version"] = robosuite.__version__
        data.attrs["env"] = "Stack"
        f.create_dataset("mask/train", data=np.array([n.encode() for n in names], dtype="S"))
    lengths = [len(d["actions"]) for d in kept]
    print(f"kept {len(kept)}/{attempt} attempts; lengths {lengths} (total {sum(lengths)}, "
          f"mean {np.mean(lengths):.1f}); wrote {args.out} ({os.path.getsize(args.out)} bytes) "
          f"in {time.time() - t0:.0f} s")
    env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
