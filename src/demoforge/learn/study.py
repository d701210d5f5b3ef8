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
from demoforge.runner.run_folder import RunFolder
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
TIMES = "seconds.json"  # seconds spent per finished stage, so a resumed study still reports its whole cost


def run_study(cfg: StudyConfig, out: str | Path, on_stage: Stage | None = None) -> dict:
    """Run (or resume) the study in ``out``; returns the results (also in ``out/results.json``)."""
    out = Path(out)
    task = get_task(cfg.task)
    for variation in cfg.variations:
        task.variation(variation)
    out.mkdir(parents=True, exist_ok=True)
    say = on_stage or (lambda text: None)
    times = json.loads((out / TIMES).read_text()) if (out / TIMES).exists() else {}

    def stage(name: str, text: str, work: Callable[[], object]) -> None:
        say(text)
        start = time.perf_counter()
        work()
        times[name] = time.perf_counter() - start
        (out / TIMES).write_text(json.dumps(times, indent=1))

    source = out / "source.hdf5"
    if not source.exists():
        stage("source", f"recording {cfg.sources} source demos",
              lambda: record_sources(cfg.task, cfg.sources, source, seed=cfg.seed))
    datasets: list[tuple[str, str, int, Path]] = [("source", "D0", cfg.sources, source)]
    for variation in cfg.variations:
        for n in cfg.generated:
            run = RunFolder(out / f"generated_{variation}_{n}")
            if not run.stats.exists():
                gen = GenerateConfig(task=cfg.task, source=str(source), num_demos=n, variation=variation, seed=cfg.seed)
                stage(run.path.name, f"generating {n} demos ({variation})",
                      lambda gen=gen, run=run: generate(gen, run.path, workers=cfg.workers, resume=True))
            datasets.append(("generated", variation, n, run.demos))
    rows = []
    for kind, data_variation, n, data in datasets:
        evaluated_on = cfg.variations if kind == "source" else [data_variation]
        for seed in range(cfg.seeds):
            policy = out / "policies" / f"{kind}_{data_variation}_{n}_seed{seed}"
            if not (policy / "policy.pt").exists():
                train_cfg = TrainConfig(data=str(data), steps=cfg.train_steps, seed=seed)
                stage(f"train {policy.name}", f"training on {kind} {n} ({data_variation}), seed {seed}",
                      lambda train_cfg=train_cfg, policy=policy: train(train_cfg, policy, resume=True))
            for variation in evaluated_on:
                result_file = policy / f"eval_{variation}.json"
                if not result_file.exists():
                    stage(f"eval {policy.name} {variation}", f"evaluating {policy.name} on {variation}",
                          lambda policy=policy, variation=variation, result_file=result_file: _evaluate_to(
                              policy, cfg, variation, result_file))
                rate = json.loads(result_file.read_text())["success_rate"]
                rows.append({"data": kind, "demos": n, "data_variation": data_variation, "seed": seed,
                             "eval_variation": variation, "success_rate": rate})
    results = {"config": cfg.model_dump(mode="json"), "rows": rows, "summary": summarise(rows),
               "seconds": sum(times.values()), "machine": machine.describe()}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return results


def _evaluate_to(policy: Path, cfg: StudyConfig, variation: str, result_file: Path) -> None:
    result, _ = evaluate(str(policy), cfg.task, variation, cfg.episodes, workers=cfg.workers or 1)
    result_file.write_text(json.dumps(result.to_dict(), indent=2))


def summarise(rows: list[dict]) -> list[dict]:
    """Mean and std of success over seeds, per (data, demos, evaluation variation)."""
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        groups.setdefault((row["data"], row["demos"], row["eval_variation"]), []).append(row["success_rate"])
    return [
        {"data": d, "demos": n, "eval_variation": v, "mean": float(np.mean(r)), "std": float(np.std(r)), "seeds": len(r)}
        for (d, n, v), r in groups.items()
    ]


def plot_study(results: dict, path: Path) -> None:
    """Success against training demos, one line per evaluation variation, MimicGen's D0 points beside them."""
    from matplotlib.figure import Figure

    cfg = results["config"]
    fig = Figure(figsize=(6, 3.8))
    ax = fig.add_subplot()
    for variation in cfg["variations"]:
        points = sorted((s["demos"], s["mean"], s["std"], s["data"]) for s in results["summary"]
                        if s["eval_variation"] == variation)
        xs = [f"{n} {'source' if d == 'source' else 'generated'}" for n, _, _, d in points]
        ax.errorbar(xs, [100 * m for _, m, _, _ in points], yerr=[100 * e for _, _, e, _ in points], marker="o",
                    capsize=4, label=f"demoforge, evaluated on {variation}")
    ref = MIMICGEN_POLICY.get(cfg["task"])
    if ref:
        ax.plot([f"{cfg['sources']} source", "1000 generated"], [100 * ref[0], 100 * ref[1]], "k*", markersize=10,
                linestyle="none", label="MimicGen D0 (image BC-RNN)")
    ax.set(ylabel="success rate (%)", ylim=(-3, 103), title=f"{cfg['task']}: {cfg['seeds']} seeds, mean ± std")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def study_markdown(results: dict, command: str, plot: str | None = None) -> str:
    """A docs section: how it was made, the table (mean ± std over seeds) with MimicGen's numbers, the plot."""
    cfg = results["config"]
    ref = MIMICGEN_POLICY.get(cfg["task"])
    lines = [
        f"## {cfg['task']}",
        "",
        f"Command: `{command}`; {cfg['seeds']} training seeds, {cfg['episodes']} evaluation episodes per policy and "
        f"variation; {results['seconds'] / 60:.0f} min in all on {results['machine']}.",
        "",
        "| training data | demos | evaluated on | success (mean ± std over seeds) | per seed | MimicGen (image BC-RNN) |",
        "|---|--:|---|--:|---|--:|",
    ]
    for s in results["summary"]:
        mimic = "-"
        if ref and s["eval_variation"] == "D0":
            mimic = f"{ref[0]:.1%}" if s["data"] == "source" else (f"{ref[1]:.1%}" if s["demos"] == 1000 else "-")
        seeds = ", ".join(f"{r['success_rate']:.0%}" for r in results["rows"]
                          if (r["data"], r["demos"], r["eval_variation"]) == (s["data"], s["demos"], s["eval_variation"]))
        lines.append(f"| {s['data']} | {s['demos']} | {s['eval_variation']} | {s['mean']:.1%} ± {s['std']:.1%} "
                     f"| {seeds} | {mimic} |")
    if plot:
        lines += ["", f"![{cfg['task']} study]({plot})"]
    return "\n".join(lines + [""])


def update_doc(doc: Path, task: str, section: str) -> None:
    """Put ``section`` between this task's markers in ``doc``, keeping the rest of the page (other tasks)."""
    begin, end = f"<!-- study:{task} -->", f"<!-- /study:{task} -->"
    block = f"{begin}\n{section.rstrip()}\n{end}"
    text = doc.read_text() if doc.exists() else "# Policies trained on generated data\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.write_text(text)
