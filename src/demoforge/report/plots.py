"""The report's figures: matplotlib ``Figure`` objects (no pyplot, no global backend) rendered to inline SVG.

Every function takes plain numbers and returns an SVG string ready to paste into HTML (no XML prologue,
text kept as text so the page stays small and searchable).
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Mapping, Sequence
from typing import ParamSpec

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

KEPT = "#2f6fb3"  # generated, successful
FAILED = "#d0573c"  # generated, failed
SOURCE = "#2e9e5b"  # source demos
OTHER = "#8a8f98"  # failures not tied to a subtask
P = ParamSpec("P")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

_STYLE = {
    "svg.fonttype": "none",  # text as <text>, not glyph paths: smaller, crisp, selectable
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 9.5,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelcolor": "#333333",
    "axes.edgecolor": "#9aa0a8",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e4e7eb",
    "grid.linewidth": 0.8,
    "xtick.color": "#555555",
    "ytick.color": "#555555",
    "legend.frameon": False,
}


def styled(plot: Callable[P, str]) -> Callable[P, str]:
    """Run a plotting function inside the report's style (matplotlib reads rcParams as artists are made;
    ``rc_context`` restores the caller's settings afterwards)."""

    @functools.wraps(plot)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> str:
        with matplotlib.rc_context(_STYLE):
            return plot(*args, **kwargs)

    return wrapper


def _axes(width: float, height: float) -> Axes:
    return Figure(figsize=(width, height), layout="constrained").add_subplot(1, 1, 1)


def to_svg(fig: Figure) -> str:
    """Inline SVG text of a figure (the XML prologue and DOCTYPE dropped)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", transparent=True, metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text[text.index("<svg") :], flags=re.S)
    return text


@styled
def failure_reasons(rows: Sequence[tuple[str, int, bool]], attempts: int) -> str:
    """Horizontal bars, one per failure reason (``(reason, count, is_subtask)``), most frequent on top."""
    rows = sorted(rows, key=lambda r: -r[1])
    ax = _axes(6.4, 0.9 + 0.38 * max(len(rows), 1))
    labels = [_short(r[0], 42) for r in rows][::-1]
    counts = [r[1] for r in rows][::-1]
    colors = [FAILED if r[2] else OTHER for r in rows][::-1]
    bars = ax.barh(labels, counts, color=colors, height=0.62)
    for bar, count in zip(bars, counts):
        pct = f" ({100 * count / attempts:.0f}%)" if attempts else ""
        ax.annotate(f"{count}{pct}", (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8.5, color="#333333")
    ax.set_xlim(0, max(counts) * 1.25 if counts else 1)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("failed attempts")
    ax.set_title("Failures by reason")
    return to_svg(ax.figure)


@styled
def subtask_funnel(rows: Sequence[tuple[str, int, int]]) -> str:
    """Per subtask in order (``(name, reached, failed)``): stacked bars of attempts that passed and failed it."""
    ax = _axes(6.4, 0.9 + 0.42 * max(len(rows), 1))
    names = [_short(r[0], 30) for r in rows][::-1]
    reached = np.array([r[1] for r in rows][::-1], dtype=float)
    failed = np.array([r[2] for r in rows][::-1], dtype=float)
    passed = reached - failed
    ax.barh(names, passed, color=KEPT, height=0.62, label="passed")
    ax.barh(names, failed, left=passed, color=FAILED, height=0.62, label="failed here")
    for y, (p, r) in enumerate(zip(passed, reached)):
        rate = f"{100 * p / r:.0f}% pass" if r else "not reached"
        ax.annotate(rate, (r, y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8.5, color="#333333")
    ax.set_xlim(0, max(reached.max() if len(reached) else 1, 1) * 1.28)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("attempts that reached the subtask")
    ax.set_title("Subtask pass rate")
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, fontsize=8.5, borderaxespad=0.2)
    return to_svg(ax.figure)


@styled
def length_histogram(kept: Sequence[int], failed: Sequence[int], hz: float = 20.0) -> str:
    """Stacked histogram of episode lengths (control steps) of kept demos and failed attempts."""
    ax = _axes(6.4, 3.0)
    values = np.asarray(list(kept) + list(failed), dtype=float)
    if len(values):
        lo, hi = float(values.min()), float(values.max())
        bins = np.histogram_bin_edges(values, bins=min(30, max(5, int(np.sqrt(len(values)) * 2))),
                                      range=(lo - 0.5, hi + 0.5) if hi > lo else (lo - 5, hi + 5))
        groups = [(list(kept), KEPT, f"kept ({len(kept)})"), (list(failed), FAILED, f"failed ({len(failed)})")]
        groups = [g for g in groups if g[0]]
        ax.hist([g[0] for g in groups], bins=bins, stacked=True, color=[g[1] for g in groups],
                label=[g[2] for g in groups], edgecolor="white", linewidth=0.6)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.25)  # room for the legend
        ax.legend(loc="upper right")
        sec = ax.secondary_xaxis("top", functions=(lambda s: s / hz, lambda t: t * hz))
        sec.set_xlabel("seconds", fontsize=8.5, color="#666666")
        sec.tick_params(labelsize=8, colors="#777777")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel(f"episode length (control steps at {hz:g} Hz)")
    ax.set_ylabel("demos")
    ax.set_title("Demo lengths")
    return to_svg(ax.figure)


@styled
def coverage(
    sets: Sequence[tuple[str, str, Mapping[str, np.ndarray]]],
    objects: Sequence[str],
    regions: Mapping[str, tuple[float, float, float, float]] | None = None,
) -> str:
    """Top-down scatter of initial object positions, robot at the bottom (world +x up, +y left).

    ``sets`` are ``(label, colour, {object: (N, 2) xy})``; marker shape tells the object, colour the set.
    ``regions`` are the variation's reset boxes ``(x_min, x_max, y_min, y_max)`` per object, drawn dashed.
    """
    ax = _axes(6.4, 5.0)
    marker = {name: MARKERS[i % len(MARKERS)] for i, name in enumerate(objects)}
    boxes: dict[tuple[float, float, float, float], list[str]] = {}
    for name, box in (regions or {}).items():
        boxes.setdefault(tuple(box), []).append(name)
    for (x0, x1, y0, y1), names in boxes.items():
        ax.add_patch(Rectangle((y0, x0), y1 - y0, x1 - x0, fill=False, ls=(0, (4, 3)), lw=1.0, ec="#9aa0a8"))
        ax.annotate(f"reset region: {', '.join(names)}", (y1, x1), xytext=(4, -4), textcoords="offset points",
                    fontsize=7.5, color="#777777", ha="left", va="top")
    for label, color, points in sets:
        source = color == SOURCE
        for name in objects:
            xy = np.asarray(points.get(name, np.zeros((0, 2))))
            if not len(xy):
                continue
            if source:
                ax.scatter(xy[:, 1], xy[:, 0], s=54, marker=marker[name], c=color, linewidths=0.9,
                           edgecolors="#1b1b1b", zorder=4)
            else:
                ax.scatter(xy[:, 1], xy[:, 0], s=24 if len(xy) <= 300 else 10, marker=marker[name], c=color,
                           alpha=0.75, linewidths=0, zorder=3)
    ax.set_aspect("equal", adjustable="datalim")
    ax.invert_xaxis()  # +y to the left, as seen from behind the robot
    ax.set_xlabel("world y (m), robot's left \u2190")
    ax.set_ylabel("world x (m), away from the robot \u2192")
    ax.set_title("Initial object positions, top-down")
    fig = ax.figure
    fig.legend(handles=[Line2D([], [], ls="", marker="o", color=c, markersize=7, label=f"{lbl} ({_count(p)})")
                        for lbl, c, p in sets], loc="outside right upper", title="demos", fontsize=8.5,
               title_fontsize=8.5, alignment="left")
    fig.legend(handles=[Line2D([], [], ls="", marker=marker[n], color="#444444", markersize=7, label=n)
                        for n in objects], loc="outside right lower", title="objects", fontsize=8.5,
               title_fontsize=8.5, alignment="left")
    return to_svg(fig)


def _count(points: Mapping[str, np.ndarray]) -> int:
    return max((len(v) for v in points.values()), default=0)


def _short(text: str, width: int) -> str:
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= width else text[: width - 1] + "\u2026"
