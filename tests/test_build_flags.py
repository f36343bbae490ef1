"""The kernels are compiled with their `omp simd` pragmas in every build, OpenMP or not.

Without OpenMP the pragmas need -fopenmp-simd and FASTOPT_OPENMP_SIMD (config.hpp); missing
either, every FASTOPT_SIMD loop is left to the auto-vectorizer, and the reductions, softmax,
cross_entropy and several losses run scalar (2.5-7x slower; bench/bench_serial_build.py).
Nothing else would fail: the results stay within tolerance. So this is checked here, on what the ISA
translation units themselves were compiled with (fastopt.info()['simd_pragmas']), and on
what the installed CMake package gives a C++ build without OpenMP."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

import fastopt

INFO = fastopt.info()
GNU_OR_CLANG = INFO["compiler"].split()[0] in ("GNU", "Clang", "AppleClang", "IntelLLVM")


@pytest.mark.skipif(not GNU_OR_CLANG, reason="-fopenmp-simd is a GCC/Clang flag")
def test_isa_kernels_have_simd_pragmas():
    assert INFO["simd_pragmas"] is True, (
        "the ISA kernels were compiled without `#pragma omp simd`: FASTOPT_SIMD expanded to nothing "
        f"(openmp={INFO['openmp']}, flags={INFO['flags']})")


@pytest.mark.skipif(INFO["openmp"] or not GNU_OR_CLANG, reason="the serial build's flags (OpenMP implies omp simd)")
def test_serial_build_passes_openmp_simd_to_every_isa():
    for isa, flags in INFO["flags"].items():
        assert "-fopenmp-simd" in flags.split(), (isa, flags)


def _compiler():
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")


# A C++ user's translation unit, built against fastopt::kernels with FASTOPT_KERNELS_OPENMP=OFF:
# no OpenMP, yet FASTOPT_SIMD must be the pragma. -Werror -Wall also makes the build fail if
# the define came without -fopenmp-simd (GCC and Clang warn of an ignored `omp simd`).
_USER_CMAKE = """\
cmake_minimum_required(VERSION 3.18)
project(fastopt_simd_check LANGUAGES CXX)
set(FASTOPT_KERNELS_OPENMP OFF)
find_package(fastopt CONFIG REQUIRED)
add_library(check OBJECT check.cpp)
target_link_libraries(check PRIVATE fastopt::kernels)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(check PRIVATE -Wall -Werror)
endif()
"""

_USER_CPP = """\
#include <cstdint>
#include "fastopt/config.hpp"
#if defined(_OPENMP)
#error "FASTOPT_KERNELS_OPENMP=OFF should not compile with OpenMP"
#endif
#if (defined(__GNUC__) || defined(__clang__)) && !FASTOPT_SIMD_PRAGMAS
#error "fastopt::kernels without OpenMP: FASTOPT_SIMD is not `omp simd` (no -fopenmp-simd / FASTOPT_OPENMP_SIMD)"
#endif
double dot(const double* a, const double* b, std::int64_t n) {
    double s = 0;
    FASTOPT_SIMD_REDUCTION(+ : s)
    for (std::int64_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}
"""


@pytest.mark.skipif(shutil.which("cmake") is None or _compiler() is None, reason="needs cmake and a C++ compiler")
def test_cmake_package_gives_simd_pragmas_without_openmp(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(_USER_CMAKE)
    (src / "check.cpp").write_text(_USER_CPP)
    build = tmp_path / "build"
    cmd = ["cmake", "-S", str(src), "-B", str(build), f"-Dfastopt_DIR={fastopt.get_cmake_dir()}"]
    if shutil.which("ninja"):
        cmd += ["-G", "Ninja"]
    # The compiler is not under test: under the sanitizer run (LD_PRELOAD=libasan) it would
    # inherit ASan and fail on its own leaks.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    run = dict(capture_output=True, text=True, timeout=240, env=env)
    r = subprocess.run(cmd, **run)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(["cmake", "--build", str(build)], **run)
    assert r.returncode == 0, r.stdout + r.stderr


# Transcendentals in a kernel loop come from math.hpp (polynomial, vectorizable); a call into
# the C library there runs the whole loop scalar (float64 BCE-with-logits called libm's log1p
# per element: 7x slower, and no test of values could see it). So the extension may import
# only the libm functions that its per-call or per-row code uses (log of a row sum, pow of a
# norm), none of the elementwise ones.
ELEMENTWISE_LIBM = {f + s for f in ("exp", "expm1", "log1p", "log2", "log10", "erf", "erfc", "tanh", "sinh",
                                    "cosh", "atan", "sin", "cos", "cbrt", "lgamma", "tgamma")
                    for s in ("", "f")}


def test_extension_imports_no_elementwise_libm_function():
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("binutils' nm is not installed")
    from fastopt import _core

    out = subprocess.run([nm, "-D", "--undefined-only", _core.__file__], capture_output=True, text=True, check=True)
    imported = {line.split()[-1].split("@")[0] for line in out.stdout.splitlines() if line.strip()}
    assert not imported & ELEMENTWISE_LIBM, sorted(imported & ELEMENTWISE_LIBM)
