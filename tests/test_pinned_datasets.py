"""Single-arm datasets stay what they were: array hashes pinned before the two-arm work (issue 15).

Sources and generated demos of `stack`, `square` and `pour` (fixed seeds) are hashed array by array
and compared with hashes taken on the code before the change. Floating point in numpy's BLAS and
SIMD kernels differs in the last bit between CPU families, so the run is made in a subprocess with
the kernels pinned (OpenBLAS Haswell, no AVX-512 in numpy), and the pins are kept per MuJoCo version
and CPU vendor; a platform without pins is skipped with the command that prints them:

    python tests/test_pinned_datasets.py     # the pins of this platform, to paste into PINS
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import mujoco
import pytest

from demoforge.machine import cpu_vendor

# What makes the arrays (keep it small: pour costs about 10 s per demo).
RECIPES = {
    "stack": {"sources": 3, "demos": 3, "attempts": 4, "variation": "D1"},
    "square": {"sources": 3, "demos": 2, "attempts": 3, "variation": "D1"},
    "pour": {"sources": 1, "demos": 1, "attempts": 1, "variation": "D0"},
}
# Same last bits on every x86-64 CPU with AVX2: one BLAS kernel, no AVX-512 paths in numpy.
PINNED_KERNELS = {
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512CD AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MUJOCO_GL": "egl",
}
# platform -> file -> sha256 of its arrays, taken on the code before issue 15 (commit after 2026-11-30's issue 14).
PINS: dict[str, dict[str, str]] = {
    "mujoco 4.0.0 / x86_64 / AuthenticAMD": {
        "stack_src.hdf5": "5fd667b35f2447e36e63d5fcaa2c5d7ea5f1d5f0496e4fb285f6038bd6db3142",
        "stack/demos.hdf5": "0a3d2e294ce18ffb3506e01fb0b4bd4eaec6a7f104b3451201f2941951b0eacd",
        "stack/failed.hdf5": "aa984d2a19587e0adb25ee4434f851743838803793c58d537a12bba9e19f33ce",
        "square_src.hdf5": "474296cb7c3a3275845b696e28a51e2f2620d346efc8bb7b10c324b8c7df10a1",
        "square/demos.hdf5": "64bf6575ba217784443d9ca714761c91841a8c8b25b82278e13acf4719f74ee4",
        "square/failed.hdf5": "3922bc59c1870da3e9d0452d7bfa6a1616e33dd29f2a450d9646304540a58f89",
        "pour_src.hdf5": "43e66026e786a9d2640397b7cc1ae2131fd3bdef30832788c5eef5f54c1b26ae",
        "pour/demos.hdf5": "9904a7bf56e56caec0899fc84754c0ad905de4ebf86bb3c14514ac0336a4864b",
        "pour/failed.hdf5": "3922bc59c1870da3e9d0452d7bfa6a1616e33dd29f2a450d9646304540a58f89"
    },
    "mujoco 3.3.0 / x86_64 / AuthenticAMD": {
        "stack_src.hdf5": "06f000c3a4a8902f201720f9f69131c61cf37747e7df9a16934d69bd7117d8f6",
        "stack/demos.hdf5": "57539ca6038e3aa294821e402f5678ac6416c9a052a47816ace17a5a8f70556f",
        "stack/failed.hdf5": "3922bc59c1870da3e9d0452d7bfa6a1616e33dd29f2a450d9646304540a58f89",
        "square_src.hdf5": "4dd2a28e76d03fe323de6a701e77cdf1c8f8883e420afb46f3cccaf447acf87f",
        "square/demos.hdf5": "cac3bf5863f71108ce923cc17736fc9ebe75623028a8bc208facbc6666f4cbe5",
        "square/failed.hdf5": "3922bc59c1870da3e9d0452d7bfa6a1616e33dd29f2a450d9646304540a58f89",
        "pour_src.hdf5": "f50bd2a2651d2c6662b07a760fed746a36398fd3587e5819e3aca821dbd630f5",
        "pour/demos.hdf5": "73f8834ec1ea16dd9d003757816c435505e8b804f14cf10419e951bcd43ab380",
        "pour/failed.hdf5": "3922bc59c1870da3e9d0452d7bfa6a1616e33dd29f2a450d9646304540a58f89"
    }
}


def platform_key() -> str:
    return f"mujoco {mujoco.__version__} / {platform.machine()} / {cpu_vendor()}"


def arrays_sha256(path: Path) -> str:
    """SHA-256 over every dataset of the file (name, dtype, shape, bytes), in name order: not the HDF5 bytes."""
    import h5py

    digest = hashlib.sha256()
    with h5py.File(path, "r") as f:
        names: list[str] = []
        f.visititems(lambda name, node: names.append(name) if isinstance(node, h5py.Dataset) else None)
        for name in sorted(names):
            value = f[name][()]
            digest.update(f"{name} {value.dtype} {value.shape}".encode())
            digest.update(value.tobytes())
    return digest.hexdigest()


def make_and_hash(work: Path) -> dict[str, str]:
    """Record and generate every recipe in ``work``; the array hash of each file made."""
    import demoforge as df

    hashes = {}
    for task, r in RECIPES.items():
        source = work / f"{task}_src.hdf5"
        df.record_sources(task, num=r["sources"], out=source, seed=0)
        cfg = df.GenerateConfig(task=task, source=str(source), num_demos=r["demos"], max_attempts=r["attempts"],
                                variation=r["variation"], seed=0)
        df.generate(cfg, work / task)
        hashes[source.name] = arrays_sha256(source)
        for name in ("demos.hdf5", "failed.hdf5"):
            if (work / task / name).exists():
                hashes[f"{task}/{name}"] = arrays_sha256(work / task / name)
    return hashes


def hashes_in_subprocess() -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="demoforge_pins_") as tmp:
        code = f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); " \
               f"from test_pinned_datasets import make_and_hash; from pathlib import Path; " \
               f"print(json.dumps(make_and_hash(Path({tmp!r}))))"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                env={**os.environ, **PINNED_KERNELS}, timeout=900)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])


def test_single_arm_datasets_match_the_pins_taken_before_two_arms() -> None:
    pins = PINS.get(platform_key())
    if pins is None:
        pytest.skip(f"no pinned hashes for {platform_key()}; `python tests/test_pinned_datasets.py` prints them")
    assert hashes_in_subprocess() == pins


if __name__ == "__main__":
    print(json.dumps({platform_key(): hashes_in_subprocess()}, indent=4))
