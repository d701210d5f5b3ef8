"""Dexterous-hand building blocks for scripted experts: hand shapes and palm-placed wrist poses.

A hand's end-effector command is one target per actuator, normalised to [-1, 1] over its range (-1
open). A person grasps by shaping the hand first and closing it on the object; the shapes here are
such targets for GR1's Fourier hand (actuators: thumb_yaw, thumb_pitch, index, middle, ring, pinky).
Fingers stopped by an object keep pressing toward their target: that pressure is the grip.
"""

from __future__ import annotations

import numpy as np

from demoforge import geometry as geo
from demoforge.sim.gr1 import FINGERS_IN_EEF, PALM_NORMAL_IN_EEF

OPEN = np.full(6, -1.0)  # every digit straight, the thumb beside the palm
PRESS = np.array([-1.0, -1.0, 0.2, 0.2, 0.2, 0.2])  # palm on a face, fingers bent round its far edge (a box)
WRAP = np.array([0.4, 0.0, 0.5, 0.5, 0.5, 0.5])  # thumb across, fingers round a cylinder (a cup, a can)
CLASP = np.array([-0.2, -0.2, 0.5, 0.5, 0.5, 0.5])  # fingers round a glass, the thumb beside it (not over the mouth)
HOOK = np.array([0.6, 0.4, 0.5, 0.5, 0.5, 0.5])  # from above: fingers over a bar's front, thumb down behind it


def world_R_eef(fingers: np.ndarray, palm_normal: np.ndarray) -> np.ndarray:
    """The end-effector rotation that points the fingers along ``fingers`` and the palm at ``palm_normal``
    (world directions; the normal is made perpendicular to the fingers)."""
    f = np.asarray(fingers, dtype=float)
    f = f / np.linalg.norm(f)
    n = np.asarray(palm_normal, dtype=float) - f * float(np.dot(palm_normal, f))
    n = n / np.linalg.norm(n)
    y_eef, z_eef = f * FINGERS_IN_EEF[1], n * PALM_NORMAL_IN_EEF[2]  # the fingers lie along -y, the palm faces +z
    return np.column_stack([np.cross(y_eef, z_eef), y_eef, z_eef])


def palm_at(world_p_palm: np.ndarray, fingers: np.ndarray, palm_normal: np.ndarray, depth: float = 0.0) -> np.ndarray:
    """``world_T_eef`` that puts the centre of the palm's face at ``world_p_palm`` (pushed ``depth`` metres
    further along the palm's normal: a squeeze), fingers along ``fingers``."""
    rot = world_R_eef(fingers, palm_normal)  # the end-effector site is the palm's centre
    return geo.make_pose(np.asarray(world_p_palm, dtype=float) + depth * rot[:, 2], rot)


def side_grasp(world_p_axis: np.ndarray, fingers: np.ndarray, palm_normal: np.ndarray, radius: float,
               back: float = 0.03, depth: float = 0.01) -> np.ndarray:
    """``world_T_eef`` of a power grasp from the side: the palm against an upright object whose axis passes
    through ``world_p_axis`` (at the grasp height), ``radius`` from it, pressing ``depth`` metres in; the
    palm's centre ``back`` metres behind the axis along the fingers, so the fingers close round its far side."""
    f = np.asarray(fingers, dtype=float) / np.linalg.norm(fingers)
    n = np.asarray(palm_normal, dtype=float) / np.linalg.norm(palm_normal)
    return palm_at(np.asarray(world_p_axis, dtype=float) - radius * n - back * f, f, n, depth)
