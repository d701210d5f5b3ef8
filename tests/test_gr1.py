"""Fourier GR1 with two Fourier hands, composed from the pinned robosuite pack: it compiles with the joints
and actuators demoforge gives it, holds still at rest, its hands close through coupled fingers, and each
wrist reaches targets through IK and the arm servos."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

from demoforge import geometry as geo
from demoforge.sim.controller import DiffIK
from demoforge.sim.gr1 import ARM_JOINTS, DIGITS, HOME_QPOS, SIDES, gr1_spec, hand_actuators, hand_joint


@pytest.fixture(scope="module")
def gr1() -> mujoco.MjModel:
    return gr1_spec().compile()


def at_home(model: mujoco.MjModel) -> mujoco.MjData:
    data = mujoco.MjData(model)
    for side in SIDES:
        for name, q in zip(ARM_JOINTS[side], HOME_QPOS[side]):
            data.qpos[model.joint(name).qposadr[0]] = q
            data.ctrl[model.actuator(f"{name}_servo").id] = q
    mujoco.mj_forward(model, data)
    return data


def test_the_composed_robot_has_the_real_meshes_and_demoforges_servos(gr1: mujoco.MjModel) -> None:
    joints = {gr1.joint(i).name for i in range(gr1.njnt)}
    assert all(gr1.joint(i).type[0] == mujoco.mjtJoint.mjJNT_HINGE for i in range(gr1.njnt))  # no free base
    assert joints == {j for s in SIDES for j in ARM_JOINTS[s]} | {
        hand_joint(s, j) for s in SIDES for _, driven, coupled in DIGITS for j in (driven, coupled) if j}
    assert gr1.njnt == 14 + 22 and gr1.nu == 14 + 12 and gr1.neq == 10 and gr1.nmesh >= 81
    for side in SIDES:
        for digit, name in zip(DIGITS, hand_actuators(side)):
            actuator = gr1.actuator(name)
            assert gr1.joint(actuator.trnid[0]).name == hand_joint(side, digit[1])


def test_it_holds_still_at_rest_without_touching_itself(gr1: mujoco.MjModel) -> None:
    data = at_home(gr1)
    start = data.qpos.copy()
    for _ in range(1000):  # 2 s
        mujoco.mj_step(gr1, data)
    assert data.ncon == 0
    assert np.abs(data.qpos - start).max() < 1e-6 and np.abs(data.qvel).max() < 1e-5


def test_a_finger_closes_through_its_coupled_joint_and_opens_again(gr1: mujoco.MjModel) -> None:
    data = at_home(gr1)
    index = gr1.actuator("right_hand_index")
    proximal = gr1.joint(hand_joint("right", "index_proximal_joint"))
    intermediate = gr1.joint(hand_joint("right", "index_intermediate_joint"))
    ratio = np.ptp(intermediate.range) / np.ptp(proximal.range)
    data.ctrl[index.id] = 1.0
    for _ in range(500):  # 1 s
        mujoco.mj_step(gr1, data)
    q_prox, q_int = data.qpos[proximal.qposadr[0]], data.qpos[intermediate.qposadr[0]]
    assert abs(q_prox - 1.0) < 0.03 and abs(q_int - ratio * q_prox) < 0.03, (q_prox, q_int, ratio)
    data.ctrl[index.id] = 0.0
    for _ in range(500):
        mujoco.mj_step(gr1, data)
    assert data.qpos[proximal.qposadr[0]] < 0.03 and data.qpos[intermediate.qposadr[0]] < 0.05


@pytest.mark.parametrize("side", SIDES)
def test_each_wrist_reaches_targets_within_5_mm_and_2_degrees(gr1: mujoco.MjModel, side: str) -> None:
    data = at_home(gr1)
    site = gr1.site(f"{side}_fourier_palm_site").id
    joints = [gr1.joint(j) for j in ARM_JOINTS[side]]
    qadr = np.array([j.qposadr[0] for j in joints])
    servos = [gr1.actuator(f"{j}_servo").id for j in ARM_JOINTS[side]]
    ik = DiffIK(gr1, site, qadr, np.array([j.dofadr[0] for j in joints]), data.qpos[qadr].copy(), iterations=3)
    start = geo.make_pose(data.site_xpos[site].copy(), data.site_xmat[site].reshape(3, 3).copy())
    sign = 1.0 if side == "right" else -1.0  # mirror: outward is -y on the right
    for offset, yaw in (([0.05, 0.0, 0.0], 0.2), ([0.08, -0.03 * sign, 0.1], -0.2), ([-0.05, 0.0, -0.05], 0.1)):
        target = start.copy()
        target[:3, 3] += offset
        target[:3, :3] = geo.axisangle_to_mat(np.array([0.0, 0.0, yaw])) @ target[:3, :3]
        for _ in range(60):  # 3 s of 20 Hz control: IK from the measured joints, then the servos
            data.ctrl[servos] = ik.solve(data.qpos[qadr].copy(), target)
            for _ in range(25):
                mujoco.mj_step(gr1, data)
        error_mm = 1000 * np.linalg.norm(data.site_xpos[site] - target[:3, 3])
        rotation = target[:3, :3] @ data.site_xmat[site].reshape(3, 3).T
        error_deg = np.degrees(np.linalg.norm(geo.mat_to_axisangle(rotation)))
        assert error_mm < 5.0 and error_deg < 2.0, (offset, error_mm, error_deg)


def test_gr1_is_a_built_in_robot_that_stands_at_the_table_and_takes_24_d_actions() -> None:
    from demoforge.sim.env import SimEnv
    from demoforge.sim.robot import GR1, load_robot
    from demoforge.sim.scene import base_scene

    assert load_robot("gr1") is GR1 and GR1.action_dim == 2 * (6 + 6)
    assert [p["eef"] for p in GR1.action_layout()] == [[6, 12], [18, 24]]
    model = base_scene(GR1).compile()
    env = SimEnv(model, GR1)
    for side, arm in zip(SIDES, env.arms):  # the hands' actuators span the joints they drive
        assert np.allclose(model.actuator_ctrlrange[arm.grip_act_ids], [model.jnt_range[model.actuator_trnid[i, 0]]
                                                                      for i in arm.grip_act_ids]), side
    assert env.table_z == pytest.approx(0.8) and env.data.ncon == 0  # behind the table, touching nothing
    start = [env.eef_pose(i)[:3, 3].copy() for i in range(2)]
    action = np.zeros(GR1.action_dim)
    action[2], action[6:12] = -0.2, 1.0  # right hand: down 1 cm a step, every finger closing; left: hold
    for _ in range(10):
        env.step(action)
    right, left = (env.eef_pose(i)[:3, 3] for i in range(2))
    assert start[0][2] - 0.1 < right[2] < start[0][2] - 0.05  # 1 cm a step from the measured pose, which lags
    assert np.linalg.norm(right[:2] - start[0][:2]) < 0.02
    assert np.linalg.norm(left - start[1]) < 1e-3
    ring = env.data.qpos[model.joint("gr1_" + hand_joint("right", "ring_proximal_joint")).qposadr[0]]
    assert ring > 1.4 and not env.unstable()  # (the index meets the closing thumb in a fist)


def test_a_gripper_task_on_gr1_is_refused_naming_the_hands(tmp_path) -> None:
    from test_cli import assert_user_error, run

    refused = run("source", "--task", "handover", "--robot", "gr1", "--num", "1", "--out", str(tmp_path / "s.hdf5"))
    assert_user_error(refused, "handover", "parallel grippers", "gr1", "dexterous hand", "right, left")
    assert not (tmp_path / "s.hdf5").exists()


def test_the_head_camera_sees_the_table_and_both_hands_and_no_reference_sticks() -> None:
    from demoforge.sim.env import SimEnv
    from demoforge.sim.render import offscreen_renderer, resolve_cameras
    from demoforge.sim.robot import GR1
    from demoforge.sim.scene import base_scene

    model = base_scene(GR1).compile()
    env = SimEnv(model, GR1)
    (head,) = resolve_cameras(model, ["head"])
    renderer = offscreen_renderer(model, 120, 160)
    renderer.enable_segmentation_rendering()
    renderer.update_scene(env.data, camera=head)
    ids, kinds = renderer.render()[..., 0], renderer.render()[..., 1]
    renderer.close()
    assert not np.any(kinds == int(mujoco.mjtObj.mjOBJ_SITE))  # frames drawn as sticks stay out of pictures
    seen = {int(g) for g in ids[kinds == int(mujoco.mjtObj.mjOBJ_GEOM)]}
    for side in SIDES:
        assert seen & set(env.body_geoms(f"gr1_{side}_fourier_{side}_hand").tolist()), side
    assert seen & set(env.body_geoms("table").tolist())


def test_the_fast_body_meshes_draw_the_same_robot_and_change_no_physics() -> None:
    """GR1's body drawn with the pack's decimated meshes (the default) against the full ones: a fifth of the
    body's triangles, every physical quantity and a driven trajectory bit for bit the same, the head
    camera's picture nearly the same."""
    from demoforge.sim.render import offscreen_renderer

    fast, full = (gr1_spec(fast_visuals=on).compile() for on in (True, False))
    assert fast.nmeshface < 0.6 * full.nmeshface, (fast.nmeshface, full.nmeshface)
    for name in ("body_mass", "body_inertia", "body_ipos", "body_iquat", "geom_contype", "geom_conaffinity",
                 "geom_friction", "jnt_range", "actuator_gainprm", "mesh_graphadr"):
        assert np.array_equal(getattr(fast, name), getattr(full, name)), name
    controls = np.random.default_rng(0).uniform(-0.3, 0.3, (300, full.nu))
    pictures, ends = [], []
    for model in (fast, full):
        data = mujoco.MjData(model)
        for u in controls:
            data.ctrl[:] = u
            mujoco.mj_step(model, data)
        ends.append(data.qpos.copy())
        renderer = offscreen_renderer(model, 84, 84)
        renderer.update_scene(data, camera="robotview")
        pictures.append(renderer.render().astype(float))
        renderer.close()
    assert np.array_equal(ends[0], ends[1])
    differs = np.abs(pictures[0] - pictures[1]).max(axis=-1) > 24  # pixels visibly apart
    assert differs.mean() < 0.05, differs.mean()
