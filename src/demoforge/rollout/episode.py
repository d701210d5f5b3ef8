"""Execute per-step target poses in a world and record everything a ``Demo`` holds.

Both the scripted expert (source demos) and the generator (new demos) drive episodes through
``Recorder.step``, so every demo has the same fields, the same action convention and the same
``datagen_info``, and any demo can serve as a source.
"""

from __future__ import annotations

import numpy as np

from demoforge import geometry as geo
from demoforge.data.demo import DatagenInfo, Demo
from demoforge.sim.controller import action_to_target, target_to_abs_action, target_to_action
from demoforge.sim.render import CameraRig
from demoforge.sim.env import SimEnv
from demoforge.tasks.base import Task, fold_symmetry
from demoforge.rollout.world import World


class Recorder:
    """Preallocated per-step buffers for one episode in ``world``; ``finish`` turns them into a ``Demo``.

    Per-arm buffers carry an arm axis; a one-arm robot's demo keeps robomimic's shapes ((T, 4, 4)
    poses, (T, 1) gripper), more arms add the axis ((T, arms, 4, 4), (T, arms, 1)).
    """

    def __init__(self, world: World, max_steps: int | None = None, cameras: CameraRig | None = None) -> None:
        self.world = world
        self.cameras = cameras
        self.env = world.env
        self.task = world.task
        self.capacity = max_steps or self.task.max_steps
        n, env = self.capacity, self.env
        arms = self.num_arms = len(env.arms)
        self.states = np.zeros((n, env.state_size))
        self.actions = np.zeros((n, 7 * arms))
        self.rewards = np.zeros(n)
        self.eef_pose = np.zeros((n, arms, 4, 4))
        self.target_pose = np.zeros((n, arms, 4, 4))
        self.gripper_action = np.zeros((n, arms, 1))
        self.executed_pose = np.zeros((n, arms, 4, 4))
        self.object_poses = {name: np.zeros((n, 4, 4)) for name in self.task.objects}  # raw body poses
        self.object_ids = {name: env.model.body(name).id for name in self.task.objects}
        self.symmetry = {name: self.task.symmetry_order(env, name) for name in self.task.objects}
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

    def step(self, world_T_target: np.ndarray, gripper: float | np.ndarray, noise: np.ndarray | None = None) -> bool:
        """Record the current state, act toward ``world_T_target`` (plus normalised ``noise``), step physics.

        One arm: a (4, 4) target and a gripper value; more: (arms, 4, 4) and one gripper per arm.
        Returns False once the physics became unstable (the episode must then stop).
        """
        env = self.env
        targets = world_T_target.reshape(-1, 4, 4)
        grippers = np.broadcast_to(np.asarray(gripper, dtype=float), (self.num_arms,))
        eefs = [env.eef_pose(i) for i in range(self.num_arms)]
        action = np.concatenate([
            target_to_action(eefs[i], arm.world_T_base, targets[i], float(grippers[i])) for i, arm in enumerate(env.arms)
        ])
        if noise is not None:
            action += noise
        np.clip(action, -1.0, 1.0, out=action)
        return self.act(action, targets, grippers, eefs)

    def act(
        self, action: np.ndarray, world_T_target: np.ndarray, gripper: float | np.ndarray,
        world_T_eef: list[np.ndarray] | np.ndarray | None = None,
    ) -> bool:
        """Record the current state and execute ``action`` (normalised, in [-1, 1]); False once unstable.

        ``world_T_target`` and ``gripper`` (per arm) are only stored (the intent behind the action). A
        replay feeds stored actions here, so it records through exactly the code that recorded the demo.
        """
        env, t = self.env, self.t
        eefs = [env.eef_pose(i) for i in range(self.num_arms)] if world_T_eef is None else world_T_eef
        self.states[t] = env.get_state()
        if self.cameras is not None:  # images of the state the action is taken in, as robomimic expects
            for name, buffer in self.images.items():
                self._frame[name] = buffer[t]
            self.cameras.capture(env.data, self._frame)
        self.eef_pose[t] = np.reshape(eefs, (self.num_arms, 4, 4))
        self.target_pose[t] = np.reshape(world_T_target, (self.num_arms, 4, 4))
        self.gripper_action[t, :, 0] = gripper
        xpos, xmat = env.data.xpos, env.data.xmat
        for name, buf in self.object_poses.items():
            body = self.object_ids[name]
            buf[t, :3, :3] = xmat[body].reshape(3, 3)
            buf[t, :3, 3] = xpos[body]
            buf[t, 3, 3] = 1.0
        for name, value in self.task.signals(env).items():
            self.signals[name][t] = value
        self.actions[t] = action
        for i, arm in enumerate(env.arms):
            part = action[7 * i : 7 * i + 7]
            executed = action_to_target(self.eef_pose[t, i], arm.world_T_base, part)
            self.executed_pose[t, i] = executed
            env.apply_target(executed, float(part[6]), i)
        env.step_physics()
        self.t = t + 1
        if env.unstable():
            self.unstable = True
            return False
        self.rewards[t] = float(self.task.success(env))
        return True

    def succeeded(self) -> bool:
        """Success held for the task's final ``success_hold_steps`` steps (not merely once)."""
        hold = self.task.success_hold_steps
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
        objects = {k: fold_symmetry(v[:T].copy(), self.symmetry[k]) for k, v in self.object_poses.items()}
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
            target_to_abs_action(arm.world_T_base, self.executed_pose[:T, i], actions[:, 7 * i + 6])
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
    for i, arm in enumerate(env.arms):
        eef, p = world_T_eef[:, i], arm.config.prefix
        obs[f"{p}eef_pos"] = geo.pose_pos(eef).copy()
        obs[f"{p}eef_quat"] = geo.wxyz_to_xyzw(geo.pose_to_quat(eef))  # robosuite order (x, y, z, w)
        obs[f"{p}joint_pos"] = qpos[:, arm.qpos_adr]
        obs[f"{p}joint_vel"] = qvel[:, arm.dof_adr]
        obs[f"{p}gripper_qpos"] = qpos[:, arm.grip_qpos_adr]
        obs[f"{p}gripper_qvel"] = qvel[:, arm.grip_dof_adr]
    obs["object"] = np.concatenate(
        [np.concatenate([geo.pose_pos(p), geo.wxyz_to_xyzw(geo.pose_to_quat(p))], axis=1) for p in world_T_objects.values()],
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
