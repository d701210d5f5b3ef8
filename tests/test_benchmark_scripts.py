"""The benchmark scripts import (they are run by hand, so a moved module would otherwise go unnoticed)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"


@pytest.mark.parametrize("script", sorted(p.stem for p in BENCHMARKS.glob("*.py")))
def test_benchmark_script_imports(script: str) -> None:
    code = f"import sys; sys.path.insert(0, {str(BENCHMARKS)!r}); import {script}"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
