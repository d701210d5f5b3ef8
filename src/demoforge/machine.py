"""What machine a measurement ran on, for benchmark and study reports (numbers mean little without it)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _cpuinfo(field: str) -> str | None:
    """The first ``field`` of /proc/cpuinfo (None off Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(field):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (falls back to platform.processor())."""
    return _cpuinfo("model name") or platform.processor() or platform.machine() or "unknown"


def cpu_vendor() -> str:
    """CPU vendor (``AuthenticAMD``, ``GenuineIntel``) from /proc/cpuinfo: float kernels differ by vendor."""
    return _cpuinfo("vendor_id") or platform.processor() or "unknown"


def ram_gib() -> float:
    """Total RAM in GiB from /proc/meminfo (0 if unavailable)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def describe() -> str:
    """One line: CPU model, cores, RAM, operating system."""
    return f"{cpu_model()}, {os.cpu_count()} cores, {ram_gib():.1f} GiB RAM, {platform.system()} {platform.release()}"
