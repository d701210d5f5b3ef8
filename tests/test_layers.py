"""The package's layers import only downward, and no module imports the package root (it imports everything).

The order, bottom to top, is the architecture (README "How it is built"): a module may import its
own layer and any layer below it, never one above. Checked on the source text (every ``import``,
also the ones inside functions), so a cycle cannot creep in through a late import either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import demoforge

PACKAGE = Path(demoforge.__file__).parent
LAYERS: list[set[str]] = [
    {"errors", "geometry", "version", "machine", "outputs", "assetpacks", "meshes", "textures", "tomlfile"},  # plain helpers: no MuJoCo world
    {"data"},  # on-disk formats
    {"scenes"},  # scene variation as data
    {"sim"},  # MuJoCo: robots, controller, scene compilation, rendering
    {"tasks"},
    {"rollout"},  # a world, an episode's recorder, replay
    {"mimic"},  # the generator
    {"capture"},  # where source demos come from
    {"runner"},  # attempts on workers, shards, resume
    {"render"},  # pictures from stored states
    {"envs"},  # tasks as reset/step environments (eval's code path, Gymnasium)
    {"learn"},
    {"report"},
    {"cli"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def layer_of(module: str) -> str:
    """``demoforge.sim.env`` -> ``sim``; ``demoforge.errors`` -> ``errors``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "demoforge" else [f"demoforge.{a.name}" for a in node.names]
            found += [(node.lineno, n) for n in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
    return [(line, name) for line, name in found if name == "demoforge" or name.startswith("demoforge.")]


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


def test_every_module_has_a_layer() -> None:
    unknown = {layer_of("demoforge." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)) for p in MODULES} - set(RANK)
    assert not unknown, f"add these to LAYERS: {sorted(unknown)}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_go_downward(path: Path) -> None:
    own = layer_of("demoforge." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    upward = []
    for line, name in imported_modules(path):
        if name == "demoforge":
            upward.append(f"line {line}: imports the package root (it imports every layer)")
            continue
        target = layer_of(name)
        if RANK.get(target, -1) > RANK[own]:
            upward.append(f"line {line}: {own} imports {name} ({target} is above {own})")
    assert not upward, "\n".join(upward)


GENERATOR = sorted((PACKAGE / "mimic").glob("*.py"))


@pytest.mark.parametrize("path", GENERATOR, ids=lambda p: p.name)
def test_the_generator_speaks_only_its_protocol(path: Path) -> None:
    """``mimic/`` reaches a world only through ``mimic/protocol.py``: no MuJoCo, no sim, no rollout, and no
    ``.env`` / ``.model`` / ``.data`` of a world, so another backend plugs in without touching it."""
    source = path.read_text()
    tree = ast.parse(source, filename=str(path))
    banned = []
    for line, name in imported_modules(path):
        if layer_of(name) in ("sim", "rollout"):
            banned.append(f"line {line}: imports {name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            banned += [f"line {node.lineno}: imports {n}" for n in names if n.split(".")[0] == "mujoco"]
        if isinstance(node, ast.Attribute) and node.attr in ("env", "model", "data"):
            banned.append(f"line {node.lineno}: reaches into a world's .{node.attr}")
    assert not banned, "\n".join(banned)
