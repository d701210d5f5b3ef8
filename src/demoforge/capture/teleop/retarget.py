"""A person's hand (the 25 WebXR hand joints) -> a dexterous robot hand's 6 actuator targets.

The robot hands demoforge drives (GR1's Fourier hands) have one actuator per digit and a second for the
thumb: thumb rotation across the palm, thumb bend, index, middle, ring, pinky; each finger's further joints
follow its first by a linkage. So a person's hand is read as six fractions in [0, 1] (0 open):

- a finger's curl: the bend at its knuckle (metacarpal to proximal phalanx) plus at its middle joint
  (proximal to intermediate phalanx), over a full curl of 90 + 100 degrees;
- the thumb's bend: the same over its two joints, over 50 + 70 degrees;
- the thumb's rotation across the palm: how near its tip comes to the little finger's knuckle, in units of
  the hand's size (wrist to index knuckle): 1.35 and farther is 0, 0.75 and nearer is 1.

Angles between bones and ratios of distances do not change with where the hand is, how it is turned,
or which hand it is, so either hand and any tracking origin give the same fractions. Each fraction maps
linearly onto its actuator's range (``targets``).
"""

from __future__ import annotations

import numpy as np

DIGITS = ("thumb_yaw", "thumb_pitch", "index", "middle", "ring", "pinky")
# WebXR XRHand joint indices: wrist, then per digit metacarpal, proximal, (intermediate,) distal, tip.
WRIST, THUMB_METACARPAL, THUMB_TIP = 0, 1, 4
FINGER_METACARPAL = {"index": 5, "middle": 10, "ring": 15, "pinky": 20}
INDEX_KNUCKLE, PINKY_KNUCKLE = 6, 21
FULL_CURL = np.radians(90.0 + 100.0)
FULL_THUMB_BEND = np.radians(50.0 + 70.0)
THUMB_OPEN, THUMB_ACROSS = 1.35, 0.75  # thumb tip to little-finger knuckle, in hand sizes


def _bend(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """The angle (rad) by which the bone b->c turns away from the bone a->b (0: in line)."""
    u, v = b - a, c - b
    cos = float(u @ v) / (float(np.linalg.norm(u) * np.linalg.norm(v)) or 1.0)
    return float(np.arccos(np.clip(cos, -1.0, 1.0)))


def fractions(joint_positions: np.ndarray) -> np.ndarray:
    """Six fractions in [0, 1] (``DIGITS`` order) from the 25 joint positions (any frame, metres)."""
    p = np.asarray(joint_positions, dtype=float)
    if p.shape != (25, 3) or not np.isfinite(p).all():
        raise ValueError(f"expected 25 finite joint positions (25, 3), got {p.shape}")
    out = np.empty(6)
    size = float(np.linalg.norm(p[INDEX_KNUCKLE] - p[WRIST])) or 1.0
    reach = float(np.linalg.norm(p[THUMB_TIP] - p[PINKY_KNUCKLE])) / size
    out[0] = (THUMB_OPEN - reach) / (THUMB_OPEN - THUMB_ACROSS)
    t = THUMB_METACARPAL
    out[1] = (_bend(p[t], p[t + 1], p[t + 2]) + _bend(p[t + 1], p[t + 2], p[t + 3])) / FULL_THUMB_BEND
    for k, finger in enumerate(DIGITS[2:], start=2):
        m = FINGER_METACARPAL[finger]
        out[k] = (_bend(p[m], p[m + 1], p[m + 2]) + _bend(p[m + 1], p[m + 2], p[m + 3])) / FULL_CURL
    return np.clip(out, 0.0, 1.0)


def targets(joint_positions: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """Actuator targets for a hand whose 6 actuators (``DIGITS`` order) span ``ranges`` (6, 2): open at the
    first bound, closed at the second."""
    ranges = np.asarray(ranges, dtype=float)
    f = fractions(joint_positions)
    return ranges[:, 0] + f * (ranges[:, 1] - ranges[:, 0])
