"""Image textures made small for fast training cameras.

A photographic texture of 1000x1000 pixels costs a CPU renderer its decoding at every scene compile and its
upload at every new renderer, yet an 84x84 camera sees at most a few dozen of its pixels across a counter.
``shrink_folder`` writes a copy of a folder of PNG textures at most ``FAST_SIDE`` pixels on a side (RGB,
Lanczos resampling), once, when an asset pack is installed; scenes use that copy for the fast render
setting and the full images for previews and videos. A copy keeps each file's name.
"""

from __future__ import annotations

from pathlib import Path

FAST_SIDE = 256  # pixels on the longer side of a fast texture


def shrink_folder(source: Path, target: Path, side: int = FAST_SIDE) -> dict[str, tuple[int, int]]:
    """Every PNG under ``source`` written to the same place under ``target`` as RGB, its longer side at most
    ``side`` pixels; returns, per path relative to ``source``, (longer side before, after)."""
    from PIL import Image

    sizes = {}
    for path in sorted(p for p in source.rglob("*") if p.suffix.lower() == ".png"):
        with Image.open(path) as image:
            picture = image.convert("RGB")
        before = max(picture.size)
        if before > side:
            scale = side / before
            picture = picture.resize((max(1, round(picture.width * scale)), max(1, round(picture.height * scale))),
                                     Image.Resampling.LANCZOS)
        relative = path.relative_to(source)
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        picture.save(target / relative, optimize=False)
        sizes[relative.as_posix()] = (before, max(picture.size))
    return sizes
