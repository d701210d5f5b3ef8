"""Fourier GR1's upper body with two dexterous hands, composed from the robosuite pack's own model files.

The pack's GR1T2 (``robots/gr1/robot.xml``) floats on a free joint, has legs, a waist, a head and two
7-DoF arms, all driven by torque motors with no servo of their own; each Fourier hand
(``grippers/fourier_{side}_hand.xml``) has 11 joints with a motor on each. demoforge's GR1:

- is the upper body, on a pedestal: the free joint and the legs go, and unless ``waist`` the waist and
  head are rigid;
- holds its arms with joint position servos plus gravity compensation, with rotor inertia (armature) on
  the arm joints so the light wrist links stay stable at a 2 ms physics step;
- drives each hand as the real one is driven: 6 actuators (thumb rotation, thumb bend, index, middle,
  ring, pinky) on the first joint of each digit, the next joint coupled to it by a joint equality
  (the linkage: it turns in proportion, over its own range);
- draws its body with the pack's decimated meshes (a fifth of 437k triangles: the fast render setting) unless
  ``fast_visuals`` is off. Those meshes are drawn only (no collision, no mass), so physics is the same;
  the hands keep their meshes, which give their links' mass and collision hulls. Each hand link's collision
  geom draws the same mesh as its visual one, so it is put in a geom group pictures leave out.

Names keep the pack's, the hands' prefixed (``right_fourier_R_index_proximal_joint``); demoforge's
own actuators are ``{joint}_servo`` and ``{side}_hand_{digit}``.
"""

from __future__ import annotations

from pathlib import Path

import mujoco

from demoforge.assetpacks import ROBOSUITE, absolute_files, asset_path, fast_folder
from demoforge.sim.spec_edit import delete_element

SIDES = ("right", "left")
ARM_JOINTS = {
    side: [f"{s}_shoulder_pitch", f"{s}_shoulder_roll", f"{s}_shoulder_yaw", f"{s}_elbow_pitch",
           f"{s}_wrist_yaw", f"{s}_wrist_roll", f"{s}_wrist_pitch"]
    for side, s in (("right", "r"), ("left", "l"))
}
# Home: forearms forward, hands over the table; robosuite's mean start pose of GR1's arms (its
# GR1FixedLowerBody init_qpos means), which keeps the hands clear of each other and of the table.
HOME_QPOS = {
    "right": (-0.2497, -0.3751, 0.1533, -1.5156, -0.3241, -0.0814, -0.0289),
    "left": (-0.1258, 0.4103, -0.1395, -1.5225, 0.2432, 0.2738, 0.0007),
}
WAIST_JOINTS = ["torso_waist_yaw", "torso_waist_pitch", "torso_waist_roll", "head_yaw", "head_roll", "head_pitch"]
# Servo stiffness (N m/rad), damping (N m s/rad) and torque limit (N m) per arm joint, shoulder to wrist.
ARM_KP = (400.0, 400.0, 200.0, 200.0, 60.0, 60.0, 60.0)
ARM_KV = (20.0, 20.0, 10.0, 10.0, 2.0, 2.0, 2.0)
ARM_TORQUE = (80.0, 80.0, 40.0, 40.0, 15.0, 15.0, 15.0)
ARM_ARMATURE = 0.05  # kg m^2 reflected rotor inertia per arm joint
HAND_KP, HAND_KV = 20.0, 0.5
SITE_GROUP = 4  # MuJoCo draws site groups 0-2 by default
COLLISION_GROUP = 3  # nor geom group 3: collision geoms whose visual twin is drawn
# The hand's 6 actuators: (name, driven joint, coupled joint or None).
DIGITS = (
    ("thumb_yaw", "thumb_proximal_yaw_joint", None),
    ("thumb_pitch", "thumb_proximal_pitch_joint", "thumb_distal_joint"),
    ("index", "index_proximal_joint", "index_intermediate_joint"),
    ("middle", "middle_proximal_joint", "middle_intermediate_joint"),
    ("ring", "ring_proximal_joint", "ring_intermediate_joint"),
    ("pinky", "pinky_proximal_joint", "pinky_intermediate_joint"),
)


# The ranges (rad) of the joints the 6 hand actuators drive, as the pack's hand MJCF gives them: each
# actuator's control range, open at the low end.
HAND_RANGES = ((0.0, 1.74), (0.0, 1.22), (0.0, 1.57), (0.0, 1.57), (0.0, 1.57), (0.0, 1.57))


# The Fourier hand in its end-effector frame, from its collision meshes: the fingers point along -y, the
# palm faces +z, the thumb sticks out along -x on the right hand and +x on the left. The end-effector
# site (``palm_site``) is the centre of the palm's face, PALM_CENTER in the pack's wrist-centred
# ``grip_site`` frame (m): the point a hand grasps around, as a gripper's tool centre point.
FINGERS_IN_EEF = (0.0, -1.0, 0.0)
PALM_NORMAL_IN_EEF = (0.0, 0.0, 1.0)
PALM_CENTER = (0.0, -0.06, 0.026)
PALM_SITE = "palm_site"


def hand_body(side: str) -> str:
    """The composed model's name (without the robot prefix) of a hand's root body: its subtree is the hand."""
    return f"{side}_fourier_{side}_hand"


def hand_geom(side: str, link: str) -> str:
    """The composed model's name of a Fourier hand link's collision geom (``index_intermediate_link``)."""
    return f"{side}_fourier_{side[0].upper()}_{link}_col"


def hand_joint(side: str, joint: str) -> str:
    """The composed model's name of a Fourier hand joint (``index_proximal_joint`` on the right hand ->
    ``right_fourier_R_index_proximal_joint``)."""
    return f"{side}_fourier_{side[0].upper()}_{joint}"


def hand_actuators(side: str) -> list[str]:
    return [f"{side}_hand_{digit}" for digit, _, _ in DIGITS]


BODY_MESHES = "robots/gr1/meshes"  # in the pack: GR1's body meshes, drawn only


def gr1_spec(waist: bool = False, fast_visuals: bool = True) -> mujoco.MjSpec:
    """GR1's upper body with both Fourier hands, as an ``MjSpec`` to compile or attach into a scene."""
    path = asset_path(ROBOSUITE, "robots/gr1/robot.xml")
    spec = mujoco.MjSpec.from_file(str(path))
    absolute_files(spec, path.parent)
    if fast_visuals:
        full, fast = asset_path(ROBOSUITE, BODY_MESHES).resolve(), asset_path(ROBOSUITE, fast_folder(BODY_MESHES))
        for mesh in spec.meshes:
            if Path(mesh.file).parent == full:
                mesh.file = str(fast / Path(mesh.file).name)
    spec.compiler.degree = False
    for joint in list(spec.body("base").joints):  # the free joint: GR1 stands where the scene puts it
        delete_element(spec, joint)
    for geom in [g for g in spec.worldbody.geoms if g.name == "floor"]:  # the scene brings its own floor
        delete_element(spec, geom)
    delete_element(spec, spec.body("lower_body"))  # the upper body only: it stands on the scene's pedestal
    kept = {j for side in SIDES for j in ARM_JOINTS[side]} | (set(WAIST_JOINTS) if waist else set())
    for joint in list(spec.joints):
        if joint.name not in kept:  # legs (and waist, head): rigid
            delete_element(spec, joint)
    for actuator in list(spec.actuators):
        delete_element(spec, actuator)
    for side in SIDES:
        for i, name in enumerate(ARM_JOINTS[side]):
            joint = spec.joint(name)
            joint.armature = ARM_ARMATURE
            _servo(spec, f"{name}_servo", name, ARM_KP[i], ARM_KV[i], joint.range, ARM_TORQUE[i])
        for body in _subtree(spec.body(f"{side}_arm_mount")):
            body.gravcomp = 1.0
        _attach_hand(spec, side)
    for site in spec.sites:  # reference frames (some drawn as long coloured sticks): not in pictures
        site.group = SITE_GROUP
    for name in WAIST_JOINTS if waist else ():
        _servo(spec, f"{name}_servo", name, 400.0, 20.0, spec.joint(name).range, 80.0)
        spec.joint(name).armature = ARM_ARMATURE
    return spec


def _attach_hand(spec: mujoco.MjSpec, side: str) -> None:
    path = asset_path(ROBOSUITE, f"grippers/fourier_{side}_hand.xml")
    hand = mujoco.MjSpec.from_file(str(path))
    absolute_files(hand, path.parent)
    hand.compiler.degree = False
    for actuator in list(hand.actuators):  # one motor per joint: replaced by the hand's 6 actuators below
        delete_element(hand, actuator)
    for body in _subtree(hand.body(f"{side}_hand")):
        body.gravcomp = 1.0
    names = {geom.name for geom in hand.geoms}
    for geom in hand.geoms:  # a link's collision geom draws the same mesh file as its visual twin: not drawn
        if geom.name.endswith("_col") and f"{geom.name[:-4]}_vis" in names:
            geom.group = COLLISION_GROUP
    hand.body("eef").add_site(name=PALM_SITE, pos=list(PALM_CENTER), size=[0.008, 0, 0], group=SITE_GROUP)
    spec.body(f"{side}_eef").add_frame().attach_body(hand.body(f"{side}_hand"), f"{side}_fourier_", "")
    for part in _subtree(spec.body(f"{side}_fourier_{side}_hand")):  # the hand sits on the wrist: no contacts
        for link in ("lower_arm_pitch", "hand_yaw", "hand_roll", "hand_pitch") if part.name else ():  # between them
            spec.add_exclude(bodyname1=part.name, bodyname2=f"{side[0]}_{link}")
    for digit, driven, coupled in DIGITS:
        joint = spec.joint(hand_joint(side, driven))
        _servo(spec, f"{side}_hand_{digit}", joint.name, HAND_KP, HAND_KV, joint.range, 10.0)
        if coupled is not None:
            follower = spec.joint(hand_joint(side, coupled))
            ratio = (follower.range[1] - follower.range[0]) / (joint.range[1] - joint.range[0])
            link = spec.add_equality(type=mujoco.mjtEq.mjEQ_JOINT, name1=follower.name, name2=joint.name)
            link.data[:5] = [0.0, ratio, 0.0, 0.0, 0.0]  # follower = ratio * driven
            link.solref = [0.01, 1.0]  # stiffer than the default (0.02): a linkage, not a spring
            link.solimp[:3] = [0.95, 0.99, 0.001]


def _servo(spec: mujoco.MjSpec, name: str, joint: str, kp: float, kv: float, ctrlrange, torque: float) -> None:
    """A position servo: force = kp (ctrl - q) - kv qdot, clamped to +-``torque``; ctrl in the joint's range."""
    actuator = spec.add_actuator(name=name, target=joint, trntype=mujoco.mjtTrn.mjTRN_JOINT)
    actuator.gaintype = mujoco.mjtGain.mjGAIN_FIXED
    actuator.gainprm[0] = kp
    actuator.biastype = mujoco.mjtBias.mjBIAS_AFFINE
    actuator.biasprm[:3] = [0.0, -kp, -kv]
    actuator.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
    actuator.ctrlrange = list(ctrlrange)
    actuator.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
    actuator.forcerange = [-torque, torque]


def _subtree(body: mujoco.MjsBody) -> list[mujoco.MjsBody]:
    found, stack = [], [body]
    while stack:
        b = stack.pop()
        found.append(b)
        stack.extend(b.bodies)
    return found
