"""Feature statistics as LeRobot computes them (compute_stats): per episode, then merged weighted by count.

Policies normalise their inputs with these numbers, so they must be the ones LeRobot itself would write.
"""

from __future__ import annotations

import numpy as np

QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}


def vector_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """Per-dimension min/max/mean/std/count/quantiles of (T, D) or (T,) values; (T,) gives shape (1,)."""
    x = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    stats = {"min": x.min(0), "max": x.max(0), "mean": x.mean(0), "std": x.std(0), "count": np.array([len(x)])}
    for key, q in QUANTILES.items():
        stats[key] = np.quantile(x, q, axis=0)
    return stats


def sample_indices(length: int) -> np.ndarray:
    """Frames LeRobot samples for an episode's image stats: all up to 100, then about length**0.75."""
    num = max(min(100, length), min(int(length**0.75), 10_000))
    return np.round(np.linspace(0, length - 1, num)).astype(int)


def image_stats(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel stats of sampled uint8 (T, H, W, 3) frames in [0, 1], shaped (3, 1, 1) as LeRobot stores them.

    Same sampling and downsampling (>= 300 px) as LeRobot; quantiles are exact (from pixel counts)
    where LeRobot estimates them from a histogram. ``count`` is the number of sampled frames.
    """
    idx = sample_indices(len(frames))
    sample = frames[idx]
    h, w = sample.shape[1:3]
    if max(h, w) >= 300:
        step = int((w if w > h else h) / 150)
        sample = sample[:, ::step, ::step]
    pixels = sample.reshape(-1, 3)
    values = np.arange(256, dtype=np.float64)
    out: dict[str, list[float]] = {k: [] for k in ("min", "max", "mean", "std", *QUANTILES)}
    for c in range(3):
        counts = np.bincount(pixels[:, c], minlength=256).astype(np.float64)
        n = counts.sum()
        present = np.nonzero(counts)[0]
        mean = float(counts @ values / n)
        out["min"].append(float(present[0]))
        out["max"].append(float(present[-1]))
        out["mean"].append(mean)
        out["std"].append(float(np.sqrt(max(counts @ values**2 / n - mean**2, 0.0))))
        cum = np.cumsum(counts)
        for key, q in QUANTILES.items():
            pos = q * (n - 1)  # np.quantile's linear interpolation between sorted samples
            lo = int(np.floor(pos))
            v_lo = np.searchsorted(cum, lo, side="right")
            v_hi = np.searchsorted(cum, min(lo + 1, n - 1), side="right")
            out[key].append(float(v_lo + (pos - lo) * (v_hi - v_lo)))
    stats = {k: np.array(v).reshape(3, 1, 1) / 255.0 for k, v in out.items()}
    stats["count"] = np.array([len(idx)])
    return stats


class RunningStats:
    """Dataset stats merged episode by episode, like LeRobot's ``aggregate_stats``.

    min, max, mean and std are exact (Chan's parallel update); quantiles are the count-weighted mean
    of the episodes' quantiles, which is what LeRobot writes too.
    """

    def __init__(self) -> None:
        self.n = 0
        self.acc: dict[str, np.ndarray] = {}

    def add(self, stats: dict[str, np.ndarray]) -> None:
        nb = int(stats["count"][0])
        if self.n == 0:
            self.acc = {"min": stats["min"].copy(), "max": stats["max"].copy(), "mean": stats["mean"].copy()}
            self.acc["m2"] = stats["std"] ** 2 * nb
            for key in QUANTILES:
                self.acc[key] = stats[key] * nb
            self.n = nb
            return
        n = self.n + nb
        delta = stats["mean"] - self.acc["mean"]
        self.acc["mean"] = self.acc["mean"] + delta * nb / n
        self.acc["m2"] = self.acc["m2"] + stats["std"] ** 2 * nb + delta**2 * self.n * nb / n
        self.acc["min"] = np.minimum(self.acc["min"], stats["min"])
        self.acc["max"] = np.maximum(self.acc["max"], stats["max"])
        for key in QUANTILES:
            self.acc[key] = self.acc[key] + stats[key] * nb
        self.n = n

    def result(self) -> dict[str, np.ndarray]:
        out = {
            "min": self.acc["min"],
            "max": self.acc["max"],
            "mean": self.acc["mean"],
            "std": np.sqrt(np.maximum(self.acc["m2"] / self.n, 0.0)),
            "count": np.array([self.n]),
        }
        for key in QUANTILES:
            out[key] = self.acc[key] / self.n
        return out
