"""What never losing data costs: the output checks, locks, space checks and run identity of issue 14,
and the full `replay --check`, each against the physics it protects.

    python benchmarks/safety.py          # prints the section (run.py puts it in docs/benchmarks.md)
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import mujoco  # noqa: E402

import demoforge as df  # noqa: E402
from demoforge.data.hdf5 import demo_bytes  # noqa: E402
from demoforge.outputs import OutputFolder, check_output_file, ensure_space  # noqa: E402
from demoforge.rollout.replay import check_demo  # noqa: E402
from demoforge.runner.identity import run_identity  # noqa: E402
from demoforge.runner.run_folder import RunFolder, RunStats  # noqa: E402
from demoforge.sim.robot import PANDA  # noqa: E402
from demoforge.rollout.world import env_for_demo  # noqa: E402


def per_call_us(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm caches
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1e6


def raw_physics_s(demo: df.Demo) -> float:
    """Seconds of bare ``mj_step`` for this demo's physics (its stored controls replayed from its states)."""
    env = env_for_demo(demo, PANDA)
    total = 0.0
    for state in demo.states:
        env.set_state(state)
        start = time.perf_counter()
        mujoco.mj_step(env.model, env.data, nstep=env.substeps)
        total += time.perf_counter() - start
    return total


def bench_safety(work: Path, num_demos: int = 20) -> dict:
    """Time each safety operation, one generation run's share of them, and `replay --check` per demo."""
    source, _ = df.record_sources("stack", 10, work / "safety_src.hdf5", seed=0)
    cfg = df.GenerateConfig(task="stack", source=str(source), num_demos=num_demos, variation="D0", seed=0)
    run = RunFolder(work / "safety_run")
    start = time.perf_counter()
    stats = df.generate(cfg, run.path)
    gen_s = time.perf_counter() - start
    demos = df.read_demos(run.demos)
    result: dict = {"demos": len(demos), "attempts": stats.attempts, "attempt_ms": gen_s / stats.attempts * 1e3}
    folders = iter(range(10**6))

    def new_folder() -> None:
        with OutputFolder(work / f"f{next(folders)}", "run", "bench"):
            pass

    replaced = work / "overwrite_me"
    with OutputFolder(replaced, "run", "bench") as folder:
        RunFolder(folder).write_stats(RunStats())

    def overwrite_folder() -> None:
        with OutputFolder(replaced, "run", "bench", overwrite=True) as staging:
            RunFolder(staging).write_stats(RunStats())
    result["us"] = {
        "output file check (kind, existence, a real create in its folder)":
            per_call_us(lambda: check_output_file(work / "x.hdf5", overwrite=True), 200),
        "new run folder (checks, mkdir, lock, marker)": per_call_us(new_folder, 100),
        "--overwrite of a run folder (build beside, swap, remove the old)": per_call_us(overwrite_folder, 100),
        "free-space check before a demo is written (statvfs)":
            per_call_us(lambda: ensure_space(work, demo_bytes(demos[0])), 2000),
        "run identity (settings + SHA-256 of the 10-demo source file), once per worker":
            per_call_us(lambda: run_identity(cfg), 20),
    }
    # Per attempt, generation pays one space check for its shard and one more when it is merged.
    result["per_attempt_us"] = 2 * result["us"]["free-space check before a demo is written (statvfs)"]
    check_s, raw_s, steps = 0.0, 0.0, 0
    for demo in demos:
        start = time.perf_counter()
        outcome = check_demo(demo, "stack")
        check_s += time.perf_counter() - start
        assert outcome.ok, outcome
        raw_s += raw_physics_s(demo)
        steps += len(demo)
    result["check"] = {"demos": len(demos), "steps": steps, "seconds": check_s, "raw_s": raw_s,
                       "arrays": len(outcome.arrays)}
    return result


def safety_section(r: dict) -> str:
    """Markdown for the safety section."""
    c = r["check"]
    lines = [
        "## 8. What the data safety costs",
        "",
        "The promises of [reliability.md](reliability.md) on the stack task: each operation timed on its own (mean "
        "over repeats, this machine's disk), then set against the work it protects.",
        "",
        "| operation | us per call |",
        "|---|--:|",
        *(f"| {name} | {us:,.0f} |" for name, us in r["us"].items()),
        "",
        f"A generation attempt here takes {r['attempt_ms']:.0f} ms ({r['attempts']} attempts for {r['demos']} "
        f"demos, one process); its space checks add {r['per_attempt_us']:.0f} us, "
        f"{r['per_attempt_us'] / 1e3 / r['attempt_ms']:.3%} of it. The folder checks, lock and marker are paid once "
        "per command.",
        "",
        f"`replay --check` of {c['demos']} demos ({c['steps']} steps), comparing {c['arrays']} arrays per demo: "
        f"{c['seconds'] / c['demos'] * 1e3:.0f} ms per demo, {c['steps'] / c['seconds']:,.0f} steps/s, "
        f"{c['seconds'] / c['raw_s']:.2f}x the raw `mj_step` time of the same physics.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="demoforge_safety_") as tmp:
        print(safety_section(bench_safety(Path(tmp))))
