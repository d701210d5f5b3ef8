"""What makes two generation runs the same run: the settings and the bytes of the source file.

Every finished attempt carries its run's identity, so ``resume`` can prove each attempt it keeps
was made with this run's settings (a folder may have lost its ``config.json``, or hold another
run's attempts).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from demoforge.mimic.generate import GenerateConfig

# Fields that name where things are, not what they hold (the source's bytes are hashed instead).
LOCATION_FIELDS = ("source", "annotations")


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    """The libraries whose versions change the numbers of a dataset."""
    import mujoco
    import numpy

    from demoforge.version import __version__

    return {"demoforge": __version__, "mujoco": mujoco.__version__, "numpy": numpy.__version__}


def run_identity(cfg: GenerateConfig, source_sha256: str | None = None) -> str:
    """A short hash of the settings, the input files' contents (source, annotations, a robot file) and the versions.

    Two runs with the same identity make the same dataset, so attempts of one may finish the other.
    """
    settings = cfg.model_dump(mode="json", exclude=set(LOCATION_FIELDS))
    settings["source_sha256"] = source_sha256 or file_sha256(cfg.source)
    settings["annotations_sha256"] = file_sha256(cfg.annotations) if cfg.annotations else None
    settings["robot_sha256"] = file_sha256(cfg.robot) if Path(cfg.robot).is_file() else None
    if cfg.task.endswith(".toml"):  # a task file and the files it names are part of the run (built-ins: versioned)
        from demoforge.tasks import FileTask, get_task

        task = get_task(cfg.task)
        if isinstance(task, FileTask):
            digest = hashlib.sha256(task.text.encode())
            for path in task.files:
                digest.update(file_sha256(path).encode() if path.is_file() else b"missing")
            settings["task_sha256"] = digest.hexdigest()
    settings["versions"] = versions()
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
