"""A cooktop set on a counter: black glass with burners, and knobs that turn.

The Franka Kitchen's oven is a 1.6 m range made for a robot standing higher than demoforge's counters, so
the kitchen's stove is built here from primitives at real sizes: a 60 cm cooktop with four burners, or a
30 cm "domino" with two, 52 cm deep. Its knobs sit on the glass along the front edge, each on a vertical
hinge (0 off, up to 270 degrees on) with enough friction to stay where a hand leaves it, so a gripper
coming down over a knob turns it with its wrist. The frame is the appliances' (sim/appliances.py): origin
at the centre of the base, z up, the front facing -y. Knob ``i`` is body ``knob_<i>`` on joint
``knob_<i>_hinge``, counted from the left seen from the front.
"""

from __future__ import annotations

import mujoco

WORLD_CONTYPE, WORLD_CONAFFINITY = 1, 3  # as sim/scene.py: world geoms touch everything
DEPTH_HALF = 0.26
THICKNESS_HALF = 0.006
KNOB_TURN = 4.71  # radians from off to full on
GLASS = (0.05, 0.05, 0.06, 1.0)
RING = (0.32, 0.32, 0.34, 1.0)
KNOB = (0.78, 0.79, 0.8, 1.0)
MARK = (0.85, 0.15, 0.1, 1.0)


def stove_size(burners: int) -> tuple[float, float, float]:
    """Half extents of a cooktop with ``burners`` (2 or 4), knobs included."""
    return (0.15 if burners == 2 else 0.3), DEPTH_HALF, 0.03


def stove_spec(burners: int) -> mujoco.MjSpec:
    """A cooktop with ``burners`` (2 or 4) and as many knobs, as a model of its own (root body ``stove``)."""
    if burners not in (2, 4):
        raise ValueError(f"a stove has 2 or 4 burners, not {burners}")
    spec = mujoco.MjSpec()
    spec.compiler.degree = False  # joint ranges in radians
    half_x = stove_size(burners)[0]
    root = spec.worldbody.add_body(name="stove")
    flat = dict(contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY)
    top = 2 * THICKNESS_HALF
    root.add_geom(name="glass", type=mujoco.mjtGeom.mjGEOM_BOX, size=[half_x, DEPTH_HALF, THICKNESS_HALF],
                  pos=[0.0, 0.0, THICKNESS_HALF], rgba=list(GLASS), **flat)
    columns = (0.0,) if burners == 2 else (-0.15, 0.15)
    for i, (x, y) in enumerate((x, y) for x in columns for y in (-0.05, 0.14)):
        radius = 0.09 if y < 0 else 0.075  # a large burner at the front, a smaller one behind
        for part, r, rgba in (("ring", radius, RING), ("centre", radius - 0.012, GLASS)):
            root.add_geom(name=f"burner_{i}_{part}", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[r, 0.0008, 0.0],
                          pos=[x, y, top + (0.0008 if part == "ring" else 0.0012)], rgba=list(rgba),
                          contype=0, conaffinity=0)
    spacing = 2 * half_x / burners
    for i in range(burners):
        # 1.5 mm above the glass: the stove is welded to the world, so MuJoCo would let the two touch and rub
        knob = root.add_body(name=f"knob_{i}", pos=[-half_x + spacing * (i + 0.5), -DEPTH_HALF + 0.045, top + 0.0015])
        hinge = knob.add_joint(name=f"knob_{i}_hinge", type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0.0, 0.0, 1.0],
                               range=[0.0, KNOB_TURN], damping=0.05, frictionloss=0.02, armature=0.0005)
        hinge.limited = mujoco.mjtLimited.mjLIMITED_TRUE
        knob.add_geom(name=f"knob_{i}_base", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[0.022, 0.006, 0.0],
                      pos=[0.0, 0.0, 0.006], rgba=list(KNOB), mass=0.02, **flat)
        knob.add_geom(name=f"knob_{i}_grip", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.007, 0.019, 0.011],
                      pos=[0.0, 0.0, 0.023], rgba=list(KNOB), mass=0.01, **flat)
        knob.add_geom(name=f"knob_{i}_mark", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.0025, 0.004, 0.0008],
                      pos=[0.0, -0.016, 0.0342], rgba=list(MARK), contype=0, conaffinity=0, mass=0.0)
    return spec
