"""``pour``: pour a cup of small balls (standing in for water) into a bowl, then set the cup down on a coaster.

Physics decides this task: a tilt that starts too early, too fast or too far from the bowl throws
balls onto the table, and the attempt is thrown away ("spilled k of N particles"). The cup is taken
from the side (gripper horizontal, fingers across the cup) so that pouring is a roll of the wrist
about the approach axis, as a person pours.

Bodies: ``cup`` and ``target`` (the bowl) are open containers built from a ring of wall segments on
a disc floor, with their origin at the centre of the floor's underside; ``coaster`` is a flat disc;
the balls are free spheres ``particle_<i>``. All three containers are symmetric about z.
"""

from __future__ import annotations

import mujoco
import numpy as np

from demoforge import geometry as geo
from demoforge.sim.env import SimEnv
from demoforge.sim.scene import TABLE_TOP_Z, WORLD_CONAFFINITY, WORLD_CONTYPE, set_free_body_pose
from demoforge.tasks.base import ExpertStream, Subtask, Task, box_placement
from demoforge.tasks.motion import Motion
from demoforge.tasks.objects import add_free_body

NUM_PARTICLES = 60
PARTICLE_NAMES = tuple(f"particle_{i}" for i in range(NUM_PARTICLES))
PARTICLE_RADIUS = 0.0055
PARTICLE_DENSITY = 1000.0  # water
PARTICLE_DRAG = 0.004  # N s/m on each ball: viscosity, so a pour flows instead of shooting out
PARTICLE_FRICTION = (0.0, 0.0, 0.0)  # frictionless (condim 1, and they decide their contacts): a coarse liquid

CUP_RADIUS = 0.025  # inner (outer diameter 5.8 cm: 1.1 cm to spare each side in the open gripper)
CUP_WALL = 0.004
CUP_HEIGHT = 0.09
CUP_FLOOR = 0.006
BOWL_RADIUS = 0.065  # inner
BOWL_WALL = 0.006
BOWL_HEIGHT = 0.05
BOWL_FLOOR = 0.008
COASTER_RADIUS = 0.045
COASTER_HALF_H = 0.003

CUP_RGBA = (0.92, 0.92, 0.95, 0.45)  # translucent, so the balls are visible inside
BOWL_RGBA = (0.25, 0.45, 0.8, 1)
COASTER_RGBA = (0.55, 0.35, 0.2, 1)
PARTICLE_RGBA = (0.2, 0.55, 0.95, 1)

SETTLE_STEPS = 12  # control steps of settling after a reset
SUCCESS_SHARE = 0.9  # of the particles inside the bowl at the end
UPRIGHT_COS = np.cos(np.deg2rad(20))
# Side grasp, hand level: approach APPROACH (forward-right, where the Panda's wrist has room to roll
# both ways), fingers closing along POUR, the hand's x pointing down. Rolling the wrist by -angle
# about APPROACH tips the cup's mouth toward +POUR.
APPROACH = np.array([np.sqrt(0.5), -np.sqrt(0.5), 0.0])
POUR = np.array([np.sqrt(0.5), np.sqrt(0.5), 0.0])
GRIPPER_SIDE = np.stack([[0.0, 0.0, -1.0], POUR, APPROACH], axis=1)
GRASP_HEIGHT = 0.055  # above the cup's underside
GRASP_DEPTH = 0.018  # tool point past the cup axis: the pads close on its widest chord, not behind it


def add_container(
    spec: mujoco.MjSpec, name: str, radius: float, wall: float, height: float, floor: float, rgba: tuple,
    segments: int, density: float,
) -> mujoco.MjsBody:
    """An open cylinder: ``segments`` box walls around a disc floor; origin at the floor's underside."""
    body = add_free_body(spec, name)
    common = dict(rgba=list(rgba), contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY, condim=4,
                  friction=[1.0, 0.005, 0.0001], density=density)
    body.add_geom(name=f"{name}_floor", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[radius + wall, floor / 2, 0],
                  pos=[0, 0, floor / 2], **common)
    mid = radius + wall / 2
    half_len = mid * np.tan(np.pi / segments) + wall / 2  # segments overlap at the joints: no gaps
    for i in range(segments):
        angle = 2 * np.pi * i / segments
        body.add_geom(
            name=f"{name}_wall{i}", type=mujoco.mjtGeom.mjGEOM_BOX, size=[wall / 2, half_len, height / 2],
            pos=[mid * np.cos(angle), mid * np.sin(angle), height / 2], quat=list(geo.mat_to_quat(geo.yaw_mat(angle))),
            **common,
        )
    return body


def add_particles(spec: mujoco.MjSpec, count: int) -> None:
    for i in range(count):
        body = spec.worldbody.add_body(name=f"particle_{i}")
        joint = body.add_freejoint(name=f"particle_{i}_joint")
        try:
            joint.damping = PARTICLE_DRAG  # MuJoCo 3.x: a number
        except TypeError:
            joint.damping = [PARTICLE_DRAG, 0.0, 0.0]  # MuJoCo 4: linear term, then polynomial terms
        body.pos = [0.0, 0.6 + 0.02 * i, TABLE_TOP_Z + 0.5]
        body.add_geom(
            name=f"particle_{i}_geom", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[PARTICLE_RADIUS, 0, 0],
            rgba=list(PARTICLE_RGBA), density=PARTICLE_DENSITY, friction=list(PARTICLE_FRICTION), condim=1,
            priority=1, solref=[0.005, 1.5], contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY,
        )


def container_size(env: SimEnv, name: str) -> tuple[float, float]:
    """Inner radius and wall height of a container as simulated (read from its first wall segment)."""
    wall = env.model.geom(f"{name}_wall0")
    return float(np.hypot(*wall.pos[:2]) - wall.size[0]), float(2 * wall.size[2])


def container_floor(env: SimEnv, name: str) -> float:
    """Floor thickness of a container as simulated: where its inside begins above its origin."""
    return float(2 * env.model.geom(f"{name}_floor").size[1])


def contact_solver(version: str) -> mujoco.mjtSolver:
    """Conjugate gradient on MuJoCo 4: with hundreds of ball contacts it is faster than Newton's dense steps.

    MuJoCo 3.x's CG stops at its iteration limit on this scene, and its result then depends on solver
    memory outside the saved state, so a demo would not replay from its stored states. Newton converges
    there in one iteration, and a replay reaches the same outcome (states agree to about 1e-18 per step,
    which the ball pile grows over an episode).
    """
    return mujoco.mjtSolver.mjSOL_CG if int(version.split(".")[0]) >= 4 else mujoco.mjtSolver.mjSOL_NEWTON


def particle_grid(count: int, radius: float, floor: float) -> np.ndarray:
    """(count, 3) start positions inside a cup of inner ``radius`` (cup frame): loose hexagonal layers, bottom up."""
    spacing = 2.05 * PARTICLE_RADIUS
    reach = radius - PARTICLE_RADIUS - 0.001
    layer = [
        (x, y)
        for row in range(-4, 5)
        for x in [(col + 0.5 * (row % 2)) * spacing for col in range(-4, 5)]
        for y in [row * spacing * np.sqrt(3) / 2]
        if x * x + y * y <= reach * reach
    ]
    points = [
        (x, y, floor + PARTICLE_RADIUS + 0.0005 + level * spacing)
        for level in range(count // len(layer) + 1)
        for x, y in layer
    ]
    return np.array(points[:count])


class Pour(Task):
    name = "pour"
    description = "pour the balls from the cup into the bowl, then put the cup on the coaster"
    objects = ("cup", "target", "coaster")
    subtasks = (
        Subtask("grasp_cup", object="cup", signal="grasp_cup"),
        Subtask("pour_into_target", object="target", signal="poured", held="cup"),
        Subtask("place_on_coaster", object="coaster", signal=None, held="cup", anchor="top"),
    )
    variations = {
        "D0": {
            "cup": box_placement(0.48, -0.17, 0.03, 0.03, yaw=(0.0, 0.0)),
            "target": box_placement(0.62, 0.06, 0.03, 0.03, yaw=(0.0, 0.0)),
            "coaster": box_placement(0.4, 0.1, 0.03, 0.03, yaw=(0.0, 0.0)),
        },
        "D1": {
            "cup": box_placement(0.48, -0.17, 0.07, 0.06, yaw=(-np.pi, np.pi)),
            "target": box_placement(0.62, 0.06, 0.06, 0.07, yaw=(-np.pi, np.pi)),
            "coaster": box_placement(0.4, 0.12, 0.05, 0.06, yaw=(-np.pi, np.pi)),
        },
        "D2": {
            "cup": box_placement(0.5, -0.17, 0.1, 0.09, yaw=(-np.pi, np.pi)),
            "target": box_placement(0.62, 0.06, 0.08, 0.1, yaw=(-np.pi, np.pi)),
            "coaster": box_placement(0.42, 0.14, 0.07, 0.08, yaw=(-np.pi, np.pi)),
        },
    }
    symmetry = {"cup": 0, "target": 0, "coaster": 0}
    scalable = {"cup": "vessel", "target": "vessel"}  # scenes vary cups and bowls; sizes are read from the model
    bowl_radius = BOWL_RADIUS  # inner; the task reads sizes back from the model, so a variant may change it
    cup_height, cup_density = CUP_HEIGHT, 300.0  # likewise (gr1_pour's glass is taller and heavier)
    min_separation = 0.17
    max_steps = 700
    demo_variation = "D2"  # placements wide enough that a few generated pours spill, so the demo shows one

    def build(self, spec: mujoco.MjSpec) -> None:
        spec.option.solver = contact_solver(mujoco.__version__)
        add_container(spec, "cup", CUP_RADIUS, CUP_WALL, self.cup_height, CUP_FLOOR, CUP_RGBA, 16, self.cup_density)
        add_container(spec, "target", self.bowl_radius, BOWL_WALL, BOWL_HEIGHT, BOWL_FLOOR, BOWL_RGBA, 24, 2000.0)
        coaster = add_free_body(spec, "coaster")
        coaster.add_geom(
            name="coaster_geom", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[COASTER_RADIUS, COASTER_HALF_H, 0],
            rgba=list(COASTER_RGBA), density=3000.0, contype=WORLD_CONTYPE, conaffinity=WORLD_CONAFFINITY, condim=4,
        )
        add_particles(spec, NUM_PARTICLES)

    # ---- state ---------------------------------------------------------------------------------
    def particle_positions(self, env: SimEnv) -> np.ndarray:
        return env.data.xpos[env.body_ids(PARTICLE_NAMES)]

    def _inside(self, env: SimEnv, container: str, radius: float, height: float) -> np.ndarray:
        """Which particles are inside an upright-or-tilted container (in its frame: within radius and height)."""
        pose = env.body_pose(container)
        local = (self.particle_positions(env) - pose[:3, 3]) @ pose[:3, :3]
        return (np.hypot(local[:, 0], local[:, 1]) < radius) & (local[:, 2] > 0) & (local[:, 2] < height + 0.01)

    def in_cup(self, env: SimEnv) -> np.ndarray:
        return self._inside(env, "cup", *container_size(env, "cup"))

    def in_target(self, env: SimEnv) -> np.ndarray:
        return self._inside(env, "target", *container_size(env, "target"))

    def spilled(self, env: SimEnv) -> int:
        """Particles neither in the cup nor in the bowl, and down at the height of the table (they landed)."""
        low = self.particle_positions(env)[:, 2] < env.table_z + 0.03
        return int(np.sum(low & ~self.in_cup(env) & ~self.in_target(env)))

    def cup_upright(self, env: SimEnv) -> bool:
        return bool(env.body_pose("cup")[2, 2] > UPRIGHT_COS)

    def cup_held(self, env: SimEnv) -> bool:
        """Any finger (or the palm) still touches the cup."""
        return env.in_contact(env.finger_geom_ids, env.body_geoms("cup"))

    # ---- task protocol -------------------------------------------------------------------------
    def reset(self, env: SimEnv, rng: np.random.Generator, variation: str = "D0") -> None:
        """Containers placed by ``variation``; the balls start in loose layers in the cup and settle."""
        super().reset(env, rng, variation)
        cup = env.body_pose("cup")
        jitter = rng.uniform(-0.0008, 0.0008, (NUM_PARTICLES, 2))
        grid = particle_grid(NUM_PARTICLES, container_size(env, "cup")[0], container_floor(env, "cup"))
        for i, local in enumerate(grid):
            local = local + [jitter[i, 0], jitter[i, 1], 0.0]
            set_free_body_pose(env.model, env.data, PARTICLE_NAMES[i], geo.make_pose(cup[:3, :3] @ local + cup[:3, 3]))
        hold = env.eef_pose()
        for _ in range(SETTLE_STEPS):  # the balls drop into a heap before the episode starts
            env.apply_target(hold, -1.0)
            env.step_physics()

    def signals(self, env: SimEnv) -> dict[str, bool]:
        out_of_cup = np.mean(~self.in_cup(env)) >= SUCCESS_SHARE
        return {"grasp_cup": env.is_grasping("cup"), "poured": bool(out_of_cup and self.cup_upright(env))}

    def success(self, env: SimEnv) -> bool:
        """At least 90% of the balls in the bowl, the cup upright and let go of."""
        share = float(np.mean(self.in_target(env)))
        return share >= SUCCESS_SHARE and self.cup_upright(env) and not self.cup_held(env)

    def failure_reason(self, env: SimEnv) -> str:
        spilled = self.spilled(env)
        if spilled > (1 - SUCCESS_SHARE) * NUM_PARTICLES:
            return f"spilled {spilled} of {NUM_PARTICLES} particles"
        reasons = []
        poured = int(np.sum(self.in_target(env)))
        if poured < SUCCESS_SHARE * NUM_PARTICLES:
            reasons.append(f"{poured} of {NUM_PARTICLES} particles in the bowl")
        if not self.cup_upright(env):
            reasons.append("cup not upright")
        if self.cup_held(env):
            reasons.append("cup still held")
        return ", ".join(reasons)

    def expert(self, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        motion = Motion(env, rng)
        yield from self._grasp(motion, env, rng)
        yield from self._pour(motion, env, rng)
        yield from self._place(motion, env, rng)

    def _grasp(self, motion: Motion, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Turn the hand sideways behind the cup, slide the fingers around it, close, lift."""
        cup = env.body_pose("cup")[:3, 3]
        grasp = geo.make_pose(cup + [0.0, 0.0, GRASP_HEIGHT] + GRASP_DEPTH * APPROACH, GRIPPER_SIDE)
        behind = grasp.copy()
        behind[:3, 3] -= float(rng.uniform(0.08, 0.11)) * APPROACH
        above = behind.copy()
        above[2, 3] += float(rng.uniform(0.06, 0.1))
        yield from motion.move(above)
        yield from motion.move(behind, speed=0.6)
        yield from motion.settle()
        yield from motion.move(grasp, speed=0.4, precise=True)
        yield from motion.grip(1.0, steps=int(rng.integers(8, 12)))
        yield from motion.lift(float(rng.uniform(0.1, 0.13)), speed=0.5)

    def _pour(self, motion: Motion, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Bring the cup beside the bowl's centre, tilt it over the bowl, hold until empty, tilt back."""
        bowl = env.body_pose("target")[:3, 3]
        cup_radius, cup_height = container_size(env, "cup")
        bowl_height = container_size(env, "target")[1]
        lip_short = float(rng.uniform(0.025, 0.04))  # the lip stops this far short of the bowl centre
        height = bowl_height + float(rng.uniform(0.012, 0.025))  # cup underside above the bowl's underside
        cup_goal = bowl + [0.0, 0.0, height] - (cup_radius + lip_short) * POUR
        level = _holding(env, cup_goal)
        yield from motion.move(level, speed=0.6)
        yield from motion.pause(int(rng.integers(2, 6)))
        angle = -float(rng.uniform(np.deg2rad(100), np.deg2rad(112)))
        lip = cup_goal + cup_radius * POUR + [0.0, 0.0, cup_height]  # the lip on the bowl's side
        lip_low = bowl - lip_short * POUR + [0.0, 0.0, bowl_height + float(rng.uniform(0.07, 0.09))]
        for fraction, speed in ((0.45, 0.5), (1.0, float(rng.uniform(0.2, 0.35)))):
            pivot = lip + fraction * (lip_low - lip)
            yield from motion.move(_tilted(level, lip, pivot, fraction * angle), speed=speed, precise=True)
            if rng.random() < 0.5:  # a hesitation on the way, as a person checks the flow
                yield from motion.pause(int(rng.integers(2, 5)))
        yield from motion.pause(int(rng.integers(16, 24)))
        yield from motion.move(level, speed=0.6, precise=True)

    def _place(self, motion: Motion, env: SimEnv, rng: np.random.Generator) -> ExpertStream:
        """Carry the cup over the coaster, lower it onto it, open, and back the hand out."""
        coaster = env.body_pose("coaster")[:3, 3]
        on_coaster = _holding(env, coaster + [0.0, 0.0, 2 * COASTER_HALF_H + 0.004])
        over = on_coaster.copy()
        over[2, 3] += float(rng.uniform(0.04, 0.07))
        yield from motion.move(over, speed=0.7)
        yield from motion.move(on_coaster, speed=0.35, precise=True)
        yield from motion.grip(-1.0)
        yield from motion.lift(float(rng.uniform(0.06, 0.08)), speed=0.4)  # fingers up past the rim first
        back = motion.target.copy()
        back[:3, 3] -= float(rng.uniform(0.08, 0.11)) * APPROACH
        yield from motion.move(back, speed=0.6)
        yield from motion.pause(int(rng.integers(3, 8)))


def _holding(env: SimEnv, cup_at: np.ndarray) -> np.ndarray:
    """Level side-grasp hand pose that brings the held cup's origin to ``cup_at`` (world)."""
    offset = env.eef_pose()[:3, 3] - env.body_pose("cup")[:3, 3]
    return geo.make_pose(cup_at + offset, GRIPPER_SIDE)


def _tilted(level: np.ndarray, lip: np.ndarray, pivot: np.ndarray, angle: float, axis: np.ndarray = APPROACH) -> np.ndarray:
    """``level`` (an eef pose holding the cup upright) rolled by ``angle`` about ``axis`` through the cup's
    ``lip``, with the lip then moved to ``pivot``: a person tips a cup over its lip and lowers the lip."""
    roll = geo.make_pose(np.zeros(3), geo.axisangle_to_mat(angle * np.asarray(axis)))
    return geo.make_pose(pivot) @ roll @ geo.make_pose(-lip) @ level
