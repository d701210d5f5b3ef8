"""Writing one numbered section of docs/benchmarks.md, for the benchmark scripts run on their own."""

from __future__ import annotations

import re
from pathlib import Path


def write_section(doc: Path, heading: str, text: str) -> None:
    """Replace the section that starts with ``heading`` (up to the next ``## ``) by ``text``, or append it."""
    body = doc.read_text() if doc.exists() else ""
    pattern = re.compile(rf"{re.escape(heading)}\n.*?(?=\n## |\Z)", re.S)
    body = pattern.sub(lambda _: text.rstrip("\n"), body) if pattern.search(body) else body.rstrip("\n") + "\n\n" + text
    doc.write_text(body if body.endswith("\n") else body + "\n")
