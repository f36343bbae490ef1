"""The header-only C++ package: fastopt.get_include(), fastopt.get_cmake_dir(), and
find_package(fastopt) -> fastopt::kernels building examples/cpp (no Python in it) with and
without OpenMP, then running its trainer (mlp_adam) and its check of every fastopt/api.hpp
function against the torch formulas (api_check). Skips where cmake or a C++ compiler is
missing; every subprocess has a time limit."""

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
    for h in ("api.hpp", "config.hpp", "optimizers.hpp", "multi_tensor.hpp", "activations.hpp", "softmax.hpp",
              "class_losses.hpp", "pointwise_losses.hpp", "dropout.hpp", "optim_step.hpp"):
        assert (inc / "fastopt" / h).is_file()


def test_get_cmake_dir_has_the_config():
    d = Path(fastopt.get_cmake_dir())
    assert (d / "fastoptConfig.cmake").is_file()
    assert (d / "fastoptConfigVersion.cmake").is_file()


def _compiler():
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")


def _executable(build: Path, name: str) -> Path:
    return next(p for p in build.rglob(name + "*") if p.is_file() and os.access(p, os.X_OK) and p.stem == name)


@pytest.fixture(scope="module", params=[True, False], ids=["openmp", "no-openmp"])
def example_build(request, tmp_path_factory):
    """examples/cpp built through find_package(fastopt), with OpenMP (where found) or
    FASTOPT_KERNELS_OPENMP=OFF."""
    if shutil.which("cmake") is None or _compiler() is None:
        pytest.skip("needs cmake and a C++ compiler")
    openmp = request.param
    build = tmp_path_factory.mktemp("example-cpp") / "build"
    cmd = ["cmake", "-S", str(EXAMPLE), "-B", str(build), f"-Dfastopt_DIR={fastopt.get_cmake_dir()}",
           f"-DFASTOPT_KERNELS_OPENMP={'ON' if openmp else 'OFF'}"]
    if shutil.which("ninja"):
        cmd += ["-G", "Ninja"]
    run = dict(capture_output=True, text=True, timeout=300)
    r = subprocess.run(cmd, **run)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(["cmake", "--build", str(build), "--verbose"], **run)
    assert r.returncode == 0, r.stdout + r.stderr
    # the compile lines say whether OpenMP was on: -fopenmp (GCC, Clang) with it, never without
    if not openmp:
        assert "-fopenmp" not in r.stdout.replace("-fopenmp-simd", "")
    return build


@pytest.mark.parametrize("threads", ["1", "2"])
def test_example_trains(example_build, threads):
    r = subprocess.run([str(_executable(example_build, "mlp_adam")), "300", threads], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    first, last = (float(v) for v in r.stdout.strip().splitlines()[-1].split()[1::2])
    assert last < first / 10


@pytest.mark.parametrize("threads", ["1", "3"])
def test_api_check_passes(example_build, threads):
    r = subprocess.run([str(_executable(example_build, "api_check")), threads], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "checks passed" in r.stdout
