"""Value checks for readers that feed learning or export: one NaN makes a whole policy or dataset useless.

The HDF5 reader checks shapes and dtypes (and that states and poses are finite); what a reader
passes on to a policy or to another framework is checked here, naming the demo, key and step.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from demoforge.errors import InputFileError

# Every action demoforge records is clipped to [-1, 1] (episode.py), and the simulator clips again
# before executing one, so values a little outside come only from other recorders and merely
# saturate. Beyond this limit the file holds other units or another scaling: a policy trained on it
# would learn actions it can never execute, so readers refuse it.
ACTION_LIMIT = 1.5


def _first_bad(rows: np.ndarray, bad: np.ndarray) -> tuple[int, float, int, str]:
    """Step, value and column of the first bad value of (T, D) ``rows``, and how many more steps have one."""
    steps = bad.any(axis=1)
    step = int(np.argmax(steps))
    column = int(np.argmax(bad[step]))
    more = int(steps.sum()) - 1
    note = f" (and {more} more step{'s' if more > 1 else ''})" if more else ""
    return step, float(rows[step, column]), column, note


def check_values(path: str | Path, field: str, values: np.ndarray, limit: float | None = None) -> None:
    """Raise ``InputFileError`` (``field``: "NaN at step 17") if ``values`` holds NaN, inf, or values beyond ``limit``."""
    if values.dtype.kind != "f" or values.ndim == 0 or values.size == 0:
        return  # integers and images cannot be NaN
    rows = values.reshape(len(values), -1)
    finite = np.isfinite(rows)
    if not finite.all():
        step, value, _, more = _first_bad(rows, ~finite)
        raise InputFileError(path, f"{'NaN' if np.isnan(value) else value} at step {step}{more}", field=field)
    if limit is None:
        return
    outside = np.abs(rows) > limit
    if outside.any():
        step, value, column, more = _first_bad(rows, outside)
        raise InputFileError(
            path,
            f"{value:.4g} at step {step}, column {column}{more}: outside [-{limit}, {limit}]; actions must be "
            "normalised to [-1, 1] (docs/formats.md)",
            field=field,
        )
