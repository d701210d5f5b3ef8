"""The whole comparison in one call: policies trained on the source demos alone versus on generated data.

For each dataset (the sources, then ``generated`` demos made from them, one set per evaluation
variation as MimicGen does) and each training seed: train, then evaluate on every variation. Every
stage writes its result to ``out`` and is skipped when that result exists, so an interrupted study
resumes where it stopped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from demoforge import machine
from demoforge.capture.scripted import record_sources
from demoforge.learn.evaluate import evaluate
from demoforge.learn.train import TrainConfig, train
from demoforge.mimic.generate import GenerateConfig
from demoforge.runner.local import generate
from demoforge.tasks import get_task

# MimicGen (CoRL 2023), image BC-RNN, 3 seeds: policy success with 10 source demos / 1000 generated (D0).
MIMICGEN_POLICY = {"stack": (0.260, 1.000), "stack_three": (0.007, 0.927), "square": (0.113, 0.907)}


class StudyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str = "stack"
    sources: int = Field(10, ge=1, description="source demos (scripted, recorded in D0)")
    generated: list[int] = Field(default_factory=lambda: [100, 1000], description="generated dataset sizes")
    seeds: int = Field(3, ge=1, description="training seeds per dataset")
    variations: list[str] = Field(default_factory=lambda: ["D0", "D1"])
    episodes: int = Field(50, ge=1, description="evaluation episodes per policy and variation")
    train_steps: int = Field(20_000, ge=1)
    workers: int | None = None
    seed: int = 0


Stage = Callable[[str], None]


def run_study(cfg: StudyConfig, out: str | Path, on_stage: Stage | None = None) -> dict:
    """Run (or resume) the study in ``out``; returns the results (also in ``out/results.json``)."""
    out = Path(out)
    task = get_task(cfg.task)
    for variation in cfg.variations:
        task.variation(variation)
    out.mkdir(parents=True, exist_ok=True)
    say = on_stage or (lambda text: None)
    start = time.perf_counter()
    source = out / "source.hdf5"
    if not source.exists():
        say(f"recording {cfg.sources} source demos")
        record_sources(cfg.task, cfg.sources, source, seed=cfg.seed)
    datasets: list[tuple[str, str, int, Path]] = [("source", "D0", cfg.sources, source)]
    for variation in cfg.variations:
        for n in cfg.generated:
            run = out / f"generated_{variation}_{n}"
            if not (run / "stats.json").exists():
                say(f"generating {n} demos ({variation})")
                gen = GenerateConfig(task=cfg.task, source=str(source), num_demos=n, variation=variation, seed=cfg.seed)
                generate(gen, run, workers=cfg.workers, resume=True)
            datasets.append(("generated", variation, n, run / "demos.hdf5"))
    rows = []
    for kind, data_variation, n, data in datasets:
        evaluated_on = cfg.variations if kind == "source" else [data_variation]
        for seed in range(cfg.seeds):
            policy = out / "policies" / f"{kind}_{data_variation}_{n}_seed{seed}"
            if not (policy / "policy.pt").exists():
                say(f"training on {kind} {n} ({data_variation}), seed {seed}")
                train(TrainConfig(data=str(data), steps=cfg.train_steps, seed=seed), policy, resume=True)
            for variation in evaluated_on:
                result_file = policy / f"eval_{variation}.json"
                if not result_file.exists():
                    say(f"evaluating {policy.name} on {variation}")
                    result, _ = evaluate(str(policy), cfg.task, variation, cfg.episodes, workers=cfg.workers or 1)
                    result_file.write_text(json.dumps(result.to_dict(), indent=2))
                rate = json.loads(result_file.read_text())["success_rate"]
                rows.append({"data": kind, "demos": n, "data_variation": data_variation, "seed": seed,
                             "eval_variation": variation, "success_rate": rate})
    results = {"config": cfg.model_dump(mode="json"), "rows": rows, "summary": summarise(rows),
               "seconds": time.perf_counter() - start, "machine": machine.describe()}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return results


def summarise(rows: list[dict]) -> list[dict]:
    """Mean and std of success over seeds, per (data, demos, evaluation variation)."""
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        groups.setdefault((row["data"], row["demos"], row["eval_variation"]), []).append(row["success_rate"])
    return [
        {"data": d, "demos": n, "eval_variation": v, "mean": float(np.mean(r)), "std": float(np.std(r)), "seeds": len(r)}
        for (d, n, v), r in groups.items()
    ]


def study_markdown(results: dict, command: str) -> str:
    """A docs page: the table (mean ± std over seeds), MimicGen's numbers beside it, and how it was made."""
    cfg = results["config"]
    ref = MIMICGEN_POLICY.get(cfg["task"])
    lines = [
        f"# Policies trained on generated data: {cfg['task']}",
        "",
        f"Command: `{command}`; {cfg['seeds']} training seeds, {cfg['episodes']} evaluation episodes per policy and "
        f"variation; {results['seconds'] / 60:.0f} min on {results['machine']}.",
        "",
        "| training data | demos | evaluated on | success (mean ± std over seeds) | MimicGen (image BC-RNN) |",
        "|---|--:|---|--:|--:|",
    ]
    for s in results["summary"]:
        mimic = "-"
        if ref and s["eval_variation"] == "D0":
            mimic = f"{ref[0]:.1%}" if s["data"] == "source" else (f"{ref[1]:.1%}" if s["demos"] == 1000 else "-")
        lines.append(
            f"| {s['data']} | {s['demos']} | {s['eval_variation']} | {s['mean']:.1%} ± {s['std']:.1%} | {mimic} |"
        )
    return "\n".join(lines + [""])
