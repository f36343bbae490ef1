"""The header-only C++ package: fastopt.get_include(), fastopt.get_cmake_dir(), and
find_package(fastopt) -> fastopt::kernels building and running examples/cpp (no Python in it).
Skips where cmake or a C++ compiler is missing; every subprocess has a time limit."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import fastopt

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cpp"


def test_get_include_has_the_headers():
    inc = Path(fastopt.get_include())
    for h in ("config.hpp", "optimizers.hpp", "multi_tensor.hpp", "activations.hpp"):
        assert (inc / "fastopt" / h).is_file()


def test_get_cmake_dir_has_the_config():
    d = Path(fastopt.get_cmake_dir())
    assert (d / "fastoptConfig.cmake").is_file()
    assert (d / "fastoptConfigVersion.cmake").is_file()


def _compiler():
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")


@pytest.mark.skipif(shutil.which("cmake") is None or _compiler() is None, reason="needs cmake and a C++ compiler")
def test_example_builds_with_find_package_and_trains(tmp_path):
    build = tmp_path / "build"
    cmd = ["cmake", "-S", str(EXAMPLE), "-B", str(build), f"-Dfastopt_DIR={fastopt.get_cmake_dir()}"]
    if shutil.which("ninja"):
        cmd += ["-G", "Ninja"]
    run = dict(capture_output=True, text=True, timeout=240)
    r = subprocess.run(cmd, **run)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(["cmake", "--build", str(build)], **run)
    assert r.returncode == 0, r.stdout + r.stderr
    exe = next(p for p in build.rglob("mlp_adam*") if p.is_file() and os.access(p, os.X_OK))
    r = subprocess.run([str(exe), "300", "2"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    first, last = (float(v) for v in r.stdout.strip().splitlines()[-1].split()[1::2])
    assert last < first / 10
