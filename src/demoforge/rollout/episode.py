"""Execute per-step target poses in a world and record everything a ``Demo`` holds.

Both the scripted expert (source demos) and the generator (new demos) drive episodes through
``Recorder.step``, so every demo has the same fields, the same action convention and the same
``datagen_info``, and any demo can serve as a source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.data.demo import DatagenInfo, Demo
from demoforge.sim.controller import ArmActions, index_or_slice, per_arm_commands, target_to_abs_action
from demoforge.sim.render import CameraRig
from demoforge.sim.env import STATE_SPEC, SimEnv
from demoforge.tasks.base import Task, fold_symmetry

if TYPE_CHECKING:  # the world builds recorders (World.episode), so the import goes one way
    from demoforge.rollout.world import World


class Recorder:
    """Preallocated per-step buffers for one episode in ``world``; ``finish`` turns them into a ``Demo``.

    Per-arm buffers carry an arm axis; a one-arm robot's demo keeps robomimic's shapes ((T, 4, 4)
    poses, (T, 1) gripper), more arms add the axis ((T, arms, 4, 4), (T, arms, k)); k is the width of
    each arm's end-effector command (a gripper 1, a hand one per actuator). A step writes
    straight into the buffers (no per-step arrays beyond the controller's own few), and object poses
    are kept as MuJoCo's raw position and rotation rows until ``finish`` makes them 4x4 poses.
    """

    def __init__(self, world: World, max_steps: int | None = None, cameras: CameraRig | None = None) -> None:
        self.world = world
        self.cameras = cameras
        self.env = world.env
        self.task = world.task
        self.capacity = max_steps or self.task.max_steps
        n, env = self.capacity, self.env
        arms = self.num_arms = len(env.arms)
        k = self.eef_dim = env.robot.eef_dim
        self._parts = env.action_parts
        self.states = np.zeros((n, env.state_size))
        self.actions = np.zeros((n, env.robot.action_dim))
        self.rewards = np.zeros(n)
        self.eef_pose = np.zeros((n, arms, 4, 4))
        self.target_pose = np.zeros((n, arms, 4, 4))
        self.gripper_action = np.zeros((n, arms, k))
        self.executed_pose = np.zeros((n, arms, 4, 4))
        self.eef_pose[..., 3, 3] = 1.0
        self.object_names = tuple(self.task.objects)
        self.object_ids = {name: env.model.body(name).id for name in self.object_names}
        self._object_index = index_or_slice([self.object_ids[name] for name in self.object_names])
        self._object_pos = np.zeros((n, len(self.object_names), 3))  # raw body poses: data.xpos rows
        self._object_rot = np.zeros((n, len(self.object_names), 9))  # and data.xmat rows
        self._site_ids = [arm.eef_site_id for arm in env.arms]
        self._convert = [ArmActions() for _ in env.arms]  # target <-> action per arm, in its own buffers
        self.symmetry = {name: self.task.symmetry_order(env, name) for name in self.object_names}
        self.signals = {name: np.zeros(n, dtype=np.int8) for name in self.task.signal_names}
        self.images = {  # camera observations by obs key (images, depth, segmentation)
            key: np.zeros((n, *shape), dtype=dtype) for key, (shape, dtype) in (cameras.obs_shapes() if cameras else {}).items()
        }
        self._frame: dict[str, np.ndarray] = {}
        self.t = 0
        self.unstable = False

    def start(self) -> None:
        """Begin recording from the current state (solver warm-start cleared, as a replay will have it)."""
        self.env.set_state(self.env.get_state())
        self.t = 0
        self.unstable = False

    @property
    def full(self) -> bool:
        return self.t >= self.capacity

    def step(self, world_T_target: np.ndarray, gripper: float | np.ndarray, noise: np.ndarray | None = None,
             advance: Callable[[], None] | None = None) -> bool:
        """Record the current state, act toward ``world_T_target`` (plus normalised ``noise``), step physics.

        One arm: a (4, 4) target; more: (arms, 4, 4). ``gripper``: one value for every arm, one per arm
        (arms,), or per arm its end-effector command (arms, k) (a hand's per-actuator targets).
        ``advance`` runs the control period's physics instead of ``env.step_physics`` (teleop splits it to
        stream poses in between; it must run exactly ``env.substeps`` steps). Returns False once the physics
        became unstable (the episode must then stop).
        """
        env, t = self.env, self.t
        targets = world_T_target.reshape(self.num_arms, 4, 4)
        grippers = self._grippers(gripper)
        eefs = self._read_eef(t)
        action = self.actions[t]
        for i, arm in enumerate(env.arms):
            self._convert[i].target_to_action(eefs[i], arm.world_T_base, targets[i], grippers[i], action[self._parts[i]])
        if noise is not None:
            action += noise
        np.maximum(action, -1.0, out=action)  # np.clip(action, -1, 1), without its Python layers
        np.minimum(action, 1.0, out=action)
        return self._record_and_act(t, targets, grippers, advance)

    def act(
        self, action: np.ndarray, world_T_target: np.ndarray, gripper: float | np.ndarray,
        world_T_eef: list[np.ndarray] | np.ndarray | None = None,
    ) -> bool:
        """Record the current state and execute ``action`` (normalised, in [-1, 1]); False once unstable.

        ``world_T_target`` and ``gripper`` (per arm) are only stored (the intent behind the action). A
        replay feeds stored actions here, so it records through exactly the code that recorded the demo.
        """
        t = self.t
        if world_T_eef is None:
            self._read_eef(t)
        else:
            self.eef_pose[t] = np.reshape(world_T_eef, (self.num_arms, 4, 4))
        self.actions[t] = action
        return self._record_and_act(t, np.reshape(world_T_target, (self.num_arms, 4, 4)), self._grippers(gripper))

    def _grippers(self, gripper: float | np.ndarray) -> np.ndarray:
        """Every arm's end-effector command, (arms, k) (``per_arm_commands``)."""
        return per_arm_commands(gripper, self.num_arms, self.eef_dim)

    def _read_eef(self, t: int) -> np.ndarray:
        """Every arm's ``world_T_eef`` now, into step ``t``'s row (the bottom rows are set at construction)."""
        views, eefs = self.env.views, self.eef_pose[t]
        xmat, xpos = views.site_xmat, views.site_xpos
        for i, site in enumerate(self._site_ids):
            eefs[i, :3, :3] = xmat[site].reshape(3, 3)
            eefs[i, :3, 3] = xpos[site]
        return eefs

    def _record_and_act(self, t: int, targets: np.ndarray, grippers: np.ndarray,
                        advance: Callable[[], None] | None = None) -> bool:
        """Store step ``t`` (state, images, intent, object poses, signals; eef and action are in place), apply
        ``actions[t]`` and step the physics; then the reward of the state reached."""
        env, data = self.env, self.env.data
        mujoco.mj_getState(env.model, data, self.states[t], STATE_SPEC)
        if self.cameras is not None:  # images of the state the action is taken in, as robomimic expects
            for name, buffer in self.images.items():
                self._frame[name] = buffer[t]
            self.cameras.capture(data, self._frame)
        self.target_pose[t] = targets
        self.gripper_action[t] = grippers
        views = env.views
        self._object_pos[t] = views.xpos[self._object_index]
        self._object_rot[t] = views.xmat[self._object_index]
        for name, value in self.task.signals(env).items():
            self.signals[name][t] = value
        action, eefs, executed = self.actions[t], self.eef_pose[t], self.executed_pose[t]
        for i, arm in enumerate(env.arms):
            part = action[self._parts[i]]
            self._convert[i].action_to_target(eefs[i], arm.world_T_base, part, executed[i])
            env.apply_target(executed[i], env.eef_command(part, i), i)
        if advance is None:
            env.step_physics()
        else:
            advance()
        self.t = t + 1
        if env.unstable():
            self.unstable = True
            return False
        self.rewards[t] = float(self.task.success(env))
        return True

    def object_poses(self, steps: int | None = None) -> dict[str, np.ndarray]:
        """Raw (unfolded) ``world_T_object`` of every task object over the first ``steps`` steps (default: all
        recorded), (T, 4, 4) each."""
        T = self.t if steps is None else steps
        out = {}
        for k, name in enumerate(self.object_names):
            pose = np.zeros((T, 4, 4))
            pose[:, :3, :3] = self._object_rot[:T, k].reshape(T, 3, 3)
            pose[:, :3, 3] = self._object_pos[:T, k]
            pose[:, 3, 3] = 1.0
            out[name] = pose
        return out

    def succeeded(self, hold: int | None = None) -> bool:
        """Success held for the final ``hold`` steps (default: the task's ``success_hold_steps``), not merely once."""
        hold = hold or self.task.success_hold_steps
        return self.t >= hold and not self.unstable and bool(np.all(self.rewards[self.t - hold : self.t] > 0))

    def finish(self, **meta: object) -> Demo:
        """The recorded steps as a ``Demo`` (arrays are copies; the recorder can be reused)."""
        T = self.t
        env = self.env
        states = self.states[:T].copy()
        qpos = states[:, 1 : 1 + env.model.nq]
        qvel = states[:, 1 + env.model.nq : 1 + env.model.nq + env.model.nv]
        arm_axis = slice(None) if self.num_arms > 1 else 0  # one arm: robomimic's shapes, no arm axis
        eef = self.eef_pose[:T, arm_axis].copy()
        objects = {k: fold_symmetry(v, self.symmetry[k]) for k, v in self.object_poses(T).items()}
        actions = self.actions[:T].copy()
        obs = {
            **low_dim_obs(env, self.eef_pose[:T], qpos, qvel, objects),
            **{key: frames[:T].copy() for key, frames in self.images.items()},
        }
        dones = np.zeros(T, dtype=np.int64)
        if T:
            dones[-1] = 1
        meta = {"success": self.succeeded(), **meta}
        actions_abs = np.concatenate([
            target_to_abs_action(arm.world_T_base, self.executed_pose[:T, i], actions[:, self._parts[i]][:, 6:])
            for i, arm in enumerate(env.arms)
        ], axis=-1)
        return Demo(
            actions=actions,
            actions_abs=actions_abs,
            states=states,
            rewards=self.rewards[:T].copy(),
            dones=dones,
            obs=obs,
            datagen=DatagenInfo(
                eef_pose=eef,
                target_pose=self.target_pose[:T, arm_axis].copy(),
                gripper_action=self.gripper_action[:T, arm_axis].copy(),
                object_poses=objects,
                subtask_term_signals={k: v[:T].copy() for k, v in self.signals.items()},
            ),
            model_file=self.world.model_xml,
            scene=self.world.scene.model_dump_json(),
            meta=meta,
        )


def low_dim_obs(
    env: SimEnv, world_T_eef: np.ndarray, qpos: np.ndarray, qvel: np.ndarray, world_T_objects: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """The low-dimensional ``obs`` keys for T steps (docs/formats.md): per arm ``<prefix>eef_pos`` ... from
    ``world_T_eef`` (T, arms, 4, 4), then ``object`` from the (symmetry-folded) object poses."""
    obs: dict[str, np.ndarray] = {}
    # Every quaternion in one conversion (scipy's cost is mostly per call; each row is converted on its own).
    rots = [world_T_eef[:, i, :3, :3] for i in range(len(env.arms))] + [p[:, :3, :3] for p in world_T_objects.values()]
    quats = geo.wxyz_to_xyzw(geo.mat_to_quat(np.concatenate(rots))).reshape(len(rots), len(world_T_eef), 4)
    for i, arm in enumerate(env.arms):
        eef, p = world_T_eef[:, i], arm.config.prefix
        obs[f"{p}eef_pos"] = geo.pose_pos(eef).copy()
        obs[f"{p}eef_quat"] = quats[i]  # robosuite order (x, y, z, w)
        obs[f"{p}joint_pos"] = qpos[:, arm.qpos_adr]
        obs[f"{p}joint_vel"] = qvel[:, arm.dof_adr]
        obs[f"{p}gripper_qpos"] = qpos[:, arm.grip_qpos_adr]
        obs[f"{p}gripper_qvel"] = qvel[:, arm.grip_dof_adr]
    obs["object"] = np.concatenate(
        [np.concatenate([geo.pose_pos(p), quats[len(env.arms) + k]], axis=1) for k, p in enumerate(world_T_objects.values())],
        axis=1,
    )
    return obs


def observe(env: SimEnv, task: Task) -> dict[str, np.ndarray]:
    """The low-dimensional observation of the current state, exactly as a recorded demo stores it (T = 1)."""
    objects = {
        name: fold_symmetry(env.body_pose(name)[None], task.symmetry_order(env, name)) for name in task.objects
    }
    eef = np.stack([env.eef_pose(i) for i in range(len(env.arms))])[None]
    return low_dim_obs(env, eef, env.data.qpos[None], env.data.qvel[None], objects)


def record_expert(world: World, rng: np.random.Generator, variation: str = "D0") -> Demo:
    """Reset to a sample of ``variation`` and record the task's scripted expert until it stops."""
    world.task.reset(world.env, rng, variation)
    rec = Recorder(world)
    rec.start()
    for target, gripper in world.task.expert(world.env, rng):
        if rec.full or not rec.step(target, gripper):
            break
    return rec.finish(variation=variation)
