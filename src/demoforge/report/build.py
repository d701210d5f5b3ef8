"""``build_report``: gather the numbers of a run, render its plots and media, write one HTML file atomically."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from demoforge.outputs import check_output_file, write_text
from demoforge.errors import DemoforgeError
from demoforge.report import media, page, plots
from demoforge.report.run import Run, initial_xy, load_run, read_rows, source_file, spread
from demoforge.runner.run_folder import FAILED, RunFolder, RunStats
from demoforge.sim.quality import Quality
from demoforge.tasks import get_task
from demoforge.tasks.base import Task

MAX_SAMPLED = 2000  # demos per file read for the coverage plot and scene counts (evenly spaced beyond)
NUM_THUMBNAILS = 10
SUBTASK_REASON = re.compile(r"^subtask (\S+) failed$")


def build_report(
    run: Path, out: Path | None = None, num_videos: int = 4, camera: str = "agentview", video_size: int = 256,
    on_warning: Callable[[str], None] | None = None, overwrite: bool = True, quality: Quality = "fast",
) -> Path:
    """Write a self-contained HTML report of a ``demoforge generate`` run folder; returns its path.

    ``out`` defaults to ``run/report.html``; an existing one is replaced only with ``overwrite``
    (checked once the run folder was read). Nothing is written unless the whole page was built.
    Where stats.json contradicts the dataset the page counts the dataset, and ``on_warning`` hears why.
    Thumbnails and videos are drawn at ``quality``.
    """
    if num_videos < 0:
        raise DemoforgeError(f"num_videos must be 0 or more, not {num_videos}")
    if video_size < 16:
        raise DemoforgeError(f"video_size must be at least 16 pixels, not {video_size}")
    run = Path(run)
    out = Path(out) if out is not None else RunFolder(run).report
    data = load_run(run)
    check_output_file(out, overwrite, suffixes=(".html", ".htm"))
    if on_warning is not None:
        for note in stats_disagreements(data):
            on_warning(note)
    task = _task(data.config.get("task") or data.stats.task)
    html = page.render(
        title=f"{data.config.get('task', '?')} \u00b7 {data.config.get('variation', '?')}",
        folder=str(run.resolve()),
        summary=summary(data),
        failures=failures_section(data, task),
        lengths=plots.length_histogram(data.kept.lengths, data.failed.lengths),
        lengths_note=length_note(data),
        coverage=coverage_section(data, task),
        scenes=scenes_section(data, camera, quality),
        videos=videos_section(data, task, num_videos, camera, video_size, quality),
    )
    return write_text(out, html)


# ---- numbers --------------------------------------------------------------------------------------
@dataclass
class Failures:
    reasons: list[tuple[str, int, str | None]]  # reason, count, subtask it stopped at (None: not a subtask)
    funnel: list[tuple[str, int, int]]  # subtask in order, attempts that reached it, attempts that failed it
    other: int  # failures not attributed to a subtask (physics unstable, episode too long, ...)


def failure_breakdown(stats: RunStats, subtasks: list[str]) -> Failures:
    """Failures by reason and by the subtask they stopped at, from stats.json (complete even without failed.hdf5).

    The funnel counts, per subtask in order, the attempts that got to it: all attempts less the failures
    without a subtask (their stage is unknown) less those that failed an earlier subtask.
    """
    counts = stats.failures
    reasons = []
    by_subtask: Counter[str] = Counter()
    for reason, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        match = SUBTASK_REASON.match(reason)
        reasons.append((reason, count, match.group(1) if match else None))
        if match:
            by_subtask[match.group(1)] += count
    other = sum(c for _, c, s in reasons if s is None)
    order = list(subtasks) + sorted(set(by_subtask) - set(subtasks))
    reached = stats.attempts - other
    funnel = []
    for name in order:
        funnel.append((name, reached, by_subtask[name]))
        reached -= by_subtask[name]
    return Failures(reasons, funnel, other)


def scene_counts(scenes: list[str]) -> list[tuple[str, Counter]]:
    """How often each value of the scene axes occurs, one count per demo (per distractor for their shapes)."""
    axes: dict[str, Counter] = {k: Counter() for k in (
        "table shape", "table texture", "floor texture", "lights per scene", "distractors per scene", "distractor shapes", "fixtures",
        "task object shapes")}
    heights = []
    for raw in scenes:
        try:
            spec = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(spec, dict) or not spec:
            continue
        table = spec.get("table") or {}
        axes["table shape"][table.get("shape", "rect")] += 1
        axes["table texture"][(table.get("material") or {}).get("texture", "none")] += 1
        axes["floor texture"][(spec.get("floor") or {}).get("texture", "none")] += 1
        axes["lights per scene"][str(len(spec.get("lights") or []))] += 1
        distractors = spec.get("distractors") or []
        axes["distractors per scene"][str(len(distractors))] += 1
        axes["distractor shapes"].update(d.get("shape", "?") for d in distractors)
        kinds = sorted({f.get("kind", "?") for f in spec.get("fixtures") or []})
        axes["fixtures"][" + ".join(kinds) if kinds else "none"] += 1
        for look in (spec.get("objects") or {}).values():
            axes["task object shapes"][(look or {}).get("shape") or "as built"] += 1
        if spec.get("robot_base"):
            heights.append(float(spec["robot_base"][2]))
    out = [(k, v) for k, v in axes.items() if v]
    if heights:
        out.append(("table height (m)", Counter({f"{min(heights):.3f} \u2013 {max(heights):.3f}": len(heights)})))
    return out


# ---- sections -------------------------------------------------------------------------------------
def stats_disagreements(data: Run) -> list[str]:
    """Where stats.json claims other counts than the dataset holds (the report counts the dataset)."""
    kept, notes, st, path = len(data.kept.rows), [], data.stats, RunFolder(data.folder).stats
    if st.recorded("successes") and st.successes != kept:
        notes.append(f"{path} says {st.successes:,} successes but {data.kept.path} holds "
                     f"{kept:,} demos: this report counts the demos in the dataset")
    if st.recorded("attempts") and st.attempts < kept:
        notes.append(f"{path} says {st.attempts:,} attempts, fewer than the {kept:,} demos "
                     f"{data.kept.path} holds: attempts and rates below are not to be trusted")
    return notes


def summary(data: Run) -> dict:
    cfg, st = data.config, data.stats
    kept = len(data.kept.rows)  # what the dataset holds, whatever stats.json claims
    attempts = st.attempts
    dgr = kept / attempts if attempts else 0.0
    wall = st.wall_time_s
    cards = [
        ("demos kept", f"{kept:,}", f"of {attempts:,} attempts (target {cfg.get('num_demos', '?')})"),
        ("data generation rate", f"{100 * dgr:.1f}%", "kept / attempts"),
        ("wall time", _duration(wall), f"{st.attempts_per_s:.2f} attempts/s"),
        ("physics steps", f"{st.physics_steps:,}", f"{st.control_steps:,} control steps"),
    ]
    n_failed = len(data.failed.rows)
    failed_file = ("not kept (keep_failed off)" if data.failed.path is None
                   else f"{n_failed:,} attempt{'s' if n_failed != 1 else ''} in {FAILED}")
    rows = [
        ("task", cfg.get("task", st.task)),
        ("variation", cfg.get("variation", st.variation)),
        ("scene family", st.scene_family or cfg.get("scenes") or "default"),
        ("seed", cfg.get("seed")),
        ("source file", cfg.get("source")),
        ("source sha256", (cfg.get("source_sha256") or "")[:16] + "\u2026" if cfg.get("source_sha256") else None),
        ("demos kept / attempts", f"{kept:,} / {attempts:,}"),
        ("failed attempts stored", failed_file),
        ("DGR", f"{dgr:.3f}"),
        ("wall time", f"{wall:.2f} s" if wall is not None else None),
        ("attempts per second", f"{st.attempts_per_s:.2f} on {st.cpu_count or '?'} CPUs"),
        ("physics steps", f"{st.physics_steps:,}"),
        ("scenes rejected", st.scenes_rejected if st.recorded("scenes_rejected") else None),
        ("selection", f"{cfg.get('selection')} (k={cfg.get('nearest_k')})" if cfg.get("selection") else None),
        ("action noise", cfg.get("action_noise")),
        ("grasp correction", cfg.get("grasp_correction")),
        ("versions", ", ".join(f"{k} {cfg[k + '_version']}" for k in ("demoforge", "mujoco", "numpy")
                               if cfg.get(k + "_version"))),
    ]
    return {"cards": cards, "rows": [(k, "\u2014" if v in (None, "") else str(v)) for k, v in rows],
            "notes": stats_disagreements(data)}


def failures_section(data: Run, task: Task | None) -> dict:
    subtasks = [s.name for s in getattr(task, "subtasks", ())]
    fails = failure_breakdown(data.stats, subtasks)
    attempts = data.stats.attempts
    return {
        "attempts": attempts,
        "failures": fails,
        "reasons_svg": plots.failure_reasons([(r, c, s is not None) for r, c, s in fails.reasons], attempts)
        if fails.reasons else None,
        "funnel_svg": plots.subtask_funnel(fails.funnel) if fails.funnel and attempts else None,
    }


def length_note(data: Run) -> str:
    parts = []
    for label, rows in (("kept", data.kept.lengths), ("failed", data.failed.lengths)):
        if rows:
            parts.append(f"{label}: median {sorted(rows)[len(rows) // 2]} steps, range {min(rows)}\u2013{max(rows)}")
    if data.failed.path is None:
        parts.append("failed attempts were not stored (keep_failed off)")
    return "; ".join(parts)


def coverage_section(data: Run, task: Task | None) -> dict:
    objects = list(getattr(task, "objects", ()))
    sets, notes = [], []
    src, note = source_file(data.config, data.folder)
    if note:
        notes.append(note)
    if not objects:
        return {"svg": None, "notes": notes + ["Unknown task: object names are not known."]}
    if src is not None:
        try:
            names = [r.name for r in read_rows(src).rows]
            sets.append(("source demos", plots.SOURCE, initial_xy(src, spread(names, MAX_SAMPLED), objects)))
        except DemoforgeError as exc:
            notes.append(f"The source file could not be read ({exc}): only the generated demos are shown.")
    for label, color, demo_file in (("kept", plots.KEPT, data.kept), ("failed", plots.FAILED, data.failed)):
        if demo_file.path is not None and demo_file.rows:
            names = [r.name for r in demo_file.rows]
            if len(names) > MAX_SAMPLED:
                notes.append(f"{MAX_SAMPLED} of {len(names)} {label} demos are shown, evenly spaced.")
            sets.append((label, color, initial_xy(demo_file.path, spread(names, MAX_SAMPLED), objects)))
    regions = None
    try:
        regions = {n: (*p.x, *p.y) for n, p in task.variation(data.config.get("variation", "D0")).items()}
    except (DemoforgeError, AttributeError, KeyError):
        pass
    return {"svg": plots.coverage(sets, objects, regions), "notes": notes}


def scenes_section(data: Run, camera: str, quality: Quality = "fast") -> dict:
    family = data.stats.scene_family or data.config.get("scenes") or "default"
    rows = data.kept.rows or data.failed.rows
    source = data.kept if data.kept.rows else data.failed
    picks = spread(rows, NUM_THUMBNAILS)
    robot = data.config.get("robot") or "panda"
    thumbs = [(r.name, media.thumbnail(source.path, r.name, camera, robot, quality=quality)) for r in picks]
    all_rows = spread(data.kept.rows, MAX_SAMPLED) + spread(data.failed.rows, MAX_SAMPLED)
    counts = scene_counts([r.scene for r in all_rows]) if family != "default" else []
    return {"family": family, "thumbs": thumbs, "counts": counts, "demos": len(all_rows),
            "unique": len({r.scene for r in all_rows})}


def videos_section(data: Run, task: Task | None, num_videos: int, camera: str, size: int,
                   quality: Quality = "fast") -> list[dict]:
    subtasks = [s.name for s in getattr(task, "subtasks", ())]
    robot = data.config.get("robot") or "panda"
    picks = [(data.kept.path, r, None) for r in spread(data.kept.rows, num_videos)]
    if data.failed.rows:
        row = data.failed.rows[0]
        picks.append((data.failed.path, row, row.meta.get("reason") or "failed"))
    videos = []
    for path, row, reason in picks:
        uri, frames = media.video(path, row.name, camera, robot, size, quality)
        sources = [(subtasks[i] if i < len(subtasks) else f"subtask {i + 1}", s) for i, s in enumerate(row.source)]
        videos.append({"name": row.name, "file": path.name, "length": row.length, "frames": frames, "uri": uri,
                       "sources": sources, "reason": reason, "attempt": row.meta.get("attempt")})
    return videos


# ---- helpers --------------------------------------------------------------------------------------
def _task(name: str | None) -> Task | None:
    try:
        return get_task(str(name)) if name else None
    except DemoforgeError:
        return None


def _duration(seconds: object) -> str:
    if seconds is None:
        return "\u2014"
    s = float(seconds)
    if s < 120:
        return f"{s:.1f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"
