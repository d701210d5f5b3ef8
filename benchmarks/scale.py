"""Scale benchmarks: generation with 1..N local workers, the Ray executor, worker memory, resume."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import demoforge as df
from demoforge.runner.local import generate
from demoforge.runner.pool import default_workers
from demoforge.runner.run_folder import RunFolder
from demoforge.runner.shards import finished_attempts


def _config(source: Path, attempts: int) -> df.GenerateConfig:
    return df.GenerateConfig(
        task="stack", source=str(source), num_demos=attempts, max_attempts=attempts, variation="D1", seed=0
    )


def bench_scale(work: Path, attempts: int) -> dict:
    """attempts/s of the same stack D1 job (fixed attempt count) per executor and worker count."""
    source, _ = df.record_sources("stack", 10, work / "scale_sources.hdf5", seed=0)
    cfg = _config(source, attempts)
    rows = []
    for workers in sorted({1, 2, default_workers()}):
        start = time.perf_counter()
        stats = generate(cfg, work / f"scale_local_{workers}", workers=workers)
        rows.append({"executor": "local", "workers": workers, "seconds": time.perf_counter() - start, "stats": stats})
    peak_worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    result = {"attempts": attempts, "rows": rows, "peak_worker_mb": peak_worker_mb, "ray": None}
    try:
        import ray
    except ImportError:
        ray = None
    if ray is not None:
        start = time.perf_counter()
        ray.init(num_cpus=default_workers(), include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - start
        start = time.perf_counter()
        stats = generate(cfg, work / "scale_ray", workers=default_workers(), executor="ray")
        rows.append({"executor": "ray", "workers": default_workers(), "seconds": time.perf_counter() - start, "stats": stats})
        ray.shutdown()
        result["ray"] = {"init_s": ray_start}
    result["resume"] = bench_resume(source, work, attempts)
    return result


def bench_resume(source: Path, work: Path, attempts: int) -> dict:
    """Kill a CLI run (SIGKILL, whole process group) half-way, then time ``--resume`` to the end."""
    out = work / "scale_resume"
    shards = RunFolder(out).shards
    args = [
        sys.executable, "-m", "demoforge.cli", "generate", "--task", "stack", "--source", str(source),
        "--num-demos", str(attempts), "--max-attempts", str(attempts), "--variation", "D1", "--out", str(out),
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while len(list(shards.glob("attempt_*.hdf5"))) < attempts // 2 and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    start = time.perf_counter()
    kept = len(finished_attempts(shards))
    scan_ms = 1e3 * (time.perf_counter() - start)
    start = time.perf_counter()
    stats = generate(_config(source, attempts), out, workers=default_workers(), resume=True)
    return {"kept": kept, "scan_ms": scan_ms, "seconds": time.perf_counter() - start, "attempts": stats.attempts}


def scale_section(r: dict) -> str:
    """Markdown for section 6."""
    base = r["rows"][0]
    base_rate = base["stats"].attempts / base["seconds"]
    lines = [
        "## 6. Scale",
        "",
        f"The same stack D1 job ({r['attempts']} attempts, 10 sources), wall time from the call to the merged "
        "dataset, so worker start-up (spawn, import, model compile: about 1-2 s) is included. Scaling efficiency = "
        "speed-up / workers. The datasets are identical in every row (tested).",
        "",
        "| executor | workers | seconds | attempts/s | speed-up | efficiency |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for row in r["rows"]:
        rate = row["stats"].attempts / row["seconds"]
        speedup = rate / base_rate
        lines.append(
            f"| {row['executor']} | {row['workers']} | {row['seconds']:.1f} | {rate:.1f} | {speedup:.2f} | "
            f"{speedup / row['workers']:.0%} |"
        )
    lines.append("")
    if r["ray"] is not None:
        local = next(x for x in r["rows"] if x["executor"] == "local" and x["workers"] == r["rows"][-1]["workers"])
        ray_row = r["rows"][-1]
        lines.append(
            f"Ray on this machine: starting a local Ray instance took {r['ray']['init_s']:.1f} s (not in the table); "
            f"the run itself took {ray_row['seconds'] / local['seconds']:.2f}x the local executor's time with the "
            "same workers (actor start-up, object transfer of each shard)."
        )
        lines.append("")
    res = r["resume"]
    lines += [
        f"Peak memory of the largest worker process: {r['peak_worker_mb']:.0f} MB (max RSS).",
        "",
        f"Resume: a run killed with SIGKILL half-way left {res['kept']} finished attempts; scanning them took "
        f"{res['scan_ms']:.0f} ms, and `--resume` finished the remaining {res['attempts'] - res['kept']} attempts and "
        f"the merge in {res['seconds']:.1f} s.",
        "",
    ]
    return "\n".join(lines)
